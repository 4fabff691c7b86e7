"""The video, folder and hand demos end to end on the project's synthetic media (demo/input_video.mp4: two people
crossing, one leaving; demo/input_folder/), driven by their detection and keypoint files.

One command-line run per input is shared by the tests of this module (schema, frame count, ids, overlay, round
trips).  The network is the session's random-weight snapshot: these tests check the pipeline, not accuracy.
"""
from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from common.checkpoint import save_checkpoint
from common.utils.media import MediaError
from main.predictor.results import load_results, rebuild_param_mesh
from main.predictor.run import run_demo
from main.predictor.tracking import box_iou

DEMO = Path(__file__).resolve().parents[2] / "demo"
VIDEO, VIDEO_BOXES, VIDEO_KEYPOINTS = DEMO / "input_video.mp4", DEMO / "input_video_bbox.json", \
    DEMO / "input_video_keypoints.json"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def video_run(body_snapshot_file, model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("video_run")
    written = run_demo(["--model_path", str(body_snapshot_file), "--human_model_dir", str(model_dir),
                        "--video", str(VIDEO), "--bbox_json", str(VIDEO_BOXES), "--out_dir", str(out),
                        "--smooth", "--save_mesh", "--mesh_format", "ply", "--side_view", "--renderer", "numpy"])
    return out, written


@pytest.fixture(scope="module")
def hand_snapshot(hand_net_original, tmp_path_factory) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("hand_snapshot") / "snapshot_24.pth.tar", hand_net_original,
                           None, 24)


def _boxes_by_frame() -> dict[int, list[np.ndarray]]:
    table: dict[int, list[np.ndarray]] = {}
    for entry in json.loads(VIDEO_BOXES.read_text()):
        table.setdefault(entry["image_id"], []).append(np.asarray(entry["bbox"]))
    return table


def test_video_results_have_one_entry_per_frame_in_order(video_run):
    out, written = video_run
    doc = json.loads((out / "results.json").read_text())
    boxes = _boxes_by_frame()
    assert doc["schema_version"] == 1 and doc["info"]["input_kind"] == "video" and doc["info"]["fps"] == 30
    assert [f["frame"] for f in doc["frames"]] == list(range(16))
    assert [len(f["people"]) for f in doc["frames"]] == [len(boxes.get(k, [])) for k in range(16)]
    person = doc["frames"][0]["people"][0]
    assert person["kind"] == "body" and person["is_right"] is None
    assert np.shape(person["joints_img"]) == (29, 2) and np.shape(person["joints_cam"]) == (29, 3)
    assert [np.shape(person[k]) for k in ("pose", "shape", "trans")] == [(72,), (10,), (3,)]
    assert doc["frames"][0]["focal"] == [1500.0, 1500.0] and doc["frames"][0]["princpt"] == [160.0, 120.0]
    assert set(written) >= {"results.json", "results.npz", "input_video_overlay.mp4", "input_video_body0.npz",
                            "input_video_body1.npz", "meshes/frame_000000_body0.ply"}
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "a staging folder was left behind"


def test_track_ids_follow_each_person_through_the_crossing(video_run):
    """Each box of the detections file belongs to one synthetic person (file order = identity); the track id of
    the nearest result box must map to the same identity in every frame, including the frames where the boxes
    overlap by half or more, and the person who leaves must not hand their id to anyone."""
    out, _ = video_run
    frames, _ = load_results(out / "results.npz")
    identity_of_track: dict[int, int] = {}
    for frame in frames:
        given = np.stack(_boxes_by_frame()[frame.key])
        got = np.stack([p.bbox for p in frame.people])  # smoothed boxes: matched to the given ones as a whole
        rows, cols = linear_sum_assignment(-box_iou(got, given))
        for row, identity in zip(rows, cols):
            track = frame.people[row].track_id
            assert identity_of_track.setdefault(track, int(identity)) == identity, frame.key
    assert sorted(identity_of_track) == [0, 1]
    survivors = {p.track_id for f in frames[12:] for p in f.people}
    assert len(survivors) == 1 and identity_of_track[survivors.pop()] == 0


def test_param_meshes_rebuild_from_the_saved_parameters(video_run, smpl):
    out, _ = video_run
    frames, info = load_results(out / "results.npz")
    assert info.stage == "param"
    layer = smpl.layer()
    for frame in frames[::5]:
        for p in frame.people:
            rebuilt = rebuild_param_mesh(layer, "body", p.pose, p.shape, p.trans)
            np.testing.assert_allclose(rebuilt, p.mesh_param_cam, atol=2e-5)


