"""Who is in a frame (main/predictor/finders.py): given boxes, detection tables keyed like the frames, the detector
every N-th frame, hands from body keypoints, several finders together."""
from __future__ import annotations

import numpy as np

from common.detector import KeypointDetection
from common.utils.media import Frame
from main.predictor.finders import (
    Candidate,
    CombinedFinder,
    DetectorFinder,
    FixedFinder,
    HandFinder,
    TableFinder,
    keypoints_from_detector,
    keypoints_from_table,
)
from main.predictor.hands import HAND_BOX_SCALE, HAND_CENTER_OFFSET

IMAGE = np.zeros((120, 160, 3), np.uint8)


def _frame(key) -> Frame:
    return Frame(key=key, image=IMAGE)


def _boxes(candidates) -> list[list[float]]:
    return [c.bbox.tolist() for c in candidates]


def test_fixed_finder_gives_the_same_boxes_every_frame():
    given = [Candidate("body", np.array([1.0, 2.0, 3.0, 4.0]), None, None, "--bbox #1")]
    finder = FixedFinder(given)
    first, second = finder.find(_frame(0), 0), finder.find(_frame(5), 5)
    assert first == second == given and first is not given  # a new list: the caller may filter it


def test_table_finder_keys_videos_by_index_and_folders_by_file_name():
    video = {0: [(np.array([1.0, 2.0, 3.0, 4.0]), 0.9)],
             7: [(np.array([5.0, 6.0, 7.0, 8.0]), None), (np.array([9.0, 9.0, 9.0, 9.0]), 0.6)]}
    finder = TableFinder(video, "body", "--bbox_json")
    found = finder.find(_frame(7), 2)  # the frame's key, not its position among the processed frames
    assert _boxes(found) == [[5, 6, 7, 8], [9, 9, 9, 9]] and [c.score for c in found] == [None, 0.6]
    assert [c.source for c in found] == ["--bbox_json entry for frame 7 #1", "--bbox_json entry for frame 7 #2"]
    assert all(c.kind == "body" and c.is_right is None and c.bbox.dtype == np.float64 for c in found)
    assert finder.find(_frame(2), 7) == [] and finder.find(_frame("7"), 0) == []  # missing frame: nobody
    folder = {"b.jpg": [(np.array([1.0, 1.0, 2.0, 2.0]), 1.0)], "a.png": [(np.array([3.0, 3.0, 4.0, 4.0]), 1.0)]}
    finder = TableFinder(folder, "hand", "--bbox_json")
    assert _boxes(finder.find(_frame("a.png"), 0)) == [[3, 3, 4, 4]]
    assert finder.find(_frame("a"), 0) == [] and finder.find(_frame("c.jpg"), 1) == []
    assert finder.find(_frame("b.jpg"), 1)[0].is_right is True  # given hand boxes are right hands


def test_table_finder_on_one_image_ignores_the_image_id():
    table = {"photo.jpg": [(np.array([1.0, 1.0, 2.0, 2.0]), 0.9)], 3: [(np.array([5.0, 5.0, 6.0, 6.0]), 0.8)],
             None: [(np.array([7.0, 7.0, 8.0, 8.0]), None)]}
    found = TableFinder(table, "body", "--bbox_json", single_image=True).find(_frame(0), 0)
    assert _boxes(found) == [[1, 1, 2, 2], [5, 5, 6, 6], [7, 7, 8, 8]]
    assert [c.source.rsplit("#", 1)[1] for c in found] == ["1", "2", "3"]


def test_detector_finder_runs_every_nth_processed_frame():
    calls: list[int] = []

    def detect(image):
        calls.append(int(image[0, 0, 0]))
        return [(np.array([10.0, 10.0, 20.0, 40.0]), 0.9), (np.array([50.0, 10.0, 20.0, 40.0]), 0.7),
                (np.array([90.0, 10.0, 20.0, 40.0]), 0.6)]

    finder = DetectorFinder(detect, every=3, max_people=2)
    answers = [finder.find(Frame(key=100 + p, image=np.full((4, 4, 3), p, np.uint8)), p) for p in range(7)]
    assert calls == [0, 3, 6]  # positions, whatever the frame keys
    assert [a is None for a in answers] == [False, True, True, False, True, True, False]
    assert _boxes(answers[0]) == [[10, 10, 20, 40], [50, 10, 20, 40]] and [c.score for c in answers[0]] == [0.9, 0.7]
    assert [c.source for c in answers[3]] == ["detection 1", "detection 2"]
    assert len(DetectorFinder(detect).find(_frame(0), 1)) == 3  # every frame, everyone by default


