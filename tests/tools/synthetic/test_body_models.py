"""Tests for the synthetic SMPL / MANO model-file generator (tools/synthetic/body_models.py)."""
from __future__ import annotations

import pickletools
from collections import Counter

import numpy as np
import pytest
import scipy.sparse

from common.utils.model_files import load_model_file
from tools.synthetic import body_models as bm

ALLOWED_GLOBALS = {
    "chumpy.ch Ch", "numpy ndarray", "numpy dtype", "numpy.core.multiarray _reconstruct",
    "scipy.sparse.csc csc_matrix", "__builtin__ set", "_codecs encode", "copy_reg _reconstructor",
    "__builtin__ object",
}
SMPL_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
MANO_PARENTS = [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14]
LEFT_JOINTS = [1, 4, 7, 10, 13, 16, 18, 20, 22]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return bm.write_all(tmp_path_factory.mktemp("models"), seed=0)


@pytest.fixture(scope="module")
def smpl():
    return {g: bm.build_smpl_model(0, g) for g in ("neutral", "male", "female")}


@pytest.fixture(scope="module")
def mano():
    return bm.build_mano_model(0)


def _edges(faces):
    f = np.asarray(faces, dtype=np.int64)
    return np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])


def _globals(path):
    found = set()
    with open(path, "rb") as fh:
        for op, arg, _ in pickletools.genops(fh):
            if op.name in ("GLOBAL", "STACK_GLOBAL", "INST"):
                found.add(arg)
    return found


def _smplx_body(model):
    import smplx
    from smplx.utils import Struct
    return smplx.SMPL(model_path="unused", data_struct=Struct(**model), create_betas=False,
                      create_global_orient=False, create_body_pose=False, create_transl=False)


def _smplx_hand(model):
    import smplx
    from smplx.utils import Struct
    return smplx.MANO(model_path="unused", data_struct=Struct(**model), is_rhand=True, use_pca=False,
                      flat_hand_mean=False, create_global_orient=False, create_hand_pose=False,
                      create_betas=False, create_transl=False)


# ----------------------------------------------------------------------------------------------
# files and format
# ----------------------------------------------------------------------------------------------

def test_write_all_names(files):
    names = {p.name for p in files.values()}
    assert names == {
        "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl", "basicModel_m_lbs_10_207_0_v1.0.0.pkl",
        "basicModel_f_lbs_10_207_0_v1.0.0.pkl", "MANO_RIGHT.pkl", "J_regressor_h36m_correct.npy",
        "J_regressor_coco_hip_smpl.npy",
    }
    assert all(p.is_file() for p in files.values())
    assert set(bm.SMPL_FILENAMES.values()) <= names and bm.MANO_FILENAME in names


@pytest.mark.parametrize("key", ["smpl_neutral", "smpl_male", "smpl_female", "mano_right"])
def test_pickle_uses_only_legacy_globals(files, key):
    path = files[key]
    found = _globals(path)
    assert found <= ALLOWED_GLOBALS, found - ALLOWED_GLOBALS
    # the official-file features the reader must cope with are really exercised
    assert {"chumpy.ch Ch", "scipy.sparse.csc csc_matrix", "numpy.core.multiarray _reconstruct"} <= found
    with open(path, "rb") as fh:
        first = next(pickletools.genops(fh))
    assert first[0].name == "PROTO" and first[1] == 2


@pytest.mark.parametrize("which", ["smpl_neutral", "smpl_male", "smpl_female", "mano_right"])
def test_model_file_round_trip(files, smpl, mano, which):
    loaded = load_model_file(files[which])
    built = mano if which == "mano_right" else smpl[which.split("_")[1]]
    assert set(loaded) == set(built)
    for key, value in built.items():
        if scipy.sparse.issparse(value):
            np.testing.assert_array_equal(loaded[key], value.toarray())
        elif isinstance(value, np.ndarray):
            assert loaded[key].dtype == value.dtype, key
            np.testing.assert_array_equal(loaded[key], value)
        else:
            assert loaded[key] == value


def test_same_seed_gives_identical_bytes(files, tmp_path):
    again = bm.write_all(tmp_path, seed=0)
    for key, path in files.items():
        assert path.read_bytes() == again[key].read_bytes(), key


