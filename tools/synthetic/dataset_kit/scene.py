"""Scene sampling for the dataset writers: plausible body and hand poses and shapes, upright orientations, and
placing a body in front of a camera so that it is fully inside the image.

Camera frame: x right, y down, z forward, metres.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial.transform import Rotation

from .common import free_range, inside, project, rot, rotvec, rq

if TYPE_CHECKING:
    from .generator import Generator


def sample_body_pose(rng: np.random.Generator) -> np.ndarray:
    """A moderate, plausible SMPL body pose (72,) in axis-angle radians, with a zero root (set by the caller)."""
    p = np.zeros((24, 3))
    p[1:] = rng.normal(0.0, 0.08, size=(23, 3))
    for spine in (3, 6, 9):
        p[spine] += [rng.normal(0.05, 0.08), rng.normal(0, 0.1), rng.normal(0, 0.06)]
    p[12] += [rng.normal(0, 0.1), rng.normal(0, 0.15), 0.0]
    p[15] += [rng.normal(0, 0.1), rng.normal(0, 0.2), 0.0]
    for side, sign in ((0, 1.0), (1, -1.0)):  # 0: left, 1: right
        hip, knee, ankle = 1 + side, 4 + side, 7 + side
        flex = rng.uniform(-0.7, 0.25)
        p[hip] += [flex, 0.0, sign * rng.uniform(-0.05, 0.25)]
        p[knee, 0] += rng.uniform(0.0, 0.25) + max(0.0, -flex) * rng.uniform(0.5, 1.5)
        p[ankle, 0] += rng.uniform(-0.2, 0.2)
        shoulder, elbow = 16 + side, 18 + side
        p[shoulder] += [rng.uniform(-0.3, 0.3), sign * rng.uniform(-0.5, 0.5), -sign * rng.uniform(0.6, 1.35)]
        p[elbow, 1] += -sign * rng.uniform(0.0, 1.6)
    return p.reshape(-1)


def sample_body_shape(rng: np.random.Generator, big: bool) -> np.ndarray:
    """SMPL betas (10,) in [-2.5, 2.5]; with ``big`` one of the first four gets |beta| in [3.2, 3.8] (out of the
    usual range, which some readers reset)."""
    shape = np.clip(rng.normal(0.0, 0.8, size=10), -2.5, 2.5)
    if big:
        i = int(rng.integers(0, 4))
        shape[i] = rng.choice([-1.0, 1.0]) * rng.uniform(3.2, 3.8)
    return shape


def upright_in_camera(rng: np.random.Generator) -> np.ndarray:
    """Global orientation (3x3) of an upright person seen by a roughly level camera (camera: x right, y down)."""
    yaw = rng.uniform(-np.pi, np.pi) if rng.random() < 0.25 else rng.uniform(-1.5, 1.5)
    tilt = rot("x", rng.normal(0, 0.08)) @ rot("z", rng.normal(0, 0.06))
    return rot("x", np.pi) @ tilt @ rot("y", yaw)


def sample_hand(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A plausible MANO pose (48,) (articulation as offsets from the mean hand) and shape (10,)."""
    pose = np.zeros((16, 3))
    pose[0] = Rotation.random(random_state=int(rng.integers(2**31))).as_rotvec()
    pose[1:] = rng.normal(0.0, 0.12, size=(15, 3))
    for finger in range(5):  # a common curl per finger (MANO joints 1-3 index, 4-6 middle, 7-9 little, ...)
        joints = [1 + 3 * finger, 2 + 3 * finger, 3 + 3 * finger]
        curl = rng.uniform(-0.25, 0.9)
        pose[joints, 2] += curl * np.array([0.6, 1.0, 0.8])
    shape = np.clip(rng.normal(0.0, 1.0, size=10), -2.5, 2.5)
    return pose.reshape(-1), shape


@dataclass
class Person:
    """One rendered body: parameters (as stored), its camera-space mesh and 24 joints (metres), colours."""

    pose: np.ndarray
    shape: np.ndarray
    trans: np.ndarray
    verts: np.ndarray
    joints: np.ndarray
    gender: str = "neutral"
    colour: np.ndarray | None = None


def place_in_camera(gen: Generator, pose, shape, focal, princpt, img_shape, depth: float,
                    rng: np.random.Generator, margin: float, gender: str = "neutral",
                    u_range: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """A translation (3,) putting the posed body (camera-frame pose) fully inside the image at about ``depth``.

    ``u_range`` restricts the horizontal placement to a fraction of the free range (to separate two persons).
    Raises ``RuntimeError`` if the body does not fit even after moving it back.
    """
    height, width = img_shape
    verts0, joints0 = gen.body(pose, shape, None, gender)
    root0 = joints0[0]
    for _ in range(12):
        base = np.array([0.0, 0.0, depth]) - root0  # root on the optical axis
        lo_u, hi_u, lo_v, hi_v = free_range(project(verts0 + base, focal, princpt), width, height, margin)
        if lo_u <= hi_u and lo_v <= hi_v:
            a, b = lo_u + (hi_u - lo_u) * u_range[0], lo_u + (hi_u - lo_u) * u_range[1]
            du, dv = rng.uniform(a, b), rng.uniform(lo_v, hi_v)
            for _shrink in range(8):
                offset = np.array([du / focal[0] * depth, dv / focal[1] * depth, 0.0])
                trans = base + offset
                if inside(project(verts0 + trans, focal, princpt), width, height, margin):
                    return trans
                du, dv = du * 0.7, dv * 0.7
        depth *= 1.12
    raise RuntimeError("could not place the body inside the image")


def depth_for_height(gen: Generator, pose, shape, focal_y: float, target_px: float, gender="neutral") -> float:
    """Depth (metres) at which the body's vertical extent projects to ``target_px`` pixels."""
    verts0, _ = gen.body(pose, shape, None, gender)
    extent = verts0[:, 1].max() - verts0[:, 1].min()
    return float(focal_y * extent / target_px)


def make_camera_person(gen: Generator, rng: np.random.Generator, focal, princpt, img_shape, height_frac,
                       margin: float, big_shape: bool, gender: str = "neutral", u_range=(0.0, 1.0),
                       depth: float | None = None, shape: np.ndarray | None = None) -> Person:
    """Sample a body in camera coordinates, placed fully inside the image; parameters rounded as stored.

    Its height in the image is a random fraction ``height_frac`` (lo, hi) of the image height unless ``depth``
    (metres) is given; ``shape`` fixes the betas (e.g. one person across a sequence).
    """
    pose = sample_body_pose(rng)
    pose[:3] = rotvec(upright_in_camera(rng))
    pose = rq(pose, 6)
    shape = rq(sample_body_shape(rng, big_shape) if shape is None else shape, 6)
    if depth is None:
        target = rng.uniform(*height_frac) * img_shape[0]
        depth = depth_for_height(gen, pose, shape, focal[1], target, gender)
    trans = rq(place_in_camera(gen, pose, shape, focal, princpt, img_shape, depth, rng, margin, gender,
                               u_range), 6)
    verts, joints = gen.body(pose, shape, trans, gender)
    return Person(pose=pose, shape=shape, trans=trans, verts=verts, joints=joints, gender=gender,
                  colour=gen.body_colours(rng))
