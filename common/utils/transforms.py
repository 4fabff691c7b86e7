"""Geometry of the sample pipeline: cameras, joint sets, flips, rotation augmentation, voxelisation, inverse mapping,
and the corrected Procrustes alignment.

Pure NumPy / OpenCV functions (docs/conventions.md, docs/evaluation.md#procrustes). Conventions:

* camera space: X right, Y down, Z forward (depth), in the data's unit (millimetres or metres — stated per call);
* "pixel" coordinates are (u, v, Z): image column, image row, and camera depth kept in the camera unit;
* "hm units" are coordinates in the (D, H_hm, W_hm) = (64, 64, 64) output grid, ordered (x, y, z);
* ``input_img_shape`` = (H_in, W_in) of the network crop; ``output_hm_shape`` = (D, H_hm, W_hm);
* affine matrices are (2, 3) and act on column vectors (u, v, 1);
* flip pairs are sequences of (i, j) joint-index pairs.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

__all__ = [
    "cam2pixel",
    "pixel2cam",
    "world2cam",
    "cam2world",
    "transform_joint_to_other_db",
    "swap_pairs",
    "flip_joints_2d",
    "flip_joints_3d",
    "flip_smpl_pose",
    "flip_translation",
    "rotation_aug_matrix",
    "rotate_points_3d",
    "rotate_root_pose",
    "affine_points",
    "image_to_hm_xy",
    "voxelize",
    "truncation_mask",
    "lixel_to_camera",
    "rigid_transform_3d",
    "rigid_align",
]

FlipPairs = Sequence[Sequence[int]]


def _as_points(arr: np.ndarray, dim: int, name: str) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim != 2 or arr.shape[1] < dim:
        raise ValueError(f"{name}: expected an (N, {dim}) array, got shape {arr.shape}")
    return arr


# --------------------------------------------------------------------------------------------------------------------
# Cameras
# --------------------------------------------------------------------------------------------------------------------

def cam2pixel(cam_coord: np.ndarray, focal: Sequence[float] | np.ndarray,
              princpt: Sequence[float] | np.ndarray) -> np.ndarray:
    """Perspective projection. ``cam_coord``: (N, 3) camera space (any unit); ``focal`` (f_x, f_y) and
    ``princpt`` (c_x, c_y) in pixels. Returns (N, 3) (u, v, Z): pixels, and depth in the input unit."""
    cam_coord = _as_points(cam_coord, 3, "cam2pixel")
    u = cam_coord[:, 0] / cam_coord[:, 2] * focal[0] + princpt[0]
    v = cam_coord[:, 1] / cam_coord[:, 2] * focal[1] + princpt[1]
    z = cam_coord[:, 2]
    return np.stack((u, v, z), axis=1)


def pixel2cam(pixel_coord: np.ndarray, focal: Sequence[float] | np.ndarray,
              princpt: Sequence[float] | np.ndarray) -> np.ndarray:
    """Back-projection. ``pixel_coord``: (N, 3) (u, v, Z) with u, v in pixels and Z the camera depth (any unit).
    Returns (N, 3) camera-space points in the unit of Z."""
    pixel_coord = _as_points(pixel_coord, 3, "pixel2cam")
    x = (pixel_coord[:, 0] - princpt[0]) / focal[0] * pixel_coord[:, 2]
    y = (pixel_coord[:, 1] - princpt[1]) / focal[1] * pixel_coord[:, 2]
    z = pixel_coord[:, 2]
    return np.stack((x, y, z), axis=1)


def world2cam(world_coord: np.ndarray, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """X_cam = R · X_world + t. ``world_coord``: (N, 3); ``R``: (3, 3) world-to-camera rotation; ``t``: (3,) in the
    unit of the points. Returns (N, 3) camera-space points, same unit."""
    world_coord = _as_points(world_coord, 3, "world2cam")
    return np.dot(np.asarray(R), world_coord.T).T + np.asarray(t).reshape(1, 3)


def cam2world(cam_coord: np.ndarray, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Inverse of :func:`world2cam`: X_world = R⁻¹ · (X_cam − t). ``cam_coord``: (N, 3); ``R``: (3, 3); ``t``: (3,).
    Returns (N, 3) world points, same unit."""
    cam_coord = _as_points(cam_coord, 3, "cam2world")
    return np.dot(np.linalg.inv(np.asarray(R)), (cam_coord - np.asarray(t).reshape(1, 3)).T).T


# --------------------------------------------------------------------------------------------------------------------
# Joint sets and flips
# --------------------------------------------------------------------------------------------------------------------