def test_seed_changes_models():
    a, b = bm.build_smpl_model(0), bm.build_smpl_model(1)
    assert not np.allclose(a["v_template"], b["v_template"])
    np.testing.assert_array_equal(a["f"], b["f"])                 # same topology
    assert not np.allclose(bm.build_mano_model(0)["hands_mean"], bm.build_mano_model(1)["hands_mean"])
    # small changes only: still the same body
    assert np.abs(a["v_template"] - b["v_template"]).max() < 0.1


def test_cli(tmp_path, capsys):
    assert bm.main(["--out", str(tmp_path / "m"), "--seed", "3"]) == 0
    assert (tmp_path / "m" / "MANO_RIGHT.pkl").is_file()
    assert (tmp_path / "m" / "basicModel_f_lbs_10_207_0_v1.0.0.pkl").is_file()
    assert "J_regressor_h36m" in capsys.readouterr().out


# ----------------------------------------------------------------------------------------------
# SMPL content
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("gender", ["neutral", "male", "female"])
def test_smpl_shapes_and_dtypes(smpl, gender):
    d = smpl[gender]
    assert d["v_template"].shape == (6890, 3) and d["v_template"].dtype == np.float64
    assert d["shapedirs"].shape == (6890, 3, 10)
    assert d["posedirs"].shape == (6890, 3, 207)
    assert isinstance(d["J_regressor"], scipy.sparse.csc_matrix) and d["J_regressor"].shape == (24, 6890)
    assert d["weights"].shape == (6890, 24)
    assert d["f"].shape == (13776, 3) and d["f"].dtype == np.uint32
    assert d["f"].min() == 0 and d["f"].max() == 6889
    assert d["kintree_table"].shape == (2, 24) and d["kintree_table"].dtype == np.int64
    assert d["kintree_table"][0, 0] == 4294967295
    assert d["kintree_table"][0, 1:].tolist() == SMPL_PARENTS[1:]
    assert d["kintree_table"][1].tolist() == list(range(24))
    assert d["J"].shape == (24, 3)
    assert d["bs_type"] == "lrotmin" and d["bs_style"] == "lbs"
    for key in ("v_template", "shapedirs", "posedirs", "weights", "J"):
        assert np.all(np.isfinite(d[key])), key


def test_genders_share_topology_but_differ(smpl):
    n, m, f = smpl["neutral"], smpl["male"], smpl["female"]
    np.testing.assert_array_equal(n["f"], m["f"])
    np.testing.assert_array_equal(n["f"], f["f"])
    height = {g: np.ptp(smpl[g]["v_template"][:, 1]) for g in smpl}
    assert height["male"] > height["neutral"] > height["female"]
    shoulders = {g: smpl[g]["J"][16, 0] - smpl[g]["J"][17, 0] for g in smpl}
    assert shoulders["male"] > shoulders["female"]
    for g in smpl:
        assert 0.01 < np.abs(smpl[g]["v_template"] - n["v_template"]).max() < 0.15 or g == "neutral"


def test_smpl_mesh_is_closed_genus0(smpl):
    import trimesh
    d = smpl["neutral"]
    faces = d["f"].astype(np.int64)
    directed = Counter(map(tuple, _edges(faces)))
    assert max(directed.values()) == 1                            # consistent orientation
    assert all((b, a) in directed for a, b in directed)           # every edge shared by 2 faces
    undirected = {tuple(sorted(e)) for e in directed}
    assert 6890 - len(undirected) + len(faces) == 2               # Euler characteristic
    assert len(np.unique(faces)) == 6890                          # no unused vertices
    mesh = trimesh.Trimesh(d["v_template"], faces, process=False)
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.euler_number == 2
    assert mesh.volume > 0.04                                     # outward normals, ~human volume
    assert mesh.area_faces.min() > 1e-8
    assert len({tuple(sorted(f)) for f in faces.tolist()}) == len(faces)


