"""The frame loop (main/predictor/pipeline.py): order, batching across frames, bounded look-ahead, track ids, boxes
carried between detector frames, hands given their body's id, smoothing that rebuilds the param mesh.

Most tests run a stand-in predictor whose outputs follow from the crop alone (the joints span the box shrunk by
1.2 about its centre, moved STEP pixels right, as if the person walked), so every carried box and id has an exact
expected value.  The real Predictor runs through this pipeline in test_predictor.py (smoothing, the
param mesh rebuilt), where its network is built anyway.
"""
from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np

from common.detector import KeypointDetection
from common.utils.media import Frame
from common.utils.stopwatch import StageTimes
from main.predictor.camera import Camera
from main.predictor.finders import (
    Candidate,
    CombinedFinder,
    DetectorFinder,
    FixedFinder,
    HandFinder,
    TableFinder,
    keypoints_from_table,
)
from main.predictor.hands import HAND_BOX_SCALE, HAND_CENTER_OFFSET
from main.predictor.pipeline import MAX_PENDING_FRAMES, FramePipeline, SmoothOptions, TrackOptions
from main.predictor.predictor import Crop, Prediction
from main.predictor.results import PersonResult

WIDTH, HEIGHT = 160, 120
CAMERA = Camera((500.0, 510.0), (81.0, 59.0), "default")
STEP = 4.0  # pixels the stand-in's joints lie right of the box it was given
POSE_SIZE = {"body": 72, "hand": 48}


class FakePredictor:
    """A Predictor stand-in: joints at the corners and centre of the box shrunk by 1.2 (so the box around them,
    enlarged 1.2, is the box again), moved STEP px right; pose, shape and trans from the box (so each frame has its
    own); ``batches`` records every call's crops, ``raw`` every result as made."""

    def __init__(self, kind: str, test_batch_size: int = 16) -> None:
        self.kind = kind
        self.cfg = SimpleNamespace(test_batch_size=test_batch_size)
        self.batches: list[list[Crop]] = []
        self.raw: list[PersonResult] = []

    def predict(self, crops):
        self.batches.append(list(crops))
        out = [self._one(c) for c in crops]
        self.raw += [copy.deepcopy(p.result) for p in out]
        return out

    def _one(self, crop: Crop) -> Prediction:
        x, y, w, h = np.asarray(crop.bbox, dtype=np.float64)
        half = np.array([w, h]) / 2.4
        joints = np.array([x + w / 2, y + h / 2]) + np.array([-half, half, [0.0, 0.0]]) + [STEP, 0.0]
        pose = np.full(POSE_SIZE[self.kind], 0.01 * x)
        shape, trans = np.full(10, 0.01 * w), np.array([0.01 * x, 0.01 * y, 3.0])
        result = PersonResult(kind=self.kind, track_id=crop.track_id, is_right=crop.is_right,
                              bbox=np.asarray(crop.bbox, dtype=np.float64), score=crop.score, root_depth=3.0 + 0.01 * w,
                              joints_img=joints, joints_cam=np.c_[joints / 500.0, np.full(3, 3.0)],
                              mesh_lixel_cam=np.c_[joints / 400.0, np.full(3, 3.0)], pose=pose, shape=shape,
                              trans=trans, mesh_param_cam=self.param_mesh(pose, shape, trans, crop.is_right))
        return Prediction(result=result, mesh=None, bbox_proc=np.asarray(crop.bbox), depth_source="stand-in")

    @staticmethod
    def param_mesh(pose, shape, trans, is_right):
        verts = np.stack([pose[:3], shape[:3], pose[3:6] + shape[3:6]]) * (-1.0 if is_right is False else 1.0)
        return verts + trans


def _frames(count: int, start: int = 0, consumed: list | None = None):
    """Frames keyed start, start + 1, ...; frame k's pixels all equal k (a crop tells its frame)."""
    for k in range(start, start + count):
        if consumed is not None:
            consumed.append(k)
        yield Frame(key=k, image=np.full((HEIGHT, WIDTH, 3), k, np.uint8), time_s=k / 30.0)


