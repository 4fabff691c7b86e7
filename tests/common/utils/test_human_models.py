"""SMPL / MANO layers and joint sets on the synthetic models, against an independent NumPy LBS."""
import shutil

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from common.utils.human_models import MANO, MANO_FILENAME, SMPL, SMPL_FILENAMES, build_human_model
from common.utils.model_files import ModelFileError


def numpy_lbs(data: dict, pose: np.ndarray, betas: np.ndarray, parents) -> tuple[np.ndarray, np.ndarray]:
    """Textbook linear blend skinning: pose (K, 3) axis-angle, betas (10,) -> vertices (V, 3), joints (K, 3)."""
    v_shaped = data["v_template"] + data["shapedirs"][:, :, :10] @ betas
    joints = data["J_regressor"] @ v_shaped
    rots = Rotation.from_rotvec(pose).as_matrix()
    feat = (rots[1:] - np.eye(3)).reshape(-1)
    v_posed = v_shaped + data["posedirs"] @ feat
    k = len(parents)
    world = np.zeros((k, 4, 4))
    for j in range(k):
        local = np.eye(4)
        local[:3, :3] = rots[j]
        local[:3, 3] = joints[j] - (joints[parents[j]] if j > 0 else 0)
        world[j] = local if j == 0 else world[parents[j]] @ local
    posed_joints = world[:, :3, 3].copy()
    skin = world.copy()
    skin[:, :3, 3] -= np.einsum("kab,kb->ka", world[:, :3, :3], joints)
    blend = np.einsum("vk,kab->vab", data["weights"], skin)
    verts = np.einsum("vab,vb->va", blend[:, :3, :3], v_posed) + blend[:, :3, 3]
    return verts, posed_joints


def test_smpl_layer_matches_numpy_lbs(smpl):
    rng = np.random.default_rng(0)
    pose = rng.normal(scale=0.4, size=(2, 72))
    betas = rng.normal(scale=1.0, size=(2, 10))
    trans = rng.normal(scale=0.5, size=(2, 3))
    verts, joints = smpl.forward(torch.tensor(pose, dtype=torch.float32), torch.tensor(betas, dtype=torch.float32),
                                 torch.tensor(trans, dtype=torch.float32))
    assert verts.shape == (2, 6890, 3) and joints.shape == (2, 24, 3)
    data = smpl.model_data("neutral")
    for b in range(2):
        want_v, want_j = numpy_lbs(data, pose[b].reshape(24, 3), betas[b], SMPL.parents)
        np.testing.assert_allclose(verts[b].numpy(), want_v + trans[b], atol=2e-5)
        np.testing.assert_allclose(joints[b].numpy(), want_j + trans[b], atol=2e-5)


def test_smpl_root_joint_is_pose_independent(smpl):
    shape = torch.zeros(1, 10)
    _, j0 = smpl.forward(torch.zeros(1, 72), shape)
    _, j1 = smpl.forward(torch.randn(1, 72) * 0.5, shape)
    torch.testing.assert_close(j0[:, 0], j1[:, 0], atol=1e-6, rtol=0)


def test_smpl_joint_set(smpl):
    assert smpl.joint_num == 29 == len(smpl.joints_name) and smpl.vertex_num == 6890
    assert smpl.joints_name[0] == "Pelvis" and smpl.root_joint_idx == 0
    reg = smpl.joint_regressor
    assert reg.shape == (29, 6890) and reg.dtype == np.float32
    np.testing.assert_array_equal(reg[:24], smpl.model_data()["J_regressor"].astype(np.float32))
    for row, vertex in zip(range(24, 29), (331, 2802, 6262, 3489, 3990)):
        assert reg[row, vertex] == 1.0 and reg[row].sum() == 1.0
    assert smpl.face.shape == (13776, 3) and smpl.face.dtype == np.int64
    assert len(smpl.flip_pairs) == 11 and len(smpl.orig_flip_pairs) == 9 and len(smpl.skeleton) == 28
    for a, b in smpl.flip_pairs:  # flip pairs are left/right mirrors by name
        assert smpl.joints_name[a].replace("L_", "R_") == smpl.joints_name[b]


def test_smpl_genders_are_loaded_lazily_and_missing_files_are_explained(model_dir, tmp_path):
    only_neutral = tmp_path / "models"
    only_neutral.mkdir()
    shutil.copy(model_dir / SMPL_FILENAMES["neutral"], only_neutral)
    body = SMPL(only_neutral)
    body.forward(torch.zeros(1, 72), torch.zeros(1, 10))
    with pytest.raises(ModelFileError) as err:
        body.layer("female")
    msg = str(err.value)
    assert SMPL_FILENAMES["female"] in msg and str(only_neutral.resolve()) in msg and "smpl.is.tue.mpg.de" in msg
    assert "--human_model_dir" in msg
    with pytest.raises(ModelFileError, match=MANO_FILENAME):
        MANO(only_neutral)