def test_smpl_is_humanoid(smpl):
    d = smpl["neutral"]
    v, J, w = d["v_template"], d["J"], d["weights"]
    y = v[:, 1]
    assert 1.5 < np.ptp(y) < 2.0
    assert abs(J[0, 0]) < 2e-3 and -0.6 < J[0, 1] < 0.2             # pelvis near SMPL's placement
    dom = w.argmax(axis=1)
    head, feet = np.isin(dom, [15]), np.isin(dom, [7, 8, 10, 11])
    # head above shoulders above pelvis above knees above feet
    assert y[head].min() > J[16, 1] - 0.05
    assert J[16, 1] > J[12, 1] - 0.1 > J[0, 1] > J[4, 1] > J[7, 1]
    assert y[feet].max() < J[4, 1]
    assert y.max() == pytest.approx(y[head].max())
    assert y.min() == pytest.approx(y[feet].min())
    # left side at +x, mirror joints roughly symmetric
    for k in LEFT_JOINTS:
        assert J[k, 0] > 0.03 and J[k + 1, 0] < -0.03
        np.testing.assert_allclose(J[k] * [-1, 1, 1], J[k + 1], atol=2e-3)
    # arms stretch sideways (T-pose), the body faces +z (feet point forward)
    assert J[20, 0] > 0.5 and abs(J[20, 1] - J[16, 1]) < 0.1
    assert J[10, 2] > J[7, 2] + 0.05
    # every joint dominates a body part
    assert set(np.unique(dom)) == set(range(24))


def test_face_keypoints(smpl):
    d = smpl["neutral"]
    v, J, w = d["v_template"], d["J"], d["weights"]
    kp = {name: v[idx] for name, idx in bm.SMPL_FACE_KEYPOINT_VERTICES.items()}
    assert bm.SMPL_FACE_KEYPOINT_VERTICES == {"nose": 331, "left_eye": 2802, "right_eye": 6262,
                                              "left_ear": 3489, "right_ear": 3990}
    head = w.argmax(axis=1) == 15
    for name, idx in bm.SMPL_FACE_KEYPOINT_VERTICES.items():
        assert head[idx], name
        assert kp[name][1] > J[12, 1] and np.linalg.norm(kp[name] - J[15]) < 0.2
    assert abs(kp["nose"][0]) < 1e-3
    assert kp["nose"][2] == pytest.approx(v[head, 2].max())       # nose tip: front-most head vertex
    assert kp["nose"][2] > kp["left_eye"][2] > kp["left_ear"][2] + 0.05
    assert kp["left_eye"][1] > kp["nose"][1] and kp["right_eye"][1] > kp["nose"][1]
    assert kp["left_ear"][0] > kp["left_eye"][0] > 0 > kp["right_eye"][0] > kp["right_ear"][0]
    assert kp["left_ear"][0] > 0.06 and kp["right_ear"][0] < -0.06
    np.testing.assert_allclose(kp["left_eye"] * [-1, 1, 1], kp["right_eye"], atol=1e-3)


def test_smpl_joint_regressor(smpl):
    d = smpl["neutral"]
    reg = d["J_regressor"].toarray()
    assert reg.min() >= 0
    np.testing.assert_allclose(reg.sum(axis=1), 1.0, atol=1e-12)
    nnz = (reg > 0).sum(axis=1)
    assert nnz.min() >= 4 and nnz.max() <= 64
    np.testing.assert_allclose(reg @ d["v_template"], d["J"], atol=1e-12)
    v = d["v_template"]
    for k in range(24):                                           # only vertices around the joint
        cols = np.flatnonzero(reg[k])
        assert np.linalg.norm(v[cols] - d["J"][k], axis=1).max() < 0.2, k
    # the joint regressor moves with the shape (it is a regressor, not constants)
    shaped = v + d["shapedirs"] @ np.array([2.0] + [0.0] * 9)
    assert (reg @ shaped)[20, 0] > d["J"][20, 0] + 0.02


def test_smpl_skinning_weights(smpl):
    d = smpl["neutral"]
    w = d["weights"]
    assert w.min() >= 0
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    assert (w > 0).sum(axis=1).max() <= 4
    # each vertex is dominated by a joint that is near it (its own body part)
    v, J = d["v_template"], d["J"]
    dom = w.argmax(axis=1)
    assert np.median(w.max(axis=1)) > 0.8
    dist = np.linalg.norm(v - J[dom], axis=1)
    assert np.percentile(dist, 99) < 0.45
    # smooth blending: neighbouring vertices have similar weights
    e = _edges(d["f"])
    jump = np.abs(w[e[:, 0]] - w[e[:, 1]]).sum(axis=1)
    assert np.percentile(jump, 99) < 0.6 and jump.max() < 1.0