def _pipeline(predictors, finder, track=False, smooth=False) -> FramePipeline:
    return FramePipeline(predictors, finder, lambda frame: CAMERA, TrackOptions(enabled=track),
                         SmoothOptions(enabled=smooth), fps=30.0, times=StageTimes())


def _box(x, y=10.0, w=40.0, h=80.0) -> np.ndarray:
    return np.array([x, y, w, h], dtype=np.float64)


def _frame_of(crop: Crop) -> int:
    return int(crop.image[0, 0, 0])


def test_frames_come_out_in_order_with_the_people_of_several_frames_in_one_batch():
    table = {0: [(_box(10), 0.9)], 1: [(_box(14), 0.9), (_box(100), 0.6)], 3: [(_box(100), None)]}
    fake = FakePredictor("body")
    outs = list(_pipeline({"body": fake}, TableFinder(table, "body", "--bbox_json")).run(_frames(5)))
    assert [o.frame.key for o in outs] == [0, 1, 2, 3, 4] and [o.position for o in outs] == [0, 1, 2, 3, 4]
    assert [len(o.people) for o in outs] == [1, 2, 0, 1, 0]
    for out in outs:
        assert out.camera is CAMERA
        for person, (box, score) in zip(out.people, table.get(out.frame.key, [])):
            assert np.array_equal(person.result.bbox, box) and person.result.score == score
    assert [p.result.track_id for o in outs for p in o.people] == [0, 0, 1, 0]  # images: the index in the frame
    assert [[_frame_of(c) for c in batch] for batch in fake.batches] == [[0, 1, 1, 3]]  # one network call
    crop = fake.batches[0][0]
    assert (crop.focal, crop.princpt, crop.is_right, crop.root_depth) == (CAMERA.focal, CAMERA.princpt, None, None)
    # two people a batch: the frames are run as soon as two people wait
    fake = FakePredictor("body", test_batch_size=2)
    outs = list(_pipeline({"body": fake}, TableFinder(table, "body", "--bbox_json")).run(_frames(5)))
    assert [o.frame.key for o in outs] == [0, 1, 2, 3, 4]
    assert [[_frame_of(c) for c in batch] for batch in fake.batches] == [[0, 1, 1], [3]]


def test_outputs_stream_while_frames_are_read():
    """A frame's output comes before later frames are read once a batch is full; frames without people are held
    at most MAX_PENDING_FRAMES at a time."""
    consumed: list[int] = []
    finder = TableFinder({k: [(_box(10 + k), 0.9)] for k in range(40)}, "body", "--bbox_json")
    run = _pipeline({"body": FakePredictor("body", test_batch_size=1)}, finder).run(_frames(40, consumed=consumed))
    assert next(run).frame.key == 0 and consumed == [0]
    assert next(run).frame.key == 1 and consumed == [0, 1]
    consumed.clear()
    run = _pipeline({"body": FakePredictor("body")}, TableFinder({}, "body", "x")).run(_frames(40, consumed=consumed))
    assert next(run).frame.key == 0 and len(consumed) == MAX_PENDING_FRAMES
    assert len(list(run)) == 39 and len(consumed) == 40


def test_track_ids_follow_people_on_videos_and_are_indices_otherwise():
    """Person A walks right, B stands; the detections list them in turns; C arrives in frame 2, A leaves after it."""
    table = {0: [(_box(10), 0.9), (_box(110), 0.9)],
             1: [(_box(110), 0.9), (_box(13), 0.9)],
             2: [(_box(16), 0.9), (_box(60, y=30), 0.9), (_box(110), 0.9)],
             3: [(_box(60, y=30), 0.9), (_box(110), 0.9)]}
    finder = TableFinder(table, "body", "--bbox_json")

    def ids(track: bool) -> list[list[tuple[float, int]]]:
        outs = _pipeline({"body": FakePredictor("body")}, finder, track=track).run(_frames(4))
        return [[(p.result.bbox[0], p.result.track_id) for p in o.people] for o in outs]

    a, b, c = 0, 1, 2
    assert ids(True) == [[(10, a), (110, b)], [(13, a), (110, b)], [(16, a), (110, b), (60, c)],
                         [(110, b), (60, c)]]  # sorted by id; A's id is not reused
    assert ids(False) == [[(10, 0), (110, 1)], [(110, 0), (13, 1)], [(16, 0), (60, 1), (110, 2)],
                          [(60, 0), (110, 1)]]


