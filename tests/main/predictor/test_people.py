"""Where the demo's people come from (main/predictor/people.py): the finder each flag combination makes, boxes and
empty images refused with the flag named, the root depth of a box.  Detectors are stand-ins here (their weights and
forward are tested in tests/common/test_detector.py)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import common.detector
from common.detector import KeypointDetection
from common.utils.media import Frame
from common.utils.stopwatch import StageTimes
from main.predictor.errors import DemoError
from main.predictor.finders import Candidate, CombinedFinder, DetectorFinder, FixedFinder, HandFinder, TableFinder
from main.predictor.inputs import InputSource
from main.predictor.options import build_parser
from main.predictor.people import check_box, check_image_people, estimate_root_depth, make_finder

CPU = torch.device("cpu")
IMAGE = np.zeros((120, 160, 3), np.uint8)


def _source(kind: str, frame_count: int | None = None, keys=None) -> InputSource:
    return InputSource(kind, Path(f"input.{ {'video': 'mp4', 'image': 'jpg', 'folder': 'd'}[kind]}"), "input",
                       lambda: iter([]), fps=30.0 if kind == "video" else None, keys=keys, frame_count=frame_count)


def _args(*flags: str):
    return build_parser().parse_args(["--model_path", "x.pth.tar", *flags])


def _keypoints(x: float) -> list:
    """One COCO keypoint person: right arm from (x, 60) to (x + 20, 60), left arm from (x + 30, 60) down 20 px."""
    return [x, 60, 2] * 7 + [x + 30, 60, 2, x, 60, 2, x + 30, 80, 2, x + 20, 60, 2] + [x, 60, 0] * 6


def _write(path: Path, entries: list) -> Path:
    path.write_text(json.dumps(entries))
    return path


def _find(finder, key=0, position=0) -> list[tuple]:
    return [(c.kind, c.is_right, c.source) for c in finder.find(Frame(key=key, image=IMAGE), position)]


def test_root_depth_from_the_processed_box():
    """sqrt(fx fy A_real / A_box): a 2 m (body) or 0.3 m (hand) square seen as the processed box."""
    assert estimate_root_depth([0, 0, 250, 250], (1500, 1500), False) == pytest.approx(2.0 * 1500 / 250)
    assert estimate_root_depth([3, 4, 250, 250], (1500, 1500), True) == pytest.approx(0.3 * 1500 / 250)
    assert estimate_root_depth([0, 0, 100, 400], (1000, 4000), False) == pytest.approx(np.sqrt(4e6 * 4 / 4e4))
    near, far = (estimate_root_depth([0, 0, s, s], (500, 500), False) for s in (100, 50))
    assert far == pytest.approx(2 * near)  # half the box, twice the distance


@pytest.mark.parametrize("box, pattern", [
    ([1, 2, 3], r"--bbox #2: expected 4 finite numbers x y w h, got \[1.0, 2.0, 3.0\]"),
    ([1, 2, np.nan, 3], r"--bbox #2: expected 4 finite numbers"),
    ([10, 10, -5, 20], r"--bbox #2 \[10.0, 10.0, -5.0, 20.0\] has zero or negative size \(w=-5.0, h=20.0\)"),
    ([10, 10, 20, 0], r"--bbox #2 .* has zero or negative size"),
    ([160, 10, 20, 20], r"--bbox #2 \[160.0, 10.0, 20.0, 20.0\] lies outside the 160x120 image"),
    ([-30, 10, 30, 20], r"lies outside the 160x120 image"),
    ([10, -20, 20, 20], r"lies outside the 160x120 image"),
])
def test_check_box_names_the_box(box, pattern):
    with pytest.raises(DemoError, match=pattern):
        check_box(box, 160, 120, "--bbox #2")


def test_check_box_keeps_boxes_that_touch_the_image():
    kept = check_box([-10, -10, 20, 20], 160, 120, "b")
    assert kept.dtype == np.float64 and kept.tolist() == [-10, -10, 20, 20]
    assert check_box((159, 119, 50, 50), 160, 120, "b").tolist() == [159, 119, 50, 50]


def test_an_image_without_anyone_to_run_is_refused_naming_what_to_give():
    hand = Candidate("hand", np.array([1.0, 1.0, 9.0, 9.0]), 0.9, False, "h")
    body = Candidate("body", np.array([1.0, 1.0, 9.0, 9.0]), 0.9, None, "b")
    path = Path("photo.jpg")
    check_image_people([hand], _args(), path, {"hand"})
    check_image_people([hand], _args(), path, {"body", "hand"})
    check_image_people([body], _args(), path, {"body", "hand"})
    with pytest.raises(DemoError, match=r"no person found in photo.jpg with score >= --det_thresh 0.3: lower "
                                        r"--det_thresh or give the boxes with --bbox x y w h or --bbox_json FILE"):
        check_image_people([hand], _args("--det_thresh", "0.3"), path, {"body"})
    with pytest.raises(DemoError, match=r"no person found in photo.jpg"):
        check_image_people([], _args(), path, {"body", "hand"})
    with pytest.raises(DemoError, match=r"no left hand found in photo.jpg \(--hands left, --det_thresh 0.5\): give "
                                        r"hand boxes with --bbox x y w h, keypoints with --keypoints_json"):
        check_image_people([body], _args("--hands", "left"), path, {"hand"})
    with pytest.raises(DemoError, match=r"no hand found in photo.jpg \(--hands both"):
        check_image_people([], _args(), path, {"hand"})


def test_given_boxes_come_first_and_are_right_hands_for_a_hand_model(tmp_path):
    args = _args("--bbox", "1", "2", "30", "40", "--bbox", "50", "2", "30", "40",
                 "--bbox_json", str(tmp_path / "never_read.json"))
    for kind, is_right in (("body", None), ("hand", True)):
        finder = make_finder(args, _source("image"), kind, False, CPU, StageTimes())
        assert isinstance(finder, FixedFinder)
        assert _find(finder) == [(kind, is_right, "--bbox #1"), (kind, is_right, "--bbox #2")]
        assert [c.bbox.tolist() for c in finder.candidates] == [[1, 2, 30, 40], [50, 2, 30, 40]]


def test_bbox_json_is_keyed_like_the_input_and_checked_against_it(tmp_path):
    path = _write(tmp_path / "boxes.json", [{"image_id": 3, "bbox": [1, 2, 30, 40], "score": 0.9},
                                            {"image_id": 5, "bbox": [5, 6, 30, 40], "score": 0.2}])
    video = make_finder(_args("--bbox_json", str(path)), _source("video", 10), "body", False, CPU, StageTimes())
    assert isinstance(video, TableFinder)
    assert _find(video, key=3) == [("body", None, "--bbox_json entry for frame 3 #1")]
    assert _find(video, key=5) == []  # below --det_thresh
    image = make_finder(_args("--bbox_json", str(path), "--det_thresh", "0.1"), _source("image"), "body", False,
                        CPU, StageTimes())
    assert len(_find(image, key=0)) == 2  # one image: image_id ignored
    with pytest.raises(DemoError, match=r"--bbox_json .*boxes.json: image_id 5 lies beyond the video input.mp4, "
                                        r"which has 4 frames \(0 to 3\)"):
        make_finder(_args("--bbox_json", str(path), "--det_thresh", "0.1"), _source("video", 4), "body", False, CPU,
                    StageTimes())


def test_hands_come_from_keypoints_beside_bodies_from_the_file_or_the_keypoints(tmp_path):
    keypoints = _write(tmp_path / "kp.json", [{"image_id": "a.jpg", "keypoints": _keypoints(20), "score": 0.9,
                                               "bbox": [10, 10, 60, 100]}])
    boxes = _write(tmp_path / "boxes.json", [{"image_id": "a.jpg", "bbox": [12, 8, 58, 104], "score": 0.8}])
    folder = _source("folder", keys=["a.jpg"])
    with_keypoint_bodies = make_finder(_args("--keypoints_json", str(keypoints)), folder, "body", True, CPU,
                                       StageTimes())
    assert isinstance(with_keypoint_bodies, HandFinder)
    assert _find(with_keypoint_bodies, "a.jpg") == [
        ("body", None, "keypoint detection 1"), ("hand", True, "right hand of keypoint detection 1"),
        ("hand", False, "left hand of keypoint detection 1")]
    with_file_bodies = make_finder(_args("--keypoints_json", str(keypoints), "--bbox_json", str(boxes)), folder,
                                   "body", True, CPU, StageTimes())
    assert isinstance(with_file_bodies, CombinedFinder)
    assert _find(with_file_bodies, "a.jpg") == [
        ("body", None, "--bbox_json entry for frame 'a.jpg' #1"), ("hand", True, "right hand of keypoint detection 1"),
        ("hand", False, "left hand of keypoint detection 1")]
    hands_only = make_finder(_args("--keypoints_json", str(keypoints), "--hands", "right"), folder, "hand", False,
                             CPU, StageTimes())
    assert _find(hands_only, "a.jpg") == [("hand", True, "right hand of keypoint detection 1")]
    assert _find(hands_only, "b.jpg") == []


def test_the_person_detector_runs_with_its_flags(monkeypatch):
    built, ran = [], []
    detections = [common.detector.Detection((1.0, 2.0, 30.0, 40.0), 0.9),
                  common.detector.Detection((50.0, 2.0, 30.0, 40.0), 0.8)]
    monkeypatch.setattr(common.detector, "build_person_detector",
                        lambda weights, thresh, device, name, **options: built.append((weights, thresh, name))
                        or "model")
    monkeypatch.setattr(common.detector, "detect_people",
                        lambda model, image, thresh, device: ran.append((model, thresh)) or detections)
    args = _args("--detector_weights", "det.pth", "--det_thresh", "0.6", "--detector",
                 "fasterrcnn_mobilenet_v3_large_fpn", "--detect_every", "2", "--max_people", "1")
    times = StageTimes()
    finder = make_finder(args, _source("video", 10), "body", False, CPU, times)
    assert isinstance(finder, DetectorFinder) and built == [(Path("det.pth"), 0.6, "fasterrcnn_mobilenet_v3_large_fpn")]
    found = finder.find(Frame(key=0, image=IMAGE), 0)
    assert [(c.bbox.tolist(), c.score) for c in found] == [([1, 2, 30, 40], 0.9)] and ran == [("model", 0.6)]
    assert finder.find(Frame(key=1, image=IMAGE), 1) is None and len(ran) == 1
    assert times.calls == {"detector load": 1, "detect": 1}
    given = make_finder(args, _source("video", 10), "body", False, CPU, StageTimes(),
                        person_detect=lambda image: [(np.array([5.0, 5.0, 9.0, 9.0]), 0.7)])
    assert len(built) == 1 and [c.score for c in given.find(Frame(key=0, image=IMAGE), 0)] == [0.7]


def test_keypoint_rcnn_finds_the_hands_without_files(monkeypatch):
    people = [KeypointDetection((5.0, 5.0, 60.0, 100.0), 0.9, np.array(_keypoints(20), float).reshape(17, 3))
              for _ in range(2)]
    built, ran = [], []
    monkeypatch.setattr(common.detector, "build_keypoint_detector",
                        lambda weights, thresh, device, **options: built.append((weights, thresh, options)) or "kp")
    monkeypatch.setattr(common.detector, "detect_keypoints",
                        lambda model, image, thresh, device: ran.append((model, thresh)) or people)
    args = _args("--keypoint_weights", "kp.pth", "--detect_every", "3", "--max_people", "2", "--hands", "left")
    finder = make_finder(args, _source("video", 10), "hand", False, CPU, StageTimes())
    # the network keeps --max_people detections itself (its keypoint head runs on each)
    assert built == [(Path("kp.pth"), 0.5, {"max_people": 2})]
    assert _find(finder) == [("hand", False, f"left hand of keypoint detection {k}") for k in (1, 2)]
    assert [finder.find(Frame(key=p, image=IMAGE), p) is None for p in (1, 2, 3)] == [True, True, False]
    assert ran == [("kp", 0.5)] * 2


def test_hands_beside_given_bodies_are_in_every_frame_with_detect_every(tmp_path, monkeypatch):
    from main.predictor.camera import Camera
    from main.predictor.pipeline import FramePipeline, SmoothOptions, TrackOptions
    from tests.main.predictor.test_pipeline import FakePredictor

    people = [KeypointDetection((5.0, 5.0, 60.0, 100.0), 0.9, np.array(_keypoints(20), float).reshape(17, 3))]
    monkeypatch.setattr(common.detector, "build_keypoint_detector", lambda weights, thresh, device, **options: "kp")
    monkeypatch.setattr(common.detector, "detect_keypoints", lambda model, image, thresh, device: people)
    boxes = _write(tmp_path / "boxes.json", [{"image_id": k, "bbox": [5, 5, 60, 100]} for k in range(3)])
    args = _args("--video", "v.mp4", "--bbox_json", str(boxes), "--detect_every", "2")
    finder = make_finder(args, _source("video", 3), "body", True, CPU, StageTimes())
    pipeline = FramePipeline({"body": FakePredictor("body"), "hand": FakePredictor("hand")}, finder,
                             lambda frame: Camera((500.0, 500.0), (80.0, 60.0), "default"), TrackOptions(enabled=True),
                             SmoothOptions())
    outs = pipeline.run(Frame(key=k, image=IMAGE) for k in range(3))
    assert [[(p.result.kind, p.result.is_right) for p in o.people] for o in outs] == \
        [[("body", None), ("hand", True), ("hand", False)]] * 3