def test_smpl_blend_shapes(smpl):
    d = smpl["neutral"]
    sd, pd = d["shapedirs"], d["posedirs"]
    assert np.all(np.abs(sd).reshape(-1, 10).max(axis=0) > 1e-3)    # 10 non-zero directions
    assert np.all(np.abs(pd).reshape(-1, 207).max(axis=0) > 1e-5)   # every pose column used
    assert np.abs(pd).max() < 0.05                                  # small correctives
    e = _edges(d["f"])
    for k in range(10):       # smooth fields: neighbours nearly equal (noise would give ~1.4x)
        diff = np.linalg.norm(sd[e[:, 0], :, k] - sd[e[:, 1], :, k], axis=1)
        scale = np.linalg.norm(sd[:, :, k], axis=1).max()
        assert np.median(diff) < 0.05 * scale and diff.max() < 0.45 * scale, k
    v = d["v_template"]
    for k in range(10):
        for s in (-3.0, 3.0):
            shaped = v + sd[:, :, k] * s
            assert 1.4 < np.ptp(shaped[:, 1]) < 2.2
            assert 1.2 < np.ptp(shaped[:, 0]) < 2.3
    taller = v + sd @ np.eye(10)[0] * 2.0
    assert np.ptp(taller[:, 1]) > np.ptp(v[:, 1]) + 0.05


def test_smplx_forward_bend_left_elbow(smpl):
    import torch
    d = smpl["neutral"]
    model = _smplx_body(d)

    def run(body_pose, betas=None):
        body_pose = torch.as_tensor(body_pose, dtype=torch.float32).reshape(1, 69)
        betas = torch.zeros(1, 10) if betas is None else torch.as_tensor(betas, dtype=torch.float32)
        out = model(betas=betas, global_orient=torch.zeros(1, 3), body_pose=body_pose)
        return out.vertices[0].detach().numpy(), out.joints[0, :24].detach().numpy()

    v0, j0 = run(np.zeros(69))
    np.testing.assert_allclose(v0, d["v_template"], atol=1e-5)
    np.testing.assert_allclose(j0, d["J"], atol=1e-5)
    pose = np.zeros((23, 3))
    pose[18 - 1] = [0.0, -np.pi / 2, 0.0]                          # left elbow, 90 deg about y
    v1, j1 = run(pose)
    assert np.all(np.isfinite(v1))
    forearm = np.linalg.norm(j0[20] - j0[18])
    assert np.linalg.norm(j1[20] - j0[20]) == pytest.approx(np.sqrt(2) * forearm, rel=1e-3)
    assert j1[20, 2] > j0[20, 2] + 0.8 * forearm                    # wrist swings forward (+z)
    np.testing.assert_allclose(j1[:18], j0[:18], atol=1e-6)          # pelvis, torso, legs fixed
    np.testing.assert_allclose(j1[21], j0[21], atol=1e-6)           # right wrist untouched
    dom = d["weights"].argmax(axis=1)
    moved = np.linalg.norm(v1 - v0, axis=1)
    assert moved[np.isin(dom, [0, 1, 2, 3, 4, 5, 7, 8, 17, 19, 21])].max() < 1e-5
    assert moved[np.isin(dom, [20, 22])].min() > 0.1
    # random poses and shapes give finite, body-sized meshes
    rng = np.random.default_rng(0)
    for _ in range(3):
        v, j = run(rng.normal(0, 0.4, size=69), rng.uniform(-3, 3, size=(1, 10)))
        assert np.all(np.isfinite(v)) and np.abs(v).max() < 2.5
        assert 0.5 < np.ptp(v, axis=0).max() < 2.6


# ----------------------------------------------------------------------------------------------
# MANO content
# ----------------------------------------------------------------------------------------------