def _carried(box: np.ndarray) -> np.ndarray | None:
    """The box the pipeline carries from the stand-in's prediction for ``box``: moved STEP px right, clipped to the
    image; None (the track is lost) when a side is under 8 px."""
    x, y, w, h = box
    x0, y0, x1, y1 = max(x + STEP, 0.0), max(y, 0.0), min(x + STEP + w, WIDTH), min(y + h, HEIGHT)
    return np.array([x0, y0, x1 - x0, y1 - y0]) if min(x1 - x0, y1 - y0) >= 8.0 else None


def _detections(k: int) -> list:
    """What the stand-in detector finds in frame k: A and B walking right STEP px a frame, B near the right edge."""
    return [(_box(10 + STEP * k), 0.9), (_box(100 + STEP * k, y=20, w=30, h=60), 0.8)]


def test_detector_runs_every_nth_frame_and_boxes_are_carried_between():
    detected_on: list[int] = []

    def detect(image):
        detected_on.append(int(image[0, 0, 0]))
        return _detections(detected_on[-1])

    fake = FakePredictor("body")
    outs = list(_pipeline({"body": fake}, DetectorFinder(detect, every=3), track=True).run(_frames(7)))
    assert detected_on == [0, 3, 6]
    boxes: list[np.ndarray] = []
    for k, out in enumerate(outs):
        boxes = [b for b, _ in _detections(k)] if k % 3 == 0 else [_carried(b) for b in boxes]
        assert [p.result.track_id for p in out.people] == [0, 1], k  # carried and re-detected people keep their ids
        assert [p.result.score for p in out.people] == [0.9, 0.8]
        for person, box in zip(out.people, boxes, strict=True):
            np.testing.assert_allclose(person.result.bbox, box, rtol=1e-6, atol=1e-4, err_msg=f"frame {k}")
    # a carried frame needs the frame before it: the frames go through the network one at a time
    assert [[_frame_of(c) for c in batch] for batch in fake.batches] == [[k, k] for k in range(7)]


def test_a_carried_box_that_leaves_the_image_ends_the_track():
    fake = FakePredictor("body")
    finder = DetectorFinder(lambda image: [(_box(140, w=30), 0.9)], every=10)
    outs = list(_pipeline({"body": fake}, finder, track=True).run(_frames(6)))
    want, box = [], _box(140, w=30)
    while box is not None:
        want.append(box)
        box = _carried(box)
    assert 2 <= len(want) < 6  # the case is what it claims: carried at least once, lost before the end
    assert [len(o.people) for o in outs] == [1] * len(want) + [0] * (6 - len(want))
    for out, box in zip(outs, want):
        np.testing.assert_allclose(out.people[0].result.bbox, box, rtol=1e-6, atol=1e-4)


def _person(box, forearm: float = 12.0, score: float = 0.9) -> KeypointDetection:
    """A keypoint detection with box ``box``: elbows at the box's lower middle, the right wrist ``forearm`` px right
    of its elbow and the left wrist as far left of its (scores 1); other keypoints unseen."""
    x, y, w, h = box
    keypoints = np.zeros((17, 3))
    keypoints[8] = [x + 0.4 * w, y + 0.6 * h, 1.0]  # right elbow
    keypoints[10] = [x + 0.4 * w + forearm, y + 0.6 * h, 1.0]  # right wrist
    keypoints[7] = [x + 0.6 * w, y + 0.6 * h, 1.0]  # left elbow
    keypoints[9] = [x + 0.6 * w - forearm, y + 0.6 * h, 1.0]  # left wrist
    return KeypointDetection(tuple(float(v) for v in box), score, keypoints)


