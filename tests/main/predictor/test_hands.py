"""Hand boxes from body keypoints, the mirroring of a left hand, and the detections / keypoints JSON readers."""
import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from common.detector import KeypointDetection
from common.utils.preprocessing import generate_patch_image
from main.predictor.detections_json import entries_for_single_image, read_detections_json, read_keypoints_json
from main.predictor.errors import DemoError
from main.predictor.hands import (
    HAND_BOX_SCALE,
    HAND_CENTER_OFFSET,
    hand_box_from_arm,
    hand_boxes,
    mirror_box,
    mirror_mesh_cam,
    mirror_points_cam,
    mirror_points_img,
    mirror_pose_axis_angle,
)

L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 7, 8, 9, 10


def _person(arms: dict[int, tuple[float, float, float]]) -> KeypointDetection:
    """A person whose listed keypoints are set (x, y, score); every other keypoint at (0, 0) with score 0."""
    keypoints = np.zeros((17, 3))
    for index, value in arms.items():
        keypoints[index] = value
    return KeypointDetection((0.0, 0.0, 1.0, 1.0), 0.9, keypoints)


# ----- hand boxes --------------------------------------------------------------------------------------------------

def test_hand_box_lies_past_the_wrist_along_the_forearm():
    # a 3-4-5 forearm: 50 px long, pointing (0.6, 0.8)
    box = hand_box_from_arm((100.0, 200.0), (130.0, 240.0))
    center = box[:2] + box[2:] / 2
    np.testing.assert_allclose(center, [130 + HAND_CENTER_OFFSET * 30, 240 + HAND_CENTER_OFFSET * 40])
    np.testing.assert_allclose(box[2:], [HAND_BOX_SCALE * 50] * 2)
    assert 0.3 <= HAND_CENTER_OFFSET <= 0.5 and 0.6 <= HAND_BOX_SCALE <= 0.8


def test_hand_boxes_sides_scores_and_people():
    people = [
        _person({R_ELBOW: (100, 100, 0.9), R_WRIST: (100, 140, 0.8), L_ELBOW: (200, 100, 0.9),
                 L_WRIST: (200, 140, 0.3)}),  # left wrist unsure
        _person({R_ELBOW: (300, 100, 0.2), R_WRIST: (300, 140, 0.9),  # right elbow unsure
                 L_ELBOW: (400, 100, 2.0), L_WRIST: (440, 100, 2.0)}),  # COCO visibility 2 passes
    ]
    both = hand_boxes(people)
    assert [(h.person, h.is_right) for h in both] == [(0, True), (1, False)]
    assert [h.score for h in both] == [0.8, 2.0]
    np.testing.assert_allclose(both[0].bbox, hand_box_from_arm((100, 100), (100, 140)))
    np.testing.assert_allclose(both[1].bbox, hand_box_from_arm((400, 100), (440, 100)))
    assert [(h.person, h.is_right) for h in hand_boxes(people, "right")] == [(0, True)]
    assert [(h.person, h.is_right) for h in hand_boxes(people, "left")] == [(1, False)]
    lenient = hand_boxes(people, "both", min_score=0.1)
    assert [(h.person, h.is_right) for h in lenient] == [(0, True), (0, False), (1, True), (1, False)]
    with pytest.raises(DemoError, match="--hands 'up': choose one of right, left, both"):
        hand_boxes(people, "up")


def test_tiny_and_outside_hand_boxes_are_dropped():
    tiny = _person({R_ELBOW: (50, 50, 1), R_WRIST: (50, 55, 1)})  # 5 px forearm: a 3.75 px box
    outside = _person({L_ELBOW: (50, -200, 1), L_WRIST: (50, -150, 1)})  # box above the image
    assert [h.person for h in hand_boxes([tiny, outside])] == [1]
    assert hand_boxes([tiny, outside], image_size=(640, 480)) == []


# ----- mirroring ---------------------------------------------------------------------------------------------------

def test_mirror_round_trips():
    rng = np.random.default_rng(0)
    boxes, points, verts = rng.uniform(0, 100, (5, 4)), rng.uniform(0, 100, (7, 3)), rng.normal(size=(9, 3))
    faces = rng.integers(0, 9, (4, 3))
    pose = rng.normal(size=48)
    np.testing.assert_allclose(mirror_box(mirror_box(boxes, 120), 120), boxes)
    np.testing.assert_allclose(mirror_points_img(mirror_points_img(points, 120), 120), points)
    np.testing.assert_allclose(mirror_points_cam(mirror_points_cam(verts)), verts)
    twice = mirror_mesh_cam(*mirror_mesh_cam(verts, faces))
    np.testing.assert_allclose(twice[0], verts)
    np.testing.assert_array_equal(twice[1], faces)
    np.testing.assert_allclose(mirror_pose_axis_angle(mirror_pose_axis_angle(pose)), pose)
    np.testing.assert_array_equal(mirror_points_img(points, 120)[:, 1:], points[:, 1:])  # only x changes
    assert mirror_box([0.0, 5.0, 10.0, 20.0], 120).tolist() == [109.0, 5.0, 10.0, 20.0]