def test_mano_shapes_and_dtypes(mano):
    d = mano
    assert d["v_template"].shape == (778, 3)
    assert d["shapedirs"].shape == (778, 3, 10)
    assert d["posedirs"].shape == (778, 3, 135)
    assert isinstance(d["J_regressor"], scipy.sparse.csc_matrix) and d["J_regressor"].shape == (16, 778)
    assert d["weights"].shape == (778, 16)
    assert d["f"].shape == (1538, 3) and d["f"].dtype == np.uint32
    assert d["kintree_table"].shape == (2, 16) and d["kintree_table"][0, 0] == 4294967295
    assert d["kintree_table"][0, 1:].tolist() == MANO_PARENTS[1:]
    assert d["J"].shape == (16, 3)
    assert d["hands_components"].shape == (45, 45) and d["hands_mean"].shape == (45,)
    assert d["bs_type"] == "lrotmin" and d["bs_style"] == "lbs"


def test_mano_mesh_has_one_wrist_loop(mano):
    faces = mano["f"].astype(np.int64)
    directed = Counter(map(tuple, _edges(faces)))
    assert max(directed.values()) == 1
    boundary = [(a, b) for a, b in directed if (b, a) not in directed]
    assert len(boundary) == 16
    nxt = dict(boundary)
    assert len(nxt) == 16
    loop, cur = [], boundary[0][0]
    for _ in range(16):                                             # a single closed cycle
        loop.append(cur)
        cur = nxt[cur]
    assert cur == loop[0] and len(set(loop)) == 16
    undirected = {tuple(sorted(e)) for e in directed}
    assert 778 - len(undirected) + len(faces) == 1                  # a disk: sphere minus one hole
    v = mano["v_template"]
    wrist_loop = v[loop]
    assert np.abs(wrist_loop[:, 0] - wrist_loop[:, 0].mean()).max() < 0.005   # a cut across the wrist
    assert np.linalg.norm(wrist_loop.mean(axis=0) - mano["J"][0]) < 0.03


def test_mano_is_a_hand(mano):
    v, J, w = mano["v_template"], mano["J"], mano["weights"]
    assert 0.15 < np.ptp(v[:, 0]) < 0.22                           # ~18 cm long along -x
    assert np.linalg.norm(J[0]) < 0.01                               # wrist at the origin
    reg = mano["J_regressor"].toarray()
    np.testing.assert_allclose(reg.sum(axis=1), 1.0, atol=1e-12)
    assert reg.min() >= 0
    np.testing.assert_allclose(reg @ v, J, atol=1e-12)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    assert w.min() >= 0 and set(np.unique(w.argmax(axis=1))) == set(range(16))
    # joint chains run from the palm towards the finger tips; fingers ordered across the hand
    for base in (1, 4, 7, 10):
        assert J[base, 0] > J[base + 1, 0] > J[base + 2, 0]
    assert J[1, 2] > J[4, 2] > J[10, 2] > J[7, 2]                   # index, middle, ring, little
    assert J[15, 2] > J[1, 2]                                        # thumb beyond the index (+z)
    q = mano["hands_components"]
    np.testing.assert_allclose(q @ q.T, np.eye(45), atol=1e-10)
    mean = mano["hands_mean"]
    assert 0.01 < np.abs(mean).max() < 0.5


def test_mano_fingertips(mano):
    v, J, w = mano["v_template"], mano["J"], mano["weights"]
    tips = {"thumb": (745, 13), "index": (317, 1), "middle": (444, 4), "ring": (556, 10),
            "little": (673, 7)}
    dom = w.argmax(axis=1)
    for name, (tip, base) in tips.items():
        axis = J[base + 2] - J[base]
        axis /= np.linalg.norm(axis)
        finger = np.isin(dom, [base, base + 1, base + 2])
        assert finger[tip], name
        proj = (v[finger] - J[base]) @ axis
        assert (v[tip] - J[base]) @ axis == pytest.approx(proj.max(), abs=1e-3), name
        # and it is the vertex farthest from the wrist on that finger
        assert np.linalg.norm(v[tip] - J[0]) == pytest.approx(
            np.linalg.norm(v[finger] - J[0], axis=1).max(), abs=2e-3), name
    # 444 and 445: adjacent vertices, both at the middle finger tip
    e = {tuple(sorted(x)) for x in _edges(mano["f"]).tolist()}
    assert (444, 445) in e
    axis = (J[6] - J[4]) / np.linalg.norm(J[6] - J[4])
    assert abs((v[445] - v[444]) @ axis) < 1e-3 and np.linalg.norm(v[445] - v[444]) < 0.006


