"""Hands found from body keypoints, and the mirroring that runs a left hand through the right-hand model
(docs/hands.md).

Hand boxes: a square around each wrist, placed and sized from the elbow-to-wrist vector of COCO body keypoints
(Keypoint R-CNN, or a --keypoints_json file).  Mirroring: the released hand model is right-handed, so a left hand is
processed in the horizontally mirrored image and its outputs are mirrored back.  Image coordinates follow the
project's pixel frame (origin at the top-left pixel centre, docs/conventions.md): mirroring an image of width W
(``img[:, ::-1]``) takes column u to W - 1 - u, points and box edges alike.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from common.detector import KeypointDetection
from main.predictor.errors import DemoError

__all__ = ["HAND_BOX_SCALE", "HAND_CENTER_OFFSET", "HAND_JOINT_THRESH", "MIN_HAND_BOX_SIDE", "SIDES", "HandBox",
           "hand_box_from_arm", "hand_boxes", "mirror_box", "mirror_mesh_cam", "mirror_points_cam",
           "mirror_points_img", "mirror_pose_axis_angle"]

# Segment lengths of the adult body as fractions of the standing height (Drillis & Contini): forearm, elbow to
# wrist, 0.146; hand, wrist to the tip of the middle finger, 0.108 = 0.74 forearms.
HAND_CENTER_OFFSET = 0.35
"""The box centre lies past the wrist by this many elbow-to-wrist vectors: half an open hand's length, 0.37
forearms, a little less for the curled hands that are common."""
HAND_BOX_SCALE = 0.75
"""The box side, in elbow-to-wrist lengths: an open hand's length (0.74 forearms).  This is the tight hand box, what
a hand data set's box around its joints is; the demo processes it like every box (squared, enlarged 1.25x)."""
HAND_JOINT_THRESH = 0.5
"""Minimum score of both the wrist and the elbow (keypoint scores in [0, 1]; COCO visibility 1 and 2 pass, 0 not)."""
MIN_HAND_BOX_SIDE = 8.0
"""Boxes with a smaller side (pixels) are dropped: a hand a few pixels wide holds nothing to reconstruct."""

SIDES = {"right": (True,), "left": (False,), "both": (True, False)}  # --hands value -> is_right values, right first
_ARM = {True: (8, 10), False: (7, 9)}  # is_right -> (elbow, wrist) in COCO keypoint order; the person's own side


@dataclass(frozen=True, eq=False)
class HandBox:
    """One hand: ``bbox`` (4,) float64 (x, y, w, h) pixels, the tight box; ``is_right``: the person's right hand;
    ``score``: the lower of the wrist and elbow keypoint scores; ``person``: index of the body detection."""

    bbox: np.ndarray
    is_right: bool
    score: float
    person: int


def hand_box_from_arm(elbow: Sequence[float], wrist: Sequence[float]) -> np.ndarray:
    """The square hand box (x, y, w, h) pixels, float64, of one arm: centred at wrist + HAND_CENTER_OFFSET *
    (wrist - elbow), side HAND_BOX_SCALE * |wrist - elbow|; ``elbow`` and ``wrist`` are (x, y) pixels."""
    elbow = np.asarray(elbow, dtype=np.float64)[:2]
    wrist = np.asarray(wrist, dtype=np.float64)[:2]
    forearm = wrist - elbow
    center = wrist + HAND_CENTER_OFFSET * forearm
    side = HAND_BOX_SCALE * float(np.hypot(*forearm))
    return np.array([center[0] - 0.5 * side, center[1] - 0.5 * side, side, side])


