"""main/predictor/tracking.py on arrays: IoU, the constant-velocity prediction, crossings, misses, new ids, strides
and the boxes carried between detection frames."""
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from main.predictor.tracking import DEFAULT_MAX_MISSED, Tracker, box_iou

W, H = 60.0, 120.0


def crossing(frame: int, speed: float = 5.0) -> np.ndarray:
    """Two 60x120 boxes at one height, A from the left moving right, B from the right moving left (px/frame)."""
    return np.array([[20.0 + speed * frame, 50.0, W, H], [205.0 - speed * frame, 50.0, W, H]])


def test_box_iou_against_hand_computed_values():
    a = np.array([[0, 0, 10, 10], [5, 5, 10, 10], [0, 0, 0, 0]], dtype=float)
    b = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 5, 5]], dtype=float)
    expected = np.array([[1.0, 50 / 150, 0.0],
                         [25 / 175, 50 / 150, 0.0],
                         [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(box_iou(a, b), expected)
    assert box_iou(a, np.zeros((0, 4))).shape == (3, 0)
    # a box just touching another has no overlap
    assert box_iou([[0, 0, 10, 10]], [[10, 0, 10, 10]])[0, 0] == 0.0


def test_prediction_moves_centre_and_size_with_the_frame_gap():
    tracker = Tracker()
    tracker.update([[100, 100, 40, 80]], frame=10)
    np.testing.assert_allclose(tracker.predicted_boxes(13)[0], [100, 100, 40, 80])  # one observation: stays
    tracker.update([[106, 100, 44, 80]], frame=12)  # 2 frames later: centre +5 px, width +4 px
    # centre x 120 -> 128 and width 40 -> 44 in 2 frames: +4 and +2 per frame; at frame 15, 3 frames on
    centre_x, width = 128 + 3 * 4, 44 + 3 * 2
    np.testing.assert_allclose(tracker.predicted_boxes(15)[0], [centre_x - width / 2, 100, width, 80])


def test_crossing_boxes_keep_their_ids_and_a_last_box_tracker_would_swap():
    frames = range(30)
    assert max(box_iou(crossing(f)[:1], crossing(f)[1:])[0, 0] for f in frames) >= 0.8
    assert sum(box_iou(crossing(f)[:1], crossing(f)[1:])[0, 0] >= 0.5 for f in frames) >= 4  # overlap by half+
    tracker = Tracker()
    for f in frames:
        # the detector's order changes: B first on odd frames
        order = [1, 0] if f % 2 else [0, 1]
        ids = tracker.update(crossing(f)[order], f)
        assert [ids[order.index(0)], ids[order.index(1)]] == [0, 1], f
    # the same assignment with the last boxes instead of the predicted ones swaps the two people where they meet
    swapped = []
    for f in frames[1:]:
        rows, cols = linear_sum_assignment(1 - box_iou(crossing(f - 1), crossing(f)))
        swapped.append(cols[0] == 1)
    assert any(swapped)


def test_crossing_with_stride_and_a_missed_frame():
    tracker = Tracker()
    for f in range(0, 40, 3):
        boxes = crossing(f, speed=3.0)
        if f in (18, 21):  # the detector sees one merged box, then none, while the two overlap most
            boxes = np.zeros((0, 4)) if f == 21 else boxes[:1]
        ids = tracker.update(boxes, f)
        assert ids == [0, 1][:len(ids)], f
    assert tracker.live_ids == [0, 1]


def test_a_track_survives_max_missed_detection_frames_and_not_more():
    box = np.array([[100.0, 100.0, 50.0, 100.0]])
    for missed, same in ((DEFAULT_MAX_MISSED, True), (DEFAULT_MAX_MISSED + 1, False)):
        tracker = Tracker()
        assert tracker.update(box, 0) == [0]
        for f in range(1, missed + 1):
            assert tracker.update(np.zeros((0, 4)), f) == []
        assert (tracker.live_ids == [0]) is same
        assert tracker.update(box, missed + 1) == ([0] if same else [1])


def test_a_person_leaving_and_another_entering_get_new_ids_never_reused():
    tracker = Tracker(max_missed=1)
    seen = []
    for f in range(12):
        boxes = []
        if f < 6:  # A walks out of the image on the right
            boxes.append([200.0 + 20 * f, 50, W, H])
        if f >= 4:  # B enters on the left, overlapping nothing A's track predicts
            boxes.append([0.0 + 5 * f, 60, W, H])
        seen.append(tracker.update(np.array(boxes), f))
    assert seen[0] == [0] and seen[4] == [0, 1] and seen[5] == [0, 1] and seen[6] == [1] and seen[11] == [1]
    assert tracker.live_ids == [1]  # A dropped after 2 missed frames
    # a new person where A was gets a fresh id, not A's
    assert tracker.update(np.array([[320.0, 50, W, H], [55.0 + 5, 60, W, H]]), 12) == [2, 1]


def test_iou_threshold_separates_a_neighbour_from_the_same_person():
    tracker = Tracker(iou_thresh=0.3)
    tracker.update([[100, 100, 50, 100]], 0)
    # IoU 0.25 with the predicted box: below the threshold, a new person
    assert tracker.update([[130, 100, 50, 100]], 1) == [1]
    tracker = Tracker(iou_thresh=0.2)
    tracker.update([[100, 100, 50, 100]], 0)
    assert tracker.update([[130, 100, 50, 100]], 1) == [0]


def test_empty_frames_and_bad_calls():
    tracker = Tracker()
    assert tracker.update(np.zeros((0, 4)), 0) == []
    assert tracker.predicted_boxes(1) == {} and tracker.live_ids == []
    assert tracker.update([[0, 0, 10, 10], [50, 0, 10, 10]], 1) == [0, 1]
    with pytest.raises(ValueError, match="frames must increase"):
        tracker.update([[0, 0, 10, 10]], 1)
    with pytest.raises(KeyError, match="not live"):
        tracker.update_track_box(7, np.array([0, 0, 10, 10]), 2)
    with pytest.raises(ValueError, match="IoU threshold"):
        Tracker(iou_thresh=0)


def test_boxes_carried_between_detection_frames():
    # --detect_every 4: the detector runs on frames 0, 4, 8; in between each track's box is predicted, and the
    # predictor feeds back the box of the person's projected joints (here: the true box, moving 6 px/frame)
    truth = lambda f: np.array([10.0 + 6 * f, 40, 50, 100])  # noqa: E731
    tracker = Tracker()
    assert tracker.update(truth(0)[None], 0) == [0]
    for f in range(1, 12):
        if f % 4 == 0:
            assert tracker.update(truth(f)[None], f) == [0]
            continue
        predicted = tracker.predicted_boxes(f)
        assert list(predicted) == [0]
        if f >= 2:  # from the second observation on, the velocity is known and the prediction exact
            np.testing.assert_allclose(predicted[0], truth(f))
        tracker.update_track_box(0, truth(f), f)
    # a track not matched at the last detection frame is live but not visible
    tracker.update(np.zeros((0, 4)), 12)
    assert list(tracker.predicted_boxes(13)) == [0] and tracker.predicted_boxes(13, visible_only=True) == {}