def test_smplx_mano_forward(mano):
    import torch
    model = _smplx_hand(mano)
    zeros = torch.zeros(1, 45)
    out0 = model(betas=torch.zeros(1, 10), global_orient=torch.zeros(1, 3), hand_pose=zeros)
    v0 = out0.vertices[0].detach().numpy()
    assert np.all(np.isfinite(v0))
    # the zero pose already applies the mean articulation (flat_hand_mean=False)
    assert np.abs(v0 - mano["v_template"]).max() > 0.005
    curl = torch.zeros(1, 45)
    curl[0, 2:36:3] = 0.8                                          # flex every finger joint
    v1 = model(betas=torch.zeros(1, 10), global_orient=torch.zeros(1, 3),
               hand_pose=curl).vertices[0].detach().numpy()
    assert np.all(np.isfinite(v1))
    for tip in (317, 444, 556, 673):        # finger tips curl towards the palm (-y) and the wrist
        assert v1[tip, 1] < v0[tip, 1] - 0.02
        assert np.linalg.norm(v1[tip]) < np.linalg.norm(v0[tip]) - 0.04
    wrist = np.linalg.norm(v0 - mano["J"][0], axis=1) < 0.02
    np.testing.assert_allclose(v1[wrist], v0[wrist], atol=1e-3)
    rng = np.random.default_rng(1)
    v2 = model(betas=torch.as_tensor(rng.uniform(-3, 3, (1, 10)), dtype=torch.float32),
               global_orient=torch.zeros(1, 3),
               hand_pose=torch.as_tensor(rng.normal(0, 0.3, (1, 45)), dtype=torch.float32))
    v2 = v2.vertices[0].detach().numpy()
    assert np.all(np.isfinite(v2)) and 0.1 < np.ptp(v2, axis=0).max() < 0.3


# ----------------------------------------------------------------------------------------------
# external regressors
# ----------------------------------------------------------------------------------------------

def test_body_regressors(files, smpl):
    h36m = np.load(files["J_regressor_h36m"])
    coco = np.load(files["J_regressor_coco"])
    assert h36m.shape == coco.shape == (17, 6890)
    assert h36m.dtype == coco.dtype == np.float64
    assert h36m.min() >= 0 and coco.min() >= 0
    nnz = (h36m > 0).sum(axis=1)
    assert nnz.min() >= 4 and nnz.max() <= 9
    sums = h36m.sum(axis=1)
    assert sums.min() >= 0.9996 - 1e-12 and sums.max() <= 1.0 + 1e-12
    np.testing.assert_allclose(coco.sum(axis=1), 1.0, atol=1e-12)
    for row, vid in enumerate((331, 2802, 6262, 3489, 3990)):
        assert coco[row, vid] == 1.0 and (coco[row] > 0).sum() == 1
    d = smpl["neutral"]
    v, J = d["v_template"], d["J"]
    h = h36m @ v / sums[:, None]
    c = coco @ v
    names = bm.H36M_JOINT_NAMES
    P = {n: h[i] for i, n in enumerate(names)}
    assert np.linalg.norm(P["Nose"] - v[331]) < 0.03
    assert P["Head_top"][1] > v[:, 1].max() - 0.05 and abs(P["Head_top"][0]) < 0.01
    assert P["Head_top"][1] > P["Nose"][1] > P["Neck"][1] > P["Torso"][1] > P["Pelvis"][1]
    assert P["Pelvis"][1] > P["L_Knee"][1] > P["L_Ankle"][1]
    for side, sgn in (("L", 1), ("R", -1)):
        for part in ("Hip", "Knee", "Ankle", "Shoulder", "Elbow", "Wrist"):
            assert sgn * P[f"{side}_{part}"][0] > 0.05, (side, part)
    for i, (n, k) in enumerate([("L_Knee", 4), ("R_Knee", 5), ("L_Elbow", 18), ("R_Wrist", 21)]):
        assert np.linalg.norm(P[n] - J[k]) < 0.03
    coco_pairs = {5: 16, 6: 17, 7: 18, 8: 19, 9: 20, 10: 21, 13: 4, 14: 5, 15: 7, 16: 8}
    for row, k in coco_pairs.items():
        assert np.linalg.norm(c[row] - J[k]) < 0.03, row
    assert c[11, 0] > 0 > c[12, 0]