def test_animation_files_hold_each_track_in_amass_form(video_run):
    out, _ = video_run
    frames, _ = load_results(out / "results.npz")
    for track in (0, 1):
        anim = np.load(out / f"input_video_body{track}.npz", allow_pickle=False)
        rows = [(f.key, p) for f in frames for p in f.people if p.track_id == track]
        assert anim["poses"].shape == (len(rows), 72) and anim["trans"].shape == (len(rows), 3)
        assert anim["betas"].shape == (10,) and float(anim["mocap_framerate"]) == 30.0
        np.testing.assert_array_equal(anim["frame_index"], [k for k, _ in rows])
        np.testing.assert_allclose(anim["poses"], np.stack([p.pose for _, p in rows]), atol=1e-6)


def test_overlay_video_is_h264_one_frame_per_input_frame_with_the_side_view(video_run):
    out, _ = video_run
    with av.open(str(out / "input_video_overlay.mp4")) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(frames) == 16 and frames[0].shape == (240, 640, 3)  # frame | side view
    with av.open(str(VIDEO)) as container:
        first_input = next(container.decode(video=0)).to_ndarray(format="rgb24")
    changed = np.abs(frames[0][:, :320].astype(int) - first_input.astype(int)).max(axis=2) > 40
    assert changed.mean() > 0.01, "no mesh drawn over the first frame"


def test_truncated_video_writes_nothing(body_snapshot_file, model_dir, tmp_path):
    cut = tmp_path / "cut.mp4"
    data = VIDEO.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.4)])
    out = tmp_path / "out"
    with pytest.raises(MediaError, match="cut.mp4"):
        run_demo(["--model_path", str(body_snapshot_file), "--human_model_dir", str(model_dir), "--video", str(cut),
                  "--bbox_json", str(VIDEO_BOXES), "--out_dir", str(out), "--stage", "lixel", "--renderer", "numpy"])
    assert list(out.iterdir()) == []


def test_folder_run_writes_an_overlay_per_image_and_skips_other_files(body_snapshot_file, model_dir, tmp_path,
                                                                      capsys):
    out = tmp_path / "out"
    written = run_demo(["--model_path", str(body_snapshot_file), "--human_model_dir", str(model_dir),
                        "--img_dir", str(DEMO / "input_folder"), "--bbox_json", str(DEMO / "input_folder_bbox.json"),
                        "--out_dir", str(out), "--stage", "lixel", "--renderer", "numpy"])
    assert "notes.txt" in capsys.readouterr().out
    names = ["frame_000.jpg", "frame_009.jpg", "frame_015.jpg"]
    assert set(written) == {f"{Path(n).stem}_overlay.jpg" for n in names} | {"results.json", "results.npz"}
    doc = json.loads((out / "results.json").read_text())
    assert [f["frame"] for f in doc["frames"]] == names
    assert [len(f["people"]) for f in doc["frames"]] == [2, 2, 1]
    assert [p["track_id"] for p in doc["frames"][0]["people"]] == [0, 1]
    assert doc["frames"][0]["people"][0]["pose"] is None


def test_body_and_hands_from_keypoints_rebuild_with_their_layers(body_snapshot_file, hand_snapshot, model_dir,
                                                                  smpl, mano, tmp_path):
    """Bodies and both hands from the keypoints file: each hand carries its body's track id, left hands are saved as
    right-hand MANO parameters with is_right false, and every param mesh (left hands included) is what the SMPL /
    MANO layer gives for the saved parameters."""
    out = tmp_path / "out"
    run_demo(["--model_path", str(body_snapshot_file), "--hand_model_path", str(hand_snapshot), "--human_model_dir",
              str(model_dir), "--video", str(VIDEO), "--keypoints_json", str(VIDEO_KEYPOINTS), "--end", "2",
              "--out_dir", str(out), "--save_mesh", "--renderer", "numpy"])
    frames, info = load_results(out / "results.npz")
    assert info.kinds == ("body", "hand") and [f.key for f in frames] == [0, 1]
    layers = {"body": smpl.layer(), "hand": mano.layer()}
    for frame in frames:
        bodies = {p.track_id for p in frame.people if p.kind == "body"}
        hands = [p for p in frame.people if p.kind == "hand"]
        assert len(bodies) == 2 and {p.is_right for p in hands} == {True, False}
        assert {p.track_id for p in hands} <= bodies
        for p in frame.people:
            rebuilt = rebuild_param_mesh(layers[p.kind], p.kind, p.pose, p.shape, p.trans, p.is_right)
            np.testing.assert_allclose(rebuilt, p.mesh_param_cam, atol=2e-5)
