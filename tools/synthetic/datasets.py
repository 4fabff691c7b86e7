"""Seeded generator of mini Human36M / MuCo / MSCOCO / PW3D / FreiHAND datasets in their official layouts.

Every file the dataset readers open is written with the official directory layout and JSON schema
(``spec/datasets.md``), and every image is *rendered* from the synthetic SMPL body / MANO hand described by the
annotations (random plausible pose, random shape — some bodies with a |beta_i| > 3 to exercise the shape reset —,
random camera and textured background; each person or hand fully inside the image).  The ground truth is built
from the same parameters through the readers' own formulas, so annotations and pixels agree exactly:

* Human36M: the body is posed in the H36M *world* frame (z up, millimetres) and seen by four cameras per subject
  (world->camera ``R``, ``t`` mm, ``f``, ``c``).  ``smpl_param`` holds the world-frame root and world translation;
  the image shows ``R * SMPL(pose_world, shape, trans_world) + t`` which is what the reader rebuilds with its camera
  merge and translation compensation.  ``joint_3d`` is ``J_regressor_h36m`` applied to the camera-space mesh of the
  frame's (single kept) camera, mapped back to world coordinates, so the reader's ``joint_cam`` equals the regressed
  joints exactly.
* MuCo: persons in camera coordinates; ``keypoints_cam`` from ``J_regressor_h36m`` (joints the H36M set has, plus
  Thorax = H36M Neck) and the SMPL kinematic joints (Spine, Head, hands, toes).
* MSCOCO: per-image virtual camera (``coco_smplifyx_train.json``: pose/shape/trans in metres, focal/princpt);
  keypoints = ``J_regressor_coco_hip_smpl`` * mesh projected, visibility from the depth buffer.  val2017 images are
  rendered with the reader's virtual camera (focal 1500, principal point at the image centre).
* PW3D: gendered SMPL in the camera frame (the reader's ``layer[gender](pose, shape, trans)``), boxes from the
  projected joints (factor 1.2) like the conversion tool; ids continue across train, validation, test.
* FreiHAND: MANO right hand in the camera frame; evaluation ground truth also written in the official scorer's
  style (``evaluation_xyz.json``, ``evaluation_verts.json``).

RootNet-style files hold the processed (aspect-fixed, x1.25) ground-truth box and the ground-truth root in camera
coordinates (mm for Human36M and MSCOCO, metres for PW3D and FreiHAND).

Optionally (``save_masks=True``, ``--save_masks``) each dataset folder also gets ``synthetic_masks/``: one PNG label
map per image (0 = background, k = visible pixels of the k-th person drawn) and ``index.json`` mapping
``str(image_id)`` to the mask file and ``{str(ann_id): label}``.  The readers never look at it.

CLI: ``python -m tools.synthetic.datasets --data_dir DIR --model_dir DIR [--names ...] [--seed N] [--size test|small]``
"""
from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch
from scipy.spatial.transform import Rotation

from common.utils.human_models import MANO, SMPL
from common.utils.preprocessing import bbox_from_keypoints, process_bbox
from common.utils.transforms import cam2pixel, world2cam
from common.utils.raster import render_meshes

__all__ = ["DATASET_NAMES", "SIZES", "write_datasets", "main"]

DATASET_NAMES = ("Human36M", "MuCo", "MSCOCO", "PW3D", "FreiHAND")
SIZES = ("test", "small")

H36M_REGRESSOR_FILE = "J_regressor_h36m_correct.npy"
COCO_REGRESSOR_FILE = "J_regressor_coco_hip_smpl.npy"

H36M_JOINTS = ("Pelvis", "R_Hip", "R_Knee", "R_Ankle", "L_Hip", "L_Knee", "L_Ankle", "Torso", "Neck", "Nose",
               "Head_top", "L_Shoulder", "L_Elbow", "L_Wrist", "R_Shoulder", "R_Elbow", "R_Wrist")
MUCO_JOINTS = ("Head_top", "Thorax", "R_Shoulder", "R_Elbow", "R_Wrist", "L_Shoulder", "L_Elbow", "L_Wrist",
               "R_Hip", "R_Knee", "R_Ankle", "L_Hip", "L_Knee", "L_Ankle", "Pelvis", "Spine", "Head", "R_Hand",
               "L_Hand", "R_Toe", "L_Toe")
# MuCo joint -> ("h36m", row of J_regressor_h36m) or ("smpl", SMPL kinematic joint index)
_MUCO_SOURCE = {
    "Head_top": ("h36m", 10), "Thorax": ("h36m", 8), "R_Shoulder": ("h36m", 14), "R_Elbow": ("h36m", 15),
    "R_Wrist": ("h36m", 16), "L_Shoulder": ("h36m", 11), "L_Elbow": ("h36m", 12), "L_Wrist": ("h36m", 13),
    "R_Hip": ("h36m", 1), "R_Knee": ("h36m", 2), "R_Ankle": ("h36m", 3), "L_Hip": ("h36m", 4),
    "L_Knee": ("h36m", 5), "L_Ankle": ("h36m", 6), "Pelvis": ("h36m", 0), "Spine": ("smpl", 6),
    "Head": ("smpl", 15), "R_Hand": ("smpl", 23), "L_Hand": ("smpl", 22), "R_Toe": ("smpl", 11),
    "L_Toe": ("smpl", 10),
}
COCO_KEYPOINT_NAMES = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
                       "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
                       "left_knee", "right_knee", "left_ankle", "right_ankle")
COCO_SKELETON = ([16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8], [7, 9],
                 [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7])
# OpenPose COCO-18 order of 3DPW's poses2d, from SMPL kinematic joints ("j", idx) or mesh vertices ("v", idx)
_OPENPOSE_SOURCE = (("v", 331), ("j", 12), ("j", 17), ("j", 19), ("j", 21), ("j", 16), ("j", 18), ("j", 20),
                    ("j", 2), ("j", 5), ("j", 8), ("j", 1), ("j", 4), ("j", 7), ("v", 6262), ("v", 2802),
                    ("v", 3990), ("v", 3489))

# Body part (skinning joint with the largest weight) -> colour group: 0 skin, 1 shirt, 2 trousers, 3 shoes
_SMPL_PART_GROUP = np.array([2, 2, 2, 1, 2, 2, 1, 3, 3, 1, 3, 3, 0, 1, 1, 0, 1, 1, 1, 1, 0, 0, 0, 0])

