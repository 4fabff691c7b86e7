"""The shared sample pipeline: one datalist record + one augmentation draw -> (inputs, targets, meta_info).

Image crop, native-joint targets, SMPL/MANO fit targets (:mod:`data.fitting`), rotation augmentation and the exact
output dicts are written once here for every reader (docs/data.md).  All functions are pure apart from reading the
image file; randomness comes only through the :class:`AugParams` the caller drew from its own generator.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from common.utils.human_models import HumanModel
from common.utils.preprocessing import AugParams, augment_image, identity_aug_params, load_img, to_input_tensor
from common.utils.transforms import (
    flip_joints_2d,
    flip_joints_3d,
    image_to_hm_xy,
    rotate_points_3d,
    rotate_root_pose,
    swap_pairs,
    transform_joint_to_other_db,
    truncation_mask,
    voxelize,
)
from data.fitting import fit_model
from data.records import Grid, NativeJoints, PipelineSpec, SampleRecord


def load_crop(record: SampleRecord, aug: AugParams, grid: Grid) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """Read ``record.img_path`` and crop ``record.bbox`` with ``aug``.

    Returns (img (3, H_in, W_in) float32 tensor RGB in [0, 1], img2bb (2, 3) float32, bb2img (2, 3) float32).
    """
    img = load_img(record.img_path)
    crop, img2bb, bb2img = augment_image(img, record.bbox, aug, grid.input_img_shape)
    return to_input_tensor(crop), img2bb, bb2img


# --------------------------------------------------------------------------------------------------------------------
# Native joints
# --------------------------------------------------------------------------------------------------------------------


def native_joints(record: SampleRecord, spec: PipelineSpec, aug: AugParams, img2bb: np.ndarray,
                  grid: Grid) -> NativeJoints:
    """Flip, affine-transform and voxelise the native joints of ``record`` (docs/data.md#native-targets).

    3D data: image joints (u, v, Z) are voxelised with the native root's depth and S' = ``grid.depth_extent``;
    camera joints are made root-relative and flipped (X negated, pairs swapped). 2D data: only x, y are mapped, z = 0.
    """
    if spec.joint_set is None or record.joint_img is None or record.joint_valid is None:
        raise ValueError("native_joints: the record has no native joints")
    joints = spec.joint_set
    joint_img = np.asarray(record.joint_img, dtype=np.float32)
    valid = np.asarray(record.joint_valid, dtype=np.float32).reshape(-1, 1)
    if aug.do_flip:
        joint_img = flip_joints_2d(joint_img, record.img_width, joints.flip_pairs)
        valid = swap_pairs(valid, joints.flip_pairs)
    if spec.is_3d:
        if record.joint_cam is None:
            raise ValueError("native_joints: 3D data needs joint_cam")
        cam_rel = np.asarray(record.joint_cam, dtype=np.float32)
        cam_rel = cam_rel - cam_rel[joints.root_idx][None, :]
        if aug.do_flip:
            cam_rel = flip_joints_3d(cam_rel, joints.flip_pairs)
        img_hm = voxelize(joint_img, float(joint_img[joints.root_idx, 2]), img2bb,
                          grid.depth_extent(spec.unit_per_m), grid.input_img_shape, grid.output_hm_shape)
        trunc = truncation_mask(img_hm, grid.output_hm_shape, check_z=True) * valid
    else:
        cam_rel = None
        img_hm = np.zeros((joints.num, 3), dtype=np.float32)
        img_hm[:, :2] = image_to_hm_xy(joint_img[:, :2], img2bb, grid.input_img_shape, grid.output_hm_shape)
        trunc = truncation_mask(img_hm, grid.output_hm_shape, check_z=False) * valid
    return NativeJoints(img_hm=img_hm, cam_rel=cam_rel, valid=valid, trunc=trunc.astype(np.float32))


def make_train_sample(record: SampleRecord, aug: AugParams, human_model: HumanModel, spec: PipelineSpec,
                      grid: Grid) -> tuple[dict[str, torch.Tensor], dict[str, np.ndarray], dict[str, Any]]:
    """One training sample, body or hand (docs/data.md#sample-dicts).

    Returns (inputs, targets, meta_info) with exactly the keys :data:`TRAIN_TARGET_KEYS` / :data:`TRAIN_META_KEYS`
    (plus ``inputs['img']``). Arrays are float32 NumPy; ``is_valid_fit`` and ``is_3D`` are Python floats.
    J = ``human_model.joint_num`` (29 / 21), V = ``human_model.vertex_num`` (6890 / 778).
    """
    img, img2bb, _ = load_crop(record, aug, grid)
    model_names = human_model.joints_name
    num_j, num_v = human_model.joint_num, human_model.vertex_num

    native = None
    if spec.joint_set is not None and record.joint_img is not None:
        native = native_joints(record, spec, aug, img2bb, grid)
        names = spec.joint_set.names
        orig_joint_img = transform_joint_to_other_db(native.img_hm, names, model_names)
        orig_joint_valid = transform_joint_to_other_db(native.valid, names, model_names)
        orig_joint_trunc = transform_joint_to_other_db(native.trunc, names, model_names)
        if native.cam_rel is not None:
            cam_m = rotate_points_3d(native.cam_rel, aug.rot) / spec.unit_per_m
            orig_joint_cam = transform_joint_to_other_db(cam_m, names, model_names)
        else:
            orig_joint_cam = np.zeros((num_j, 3), dtype=np.float32)
    else:
        orig_joint_img = np.zeros((num_j, 3), dtype=np.float32)
        orig_joint_cam = np.zeros((num_j, 3), dtype=np.float32)
        orig_joint_valid = np.zeros((num_j, 1), dtype=np.float32)
        orig_joint_trunc = np.zeros((num_j, 1), dtype=np.float32)

    fit = None
    is_valid_fit = False
    if record.params is not None:
        fit = fit_model(human_model, record, spec, aug, img2bb, grid)
        is_valid_fit = spec.fit_check is None or spec.fit_check.passes(fit, native, record, img2bb, grid)

    if fit is not None:
        fit_joint_img, fit_mesh_img = fit.joint_img, fit.mesh_img
        fit_joint_cam, pose_param, shape_param = fit.joint_cam, fit.pose_param, fit.shape_param
        fit_joint_trunc, fit_mesh_trunc = fit.joint_trunc, fit.mesh_trunc
    else:  # zero-filled dummies; the root-rotation augmentation is still applied to the zero pose
        num_pose = 3 * human_model.orig_joint_num
        fit_joint_img = np.zeros((num_j, 3), dtype=np.float32)
        fit_mesh_img = np.zeros((num_v, 3), dtype=np.float32)
        fit_joint_cam = np.zeros((num_j, 3), dtype=np.float32)
        pose_param = rotate_root_pose(np.zeros(num_pose, dtype=np.float32), aug.rot).astype(np.float32)
        shape_param = np.zeros(10, dtype=np.float32)
        fit_joint_trunc = np.zeros((num_j, 1), dtype=np.float32)
        fit_mesh_trunc = np.zeros((num_v, 1), dtype=np.float32)

    f32 = _as_f32
    inputs = {"img": img}
    targets = {
        "orig_joint_img": f32(orig_joint_img), "fit_joint_img": f32(fit_joint_img), "fit_mesh_img": f32(fit_mesh_img),
        "orig_joint_cam": f32(orig_joint_cam), "fit_joint_cam": f32(fit_joint_cam),
        "pose_param": f32(pose_param), "shape_param": f32(shape_param),
    }
    meta_info = {
        "orig_joint_valid": f32(orig_joint_valid), "orig_joint_trunc": f32(orig_joint_trunc),
        "fit_joint_trunc": f32(fit_joint_trunc), "fit_mesh_trunc": f32(fit_mesh_trunc),
        "is_valid_fit": float(is_valid_fit), "is_3D": float(spec.is_3d),
    }
    return inputs, targets, meta_info


def make_test_sample(record: SampleRecord, grid: Grid, extra_targets: dict[str, np.ndarray] | None = None,
                     ) -> tuple[dict[str, torch.Tensor], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One test sample (docs/data.md#sample-dicts): identity augmentation crop of ``record.bbox``.

    Returns ({'img': (3, H_in, W_in) float32}, ``extra_targets`` or {}, {'bb2img_trans': (2, 3) float32}).
    """
    img, _, bb2img = load_crop(record, identity_aug_params(), grid)
    targets = {k: _as_f32(v) for k, v in (extra_targets or {}).items()}
    return {"img": img}, targets, {"bb2img_trans": _as_f32(bb2img)}


def _as_f32(arr: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(arr, dtype=np.float32)