def _arms(x: float, y: float, score: float = 1.0) -> np.ndarray:
    """COCO keypoints (17, 3): right elbow (x, y), right wrist 20 px right; left elbow (x + 30, y), left wrist
    16 px below it; other keypoints unseen."""
    keypoints = np.zeros((17, 3))
    keypoints[8], keypoints[10] = [x, y, score], [x + 20, y, score]
    keypoints[7], keypoints[9] = [x + 30, y, score], [x + 30, y + 16, score]
    return keypoints


def _hand_box(elbow, wrist) -> list[float]:
    forearm = np.subtract(wrist[:2], elbow[:2])
    centre, side = np.add(wrist[:2], HAND_CENTER_OFFSET * forearm), HAND_BOX_SCALE * np.hypot(*forearm)
    return [centre[0] - side / 2, centre[1] - side / 2, side, side]


def test_hand_finder_places_boxes_from_the_arms_and_can_add_the_bodies():
    people = [KeypointDetection((5.0, 5.0, 60.0, 100.0), 0.95, _arms(20, 40)),
              KeypointDetection((80.0, 5.0, 60.0, 100.0), 0.8, _arms(90, 50))]
    lookups: list[tuple] = []

    def keypoints(frame, position):
        lookups.append((frame.key, position))
        return None if position == 1 else people

    finder = HandFinder(keypoints, sides="both")
    found = finder.find(_frame(4), 0)
    assert lookups == [(4, 0)]
    assert [(c.kind, c.is_right, c.source) for c in found] == [
        ("hand", True, "right hand of keypoint detection 1"), ("hand", False, "left hand of keypoint detection 1"),
        ("hand", True, "right hand of keypoint detection 2"), ("hand", False, "left hand of keypoint detection 2")]
    for c, person, (elbow, wrist) in zip(found, [people[0]] * 2 + [people[1]] * 2, [(8, 10), (7, 9)] * 2):
        np.testing.assert_allclose(c.bbox, _hand_box(person.keypoints[elbow], person.keypoints[wrist]))
        assert c.person_bbox.tolist() == list(person.bbox) and c.score == 1.0
    assert finder.find(_frame(5), 1) is None  # not looked at
    left = HandFinder(keypoints, sides="left", with_bodies=True).find(_frame(4), 0)
    assert [(c.kind, c.is_right) for c in left] == [("body", None), ("body", None), ("hand", False), ("hand", False)]
    assert _boxes(left[:2]) == [[5, 5, 60, 100], [80, 5, 60, 100]] and [c.score for c in left[:2]] == [0.95, 0.8]
    assert [c.source for c in left[:2]] == ["keypoint detection 1", "keypoint detection 2"]
    # an arm scored below the keypoint threshold gives no hand; a box outside the image neither
    weak = KeypointDetection((5.0, 5.0, 60.0, 100.0), 0.9, _arms(20, 40, score=0.2))
    outside = KeypointDetection((500.0, 5.0, 60.0, 100.0), 0.9, _arms(500, 40))
    assert HandFinder(lambda f, p: [weak, outside]).find(_frame(0), 0) == []


def test_combined_finder_is_none_only_when_every_finder_skips():
    body = Candidate("body", np.array([1.0, 1.0, 5.0, 5.0]), 0.9, None, "b")
    hand = Candidate("hand", np.array([2.0, 2.0, 3.0, 3.0]), 0.8, True, "h")

    class Answer:
        def __init__(self, by_position):
            self.by_position = by_position

        def find(self, frame, position):
            return self.by_position[position]

    combined = CombinedFinder([Answer([[body], None, None, []]), Answer([[hand], [hand], None, None])])
    answers = [combined.find(_frame(p), p) for p in range(4)]
    assert answers[0] == [body, hand] and answers[1] == [hand]
    assert answers[2] is None and answers[3] == []  # nobody found is not "not looked at"


def test_keypoint_sources_by_frame_key_or_every_nth_frame():
    a, b = KeypointDetection((0, 0, 1, 1), 1.0, _arms(1, 1)), KeypointDetection((0, 0, 2, 2), 1.0, _arms(2, 2))
    table = {"x.jpg": [a], 3: [b]}
    assert keypoints_from_table(table)(_frame("x.jpg"), 9) == [a]
    assert keypoints_from_table(table)(_frame(4), 3) == []
    assert keypoints_from_table(table, single_image=True)(_frame(0), 0) == [a, b]
    seen: list[int] = []
    run = keypoints_from_detector(lambda image: seen.append(1) or [a], every=2)
    assert [run(_frame(p), p) for p in range(4)] == [[a], None, [a], None] and len(seen) == 2