_JPEG_QUALITY = 95


# =====================================================================================================================
# Small helpers
# =====================================================================================================================

def _rnd(values, decimals: int):
    """Nested Python lists of floats rounded to ``decimals`` (JSON-friendly, deterministic)."""
    arr = np.round(np.asarray(values, dtype=np.float64), decimals)
    return arr.tolist()


def _rq(values, decimals: int) -> np.ndarray:
    """Round an array (used on parameters *before* anything is computed from them, so stored = used)."""
    return np.round(np.asarray(values, dtype=np.float64), decimals)


def _write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f)


def _save_jpg(path: Path, image_rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(image_rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY]):
        raise OSError(f"could not write {path}")


def _tight_box(points_px: np.ndarray) -> list[float]:
    """[x, y, w, h] of the projected vertices (the rendered silhouette's pixel centres lie inside it)."""
    lo = points_px[:, :2].min(0)
    hi = points_px[:, :2].max(0)
    return [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])]


def _rot(axis: str, angle: float) -> np.ndarray:
    return Rotation.from_euler(axis, angle).as_matrix()


def _rotvec(matrix: np.ndarray) -> np.ndarray:
    return Rotation.from_matrix(matrix).as_rotvec()


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A random textured RGB background (smooth colour field, a stripe/check pattern, clutter, noise)."""
    low = rng.uniform(25, 230, size=(3, 3, 3)).astype(np.float32)
    img = cv2.resize(low, (width, height), interpolation=cv2.INTER_CUBIC)
    mid = rng.normal(0, 18, size=(12, 12, 3)).astype(np.float32)
    img += cv2.resize(mid, (width, height), interpolation=cv2.INTER_LINEAR)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(8, 40)
    coord = (np.cos(angle) * xx + np.sin(angle) * yy) / period
    kind = rng.integers(3)
    if kind == 0:
        pattern = np.sign(np.sin(2 * np.pi * coord))
    elif kind == 1:
        coord2 = (-np.sin(angle) * xx + np.cos(angle) * yy) / period
        pattern = np.sign(np.sin(2 * np.pi * coord) * np.sin(2 * np.pi * coord2))
    else:
        pattern = np.sin(2 * np.pi * coord)
    img += (pattern[..., None] * rng.uniform(5, 25) * rng.uniform(0.3, 1.0, size=3)).astype(np.float32)
    canvas = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(3, 8))):  # clutter
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        if rng.random() < 0.5:
            x1, y1 = x0 + int(rng.integers(10, width // 3)), y0 + int(rng.integers(10, height // 3))
            cv2.rectangle(canvas, (x0, y0), (x1, y1), colour, thickness=-1)
        else:
            cv2.circle(canvas, (x0, y0), int(rng.integers(5, min(width, height) // 6)), colour, thickness=-1)
    noise = rng.standard_normal(size=canvas.shape, dtype=np.float32) * 5.0
    return np.clip(canvas.astype(np.float32) + noise, 0, 255).astype(np.uint8)


# =====================================================================================================================
# Body / hand sampling
# =====================================================================================================================

def _sample_body_pose(rng: np.random.Generator) -> np.ndarray:
    """A moderate, plausible SMPL body pose (72,) with a zero root (set by the caller)."""
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


def _sample_body_shape(rng: np.random.Generator, big: bool) -> np.ndarray:
    shape = np.clip(rng.normal(0.0, 0.8, size=10), -2.5, 2.5)
    if big:
        i = int(rng.integers(0, 4))
        shape[i] = rng.choice([-1.0, 1.0]) * rng.uniform(3.2, 3.8)
    return shape


def _upright_in_camera(rng: np.random.Generator) -> np.ndarray:
    """Global orientation (3x3) of an upright person seen by a roughly level camera (camera: x right, y down)."""
    yaw = rng.uniform(-np.pi, np.pi) if rng.random() < 0.25 else rng.uniform(-1.5, 1.5)
    tilt = _rot("x", rng.normal(0, 0.08)) @ _rot("z", rng.normal(0, 0.06))
    return _rot("x", np.pi) @ tilt @ _rot("y", yaw)


def _sample_hand(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
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
class _Person:
    """One rendered body: parameters (as stored), its camera-space mesh and 24 joints (metres), colours."""

    pose: np.ndarray
    shape: np.ndarray
    trans: np.ndarray
    verts: np.ndarray
    joints: np.ndarray
    gender: str = "neutral"
    colour: np.ndarray | None = None


class _Generator:
    """Shared state: body models, regressors, output root, mask saving."""

    def __init__(self, data_dir: Path, model_dir: Path, save_masks: bool) -> None:
        self.data_dir = Path(data_dir)
        self.model_dir = Path(model_dir)
        self.save_masks = save_masks
        self._smpl: SMPL | None = None
        self._mano: MANO | None = None
        self._h36m_reg: np.ndarray | None = None
        self._coco_reg: np.ndarray | None = None
        self._parts: np.ndarray | None = None
        self._masks: dict[str, dict] = {}
        self._body_key: tuple | None = None
        self._body_val: tuple[np.ndarray, np.ndarray] | None = None

    # ---- models ----------------------------------------------------------------------------------------------
    @property
    def smpl(self) -> SMPL:
        if self._smpl is None:
            self._smpl = SMPL(self.model_dir)
        return self._smpl

    @property
    def mano(self) -> MANO:
        if self._mano is None:
            self._mano = MANO(self.model_dir)
        return self._mano

    def regressor_path(self, name: str) -> Path:
        path = self.model_dir / name
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found: the model folder must hold the body regressors too "
                f"(python -m tools.synthetic.body_models --out {self.model_dir} writes them)")
        return path

    @property
    def h36m_reg(self) -> np.ndarray:
        if self._h36m_reg is None:
            self._h36m_reg = np.load(self.regressor_path(H36M_REGRESSOR_FILE)).astype(np.float64)
        return self._h36m_reg

    @property
    def coco_reg(self) -> np.ndarray:
        if self._coco_reg is None:
            self._coco_reg = np.load(self.regressor_path(COCO_REGRESSOR_FILE)).astype(np.float64)
        return self._coco_reg

    def copy_regressor(self, name: str, dataset: str) -> None:
        dst = self.data_dir / dataset / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.regressor_path(name), dst)

    def body(self, pose, shape, trans=None, gender: str = "neutral") -> tuple[np.ndarray, np.ndarray]:
        """SMPL(pose, shape, trans) -> vertices (6890, 3), kinematic joints (24, 3), metres, float64.

        The layer adds ``trans`` to every vertex and joint, so the untranslated result is cached and shifted.
        """
        pose = np.asarray(pose, dtype=np.float32).reshape(1, 72)
        shape = np.asarray(shape, dtype=np.float32).reshape(1, 10)
        key = (pose.tobytes(), shape.tobytes(), gender)
        if key != self._body_key:
            with torch.no_grad():
                verts, joints = self.smpl.forward(torch.as_tensor(pose), torch.as_tensor(shape), None, gender=gender)
            self._body_key, self._body_val = key, (verts[0].double().numpy(), joints[0].double().numpy())
        verts, joints = self._body_val
        if trans is None:
            return verts.copy(), joints.copy()
        trans = np.asarray(trans, dtype=np.float64).reshape(1, 3)
        return verts + trans, joints + trans

    def hand(self, pose, shape, trans) -> tuple[np.ndarray, np.ndarray]:
        """MANO(pose, shape, trans) -> vertices (778, 3), joints (21, 3), **metres**, float64."""
        with torch.no_grad():
            verts, joints = self.mano.forward(
                torch.as_tensor(np.asarray(pose, dtype=np.float32).reshape(1, 48)),
                torch.as_tensor(np.asarray(shape, dtype=np.float32).reshape(1, 10)),
                torch.as_tensor(np.asarray(trans, dtype=np.float32).reshape(1, 3)))
        return verts[0].double().numpy() / 1000.0, joints[0].double().numpy() / 1000.0

    # ---- appearance --------------------------------------------------------------------------------------------
    def body_colours(self, rng: np.random.Generator) -> np.ndarray:
        """Per-vertex RGB colours: skin, shirt, trousers, shoes by skinning part."""
        if self._parts is None:
            weights = np.asarray(self.smpl.model_data("neutral")["weights"])
            self._parts = _SMPL_PART_GROUP[np.argmax(weights, axis=1)]
        skin = np.array([225, 180, 150]) * rng.uniform(0.55, 1.05)
        shirt = rng.uniform(30, 235, size=3)
        trousers = rng.uniform(20, 200, size=3)
        shoes = rng.uniform(10, 90, size=3)
        palette = np.stack([skin, shirt, trousers, shoes])
        return np.clip(palette[self._parts], 0, 255)

    @staticmethod
    def hand_colour(rng: np.random.Generator) -> np.ndarray:
        return np.clip(np.array([230, 185, 155]) * rng.uniform(0.5, 1.05) + rng.normal(0, 8, 3), 0, 255)

    # ---- output ------------------------------------------------------------------------------------------------
    def render(self, dataset: str, rel_path: str, image_root: Path, image_id: int,
               meshes: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], ann_ids: Sequence[int],
               focal, princpt, img_shape: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Render ``meshes`` over a random background, save the JPEG (and the label map); return labels, depth."""
        background = _background(rng, *img_shape)
        image, labels, depth = render_meshes(meshes, focal, princpt, img_shape, background)
        _save_jpg(image_root / rel_path, image)
        if self.save_masks:
            mask_rel = str(Path(rel_path).with_suffix(".png"))
            mask_path = self.data_dir / dataset / "synthetic_masks" / mask_rel
            mask_path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(mask_path), labels)
            index = self._masks.setdefault(dataset, {})
            index[str(image_id)] = {"file": mask_rel, "image": rel_path,
                                    "labels": {str(a): k + 1 for k, a in enumerate(ann_ids)}}
        return labels, depth

    def flush_masks(self, dataset: str) -> None:
        if self.save_masks:
            _write_json(self.data_dir / dataset / "synthetic_masks" / "index.json", self._masks.get(dataset, {}))


