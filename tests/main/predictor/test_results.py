"""results.json / results.npz (main/predictor/results.py): schema, round trips, nulls, param meshes rebuilt."""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import torch

from main.predictor.errors import DemoError
from main.predictor.results import (
    SCHEMA_VERSION,
    SIZES,
    FrameResult,
    PersonResult,
    RunInfo,
    load_results,
    rebuild_param_mesh,
    results_files,
)

FIELDS = ("kind", "track_id", "is_right", "bbox", "score", "root_depth", "joints_img", "joints_cam",
          "mesh_lixel_cam", "pose", "shape", "trans", "mesh_param_cam")


def make_person(rng: np.random.Generator, kind: str, track_id: int, is_right: bool | None, param: bool,
                score: float | None = 0.875) -> PersonResult:
    """A person with float32-representable random values (so a float32 file gives them back exactly)."""
    size = SIZES[kind]

    def arr(*shape: int, scale: float = 1.0) -> np.ndarray:
        return (rng.normal(size=shape) * scale).astype(np.float32).astype(np.float64)

    return PersonResult(
        kind=kind, track_id=track_id, is_right=is_right, bbox=np.array([10.5, 20.25, 100.0, 200.0]), score=score,
        root_depth=float(np.float32(rng.uniform(2, 8))), joints_img=arr(size["joints"], 2, scale=100.0),
        joints_cam=arr(size["joints"], 3), mesh_lixel_cam=arr(size["verts"], 3),
        pose=arr(size["pose"]) if param else None, shape=arr(10) if param else None, trans=arr(3) if param else None,
        mesh_param_cam=arr(size["verts"], 3) if param else None)


def assert_same_person(got: PersonResult, want: PersonResult, with_meshes: bool = True) -> None:
    for name in FIELDS:
        g, w = getattr(got, name), getattr(want, name)
        if name.startswith("mesh_") and not with_meshes:
            assert g is None, name
        elif isinstance(w, np.ndarray):
            assert isinstance(g, np.ndarray) and g.dtype == np.float32 and np.array_equal(g, w), name
        else:
            assert g == w and type(g) is type(w), (name, g, w)


def assert_same_frames(got: list[FrameResult], want: list[FrameResult], with_meshes: bool = True) -> None:
    assert [(f.key, f.focal, f.princpt, len(f.people)) for f in got] == \
        [(f.key, f.focal, f.princpt, len(f.people)) for f in want]
    assert all(type(g.key) is type(w.key) for g, w in zip(got, want))
    for g, w in zip(got, want):
        for gp, wp in zip(g.people, w.people):
            assert_same_person(gp, wp, with_meshes)


@pytest.fixture
def video_run() -> tuple[list[FrameResult], RunInfo]:
    """Three frames of a video: bodies and hands interleaved (param and lixel stage), an empty frame, a frame with
    only hands (left and right)."""
    rng = np.random.default_rng(0)
    frames = [
        FrameResult(key=0, focal=(1500.0, 1500.0), princpt=(160.0, 120.0), people=[
            make_person(rng, "body", 3, None, param=True),
            make_person(rng, "hand", 3, False, param=True),
            make_person(rng, "body", 7, None, param=False, score=None),
            make_person(rng, "hand", 3, True, param=True)]),
        FrameResult(key=2, focal=(1500.0, 1500.0), princpt=(160.0, 120.0), people=[]),
        FrameResult(key=4, focal=(1500.0, 1500.0), princpt=(160.0, 120.0), people=[
            make_person(rng, "hand", 0, True, param=False),
            make_person(rng, "hand", 1, False, param=True, score=None)]),
    ]
    info = RunInfo(input="clip.mp4", input_kind="video", kinds=("body", "hand"), stage="param", fps=30.0,
                   flags={"stride": 2, "smooth": False, "mesh_format": "obj", "hands": "both"})
    return frames, info


@pytest.mark.parametrize("with_meshes", [True, False])
def test_npz_round_trip(tmp_path, video_run, with_meshes):
    frames, info = video_run
    files = results_files(frames, info, with_meshes=with_meshes)
    assert sorted(files) == ["results.json", "results.npz"]
    (tmp_path / "results.npz").write_bytes(files["results.npz"])
    got_frames, got_info = load_results(tmp_path / "results.npz")
    assert got_info == info
    assert_same_frames(got_frames, frames, with_meshes)