def transform_joint_to_other_db(src: np.ndarray, src_names: Sequence[str], dst_names: Sequence[str]) -> np.ndarray:
    """Re-order per-joint data by joint name. ``src``: (N_src, ...) with rows in ``src_names`` order.

    Returns a float32 array (N_dst, ...) (same trailing shape) of zeros where every source joint whose name is in
    ``dst_names`` is copied to that slot; other source joints are dropped.
    """
    src = np.asarray(src)
    if src.shape[0] != len(src_names):
        raise ValueError(
            f"transform_joint_to_other_db: src has {src.shape[0]} rows but src_names has {len(src_names)} names"
        )
    dst_index = {name: i for i, name in enumerate(dst_names)}
    out = np.zeros((len(dst_names),) + src.shape[1:], dtype=np.float32)
    for i, name in enumerate(src_names):
        j = dst_index.get(name)
        if j is not None:
            out[j] = src[i]
    return out


def swap_pairs(arr: np.ndarray, flip_pairs: FlipPairs) -> np.ndarray:
    """Return a copy of ``arr`` (N, ...) with rows i and j exchanged for every (i, j) in ``flip_pairs``."""
    out = np.array(arr, copy=True)
    for i, j in flip_pairs:
        out[[i, j]] = out[[j, i]]
    return out


def flip_joints_2d(joint_img: np.ndarray, img_width: float, flip_pairs: FlipPairs) -> np.ndarray:
    """Mirror joints given in original-image pixels: u ← W_img − u − 1, then swap the flip-pair rows.

    ``joint_img``: (N, >=2) with u in column 0 (other columns, e.g. v or depth, are kept). Returns a new array.
    Flip the matching validity with :func:`swap_pairs`.
    """
    joint_img = _as_points(joint_img, 1, "flip_joints_2d")
    out = np.array(joint_img, copy=True)
    out[:, 0] = img_width - out[:, 0] - 1
    return swap_pairs(out, flip_pairs)


def flip_joints_3d(joint_cam: np.ndarray, flip_pairs: FlipPairs) -> np.ndarray:
    """Mirror root-relative camera-space joints: X ← −X, then swap the flip-pair rows.

    ``joint_cam``: (N, 3), any unit, already root-relative. Returns a new array.
    """
    joint_cam = _as_points(joint_cam, 3, "flip_joints_3d")
    out = np.array(joint_cam, copy=True)
    out[:, 0] = -out[:, 0]
    return swap_pairs(out, flip_pairs)


def flip_smpl_pose(pose: np.ndarray, flip_pairs: FlipPairs) -> np.ndarray:
    """Mirror an axis-angle pose vector. ``pose``: (3K,) (K = 24 for SMPL), radians.

    Swaps the joint rows of every pair whose two indices are < K (pairs of extra joints such as face keypoints are
    ignored), then negates the y and z components of all K axis-angles. Returns a new (3K,) array.
    """
    pose = np.asarray(pose)
    if pose.ndim != 1 or pose.shape[0] % 3 != 0:
        raise ValueError(f"flip_smpl_pose: expected a flat (3K,) pose, got shape {pose.shape}")
    num_joints = pose.shape[0] // 3
    pairs = [(i, j) for i, j in flip_pairs if i < num_joints and j < num_joints]
    rows = swap_pairs(pose.reshape(num_joints, 3), pairs)
    rows[:, 1:3] *= -1
    return rows.reshape(-1)


def flip_translation(root_x: float, root_z: float, focal_x: float, princpt_x: float, img_width: float) -> float:
    """x offset that mirrors a re-posed (parameter-flipped) body about the image's middle column.

    ``root_x``, ``root_z``: camera x and depth of the root joint (any unit); ``focal_x``, ``princpt_x`` in pixels.
    Returns Δx = 2·X_c − 2·X_r in the unit of the inputs, with X_c = ((W_img − 1)/2 − c_x) / f_x · Z_r; add it to
    the x of every vertex and joint.
    """
    x_center = ((img_width - 1) / 2.0 - princpt_x) / focal_x * root_z
    return float(2.0 * x_center - 2.0 * root_x)


# --------------------------------------------------------------------------------------------------------------------
# Rotation augmentation
# --------------------------------------------------------------------------------------------------------------------

def rotation_aug_matrix(rot_deg: float) -> np.ndarray:
    """(3, 3) float32 rotation by −``rot_deg`` degrees about the camera z axis (matches an image rotation of
    ``rot_deg`` in the crop)."""
    angle = np.deg2rad(-rot_deg)
    return np.array(
        [[np.cos(angle), -np.sin(angle), 0.0],
         [np.sin(angle), np.cos(angle), 0.0],
         [0.0, 0.0, 1.0]],
        dtype=np.float32,
    )


