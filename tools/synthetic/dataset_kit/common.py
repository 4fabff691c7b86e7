"""Helpers shared by the five mini-dataset writers: rounding, file writers, projection and boxes, camera
intrinsics sampling and the JSON records several datasets store in the same shape.

Parameters are rounded *before* anything is computed from them (:func:`rq`), so the stored values are exactly
the ones the images were rendered with; see docs/data.md for the layouts.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from common.utils.preprocessing import process_bbox
from common.utils.transforms import cam2pixel

_JPEG_QUALITY = 95


# ---- rounding, files ----------------------------------------------------------------------------------------------

def rnd(values, decimals: int) -> list:
    """Nested Python lists of floats rounded to ``decimals`` (JSON-friendly, deterministic)."""
    arr = np.round(np.asarray(values, dtype=np.float64), decimals)
    return arr.tolist()


def rq(values, decimals: int) -> np.ndarray:
    """Round an array (used on parameters *before* anything is computed from them, so stored = used)."""
    return np.round(np.asarray(values, dtype=np.float64), decimals)


def write_json(path: Path, obj) -> None:
    """``obj`` as compact JSON at ``path`` (parent folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f)


def save_jpg(path: Path, image_rgb: np.ndarray) -> None:
    """An (H, W, 3) uint8 RGB image as a JPEG at ``path`` (parent folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(image_rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY]):
        raise OSError(f"could not write {path}")


def sizes(size: str, test: int, small: int, large: int | None = None) -> int:
    """The count for the ``"test"``, ``"small"`` or ``"large"`` dataset size (``large`` default: 10x ``small``)."""
    if size == "large":
        return 10 * small if large is None else large
    return test if size == "test" else small


# ---- geometry -----------------------------------------------------------------------------------------------------

def rot(axis: str, angle: float) -> np.ndarray:
    """3 x 3 rotation by ``angle`` radians about ``axis`` ("x", "y" or "z")."""
    return Rotation.from_euler(axis, angle).as_matrix()


def rotvec(matrix: np.ndarray) -> np.ndarray:
    """Axis-angle vector (3,) of a 3 x 3 rotation."""
    return Rotation.from_matrix(matrix).as_rotvec()


def project(points: np.ndarray, focal, princpt) -> np.ndarray:
    """Camera-space points (N, 3) -> (N, 3) (u, v pixels, depth)."""
    return cam2pixel(points, focal, princpt)


def tight_box(points_px: np.ndarray) -> list[float]:
    """[x, y, w, h] of the projected vertices (the rendered silhouette's pixel centres lie inside it)."""
    lo = points_px[:, :2].min(0)
    hi = points_px[:, :2].max(0)
    return [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])]


def projected_box(verts: np.ndarray, focal, princpt) -> list[float]:
    """[x, y, w, h] pixel box of camera-space vertices (V, 3)."""
    return tight_box(project(verts, focal, princpt))


def inside(points_px: np.ndarray, width: int, height: int, margin: float) -> bool:
    """Whether all projected points lie at least ``margin`` pixels inside the image."""
    return bool((points_px[:, 0].min() >= margin) and (points_px[:, 0].max() <= width - 1 - margin)
                and (points_px[:, 1].min() >= margin) and (points_px[:, 1].max() <= height - 1 - margin))


def free_range(points_px: np.ndarray, width: int, height: int, margin: float) -> tuple[float, float, float, float]:
    """Pixel shifts (lo_u, hi_u, lo_v, hi_v) that keep the projected points ``margin`` pixels inside the image
    (empty when lo > hi)."""
    lo_u, hi_u = margin - points_px[:, 0].min(), width - 1 - margin - points_px[:, 0].max()
    lo_v, hi_v = margin - points_px[:, 1].min(), height - 1 - margin - points_px[:, 1].max()
    return lo_u, hi_u, lo_v, hi_v


def sample_intrinsics(rng: np.random.Generator, img_shape: tuple[int, int], focal_range: tuple[float, float],
                      focal_jitter: float, centre_jitter: float) -> tuple[np.ndarray, np.ndarray]:
    """Rounded (focal (2,), principal point (2,)) in pixels.

    The focal length is drawn from ``focal_range``, f_y optionally differing by up to +-``focal_jitter``; the
    principal point is the image centre moved by up to +-``centre_jitter`` on each axis.
    """
    height, width = img_shape
    focal = np.full(2, rng.uniform(*focal_range))
    if focal_jitter:
        focal = focal + np.array([0.0, rng.uniform(-focal_jitter, focal_jitter)])
    focal = rq(focal, 4)
    princpt = rq(np.array([width / 2, height / 2]) + rng.uniform(-centre_jitter, centre_jitter, size=2), 4)
    return focal, princpt


# ---- JSON records shared by several datasets ----------------------------------------------------------------------

def param_json(pose, shape, trans) -> dict:
    """``{"pose", "shape", "trans"}`` of an SMPL / MANO fit, 6 decimals."""
    return {"pose": rnd(pose, 6), "shape": rnd(shape, 6), "trans": rnd(trans, 6)}


def cam_param_json(focal, princpt) -> dict:
    """``{"focal", "princpt"}`` in pixels, 4 decimals."""
    return {"focal": rnd(focal, 4), "princpt": rnd(princpt, 4)}


def rootnet_entry(id_key: str, id_value: int, bbox, img_shape: tuple[int, int], root_cam,
                  root_decimals: int) -> dict:
    """One RootNet-style record: the processed (aspect-fixed, x1.25) ground-truth box and the ground-truth root.

    ``id_key`` is ``"image_id"`` or ``"ann_id"``; ``root_cam`` (3,) is in the dataset's unit (mm or metres).
    """
    height, width = img_shape
    box = process_bbox(np.asarray(bbox, dtype=np.float64), width, height)
    return {id_key: id_value, "bbox": rnd(box, 4), "root_cam": rnd(root_cam, root_decimals)}


def write_rootnet(root: Path, name: str, entries: list[dict]) -> None:
    """``rootnet_output/bbox_root_{name}_output.json`` under the dataset folder ``root``."""
    write_json(root / "rootnet_output" / f"bbox_root_{name}_output.json", entries)