def _hand_box(elbow, wrist) -> np.ndarray:
    forearm = np.asarray(wrist[:2]) - np.asarray(elbow[:2])
    centre, side = np.asarray(wrist[:2]) + HAND_CENTER_OFFSET * forearm, HAND_BOX_SCALE * np.hypot(*forearm)
    return np.array([centre[0] - side / 2, centre[1] - side / 2, side, side])


def test_hands_take_the_id_of_the_body_they_were_found_on():
    """Bodies A and B from a detections file (listed B first in frame 1), hands from keypoint detections of A, B
    and C (C overlaps no body box): A's and B's hands carry their body's track id, C's are -1."""
    a, b, c = _box(10), _box(100), _box(60, y=40, w=20, h=40)
    bodies = TableFinder({0: [(a, 0.9), (b, 0.8)], 1: [(b, 0.8), (a, 0.9)]}, "body", "--bbox_json")
    keypoints = {k: [_person(a), _person(b), _person(c)] for k in (0, 1)}
    finder = CombinedFinder([bodies, HandFinder(keypoints_from_table(keypoints), sides="both")])
    predictors = {"body": FakePredictor("body"), "hand": FakePredictor("hand")}
    outs = list(_pipeline(predictors, finder, track=True).run(_frames(2)))
    for out in outs:
        people = [(p.result.kind, p.result.track_id, p.result.is_right) for p in out.people]
        assert people == [("body", 0, None), ("body", 1, None), ("hand", -1, True), ("hand", -1, False),
                          ("hand", 0, True), ("hand", 0, False), ("hand", 1, True), ("hand", 1, False)]
        np.testing.assert_array_equal(out.people[0].result.bbox, a)
        kp = _person(b).keypoints
        np.testing.assert_allclose(out.people[6].result.bbox, _hand_box(kp[8], kp[10]))  # B's right hand
        np.testing.assert_allclose(out.people[7].result.bbox, _hand_box(kp[7], kp[9]))  # B's left hand
    hand_crops = [c for batch in predictors["hand"].batches for c in batch]
    assert [c.is_right for c in hand_crops[:6]] == [True, False] * 3
    # images and folders: the body's index in the frame, its hands alike
    outs = list(_pipeline({"body": FakePredictor("body"), "hand": FakePredictor("hand")}, finder).run(_frames(2)))
    second = [(p.result.kind, p.result.track_id, p.result.is_right, p.result.bbox[0]) for p in outs[1].people][:2]
    assert second == [("body", 0, None, 100.0), ("body", 1, None, 10.0)]
    assert [p.result.track_id for p in outs[1].people[2:]] == [-1, -1, 0, 0, 1, 1]
    hand_x = [p.result.bbox[0] for p in outs[1].people[4:6]]
    assert all(100 < x < 140 for x in hand_x)  # id 0 is B in frame 1: its hands lie in B's box


def test_hands_without_a_body_model_are_tracked_per_side():
    a, b = _box(10), _box(100)
    finder = HandFinder(keypoints_from_table({k: [_person(a), _person(b)] if k == 0 else [_person(b), _person(a)]
                                              for k in (0, 1)}))
    outs = list(_pipeline({"hand": FakePredictor("hand")}, finder, track=True).run(_frames(2)))
    for out in outs:
        got = [(p.result.track_id, p.result.is_right, p.result.bbox[0] < 60) for p in out.people]
        assert got == [(0, True, True), (0, False, True), (1, True, False), (1, False, False)]


