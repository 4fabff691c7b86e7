"""The synthetic demo media (tools/synthetic/demo_media): the crossing and the exit, boxes and keypoints against an
independent projection of the ground-truth mesh and the rendered label map, the JSON forms, the video and the folder.
One video is rendered and written per module."""
import dataclasses
import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from tools.synthetic.demo_media import FOLDER_FRAMES, DemoVideo, make_demo_video, write_demo_media
from tools.synthetic.demo_media import files as media_files
from tools.synthetic.demo_media.__main__ import main
from tools.synthetic.demo_media.scene import _check_scene, clipped_box

H, W = 240, 320
COCO_NAMES_IN_SMPL = ("Nose", "L_Eye", "R_Eye", "L_Ear", "R_Ear", "L_Shoulder", "R_Shoulder", "L_Elbow", "R_Elbow",
                      "L_Wrist", "R_Wrist", "L_Hip", "R_Hip", "L_Knee", "R_Knee", "L_Ankle", "R_Ankle")


@pytest.fixture(scope="module")
def video(model_dir) -> DemoVideo:
    return make_demo_video(model_dir)


@pytest.fixture(scope="module")
def written(video, tmp_path_factory) -> dict[str, Path]:
    return write_demo_media(tmp_path_factory.mktemp("demo_media"), video=video)


def _project(points: np.ndarray, video: DemoVideo) -> np.ndarray:
    """(N, 3) camera metres -> (N, 2) pixels, the pinhole model written out."""
    (fx, fy), (cx, cy) = video.focal, video.princpt
    return np.stack([points[:, 0] / points[:, 2] * fx + cx, points[:, 1] / points[:, 2] * fy + cy], axis=1)