def _project(points: np.ndarray, focal, princpt) -> np.ndarray:
    return cam2pixel(points, focal, princpt)


def _inside(points_px: np.ndarray, width: int, height: int, margin: float) -> bool:
    return bool((points_px[:, 0].min() >= margin) and (points_px[:, 0].max() <= width - 1 - margin)
                and (points_px[:, 1].min() >= margin) and (points_px[:, 1].max() <= height - 1 - margin))


def _place_in_camera(gen: _Generator, pose, shape, focal, princpt, img_shape, depth: float,
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
        px = _project(verts0 + base, focal, princpt)
        lo_u, hi_u = margin - px[:, 0].min(), width - 1 - margin - px[:, 0].max()
        lo_v, hi_v = margin - px[:, 1].min(), height - 1 - margin - px[:, 1].max()
        if lo_u <= hi_u and lo_v <= hi_v:
            a, b = lo_u + (hi_u - lo_u) * u_range[0], lo_u + (hi_u - lo_u) * u_range[1]
            du, dv = rng.uniform(a, b), rng.uniform(lo_v, hi_v)
            for _shrink in range(8):
                offset = np.array([du / focal[0] * depth, dv / focal[1] * depth, 0.0])
                trans = base + offset
                if _inside(_project(verts0 + trans, focal, princpt), width, height, margin):
                    return trans
                du, dv = du * 0.7, dv * 0.7
        depth *= 1.12
    raise RuntimeError("could not place the body inside the image")


def _depth_for_height(gen: _Generator, pose, shape, focal_y: float, target_px: float, gender="neutral") -> float:
    verts0, _ = gen.body(pose, shape, None, gender)
    extent = verts0[:, 1].max() - verts0[:, 1].min()
    return float(focal_y * extent / target_px)


def _make_camera_person(gen: _Generator, rng: np.random.Generator, focal, princpt, img_shape, height_frac,
                        margin: float, big_shape: bool, gender: str = "neutral", u_range=(0.0, 1.0),
                        depth: float | None = None, shape: np.ndarray | None = None) -> _Person:
    """Sample a body in camera coordinates, placed fully inside the image; parameters rounded as stored."""
    pose = _sample_body_pose(rng)
    pose[:3] = _rotvec(_upright_in_camera(rng))
    pose = _rq(pose, 6)
    shape = _rq(_sample_body_shape(rng, big_shape) if shape is None else shape, 6)
    if depth is None:
        target = rng.uniform(*height_frac) * img_shape[0]
        depth = _depth_for_height(gen, pose, shape, focal[1], target, gender)
    trans = _rq(_place_in_camera(gen, pose, shape, focal, princpt, img_shape, depth, rng, margin, gender,
                                 u_range), 6)
    verts, joints = gen.body(pose, shape, trans, gender)
    return _Person(pose=pose, shape=shape, trans=trans, verts=verts, joints=joints, gender=gender,
                   colour=gen.body_colours(rng))


def _sizes(size: str, test: int, small: int) -> int:
    return test if size == "test" else small


# =====================================================================================================================
# Human36M
# =====================================================================================================================

_H36M_TRAIN = (1, 5, 6, 7, 8)
_H36M_TEST = (9, 11)
_H36M_SIZE = (400, 400)  # (H, W)


def _look_at(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World->camera rotation of a camera at ``position`` looking at ``target`` (world z up; camera y down)."""
    forward = target - position
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.array([0.0, 0.0, 1.0]))
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


def _h36m_plan(size: str, rng: np.random.Generator) -> dict[int, list[tuple[int, int, int, list[int]]]]:
    """Per subject: list of (action, subaction, frame_idx, cameras), the first camera being the one kept."""
    plan: dict[int, list] = {}
    for subject in _H36M_TRAIN + _H36M_TEST:
        is_test = subject in _H36M_TEST
        modulus = 64 if is_test else 5
        n_keep = _sizes(size, 2 if (is_test or subject == 1) else 1, 12 if is_test else 8)
        n_drop = _sizes(size, 1 if subject in (1, 5, 9, 11) else 0, 3)
        multiples = rng.choice(np.arange(0, 40), size=n_keep, replace=False) * modulus
        others = []
        while len(others) < n_drop:
            f = int(rng.integers(1, 40 * modulus))
            if f % modulus and f not in others:
                others.append(f)
        frames = [(int(f), True) for f in sorted(multiples)] + [(f, False) for f in sorted(others)]
        items = []
        for k, (frame, keep) in enumerate(frames):
            action = int(rng.integers(2, 17))
            subaction = int(rng.integers(1, 3))
            if is_test:
                cams = [4]
                if keep and k == 0:
                    cams.append(int(rng.integers(1, 4)))  # same frame from another camera: filtered out
            else:
                cams = [int(rng.integers(1, 5))]
            items.append((action, subaction, frame, cams))
        plan[subject] = items
    return plan


def _h36m_cameras(rng: np.random.Generator) -> dict[int, dict[str, np.ndarray]]:
    height, width = _H36M_SIZE
    cams = {}
    for cam in range(1, 5):
        azimuth = np.deg2rad(45 + 90 * (cam - 1) + rng.uniform(-15, 15))
        dist = rng.uniform(4.2, 5.0)
        position = np.array([dist * np.cos(azimuth), dist * np.sin(azimuth), rng.uniform(1.2, 1.8)])
        target = np.array([rng.uniform(-0.2, 0.2), rng.uniform(-0.2, 0.2), rng.uniform(0.8, 1.0)])
        R = _rq(_look_at(position, target), 8)
        t = _rq(-R @ position * 1000.0, 4)
        focal = _rq(rng.uniform(540, 600) + np.array([0.0, rng.uniform(-2, 2)]), 4)
        princpt = _rq(np.array([width / 2, height / 2]) + rng.uniform(-6, 6, size=2), 4)
        cams[cam] = {"R": R, "t": t, "f": focal, "c": princpt}
    return cams


def _write_human36m(gen: _Generator, size: str, rng: np.random.Generator) -> Path:
    root = gen.data_dir / "Human36M"
    ann_dir = root / "annotations"
    height, width = _H36M_SIZE
    gen.copy_regressor(H36M_REGRESSOR_FILE, "Human36M")
    plan = _h36m_plan(size, rng)
    image_id = 0
    rootnet = []
    missing_fit_done = False
    for subject, items in plan.items():
        cams = _h36m_cameras(rng)
        images, annotations = [], []
        joints_3d: dict = {}
        smpl_params: dict = {}
        for action, subaction, frame, cam_list in items:
            big = rng.random() < 0.25
            for _attempt in range(100):
                pose = _sample_body_pose(rng)
                yaw = rng.uniform(-np.pi, np.pi)
                tilt = _rot("x", rng.normal(0, 0.06)) @ _rot("y", rng.normal(0, 0.06))
                pose[:3] = _rotvec(_rot("z", yaw) @ _rot("x", np.pi / 2) @ tilt)  # SMPL y-up -> world z-up
                pose = _rq(pose, 6)
                shape = _rq(_sample_body_shape(rng, big), 6)
                verts0, joints0 = gen.body(pose, shape, None)
                xy = rng.uniform(-0.4, 0.4, size=2)
                trans = _rq(np.array([xy[0] - joints0[0, 0], xy[1] - joints0[0, 1], -verts0[:, 2].min()]), 6)
                verts_world, _ = gen.body(pose, shape, trans)
                ok = True
                for cam in cam_list:
                    c = cams[cam]
                    vc = world2cam(verts_world * 1000.0, c["R"], c["t"]) / 1000.0
                    ok &= _inside(_project(vc, c["f"], c["c"]), width, height, 6.0)
                if ok:
                    break
            else:
                raise RuntimeError("Human36M: could not place the body in all cameras")
            colours = gen.body_colours(rng)
            key_a, key_s, key_f = str(action), str(subaction), str(frame)
            smpl_entry = {"pose": _rnd(pose, 6), "shape": _rnd(shape, 6), "trans": _rnd(trans, 6)}
            if subject == _H36M_TRAIN[-1] and not missing_fit_done:
                missing_fit_done = True  # this frame has no SMPL fit (is_valid_fit = 0 branch)
            else:
                smpl_params.setdefault(key_a, {}).setdefault(key_s, {})[key_f] = smpl_entry
            for k, cam in enumerate(cam_list):
                c = cams[cam]
                verts_cam = world2cam(verts_world * 1000.0, c["R"], c["t"]) / 1000.0  # metres
                joint_cam = gen.h36m_reg @ (verts_cam * 1000.0)  # mm, what the reader must recover
                if k == 0:  # the frame's joints, exact for its kept camera
                    joint_world = (c["R"].T @ (joint_cam - c["t"][None, :]).T).T
                    joints_3d.setdefault(key_a, {}).setdefault(key_s, {})[key_f] = _rnd(joint_world, 4)
                folder = f"s_{subject:02d}_act_{action:02d}_subact_{subaction:02d}_ca_{cam:02d}"
                file_name = f"{folder}/{folder}_{frame + 1:06d}.jpg"
                px = _project(verts_cam, c["f"], c["c"])
                bbox = _tight_box(px)
                gen.render("Human36M", file_name, root / "images", image_id, [(verts_cam, gen.smpl.face, colours)],
                           [image_id], c["f"], c["c"], (height, width), rng)
                images.append({"id": image_id, "file_name": file_name, "width": width, "height": height,
                               "subject": subject, "action_idx": action, "subaction_idx": subaction,
                               "frame_idx": frame, "cam_idx": cam})
                annotations.append({"id": image_id, "image_id": image_id, "bbox": _rnd(bbox, 4)})
                if subject in _H36M_TEST:
                    box = process_bbox(np.array(bbox), width, height)
                    rootnet.append({"image_id": image_id, "bbox": _rnd(box, 4),
                                    "root_cam": _rnd(joint_cam[0], 4)})
                image_id += 1
        _write_json(ann_dir / f"Human36M_subject{subject}_data.json", {"images": images, "annotations": annotations})
        _write_json(ann_dir / f"Human36M_subject{subject}_camera.json",
                    {str(k): {"R": _rnd(v["R"], 8), "t": _rnd(v["t"], 4), "f": _rnd(v["f"], 4),
                              "c": _rnd(v["c"], 4)} for k, v in cams.items()})
        _write_json(ann_dir / f"Human36M_subject{subject}_joint_3d.json", joints_3d)
        _write_json(ann_dir / f"Human36M_subject{subject}_smpl_param.json", smpl_params)
    _write_json(root / "rootnet_output" / "bbox_root_human36m_output.json", rootnet)
    gen.flush_masks("Human36M")
    return root


# =====================================================================================================================
# MuCo
# =====================================================================================================================

_MUCO_SIZE = (400, 400)


def _muco_joints(gen: _Generator, person: _Person) -> np.ndarray:
    """MuCo 21 joints (camera, mm) of a body."""
    h36m = gen.h36m_reg @ person.verts
    out = np.zeros((21, 3))
    for i, name in enumerate(MUCO_JOINTS):
        src, idx = _MUCO_SOURCE[name]
        out[i] = h36m[idx] if src == "h36m" else person.joints[idx]
    return out * 1000.0


def _write_muco(gen: _Generator, size: str, rng: np.random.Generator) -> Path:
    root = gen.data_dir / "MuCo"
    data = root / "data"
    gen.copy_regressor(H36M_REGRESSOR_FILE, "Human36M")  # the MuCo reader uses the H36M regressor from there
    height, width = _MUCO_SIZE
    n_images = _sizes(size, 4, 40)
    images, annotations, smpl_params = [], [], {}
    ann_id = 0
    for image_id in range(n_images):
        focal = _rq(rng.uniform(450, 600) + np.array([0.0, rng.uniform(-2, 2)]), 4)
        princpt = _rq(np.array([width / 2, height / 2]) + rng.uniform(-8, 8, size=2), 4)
        n_persons = 2 if image_id % 2 == 0 else 1
        persons = []
        if n_persons == 1:
            persons.append(_make_camera_person(gen, rng, focal, princpt, (height, width), (0.55, 0.8), 5.0,
                                               big_shape=image_id % 4 == 1))
        else:  # a near person on one side, a farther one on the other side
            near_left = rng.random() < 0.5
            near = _make_camera_person(gen, rng, focal, princpt, (height, width), (0.55, 0.75), 5.0,
                                       big_shape=image_id % 4 == 2, u_range=(0.0, 0.3) if near_left else (0.7, 1.0))
            far_depth = near.joints[0, 2] + rng.uniform(1.2, 2.0)
            far = _make_camera_person(gen, rng, focal, princpt, (height, width), (0.3, 0.5), 5.0, big_shape=False,
                                      u_range=(0.7, 1.0) if near_left else (0.0, 0.3), depth=far_depth)
            persons = [far, near] if rng.random() < 0.5 else [near, far]  # file order is not depth order
        folder = "augmented_set" if image_id < n_images - 1 else "unaugmented_set"
        file_name = f"{folder}/{image_id:06d}.jpg"
        ids = list(range(ann_id, ann_id + len(persons)))
        gen.render("MuCo", file_name, data, image_id, [(p.verts, gen.smpl.face, p.colour) for p in persons], ids,
                   focal, princpt, (height, width), rng)
        images.append({"id": image_id, "file_name": file_name, "width": width, "height": height,
                       "f": _rnd(focal, 4), "c": _rnd(princpt, 4)})
        for aid, person in zip(ids, persons):
            kp_cam = _muco_joints(gen, person)
            kp_img = _project(kp_cam, focal, princpt)[:, :2]
            bbox = _tight_box(_project(person.verts, focal, princpt))
            annotations.append({"id": aid, "image_id": image_id, "keypoints_cam": _rnd(kp_cam, 4),
                                "keypoints_img": _rnd(kp_img, 4), "bbox": _rnd(bbox, 4)})
            if image_id != 1:  # the (single) person of image 1 has no SMPL fit
                smpl_params[str(aid)] = {"pose": _rnd(person.pose, 6), "shape": _rnd(person.shape, 6),
                                         "trans": _rnd(person.trans, 6)}
        ann_id += len(persons)
    _write_json(data / "MuCo-3DHP.json", {"images": images, "annotations": annotations})
    _write_json(data / "smpl_param.json", smpl_params)
    gen.flush_masks("MuCo")
    return root


# =====================================================================================================================
# MSCOCO
# =====================================================================================================================

_COCO_SHAPES = ((360, 480), (480, 360), (400, 480))  # (H, W)


def _coco_keypoints(gen: _Generator, person: _Person, focal, princpt, depth_buf: np.ndarray,
                    img_shape) -> np.ndarray:
    """17 x 3 COCO keypoints (x, y, v): v = 2 visible, 1 occluded (by the depth buffer)."""
    height, width = img_shape
    kps3d = gen.coco_reg @ person.verts
    px = _project(kps3d, focal, princpt)
    out = np.zeros((17, 3))
    for k in range(17):
        u, v = px[k, :2]
        col, row = int(np.clip(np.round(u), 0, width - 1)), int(np.clip(np.round(v), 0, height - 1))
        occluded = depth_buf[row, col] < kps3d[k, 2] - 0.15
        out[k] = [u, v, 1 if occluded else 2]
    return out


def _coco_keypoint_list(kps: np.ndarray) -> list:
    """Flat [x1, y1, v1, ...]: coordinates as floats (3 decimals), visibility flags as ints (x = y = 0 when v = 0)."""
    out: list = []
    for x, y, v in kps:
        out += [round(float(x), 3), round(float(y), 3), int(v)] if v > 0 else [0, 0, 0]
    return out


def _coco_segmentation(mask: np.ndarray) -> list[list[float]]:
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polys = []
    for c in contours:
        if len(c) >= 3:
            polys.append([float(x) for x in c.reshape(-1)])
    return polys


def _write_mscoco(gen: _Generator, size: str, rng: np.random.Generator) -> Path:
    root = gen.data_dir / "MSCOCO"
    gen.copy_regressor(COCO_REGRESSOR_FILE, "MSCOCO")
    categories = [{"supercategory": "person", "id": 1, "name": "person", "keypoints": list(COCO_KEYPOINT_NAMES),
                   "skeleton": [list(s) for s in COCO_SKELETON]}]
    smplifyx: dict = {}
    rootnet = []
    ann_id = 500000
    for split in ("train", "val"):
        n_images = _sizes(size, 3 if split == "train" else 2, 30 if split == "train" else 20)
        images, annotations = [], []
        for k in range(n_images):
            image_id = (100000 if split == "train" else 200000) + 17 * k + 3
            height, width = _COCO_SHAPES[k % len(_COCO_SHAPES)]
            if split == "train":
                focal = _rq(np.full(2, rng.uniform(500, 1500)), 4)
                princpt = _rq(np.array([width / 2, height / 2]) + rng.uniform(-20, 20, size=2), 4)
            else:  # the reader's virtual camera for val2017
                focal = np.array([1500.0, 1500.0])
                princpt = np.array([width / 2, height / 2])
            n_persons = 2 if k % 2 == 1 else 1
            if n_persons == 1:
                persons = [_make_camera_person(gen, rng, focal, princpt, (height, width), (0.5, 0.85), 4.0,
                                               big_shape=k % 3 == 2)]
            else:
                a = _make_camera_person(gen, rng, focal, princpt, (height, width), (0.45, 0.7), 4.0,
                                        big_shape=False, u_range=(0.0, 0.35))
                b = _make_camera_person(gen, rng, focal, princpt, (height, width), (0.35, 0.6), 4.0,
                                        big_shape=True, u_range=(0.65, 1.0))
                persons = [a, b]
            file_name = f"{image_id:012d}.jpg"
            ids = list(range(ann_id, ann_id + n_persons))
            labels, depth = gen.render("MSCOCO", f"{split}2017/{file_name}", root / "images", image_id,
                                       [(p.verts, gen.smpl.face, p.colour) for p in persons], ids, focal, princpt,
                                       (height, width), rng)
            images.append({"license": 1, "file_name": file_name, "height": height, "width": width, "id": image_id})
            for j, (aid, person) in enumerate(zip(ids, persons)):
                kps = _coco_keypoints(gen, person, focal, princpt, depth, (height, width))
                if k == 0 and split == "train":  # some unlabeled keypoints (v = 0, x = y = 0)
                    kps[[3, 4]] = 0.0
                bbox = _tight_box(_project(person.verts, focal, princpt))
                mask = labels == j + 1
                annotations.append({
                    "segmentation": _coco_segmentation(mask), "num_keypoints": int((kps[:, 2] > 0).sum()),
                    "area": float(mask.sum()), "iscrowd": 0, "keypoints": _coco_keypoint_list(kps),
                    "image_id": image_id, "bbox": _rnd(bbox, 3), "category_id": 1, "id": aid})
                if split == "train" and not (k == 1 and j == 1):  # one train person has no SMPLify-X fit
                    smplifyx[str(aid)] = {
                        "smpl_param": {"pose": _rnd(person.pose, 6), "shape": _rnd(person.shape, 6),
                                       "trans": _rnd(person.trans, 6)},
                        "cam_param": {"focal": _rnd(focal, 4), "princpt": _rnd(princpt, 4)}}
                if split == "val":
                    box = process_bbox(np.array(bbox), width, height)
                    rootnet.append({"image_id": image_id, "bbox": _rnd(box, 4),
                                    "root_cam": _rnd(person.joints[0] * 1000.0, 4)})
            ann_id += n_persons
            if split == "train" and k == 0:  # two annotations the reader must skip
                x0, y0 = 2.0, 2.0
                crowd_mask = np.zeros((height, width), dtype=np.uint8, order="F")
                crowd_mask[int(y0):int(y0) + 20, int(x0):int(x0) + 30] = 1
                rle = _uncompressed_rle(crowd_mask)
                annotations.append({"segmentation": rle, "num_keypoints": 0, "area": 600.0, "iscrowd": 1,
                                    "keypoints": [0] * 51, "image_id": image_id, "bbox": [x0, y0, 30.0, 20.0],
                                    "category_id": 1, "id": ann_id})
                annotations.append({"segmentation": [[x0, y0 + 40, x0 + 12, y0 + 40, x0 + 12, y0 + 70, x0, y0 + 70]],
                                    "num_keypoints": 0, "area": 360.0, "iscrowd": 0, "keypoints": [0] * 51,
                                    "image_id": image_id, "bbox": [x0, y0 + 40, 12.0, 30.0], "category_id": 1,
                                    "id": ann_id + 1})
                ann_id += 2
        _write_json(root / "annotations" / f"person_keypoints_{split}2017.json", {
            "info": {"description": "synthetic COCO-style keypoints (I2L-MeshNet re-implementation tests)",
                     "version": "1.0", "year": 2017},
            "licenses": [{"id": 1, "name": "synthetic", "url": ""}],
            "images": images, "annotations": annotations, "categories": categories})
    _write_json(root / "annotations" / "coco_smplifyx_train.json", smplifyx)
    _write_json(root / "rootnet_output" / "bbox_root_coco_output.json", rootnet)
    gen.flush_masks("MSCOCO")
    return root


def _uncompressed_rle(mask: np.ndarray) -> dict:
    """COCO uncompressed RLE (column-major run lengths starting with a background run)."""
    flat = np.asarray(mask, dtype=np.uint8).reshape(-1, order="F")
    counts = []
    current, run = 0, 0
    for value in flat:
        if value == current:
            run += 1
        else:
            counts.append(run)
            current, run = value, 1
    counts.append(run)
    return {"counts": counts, "size": [int(mask.shape[0]), int(mask.shape[1])]}


# =====================================================================================================================
# PW3D
# =====================================================================================================================

_PW3D_SIZE = (480, 360)  # (H, W), portrait like 3DPW
_PW3D_SEQUENCES = {
    "train": (("courtyard_arguing_00", 2, 2),),
    "validation": (("courtyard_drinking_00", 1, 2),),
    "test": (("downtown_walking_00", 2, 2), ("office_phoneCall_00", 1, 2)),
}


def _write_pw3d(gen: _Generator, size: str, rng: np.random.Generator) -> Path:
    root = gen.data_dir / "PW3D"
    data = root / "data"
    gen.copy_regressor(H36M_REGRESSOR_FILE, "Human36M")  # PW3D evaluation uses the H36M regressor from there
    height, width = _PW3D_SIZE
    image_id = 0
    ann_id = 0
    rootnet = []
    for split, sequences in _PW3D_SEQUENCES.items():
        images, annotations = [], []
        for sequence, n_persons, n_frames in sequences:
            n_frames = _sizes(size, n_frames, 10 * n_frames)
            focal = _rq(np.full(2, rng.uniform(480, 520)), 4)
            princpt = _rq(np.array([width / 2, height / 2]) + rng.uniform(-5, 5, size=2), 4)
            genders = ["male", "female"] if n_persons == 2 else [("female", "male")[int(rng.integers(2))]]
            shapes = [_sample_body_shape(rng, big=(p == 0 and sequence.startswith("downtown"))) for p in
                      range(n_persons)]
            frame_step = int(rng.integers(1, 4))
            for f in range(n_frames):
                frame_idx = f * frame_step
                persons = []
                for p in range(n_persons):
                    u_range = (0.0, 1.0) if n_persons == 1 else ((0.0, 0.25) if p == 0 else (0.75, 1.0))
                    depth = rng.uniform(3.2, 3.8) + 1.3 * p
                    persons.append(_make_camera_person(gen, rng, focal, princpt, (height, width), (0.5, 0.8), 4.0,
                                                       big_shape=False, gender=genders[p], u_range=u_range,
                                                       depth=depth, shape=shapes[p]))
                file_name = f"image_{frame_idx:05d}.jpg"
                ids = list(range(ann_id, ann_id + n_persons))
                gen.render("PW3D", f"{sequence}/{file_name}", data / "imageFiles", image_id,
                           [(p.verts, gen.smpl.face, p.colour) for p in persons], ids, focal, princpt,
                           (height, width), rng)
                images.append({"id": image_id, "file_name": file_name, "sequence": sequence,
                               "frame_idx": frame_idx, "width": width, "height": height,
                               "cam_param": {"focal": _rnd(focal, 4), "princpt": _rnd(princpt, 4)}})
                for pid, (aid, person) in enumerate(zip(ids, persons)):
                    joint_img = _project(person.joints, focal, princpt)[:, :2]
                    valid = ((joint_img[:, 0] >= 0) & (joint_img[:, 0] < width) & (joint_img[:, 1] >= 0)
                             & (joint_img[:, 1] < height)).astype(np.float32)
                    bbox = bbox_from_keypoints(joint_img, valid, 1.2)
                    op = np.zeros((18, 3))
                    for j, (kind, idx) in enumerate(_OPENPOSE_SOURCE):
                        point = person.verts[idx] if kind == "v" else person.joints[idx]
                        op[j, :2] = _project(point[None], focal, princpt)[0, :2]
                        op[j, 2] = rng.uniform(0.6, 0.95)
                    annotations.append({
                        "id": aid, "image_id": image_id, "person_id": pid,
                        "joint_cam": _rnd(person.joints, 6), "joint_img": _rnd(joint_img, 4),
                        "fitted_joint_cam": _rnd(person.joints, 6), "openpose_result": _rnd(op, 4),
                        "bbox": _rnd(bbox, 4),
                        "smpl_param": {"shape": _rnd(person.shape, 6), "pose": _rnd(person.pose, 6),
                                       "trans": _rnd(person.trans, 6), "gender": person.gender}})
                    if split == "test":
                        box = process_bbox(np.asarray(bbox, dtype=np.float64), width, height)
                        rootnet.append({"ann_id": aid, "bbox": _rnd(box, 4), "root_cam": _rnd(person.joints[0], 6)})
                ann_id += n_persons
                image_id += 1
        _write_json(data / f"3DPW_{split}.json", {"images": images, "annotations": annotations})
    _write_json(root / "rootnet_output" / "bbox_root_pw3d_output.json", rootnet)
    gen.flush_masks("PW3D")
    return root


# =====================================================================================================================
# FreiHAND
# =====================================================================================================================

_FREIHAND_SIZE = (224, 224)


def _make_hand(gen: _Generator, rng: np.random.Generator, focal, princpt) -> tuple[np.ndarray, ...]:
    height, width = _FREIHAND_SIZE
    margin = 6.0
    for _attempt in range(50):
        pose, shape = _sample_hand(rng)
        pose, shape = _rq(pose, 6), _rq(shape, 6)
        verts0, joints0 = gen.hand(pose, shape, np.zeros(3))
        extent = np.linalg.norm(verts0.max(0) - verts0.min(0))
        depth = float(focal[1] * extent / (rng.uniform(0.55, 0.8) * height))
        for _ in range(10):
            base = np.array([0.0, 0.0, depth]) - verts0.mean(0)
            px = _project(verts0 + base, focal, princpt)
            lo_u, hi_u = margin - px[:, 0].min(), width - 1 - margin - px[:, 0].max()
            lo_v, hi_v = margin - px[:, 1].min(), height - 1 - margin - px[:, 1].max()
            if lo_u <= hi_u and lo_v <= hi_v and (verts0 + base)[:, 2].min() > 0.1:
                du, dv = rng.uniform(lo_u, hi_u), rng.uniform(lo_v, hi_v)
                trans = _rq(base + np.array([du / focal[0] * depth, dv / focal[1] * depth, 0.0]), 6)
                verts, joints = gen.hand(pose, shape, trans)
                if _inside(_project(verts, focal, princpt), width, height, margin):
                    return pose, shape, trans, verts, joints
            depth *= 1.1
    raise RuntimeError("FreiHAND: could not place the hand inside the image")


def _write_freihand(gen: _Generator, size: str, rng: np.random.Generator) -> Path:
    root = gen.data_dir / "FreiHAND"
    data = root / "data"
    height, width = _FREIHAND_SIZE
    faces = gen.mano.face
    ann_id = 0
    image_id = 0
    rootnet, eval_xyz, eval_verts = [], [], []
    for split, folder in (("train", "training"), ("eval", "evaluation")):
        n = _sizes(size, 6 if split == "train" else 4, 60 if split == "train" else 40)
        images, annotations, db = [], [], {}
        for db_idx in range(n):
            focal = _rq(np.full(2, rng.uniform(450, 650)) + np.array([0.0, rng.uniform(-1, 1)]), 4)
            princpt = _rq(np.array([width / 2, height / 2]) + rng.uniform(-4, 4, size=2), 4)
            pose, shape, trans, verts, joints = _make_hand(gen, rng, focal, princpt)
            file_name = f"{folder}/rgb/{db_idx:08d}.jpg"
            gen.render("FreiHAND", file_name, data, image_id, [(verts, faces, gen.hand_colour(rng))], [ann_id],
                       focal, princpt, (height, width), rng)
            bbox = _tight_box(_project(verts, focal, princpt))
            images.append({"id": image_id, "file_name": file_name, "width": width, "height": height,
                           "db_idx": db_idx})
            annotations.append({"id": ann_id, "image_id": image_id, "bbox": _rnd(bbox, 4)})
            cam_param = {"focal": _rnd(focal, 4), "princpt": _rnd(princpt, 4)}
            if split == "train":
                db[str(db_idx)] = {"cam_param": cam_param,
                                   "mano_param": {"pose": _rnd(pose, 6), "shape": _rnd(shape, 6),
                                                  "trans": _rnd(trans, 6)},
                                   "joint_3d": _rnd(joints, 6)}
            else:
                scale = float(np.linalg.norm(joints[10] - joints[9]))  # middle-finger MCP -> PIP bone, metres
                db[str(db_idx)] = {"cam_param": cam_param, "scale": round(scale, 6)}
                box = process_bbox(np.array(bbox), width, height)
                rootnet.append({"image_id": image_id, "bbox": _rnd(box, 4), "root_cam": _rnd(joints[0], 6)})
                eval_xyz.append(_rnd(joints, 6))
                eval_verts.append(_rnd(verts, 6))
            ann_id += 1
            image_id += 1
        _write_json(data / f"freihand_{split}_coco.json", {"images": images, "annotations": annotations})
        _write_json(data / f"freihand_{split}_data.json", db)
    _write_json(data / "evaluation_xyz.json", eval_xyz)
    _write_json(data / "evaluation_verts.json", eval_verts)
    _write_json(root / "rootnet_output" / "bbox_root_freihand_output.json", rootnet)
    gen.flush_masks("FreiHAND")
    return root


# =====================================================================================================================
# Entry points
# =====================================================================================================================

_WRITERS = {
    "Human36M": _write_human36m,
    "MuCo": _write_muco,
    "MSCOCO": _write_mscoco,
    "PW3D": _write_pw3d,
    "FreiHAND": _write_freihand,
}


def write_datasets(data_dir: str | Path, model_dir: str | Path, names: Sequence[str] = DATASET_NAMES, seed: int = 0,
                   size: str = "test", save_masks: bool = False) -> dict[str, Path]:
    """Write the mini datasets ``names`` under ``data_dir`` (the role of the repository's ``data/`` folder).

    Args:
        data_dir: output root; dataset ``X`` goes to ``data_dir/X`` in its official layout.
        model_dir: folder with the SMPL/MANO ``.pkl`` files and the two body regressors (``.npy``).
        names: datasets to write (any subset of ``DATASET_NAMES``).
        seed: every dataset is deterministic for (seed, dataset name, size).
        size: ``"test"`` (a handful of samples per split) or ``"small"`` (about 10x more).
        save_masks: also write per-image label maps under ``data_dir/X/synthetic_masks/``.
    Returns:
        ``{name: data_dir/name}`` for the datasets written.
    """
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    unknown = [n for n in names if n not in DATASET_NAMES]
    if unknown:
        raise ValueError(f"unknown dataset name(s) {unknown}; choose from {DATASET_NAMES}")
    gen = _Generator(Path(data_dir), Path(model_dir), save_masks)
    out = {}
    # float reductions in the SMPL/MANO layers depend on torch's thread count: generate single-threaded so the
    # files are byte-identical for a seed whatever the caller's setting
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name in DATASET_NAMES:
            if name in names:
                rng = np.random.default_rng([int(seed), DATASET_NAMES.index(name), SIZES.index(size)])
                out[name] = _WRITERS[name](gen, size, rng)
    finally:
        torch.set_num_threads(threads)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_dir", required=True, help="output folder (plays the role of data/)")
    parser.add_argument("--model_dir", required=True, help="folder with the SMPL/MANO files and body regressors")
    parser.add_argument("--names", nargs="+", default=list(DATASET_NAMES), choices=DATASET_NAMES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", default="test", choices=SIZES)
    parser.add_argument("--save_masks", action="store_true", help="also write synthetic_masks/ label maps")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    written = write_datasets(args.data_dir, args.model_dir, args.names, args.seed, args.size, args.save_masks)
    for name, path in written.items():
        print(f"{name}: {path}")
    print(f"done in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