def test_mirror_box_follows_the_flipped_image():
    width, height = 40, 30
    img = np.zeros((height, width, 3), np.uint8)
    x0, y0, w, h = 5, 7, 9, 6
    img[y0:y0 + h, x0:x0 + w] = 255
    flipped = img[:, ::-1]
    cols = np.flatnonzero(flipped[:, :, 0].any(axis=0))
    # pixels x0 .. x0 + w - 1 are the box from x0 - 1/2 to x0 + w - 1/2 in the pixel frame (pixel centres at integers)
    mirrored = mirror_box([x0 - 0.5, y0 - 0.5, w, h], width)
    assert mirrored.tolist() == [cols[0] - 0.5, y0 - 0.5, w, h] and cols[-1] == cols[0] + w - 1
    # the crop of the mirrored image with the mirrored box is exactly the crop's own flip (generate_patch_image's
    # do_flip), which mirrors the crop about its centre column 16: crop column j -> 32 - j
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 256, (height, width, 3)).astype(np.uint8)
    box = np.array([6.3, 4.1, 17.0, 17.0])
    crop, _, _ = generate_patch_image(photo, box, 1.0, 0.0, False, (32, 32))
    flip_crop, _, _ = generate_patch_image(photo, box, 1.0, 0.0, True, (32, 32))
    crop_of_mirror, _, _ = generate_patch_image(np.ascontiguousarray(photo[:, ::-1]), mirror_box(box, width), 1.0,
                                                0.0, False, (32, 32))
    np.testing.assert_array_equal(crop_of_mirror, flip_crop)
    np.testing.assert_allclose(crop_of_mirror[:, 1:], crop[:, :0:-1], atol=1e-3)


def test_mirrored_points_land_on_the_mirrored_pixels():
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (10, 16, 3)).astype(np.uint8)
    points = np.array([[0, 0], [15, 9], [3, 4]])
    mirrored = mirror_points_img(points, 16).astype(int)
    for (x, y), (mx, my) in zip(points, mirrored):
        np.testing.assert_array_equal(img[:, ::-1][my, mx], img[y, x])


def _normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    v = verts[faces]
    return np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])


def test_mirrored_mesh_keeps_its_faces_turned_outward():
    # a tetrahedron wound outward: every normal points away from the centroid
    verts = np.array([[0.0, 0.0, 2.0], [1.0, 0.0, 2.0], [0.0, 1.0, 2.0], [0.0, 0.0, 3.0]])
    faces = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    centroid = verts.mean(axis=0)
    outward = np.einsum("fk,fk->f", _normals(verts, faces), verts[faces].mean(axis=1) - centroid)
    assert (outward > 0).all()
    mverts, mfaces = mirror_mesh_cam(verts, faces)
    np.testing.assert_allclose(mverts, verts * [-1, 1, 1])
    # the mirrored normals are the mirror images of the original normals, still outward
    np.testing.assert_allclose(_normals(mverts, mfaces), _normals(verts, faces) * [-1, 1, 1])
    mcentroid = mverts.mean(axis=0)
    assert (np.einsum("fk,fk->f", _normals(mverts, mfaces), mverts[mfaces].mean(axis=1) - mcentroid) > 0).all()
    # the reflection alone, without reversing the winding, would turn every face inward
    assert (np.einsum("fk,fk->f", _normals(mverts, faces), mverts[faces].mean(axis=1) - mcentroid) < 0).all()


def test_mirrored_pose_is_the_reflected_rotation():
    rng = np.random.default_rng(3)
    pose = rng.normal(scale=1.0, size=(4, 16 * 3))
    mirrored = mirror_pose_axis_angle(pose)
    assert mirrored.shape == pose.shape
    reflect = np.diag([-1.0, 1.0, 1.0])
    expected = reflect @ Rotation.from_rotvec(pose.reshape(-1, 3)).as_matrix() @ reflect
    np.testing.assert_allclose(Rotation.from_rotvec(mirrored.reshape(-1, 3)).as_matrix(), expected, atol=1e-12)
    # a point turned by R and then mirrored is the mirrored point turned by the mirrored rotation
    point = rng.normal(size=3)
    rot, mrot = Rotation.from_rotvec(pose[0, :3]), Rotation.from_rotvec(mirrored[0, :3])
    np.testing.assert_allclose(reflect @ rot.apply(point), mrot.apply(reflect @ point), atol=1e-12)
    with pytest.raises(ValueError, match="K\\*3"):
        mirror_pose_axis_angle(np.zeros(4))


# ----- JSON readers ------------------------------------------------------------------------------------------------

def _keypoints(offset: float, score: float = 0.9) -> list[float]:
    return [v for k in range(17) for v in (offset + k, 2.0 * k, score)]