def test_npz_arrays(video_run):
    frames, info = video_run
    with np.load(io.BytesIO(results_files(frames, info, with_meshes=True)["results.npz"]), allow_pickle=False) as z:
        a = {k: z[k] for k in z.files}
    per_kind = ("frame", "person", "track_id", "is_right", "bbox", "score", "root_depth", "joints_img", "joints_cam",
                "has_param", "pose", "shape", "trans", "mesh_lixel_cam", "mesh_param_cam")
    assert set(a) == {"schema_version", "info_json", "frame_key", "focal", "princpt"} | {
        f"{kind}_{k}" for kind in ("body", "hand") for k in per_kind}
    assert int(a["schema_version"]) == SCHEMA_VERSION and json.loads(str(a["info_json"]))["fps"] == 30.0
    assert a["frame_key"].tolist() == ["0", "2", "4"] and a["focal"].shape == a["princpt"].shape == (3, 2)
    assert a["body_frame"].tolist() == [0, 0] and a["body_person"].tolist() == [0, 2]
    assert a["hand_frame"].tolist() == [0, 0, 2, 2] and a["hand_person"].tolist() == [1, 3, 0, 1]
    assert a["body_is_right"].tolist() == [-1, -1] and a["hand_is_right"].tolist() == [0, 1, 1, 0]
    assert a["hand_is_right"].dtype == np.int8 and a["hand_track_id"].tolist() == [3, 3, 0, 1]
    assert a["body_has_param"].tolist() == [True, False] and a["hand_has_param"].tolist() == [True, True, False, True]
    assert np.isnan(a["body_score"]).tolist() == [False, True] and np.isnan(a["hand_score"]).tolist()[3]
    assert a["body_pose"].shape == (2, 72) and a["hand_pose"].shape == (4, 48)
    assert a["body_mesh_param_cam"].shape == (2, 6890, 3) and a["hand_mesh_lixel_cam"].shape == (4, 778, 3)
    assert a["body_joints_img"].shape == (2, 29, 2) and a["hand_joints_cam"].shape == (4, 21, 3)
    for key in ("pose", "shape", "trans", "mesh_param_cam"):
        assert np.isnan(a[f"body_{key}"][1]).all() and np.isfinite(a[f"body_{key}"][0]).all()
        assert np.isnan(a[f"hand_{key}"][2]).all() and a[f"hand_{key}"].dtype == np.float32
    np.testing.assert_array_equal(a["hand_mesh_param_cam"][1], frames[0].people[3].mesh_param_cam)


def test_json_schema(video_run):
    frames, info = video_run

    def no_nan(token: str):
        raise AssertionError(f"{token} in results.json")

    doc = json.loads(results_files(frames, info, with_meshes=True)["results.json"], parse_constant=no_nan)
    assert doc["schema_version"] == SCHEMA_VERSION and doc["info"]["kinds"] == ["body", "hand"]
    assert doc["info"]["input_kind"] == "video" and doc["info"]["flags"]["stride"] == 2
    assert [f["frame"] for f in doc["frames"]] == [0, 2, 4] and doc["frames"][0]["princpt"] == [160.0, 120.0]
    assert [len(f["people"]) for f in doc["frames"]] == [4, 0, 2]
    body, hand_left, lixel_body, hand_right = doc["frames"][0]["people"]
    assert set(body) == {"kind", "track_id", "is_right", "bbox", "score", "root_depth", "joints_img", "joints_cam",
                         "pose", "shape", "trans"}
    assert (body["kind"], body["track_id"], body["is_right"]) == ("body", 3, None)
    assert (hand_left["is_right"], hand_right["is_right"], hand_right["track_id"]) == (False, True, 3)
    assert lixel_body["pose"] is None and lixel_body["shape"] is None and lixel_body["trans"] is None
    assert lixel_body["score"] is None and lixel_body["track_id"] == 7
    want = frames[0].people[0]
    assert np.array(body["joints_img"]).shape == (29, 2) and len(body["pose"]) == 72 and len(hand_left["pose"]) == 48
    for key in ("bbox", "joints_img", "joints_cam", "pose", "shape", "trans"):  # 6 significant digits
        np.testing.assert_allclose(body[key], getattr(want, key), rtol=1e-5, atol=0)
    assert body["root_depth"] == pytest.approx(want.root_depth, rel=1e-5)
    assert all(v == float(f"{v:.6g}") for v in body["pose"] + body["joints_img"][0])


def test_image_and_folder_keys(tmp_path):
    rng = np.random.default_rng(1)
    for kind, keys in (("folder", ["0001.jpg", "12.png"]), ("image", [0])):
        frames = [FrameResult(key=k, focal=(500.0, 510.0), princpt=(1.5, 2.5),
                              people=[make_person(rng, "body", i, None, param=False) for i in range(2)]) for k in keys]
        info = RunInfo(input=f"in.{kind}", input_kind=kind, kinds=("body",), stage="lixel")
        (tmp_path / "results.npz").write_bytes(results_files(frames, info, with_meshes=False)["results.npz"])
        got, got_info = load_results(tmp_path / "results.npz")
        assert got_info == info and got_info.fps is None
        assert_same_frames(got, frames, with_meshes=False)
        with np.load(tmp_path / "results.npz", allow_pickle=False) as z:
            assert not any(k.startswith("hand_") for k in z.files)


@pytest.mark.parametrize("kinds", [("body",), ("body", "hand")])
def test_no_frames_and_no_people(tmp_path, kinds):
    info = RunInfo(input="empty.mp4", input_kind="video", kinds=kinds, stage="param", fps=25.0)
    for frames in ([], [FrameResult(key=5, focal=(1.0, 2.0), princpt=(3.0, 4.0))]):
        files = results_files(frames, info, with_meshes=True)
        (tmp_path / "results.npz").write_bytes(files["results.npz"])
        got, got_info = load_results(tmp_path / "results.npz")
        assert got_info == info
        assert_same_frames(got, frames)
        assert json.loads(files["results.json"])["frames"] == [
            {"frame": f.key, "focal": list(f.focal), "princpt": list(f.princpt), "people": []} for f in frames]
        with np.load(tmp_path / "results.npz", allow_pickle=False) as z:
            assert z["body_mesh_param_cam"].shape == (0, 6890, 3) and z["body_joints_img"].shape == (0, 29, 2)