def rotate_points_3d(points: np.ndarray, rot_deg: float) -> np.ndarray:
    """Apply the rotation augmentation to (N, 3) root-relative camera-space points (any unit): p ← R_aug · p.
    Returns (N, 3)."""
    points = _as_points(points, 3, "rotate_points_3d")
    return np.dot(rotation_aug_matrix(rot_deg), points.T).T


def rotate_root_pose(pose: np.ndarray, rot_deg: float, root_idx: int = 0) -> np.ndarray:
    """Rotate the global orientation of a flat axis-angle pose (3K,) (radians) by the augmentation matrix:
    root ← axis-angle(R_aug · Rodrigues(root)), OpenCV Rodrigues both ways. Returns a new (3K,) array,
    float64 for float64 input and float32 otherwise."""
    pose = np.asarray(pose)
    if pose.ndim != 1 or pose.shape[0] % 3 != 0:
        raise ValueError(f"rotate_root_pose: expected a flat (3K,) pose, got shape {pose.shape}")
    work_dtype = np.float64 if pose.dtype == np.float64 else np.float32
    rows = pose.reshape(-1, 3).astype(work_dtype, copy=True)
    root_mat, _ = cv2.Rodrigues(rows[root_idx])
    new_root, _ = cv2.Rodrigues(np.dot(rotation_aug_matrix(rot_deg), root_mat).astype(work_dtype))
    rows[root_idx] = new_root.reshape(3)
    return rows.reshape(-1)


# --------------------------------------------------------------------------------------------------------------------
# Voxelisation and its inverse
# --------------------------------------------------------------------------------------------------------------------