def test_a_given_root_depth_reaches_the_predictor():
    candidates = [Candidate("body", _box(10), None, None, "--bbox #1"), Candidate("body", _box(90), None, None,
                                                                                   "--bbox #2")]
    for candidate, depth in zip(candidates, (7.5, 3.0)):
        candidate.root_depth = depth  # as run.py gives --root_depth to the boxes of one image
    fake = FakePredictor("body")
    list(_pipeline({"body": fake}, FixedFinder(candidates)).run(_frames(1)))
    assert [c.root_depth for c in fake.batches[0]] == [7.5, 3.0]


def test_smoothing_filters_each_track_and_rebuilds_the_param_mesh():
    rng = np.random.default_rng(0)
    noisy = {k: [(_box(10 + 3 * k + rng.normal(0, 2), w=40 + rng.normal(0, 2)), 0.9)] for k in range(6)}
    finder = TableFinder(noisy, "body", "--bbox_json")
    fake = FakePredictor("body")
    outs = list(_pipeline({"body": fake}, finder, track=True, smooth=True).run(_frames(6)))
    results = [o.people[0].result for o in outs]
    raw = fake.raw
    for name in ("bbox", "joints_img", "pose", "shape", "trans", "mesh_param_cam"):  # the first value passes
        np.testing.assert_allclose(getattr(results[0], name), getattr(raw[0], name), rtol=0, atol=1e-12)
    for k in range(1, 6):
        got, want, before = results[k], raw[k], results[k - 1]
        for name in ("bbox", "joints_img", "joints_cam", "shape", "trans"):
            g, w, b = (np.asarray(getattr(r, name)) for r in (got, want, before))
            moved = np.abs(w - b) > 1e-9
            assert moved.any(), name
            # a low-pass step: strictly between the last smoothed value and the new raw one
            assert np.all(np.abs(g - b)[moved] < np.abs(w - b)[moved]) and np.all(((g - b) * (w - b))[moved] > 0)
        assert min(got.root_depth, want.root_depth) >= min(before.root_depth, want.root_depth)
        assert np.abs(got.pose - want.pose).max() > 1e-6
        np.testing.assert_array_equal(got.mesh_param_cam, FakePredictor.param_mesh(got.pose, got.shape, got.trans,
                                                                                   None))
        assert np.abs(got.mesh_param_cam - want.mesh_param_cam).max() > 1e-6
    plain = FakePredictor("body")
    for out, want in zip(_pipeline({"body": plain}, finder, track=True).run(_frames(6)), plain.raw):
        np.testing.assert_array_equal(out.people[0].result.bbox, want.bbox)
        np.testing.assert_array_equal(out.people[0].result.mesh_param_cam, want.mesh_param_cam)


class CollapsedPredictor(FakePredictor):
    """A stand-in whose joints all share one x (a badly trained network's lixel joints can): no usable box."""

    def _one(self, crop: Crop) -> Prediction:
        pred = super()._one(crop)
        pred.result.joints_img = pred.result.joints_img * [0.0, 1.0] + [float(crop.bbox[0]), 0.0]
        return pred


def test_a_track_whose_joints_collapse_keeps_its_last_box():
    """Detections at frames 0 and 1 (A walks 2 px a frame), then none until frame 5: the collapsed joints give a box
    a few pixels wide, so frames 2-4 keep frame 1's box, and frame 5's detection continues the track."""
    fake = CollapsedPredictor("body")
    finder = DetectorFinder(lambda image: [(_box(10 + 2 * int(image[0, 0, 0])), 0.9)], every=1)
    finder.find = lambda frame, position: (DetectorFinder.find(finder, frame, position)
                                           if position in (0, 1, 5) else None)
    outs = list(_pipeline({"body": fake}, finder, track=True).run(_frames(6)))
    assert [len(o.people) for o in outs] == [1] * 6
    assert [o.people[0].result.track_id for o in outs] == [0] * 6
    for k in (2, 3, 4):
        np.testing.assert_allclose(outs[k].people[0].result.bbox, _box(12), atol=1e-6, err_msg=f"frame {k}")
    np.testing.assert_allclose(outs[5].people[0].result.bbox, _box(20), atol=1e-6)