def test_keypoints_json_keyed_by_image_id(tmp_path):
    path = tmp_path / "kp.json"
    path.write_text(json.dumps([
        {"image_id": 3, "keypoints": _keypoints(10), "score": 0.95, "category_id": 1, "bbox": [1, 2, 30, 40]},
        {"image_id": 0, "keypoints": _keypoints(50, score=0.0) [:-3] + [99, 98, 1], "score": 0.8},
        {"image_id": 3, "keypoints": _keypoints(70), "score": 0.2},  # below det_thresh
        {"image_id": "a.jpg", "keypoints": _keypoints(5)},  # no score: kept
        {"image_id": 3.0, "keypoints": _keypoints(90), "category_id": 2},  # not a person
    ]))
    table = read_keypoints_json(path, 0.5)
    assert list(table) == [3, 0, "a.jpg"] and [len(v) for v in table.values()] == [1, 1, 1]
    first = table[3][0]
    assert first.bbox == (1.0, 2.0, 30.0, 40.0) and first.score == 0.95
    assert first.keypoints.shape == (17, 3) and first.keypoints[9].tolist() == [19.0, 18.0, 0.9]
    assert table[0][0].bbox == (99.0, 98.0, 0.0, 0.0)  # the extent of the keypoints with a positive score
    assert table["a.jpg"][0].score == 1.0 and table["a.jpg"][0].bbox == (5.0, 0.0, 16.0, 32.0)
    assert len(entries_for_single_image(table)) == 3


def test_detections_json_keyed_by_image_id(tmp_path):
    path = tmp_path / "det.json"
    path.write_text(json.dumps([
        {"image_id": 1, "bbox": [1, 2, 3, 4], "score": 0.9, "category_id": 1},
        {"image_id": 1, "bbox": [5, 6, 7, 8]},
        {"image_id": 2, "bbox": [5, 6, 7, 8], "score": 0.9, "category_id": 3},
        {"bbox": [9, 9, 9, 9], "score": 0.4},
    ]))
    body = read_detections_json(path, 0.5, is_hand=False)
    assert list(body) == [1] and [(b.tolist(), s) for b, s in body[1]] == [([1, 2, 3, 4], 0.9), ([5, 6, 7, 8], None)]
    hands = read_detections_json(path, 0.3, is_hand=True)  # every category, and the entry without an image_id
    assert list(hands) == [1, 2, None] and len(entries_for_single_image(hands)) == 4


@pytest.mark.parametrize("reader, content, pattern", [
    ("kp", "[{", r"--keypoints_json .*bad\.json: cannot be read as JSON"),
    ("kp", [{"bbox": [1, 2, 3, 4]}], r"bad\.json: expected a list of objects each with 'keypoints'"),
    ("kp", [{"keypoints": [1, 2, 3]}], r"bad\.json, entry 1: 'keypoints' must be 51 numbers"),
    ("kp", [{"keypoints": _keypoints(0)}, {"keypoints": _keypoints(0)[:-1] + ["x"]}],
     r"bad\.json, entry 2: 'keypoints' must be 51 numbers.*finite"),
    ("kp", [{"keypoints": _keypoints(0), "image_id": [1]}], r"entry 1: 'image_id' must be a frame index or a file"),
    ("kp", [{"keypoints": _keypoints(0), "score": "high"}], r"entry 1: 'score' must be a number"),
    ("kp", [{"keypoints": _keypoints(0), "bbox": [0, 0, -1, 4]}], r"entry 1: 'bbox' .* zero or negative size"),
    ("kp", [{"keypoints": _keypoints(0), "score": 0.1}], r"--keypoints_json .*: nobody with score >= --det_thresh"),
    ("det", [{"bbox": ["a", 1, 2, 3]}], r"--bbox_json .*bad\.json, entry 1: 'bbox' must be 4 numbers"),
    ("det", [{"bbox": [1, 2, 3, 4], "category_id": "person"}], r"entry 1: 'category_id' must be an integer"),
    ("det", [{"bbox": [1, 2, 3, 4], "score": 0.1}], r"no box with score >= --det_thresh 0.5 and category_id 1"),
    ("det", {"score": 1}, r"expected a list of objects each with a 'bbox'"),
])
def test_bad_json_names_the_file_and_entry(reader, content, pattern, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(DemoError, match=pattern):
        if reader == "kp":
            read_keypoints_json(path, 0.5)
        else:
            read_detections_json(path, 0.5, is_hand=False)


def test_missing_json_file(tmp_path):
    with pytest.raises(DemoError, match=r"--keypoints_json .*nothing\.json: file not found"):
        read_keypoints_json(tmp_path / "nothing.json", 0.5)
    with pytest.raises(DemoError, match=r"--bbox_json .*nothing\.json: file not found"):
        read_detections_json(tmp_path / "nothing.json", 0.5, is_hand=True)