def test_param_meshes_rebuilt_from_the_saved_parameters(tmp_path, smpl, mano):
    """Every param mesh of a file, rebuilt with the layers from its pose, shape and trans, equals the saved mesh:
    bodies, right hands and left hands (mirrored)."""
    rng = np.random.default_rng(2)
    people = []
    for kind, is_right in (("body", None), ("hand", True), ("hand", False)):
        pose = (rng.normal(size=SIZES[kind]["pose"]) * 0.3).astype(np.float32)
        shape = rng.normal(size=10).astype(np.float32)
        trans = np.array([0.3, -0.2, 4.0], dtype=np.float32)
        args = torch.as_tensor(pose)[None], torch.as_tensor(shape)[None]
        if kind == "body":
            layer_out = smpl.forward(*args)[0][0].double().numpy()  # metres
        else:
            layer_out = mano.forward(*args)[0][0].double().numpy() / 1000.0  # millimetres -> metres
            layer_out[:, 0] *= 1.0 if is_right else -1.0
        person = make_person(rng, kind, 0, is_right, param=True)
        person.pose, person.shape, person.trans, person.mesh_param_cam = pose, shape, trans, layer_out + trans
        people.append(person)
    info = RunInfo(input="a.jpg", input_kind="image", kinds=("body", "hand"), stage="param")
    frames = [FrameResult(key=0, focal=(1500.0, 1500.0), princpt=(100.0, 100.0), people=people)]
    (tmp_path / "results.npz").write_bytes(results_files(frames, info, with_meshes=True)["results.npz"])
    (loaded,), _ = load_results(tmp_path / "results.npz")
    for p in loaded.people:
        layer = smpl.layer() if p.kind == "body" else mano.layer()
        rebuilt = rebuild_param_mesh(layer, p.kind, p.pose, p.shape, p.trans, p.is_right)
        np.testing.assert_allclose(rebuilt, p.mesh_param_cam, atol=2e-6)
    left = loaded.people[2]
    right_rebuilt = rebuild_param_mesh(mano.layer(), "hand", left.pose, left.shape, left.trans, True)
    assert np.abs(right_rebuilt - left.mesh_param_cam).max() > 1e-2  # the mirror matters


def test_bad_files_are_user_errors(tmp_path, video_run):
    with pytest.raises(DemoError, match="not found"):
        load_results(tmp_path / "missing.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(DemoError, match="is not a results.npz"):
        load_results(tmp_path / "text.npz")
    frames, info = video_run
    good = results_files(frames, info, with_meshes=False)["results.npz"]
    with np.load(io.BytesIO(good), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    for change, match in (({"schema_version": np.array(2)}, "schema_version 2"), ({"hand_pose": None}, "hand_pose")):
        edited = {k: v for k, v in {**arrays, **change}.items() if v is not None}
        np.savez(tmp_path / "edited.npz", **edited)
        with pytest.raises(DemoError, match=match):
            load_results(tmp_path / "edited.npz")
    with zipfile.ZipFile(tmp_path / "pickled.npz", "w") as zf:  # an object array needs pickle: refused
        buf = io.BytesIO()
        np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
        zf.writestr("frame_key.npy", buf.getvalue())
    with pytest.raises(DemoError, match="is not a results.npz"):
        load_results(tmp_path / "pickled.npz")


def test_inconsistent_records_are_refused(video_run):
    frames, info = video_run
    with pytest.raises(ValueError, match="RunInfo.kinds"):
        results_files(frames, RunInfo(input="x", input_kind="video", kinds=("body",), stage="param"), True)
    rng = np.random.default_rng(3)
    for person, match in ((make_person(rng, "hand", 0, None, param=False), "is_right"),
                          (make_person(rng, "body", 0, True, param=False), "is_right")):
        with pytest.raises(ValueError, match=match):
            results_files([FrameResult(0, (1.0, 1.0), (0.0, 0.0), [person])], info, False)
    half = make_person(rng, "body", 0, None, param=True)
    half.trans = None
    with pytest.raises(ValueError, match="all given or all None"):
        results_files([FrameResult(0, (1.0, 1.0), (0.0, 0.0), [half])], info, False)
    wrong = make_person(rng, "body", 0, None, param=False)
    wrong.joints_img = wrong.joints_img[:24]
    with pytest.raises(ValueError, match=r"joints_img: shape \(24, 2\)"):
        results_files([FrameResult(0, (1.0, 1.0), (0.0, 0.0), [wrong])], info, False)
    with pytest.raises(ValueError, match="input_kind"):
        RunInfo(input="x", input_kind="webcam", kinds=("body",), stage="param")