def _corners_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU from corner boxes (x1, y1, x2, y2), written independently of box_iou."""
    a = np.array([a[0], a[1], a[0] + a[2], a[1] + a[3]])
    b = np.array([b[0], b[1], b[0] + b[2], b[1] + b[3]])
    inter = np.prod(np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None))
    return inter / (np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter)


def test_the_video_is_small_and_at_the_default_camera(video):
    assert len(video.frames) <= 16 and video.fps == 30.0
    assert all(f.shape == (H, W, 3) and f.dtype == np.uint8 for f in video.frames)
    assert video.focal == (1500.0, 1500.0) and video.princpt == (W / 2, H / 2)
    heights = video.boxes[0, :, 3]
    assert np.all((heights > 150) & (heights < 200)), heights


def test_the_two_people_cross_in_opposite_directions_with_boxes_overlapping_by_half(video):
    both = [t for t in range(len(video.frames)) if video.visible[t].all()]
    ious = np.array([_corners_iou(video.boxes[t, 0], video.boxes[t, 1]) for t in both])
    crossing = [t for t, iou in zip(both, ious) if iou >= 0.5]
    assert len(crossing) >= 3 and crossing == list(range(crossing[0], crossing[-1] + 1)), ious
    assert crossing == video.crossing_frames()
    np.testing.assert_allclose(ious, [video.iou(t) for t in both], atol=1e-9)
    # the root joints move in opposite directions along x and swap sides
    root_x = video.joints_cam[:, :, 0, 0]
    assert np.all(np.diff(root_x[:, 0]) > 0) and np.all(np.diff(root_x[:, 1]) < 0)
    assert root_x[0, 0] < root_x[0, 1] and root_x[-1, 0] > root_x[-1, 1]
    # person 1 is in front while they cross: some of person 0's keypoints are hidden, none of person 1's
    assert (video.keypoints[crossing, 0, :, 2] == 1).any()
    assert not (video.keypoints[:, 1, :, 2] == 1).any()


def test_one_person_leaves_the_image_and_stays_out(video):
    assert video.visible[:, 0].all()
    gone = np.flatnonzero(~video.visible[:, 1])
    assert len(gone) >= 1 and gone[-1] == len(video.frames) - 1
    assert np.array_equal(gone, np.arange(gone[0], len(video.frames)))  # leaves once, never comes back
    for t in gone:
        assert _project(video.verts_cam[t, 1], video)[:, 0].max() < 0  # wholly left of the image
        assert not (video.labels[t] == 2).any()
        assert video.people_in_frame(t) == [0]
    # partially visible frames before that: the box is clipped at the left border
    partial = [t for t in range(gone[0]) if _project(video.verts_cam[t, 1], video)[:, 0].min() < 0]
    assert partial and all(video.boxes[t, 1, 0] == 0.0 for t in partial)
    with pytest.raises(RuntimeError, match="person 1 does not leave"):
        _check_scene(dataclasses.replace(video, visible=np.ones_like(video.visible)), seed=0)
    with pytest.raises(RuntimeError, match="fewer than 3 frames"):
        _check_scene(dataclasses.replace(video, boxes=video.boxes + [[[0, 0, 0, 0], [80, 0, 0, 0]]]), seed=0)


def test_boxes_are_the_clipped_extents_of_the_projected_vertices_and_hold_the_rendered_pixels(video):
    for t in range(len(video.frames)):
        for p in range(2):
            px = _project(video.verts_cam[t, p], video)
            x1, y1 = np.maximum(px.min(0), 0)
            x2, y2 = np.minimum(px.max(0), (W - 1, H - 1))
            if not video.visible[t, p]:
                assert x2 <= x1 and np.isnan(video.boxes[t, p]).all()
                continue
            np.testing.assert_allclose(video.boxes[t, p], [x1, y1, x2 - x1, y2 - y1], atol=1e-6)
            rows, cols = np.nonzero(video.labels[t] == p + 1)
            bx, by, bw, bh = video.boxes[t, p]
            assert cols.min() >= bx - 1 and cols.max() <= bx + bw + 1
            assert rows.min() >= by - 1 and rows.max() <= by + bh + 1
            if p == 1 and px.min() >= 0:  # the person in front, whole in the image: the box is tight on the pixels
                assert abs(rows.min() - by) <= 1.5 and abs(rows.max() - (by + bh)) <= 1.5
                assert abs(cols.min() - bx) <= 1.5 and abs(cols.max() - (bx + bw)) <= 1.5


def test_clipped_box_cuts_at_the_first_and_last_pixel_centres():
    points = np.array([[-5.0, 10.0], [W + 3.0, H + 7.0], [20.0, 30.0]])
    np.testing.assert_array_equal(clipped_box(points, (H, W)), [0.0, 10.0, W - 1.0, H - 11.0])
    assert clipped_box(np.array([[-9.0, 5.0], [-1.0, 50.0]]), (H, W)) is None  # wholly left of the image
    assert clipped_box(np.array([[5.0, H + 1.0], [50.0, H + 9.0]]), (H, W)) is None  # wholly below


def test_keypoints_are_the_projected_smpl_joints_in_coco_order(video, smpl):
    coco_joints = [smpl.joints_name.index(name) for name in COCO_NAMES_IN_SMPL]
    regressor = smpl.joint_regressor.astype(np.float64)
    for t in range(len(video.frames)):
        for p in range(2):
            joints = _project(regressor @ video.verts_cam[t, p], video)[coco_joints]
            kps = video.keypoints[t, p]
            np.testing.assert_allclose(kps[:, :2], joints, atol=1e-6)
            inside = (joints[:, 0] >= 0) & (joints[:, 0] <= W - 1) & (joints[:, 1] >= 0) & (joints[:, 1] <= H - 1)
            assert np.array_equal(kps[:, 2] > 0, inside)
            rc = np.round(joints[inside][:, ::-1]).astype(int)
            other = video.labels[t][rc[:, 0], rc[:, 1]] == 2 - p
            np.testing.assert_array_equal(kps[inside, 2], np.where(other, 1, 2))
    # both face the camera: each person's left shoulder, eye and hip are on the image's right of the right ones
    for left, right in ((5, 6), (1, 2), (11, 12)):
        assert np.all(video.keypoints[0, :, left, 0] > video.keypoints[0, :, right, 0])


def test_arms_are_posed_so_that_hands_can_be_cropped(video):
    elbows, wrists = video.keypoints[:, :, 7:9], video.keypoints[:, :, 9:11]
    assert np.all(elbows[0, :, :, 2] == 2) and np.all(wrists[0, :, :, 2] == 2)  # frame 0: side by side
    alone = ~video.visible[:, 1]
    assert np.all(elbows[alone, 0, :, 2] == 2) and np.all(wrists[alone, 0, :, 2] == 2)
    forearm = np.linalg.norm(wrists[..., :2] - elbows[..., :2], axis=-1)
    assert forearm[video.visible].min() > 12  # px: the hand box is sized from the elbow-to-wrist vector
    # the wrists hang beside the body, not in front of the hips
    hips_x = video.keypoints[0, :, 11:13, 0]
    assert np.all(np.abs(wrists[0, :, :, 0] - hips_x.mean(1, keepdims=True)) > np.abs(np.diff(hips_x, axis=1)))


def test_the_json_files_have_the_documented_form(video, written):
    dets = json.loads(written["video_bbox"].read_text())
    kps = json.loads(written["video_keypoints"].read_text())
    expected = [(t, p) for t in range(len(video.frames)) for p in video.people_in_frame(t)]
    assert len(dets) == len(kps) == len(expected)
    for det, kp, (t, p) in zip(dets, kps, expected):
        assert det == {"image_id": t, "category_id": 1, "bbox": det["bbox"], "score": 1.0}
        assert set(kp) == {"image_id", "category_id", "keypoints", "score", "bbox"} and kp["image_id"] == t
        np.testing.assert_allclose(det["bbox"], video.boxes[t, p], atol=0.006)
        assert kp["bbox"] == det["bbox"]
        flat = np.array(kp["keypoints"]).reshape(17, 3)
        assert all(isinstance(v, int) for v in kp["keypoints"][2::3])
        np.testing.assert_array_equal(flat[:, 2], video.keypoints[t, p, :, 2])
        seen = flat[:, 2] > 0
        np.testing.assert_allclose(flat[seen, :2], video.keypoints[t, p, seen, :2], atol=0.006)
        assert np.all(flat[~seen] == 0)
    folder = json.loads(written["folder_bbox"].read_text())
    by_name = [(d["image_id"], d["bbox"]) for d in folder]
    assert by_name == [(f"frame_{d['image_id']:03d}.jpg", d["bbox"]) for d in dets if d["image_id"] in FOLDER_FRAMES]


def test_the_video_file_decodes_to_the_rendered_frames(video, written):
    assert written["video"].suffix in (".mp4", ".webm")
    assert written["video"].stat().st_size < 300_000
    with av.open(str(written["video"])) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == 30
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(decoded) == len(video.frames)
    for got, want in zip(decoded, video.frames):
        assert got.shape == (H, W, 3)
        assert np.abs(got.astype(float) - want).mean() < 3.0


def test_the_folder_holds_three_frames_and_a_file_that_is_not_an_image(video, written):
    names = sorted(p.name for p in written["folder"].iterdir())
    assert names == ["frame_000.jpg", "frame_009.jpg", "frame_015.jpg", "notes.txt"]
    for t in FOLDER_FRAMES:
        img = cv2.imread(str(written["folder"] / f"frame_{t:03d}.jpg"))[:, :, ::-1]
        assert np.abs(img.astype(float) - video.frames[t]).mean() < 3.0
    assert cv2.imread(str(written["folder"] / "notes.txt")) is None
    counts = [len(video.people_in_frame(t)) for t in FOLDER_FRAMES]
    assert counts == [2, 2, 1]


def test_the_command_line_writes_the_same_json_bytes(video, written, tmp_path, monkeypatch, capsys):
    # the shared render stands in for a second one (same model files, same seed: rendering is deterministic)
    monkeypatch.setattr(media_files, "make_demo_video", lambda model_dir: video)
    assert main(["--out_dir", str(tmp_path), "--human_model_dir", "unused"]) == 0
    printed = capsys.readouterr().out
    for key in ("video_bbox", "video_keypoints", "folder_bbox"):
        assert (tmp_path / written[key].name).read_bytes() == written[key].read_bytes()
        assert str(tmp_path / written[key].name) in printed
    assert "notes.txt" in printed