def hand_boxes(people: Sequence[KeypointDetection], sides: str = "both", min_score: float = HAND_JOINT_THRESH,
               image_size: tuple[int, int] | None = None, min_side: float = MIN_HAND_BOX_SIDE) -> list[HandBox]:
    """The hand boxes of the people's COCO keypoints, person by person, the right hand before the left.

    ``sides``: "right", "left" or "both" (--hands).  An arm is skipped when its wrist or elbow scores below
    ``min_score``, when its box side is under ``min_side`` pixels, or, with ``image_size`` = (width, height), when
    the box lies entirely outside the image.
    """
    if sides not in SIDES:
        raise DemoError(f"--hands {sides!r}: choose one of {', '.join(SIDES)}")
    found = []
    for person, detection in enumerate(people):
        keypoints = np.asarray(detection.keypoints, dtype=np.float64)
        for is_right in SIDES[sides]:
            elbow, wrist = keypoints[_ARM[is_right][0]], keypoints[_ARM[is_right][1]]
            score = float(min(elbow[2], wrist[2]))
            if score < min_score:
                continue
            box = hand_box_from_arm(elbow, wrist)
            if box[2] < min_side or (image_size is not None and not _overlaps(box, image_size)):
                continue
            found.append(HandBox(box, is_right, score, person))
    return found


def _overlaps(box: np.ndarray, image_size: tuple[int, int]) -> bool:
    x, y, w, h = box
    return x < image_size[0] and y < image_size[1] and x + w > 0 and y + h > 0


def mirror_box(bbox: np.ndarray | Sequence[float], width: int) -> np.ndarray:
    """Boxes (..., 4) (x, y, w, h) of an image of ``width`` pixels, in its mirror image: x -> W - 1 - x - w.

    Both edges map as points do (u -> W - 1 - u) and swap, so the box centre c_x goes to W - 1 - c_x, as the crop's
    own flip moves it: a crop of the mirrored image with the mirrored box is the mirror of the crop.
    """
    out = np.array(bbox, dtype=np.float64)
    out[..., 0] = width - 1 - out[..., 0] - out[..., 2]
    return out


def mirror_points_img(pts: np.ndarray, width: int) -> np.ndarray:
    """Image points (N, 2+) (x, y, ...) pixels in the mirror image of width ``width``: x -> W - 1 - x; other
    columns unchanged.  A principal point (cx, cy) mirrors the same way."""
    out = np.array(pts, dtype=np.float64)
    out[..., 0] = width - 1 - out[..., 0]
    return out


def mirror_points_cam(pts: np.ndarray) -> np.ndarray:
    """Camera-space points (..., 3) mirrored about the camera's y-z plane: x -> -x.  This is the image mirror when
    the mirrored image's principal point is the mirrored one (cx -> W - 1 - cx)."""
    out = np.array(pts, dtype=np.float64)
    out[..., 0] = -out[..., 0]
    return out


def mirror_mesh_cam(verts: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A camera-space mesh's mirror image: vertices (V, 3) with x negated, faces (F, 3) with their winding
    reversed, so that the faces still turn outward (a reflection alone would turn every normal inward)."""
    return mirror_points_cam(verts), np.ascontiguousarray(np.asarray(faces)[:, ::-1])


def mirror_pose_axis_angle(pose: np.ndarray) -> np.ndarray:
    """Axis-angle rotations (..., K*3), each (x, y, z) -> (x, -y, -z): the rotation R becomes M R M with
    M = diag(-1, 1, 1), the mirror through the y-z plane.

    A rotation that turns the right hand turns the mirrored (left) hand by M R M.  A mirrored mesh equals the
    layer's mesh of the mirrored pose only for a template that is itself mirror-symmetric, which MANO's right hand is
    not; so a left hand is saved as the right-hand parameters of its mirror image (``is_right`` false), and this
    function is for users who pose a left-hand model from them.
    """
    pose = np.asarray(pose, dtype=np.float64)
    if pose.ndim == 0 or pose.shape[-1] % 3:
        raise ValueError(f"expected axis-angle rotations (..., K*3), got shape {pose.shape}")
    return (pose.reshape(-1, 3) * np.array([1.0, -1.0, -1.0])).reshape(pose.shape)