def test_mano_layer_matches_numpy_lbs_with_mean_pose_fingertips_and_millimetres(mano):
    rng = np.random.default_rng(1)
    pose = rng.normal(scale=0.3, size=(2, 48))
    betas = rng.normal(scale=1.0, size=(2, 10))
    trans = rng.normal(scale=0.1, size=(2, 3))
    verts, joints = mano.forward(torch.tensor(pose, dtype=torch.float32), torch.tensor(betas, dtype=torch.float32),
                                 torch.tensor(trans, dtype=torch.float32))
    assert verts.shape == (2, 778, 3) and joints.shape == (2, 21, 3)
    data = mano.model_data()
    for b in range(2):
        full = np.concatenate([pose[b, :3], data["hands_mean"] + pose[b, 3:]]).reshape(16, 3)
        want_v, want_j = numpy_lbs(data, full, betas[b], MANO.parents)
        want_v, want_j = want_v + trans[b], want_j + trans[b]
        tips = want_v[[745, 317, 444, 556, 673]]
        want_j21 = np.concatenate([want_j, tips])[[0, 13, 14, 15, 16, 1, 2, 3, 17, 4, 5, 6, 18, 10, 11, 12, 19, 7,
                                                   8, 9, 20]]
        np.testing.assert_allclose(verts[b].numpy(), want_v * 1000, atol=5e-3)  # mm
        np.testing.assert_allclose(joints[b].numpy(), want_j21 * 1000, atol=5e-3)


def test_mano_joint_set_and_the_444_445_quirk(mano):
    assert mano.joint_num == 21 == len(mano.joints_name) and mano.vertex_num == 778
    assert mano.joints_name[20] == "Pinly_4" and mano.flip_pairs == () and len(mano.skeleton) == 20
    reg = mano.joint_regressor
    assert reg.shape == (21, 778) and reg.dtype == np.float32
    for row, vertex in ((4, 745), (8, 317), (12, 445), (16, 556), (20, 673)):
        assert reg[row, vertex] == 1.0 and reg[row].sum() == 1.0
    dense = mano.model_data()["J_regressor"].astype(np.float32)
    for row, mano_row in ((0, 0), (1, 13), (2, 14), (3, 15), (5, 1), (9, 4), (13, 10), (17, 7), (19, 9)):
        np.testing.assert_array_equal(reg[row], dense[mano_row])
    # the layer's own middle fingertip is vertex 444, the regressor's 445
    verts, joints = mano.forward(torch.zeros(1, 48), torch.zeros(1, 10))
    torch.testing.assert_close(joints[0, 12], verts[0, 444])
    regressed = torch.tensor(reg) @ verts[0]
    torch.testing.assert_close(regressed[12], verts[0, 445])


def test_checkpoint_buffers_have_the_official_names_and_shapes(smpl, mano):
    body = {k: (tuple(v.shape), v.dtype) for k, v in smpl.checkpoint_buffers().items()}
    assert body == {"th_betas": ((1, 10), torch.float32), "th_shapedirs": ((6890, 3, 10), torch.float32),
                    "th_posedirs": ((6890, 3, 207), torch.float32), "th_v_template": ((1, 6890, 3), torch.float32),
                    "th_J_regressor": ((24, 6890), torch.float32), "th_weights": ((6890, 24), torch.float32),
                    "th_faces": ((13776, 3), torch.int64)}
    hand = {k: tuple(v.shape) for k, v in mano.checkpoint_buffers().items()}
    assert list(hand) == ["th_betas", "th_shapedirs", "th_posedirs", "th_v_template", "th_J_regressor",
                          "th_weights", "th_faces", "th_hands_mean", "th_selected_comps"]
    assert hand["th_posedirs"] == (778, 3, 135) and hand["th_selected_comps"] == (6, 45)
    assert hand["th_hands_mean"] == (1, 45) and mano.checkpoint_buffers()["th_hands_mean"].abs().sum() > 0


def test_build_human_model_picks_the_variant(model_dir):
    assert isinstance(build_human_model(False, model_dir), SMPL)
    assert isinstance(build_human_model(True, model_dir), MANO)


def test_layer_buffers_stay_out_of_state_dicts(smpl, mano):
    assert smpl.layer().state_dict() == {} and mano.layer().state_dict() == {}