def affine_points(pts_xy: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine matrix to (N, 2) points (u, v). Returns (N, 2)."""
    pts_xy = _as_points(pts_xy, 2, "affine_points")[:, :2]
    xy1 = np.concatenate((pts_xy, np.ones_like(pts_xy[:, :1])), axis=1)
    return np.dot(np.asarray(trans), xy1.T).T


def image_to_hm_xy(
    joint_xy: np.ndarray,
    img2bb: np.ndarray,
    input_img_shape: tuple[int, int] = (256, 256),
    output_hm_shape: tuple[int, int, int] = (64, 64, 64),
) -> np.ndarray:
    """Original-image pixels (N, 2) -> hm-grid (x, y) (N, 2) float32: crop pixel through ``img2bb`` then
    x = u_b / W_in · W_hm, y = v_b / H_in · H_hm (for 2D-only joints, e.g. MSCOCO native keypoints)."""
    out = affine_points(joint_xy, img2bb).astype(np.float32)
    out[:, 0] = out[:, 0] / input_img_shape[1] * output_hm_shape[2]
    out[:, 1] = out[:, 1] / input_img_shape[0] * output_hm_shape[1]
    return out


def voxelize(
    joint_img: np.ndarray,
    root_depth: float,
    img2bb: np.ndarray,
    bbox_3d_size: float,
    input_img_shape: tuple[int, int] = (256, 256),
    output_hm_shape: tuple[int, int, int] = (64, 64, 64),
) -> np.ndarray:
    """Map points to the (D, H_hm, W_hm) output grid.

    ``joint_img``: (N, 3) (u, v, Z): original-image (already flipped, if flipping) pixels and camera depth;
    ``root_depth``: Z of the sample's root, same unit as Z; ``bbox_3d_size``: depth extent S' of the grid in that unit
    (2000 for millimetres, 2 for metres, 0.3 for hands in metres).
    Returns (N, 3) float32 hm units: x = u_b / W_in · W_hm, y = v_b / H_in · H_hm,
    z = ((Z − Z_root) / (S'/2) + 1) / 2 · D, where (u_b, v_b) = img2bb · (u, v, 1).
    """
    joint_img = _as_points(joint_img, 3, "voxelize")
    out = np.array(joint_img[:, :3], dtype=np.float32, copy=True)
    out[:, :2] = image_to_hm_xy(joint_img[:, :2], img2bb, input_img_shape, output_hm_shape)
    out[:, 2] = out[:, 2] - root_depth
    out[:, 2] = (out[:, 2] / (bbox_3d_size / 2.0) + 1.0) / 2.0 * output_hm_shape[0]
    return out


def truncation_mask(
    coord_hm: np.ndarray,
    output_hm_shape: tuple[int, int, int] = (64, 64, 64),
    check_z: bool = True,
) -> np.ndarray:
    """Inside-grid mask of (N, >=2) hm coordinates (x, y[, z]): 0 <= x < W_hm and 0 <= y < H_hm and, if
    ``check_z``, 0 <= z < D. Returns (N, 1) float32 of 0/1; native-joint masks are then multiplied by the joint
    validity, fit masks are not (docs/conventions.md#truncation-masks)."""
    coord_hm = _as_points(coord_hm, 3 if check_z else 2, "truncation_mask")
    inside = (
        (coord_hm[:, 0] >= 0) & (coord_hm[:, 0] < output_hm_shape[2])
        & (coord_hm[:, 1] >= 0) & (coord_hm[:, 1] < output_hm_shape[1])
    )
    if check_z:
        inside &= (coord_hm[:, 2] >= 0) & (coord_hm[:, 2] < output_hm_shape[0])
    return inside.reshape(-1, 1).astype(np.float32)


def lixel_to_image(
    coord_hm: np.ndarray,
    bb2img: np.ndarray,
    bbox_3d_size: float,
    input_img_shape: tuple[int, int] = (256, 256),
    output_hm_shape: tuple[int, int, int] = (64, 64, 64),
) -> np.ndarray:
    """hm coordinates -> (x, y) original-image pixels and z relative to the root, in the unit of ``bbox_3d_size``.

    ``coord_hm``: (N, 3) hm units; ``bb2img``: (2, 3) crop -> original-image affine. Computed in float32, as the
    original. Returns (N, 3) float32.
    """
    coord_hm = _as_points(coord_hm, 3, "lixel_to_image")
    out = np.array(coord_hm[:, :3], dtype=np.float32, copy=True)
    out[:, 0] = out[:, 0] / output_hm_shape[2] * input_img_shape[1]
    out[:, 1] = out[:, 1] / output_hm_shape[1] * input_img_shape[0]
    out[:, :2] = affine_points(out[:, :2], bb2img)
    out[:, 2] = (out[:, 2] / output_hm_shape[0] * 2.0 - 1.0) * (bbox_3d_size / 2.0)
    return out


def lixel_to_camera(
    coord_hm: np.ndarray,
    bb2img: np.ndarray,
    root_depth: float,
    bbox_3d_size: float,
    focal: Sequence[float] | np.ndarray,
    princpt: Sequence[float] | np.ndarray,
    input_img_shape: tuple[int, int] = (256, 256),
    output_hm_shape: tuple[int, int, int] = (64, 64, 64),
) -> np.ndarray:
    """Test-time inverse of :func:`voxelize`: hm coordinates -> absolute camera space.

    ``coord_hm``: (N, 3) hm units (x, y, z); ``bb2img``: (2, 3) crop -> original-image affine; ``root_depth`` and
    ``bbox_3d_size`` in the output unit (mm: Z_root in mm and S' = 2000; m: S' = 2 body / 0.3 hand);
    ``focal``, ``princpt`` in pixels. Returns (N, 3) float32 camera-space points in that unit.
    """
    out = lixel_to_image(coord_hm, bb2img, bbox_3d_size, input_img_shape, output_hm_shape)
    out[:, 2] = out[:, 2] + root_depth
    return pixel2cam(out, focal, princpt).astype(np.float32)


# --------------------------------------------------------------------------------------------------------------------
# Procrustes (similarity) alignment, corrected translation
# --------------------------------------------------------------------------------------------------------------------

def rigid_transform_3d(A: np.ndarray, B: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity transform taking points ``A`` (n, 3) onto ``B`` (n, 3), same unit.

    Returns (c, R, t): scale (float), proper rotation (3, 3) with det(R) = +1, translation (3,) in the unit of the
    points, such that B ≈ c · R · A_i + t. Uses the corrected translation t = μ_B − c · R · μ_A.
    """
    A = _as_points(A, 3, "rigid_transform_3d (A)")[:, :3].astype(np.float64)
    B = _as_points(B, 3, "rigid_transform_3d (B)")[:, :3].astype(np.float64)
    if A.shape != B.shape:
        raise ValueError(f"rigid_transform_3d: A and B differ in shape: {A.shape} vs {B.shape}")
    n = A.shape[0]
    mu_a = A.mean(axis=0)
    mu_b = B.mean(axis=0)
    a_c = A - mu_a
    b_c = B - mu_b
    H = a_c.T @ b_c / n
    U, s, Vt = np.linalg.svd(H)
    R = Vt.T @ U.T
    if np.linalg.det(R) < 0:
        s[-1] = -s[-1]
        Vt[2] = -Vt[2]
        R = Vt.T @ U.T
    var_a = np.var(A, axis=0).sum()
    c = float(np.sum(s) / var_a)
    t = mu_b - c * (R @ mu_a)
    return c, R, t


def rigid_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Procrustes-align ``pred`` (n, 3) to ``gt`` (n, 3) with :func:`rigid_transform_3d`.
    Returns the aligned prediction (n, 3) float64, in the unit of the inputs."""
    c, R, t = rigid_transform_3d(pred, gt)
    pred = np.asarray(pred, dtype=np.float64)[:, :3]
    return (c * (R @ pred.T)).T + t
