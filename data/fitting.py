"""SMPL / MANO fit targets of the shared sample pipeline and the fitting-error checks that reject bad fits.

A fitted record's parameters are posed with the human model (augmentation rotation and flip applied to the
parameters), projected to the crop and voxelised; a :class:`FitCheck` compares the fit with the dataset's own
annotations and marks the sample's fit targets invalid when they disagree (docs/data.md).
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import cv2
import numpy as np
import torch

from common.utils.human_models import MANO, SMPL, HumanModel
from common.utils.preprocessing import AugParams
from common.utils.transforms import (
    cam2pixel,
    flip_smpl_pose,
    flip_translation,
    image_to_hm_xy,
    rotate_points_3d,
    rotate_root_pose,
    transform_joint_to_other_db,
    truncation_mask,
    voxelize,
)
from data.records import (
    H36M_JOINTS,
    SHAPE_RESET_LIMIT,
    FitCheck,
    FitResult,
    Grid,
    ModelParams,
    NativeJoints,
    PipelineSpec,
    SampleRecord,
)


def merge_camera_rotation(root_pose: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Global orientation from a world frame to the camera frame: axis-angle(R · Rodrigues(root)) (OpenCV Rodrigues).
    ``root_pose`` (3,) radians, ``R`` (3, 3) world-to-camera. Returns (3,) float32."""
    root_mat, _ = cv2.Rodrigues(np.asarray(root_pose, dtype=np.float64).reshape(3))
    merged, _ = cv2.Rodrigues(np.asarray(R, dtype=np.float64) @ root_mat)
    return merged.reshape(3).astype(np.float32)


@contextlib.contextmanager
def single_threaded_torch() -> Iterator[None]:
    """Run the enclosed torch CPU ops with one intra-op thread (the previous count is restored afterwards).

    Targets then do not depend on the process's thread count: DataLoader workers run with one thread, the main
    process (``num_workers=0``) with many, and a multi-threaded float32 reduction may sum in another order. One
    thread is also the fastest for a single SMPL/MANO forward. Not for code that runs torch ops in another Python
    thread at the same time (the thread count is process-wide).
    """
    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def posed_model(human_model: HumanModel, pose: np.ndarray, shape: np.ndarray,
                gender: str = "neutral") -> tuple[np.ndarray, np.ndarray]:
    """Run the layer **without translation**; return (mesh (V, 3), joints (J, 3)) float32 in **metres**.

    SMPL: 6890 vertices and 29 joints = 24 kinematic joints + the 5 face vertices (331, 2802, 6262, 3489, 3990).
    MANO: 778 vertices and the layer's 21 joints (middle tip = vertex 444), converted from the layer's mm.
    Computed single-threaded (:func:`single_threaded_torch`): bit-identical in every process.
    """
    pose_t = torch.from_numpy(np.asarray(pose, dtype=np.float32).reshape(1, -1))
    shape_t = torch.from_numpy(np.asarray(shape, dtype=np.float32).reshape(1, -1))
    with torch.no_grad(), single_threaded_torch():
        if isinstance(human_model, MANO):
            verts, joints = human_model.forward(pose_t, shape_t)
            return verts[0].numpy() / 1000.0, joints[0].numpy() / 1000.0
        verts, joints = human_model.forward(pose_t, shape_t, gender=gender)
    mesh = verts[0].numpy()
    joints = np.concatenate((joints[0].numpy(), mesh[list(human_model.face_kps_vertex)]), axis=0)
    return mesh, joints


def model_mesh_cam(human_model: HumanModel, params: ModelParams) -> np.ndarray:
    """Camera-space mesh with translation, metres, (V, 3) float32 (e.g. 3DPW GT with the gendered SMPL layer)."""
    gender = params.gender if isinstance(human_model, SMPL) else "neutral"
    mesh, _ = posed_model(human_model, params.pose, params.shape, gender=gender)
    return (mesh + params.trans[None, :]).astype(np.float32)


def fit_model(human_model: HumanModel, record: SampleRecord, spec: PipelineSpec, aug: AugParams,
              img2bb: np.ndarray, grid: Grid) -> FitResult:
    """SMPL/MANO fit targets (docs/data.md#fit-targets).

    Steps: camera merge of the root (world-frame params only) -> flip the pose -> layer without translation
    (+ face-vertex joints) -> translation (camera-frame ``trans``, or the compensation
    T = R·trans + t/unit − J_0 + R·J_0 for world-frame params) -> flip translation -> shape reset (SMPL, after the
    mesh, as the original: docs/quirks.md#q-shape-reset-after-mesh) -> data units -> projection with ``record.cam``
    -> voxelisation relative to the model's root depth -> truncation masks -> root-relative, rotation-augmented camera
    joints and root-rotated pose.
    """
    if record.params is None or record.cam is None:
        raise ValueError("fit_model: the record has no model parameters or no camera")
    is_hand = isinstance(human_model, MANO)
    if is_hand and aug.do_flip:
        raise ValueError("fit_model: MANO (right-hand) fits cannot be flipped")
    cam = record.cam
    params = record.params
    root = human_model.root_joint_idx
    pose = np.array(params.pose, dtype=np.float32, copy=True)
    if spec.world_frame_params:
        if cam.R is None or cam.t is None:
            raise ValueError("fit_model: world-frame parameters need the camera's R and t")
        pose[:3] = merge_camera_rotation(pose[:3], cam.R)
    if aug.do_flip:
        pose = flip_smpl_pose(pose, human_model.orig_flip_pairs).astype(np.float32)

    mesh, joints = posed_model(human_model, pose, params.shape)  # metres, no translation
    if spec.world_frame_params:
        j0 = joints[root]
        offset = cam.R @ params.trans + cam.t / spec.unit_per_m - j0 + cam.R @ j0
    else:
        offset = params.trans
    mesh = mesh + offset[None, :]
    joints = joints + offset[None, :]
    if aug.do_flip:
        dx = flip_translation(float(joints[root, 0]), float(joints[root, 2]), float(cam.focal[0]),
                              float(cam.princpt[0]), record.img_width)
        mesh[:, 0] += dx
        joints[:, 0] += dx

    shape_param = np.array(params.shape, dtype=np.float32, copy=True)
    if not is_hand and np.any(np.abs(shape_param) > SHAPE_RESET_LIMIT):
        shape_param = np.zeros_like(shape_param)

    mesh = (mesh * spec.unit_per_m).astype(np.float32)
    joints = (joints * spec.unit_per_m).astype(np.float32)
    root_depth = float(joints[root, 2])
    extent = grid.depth_extent(spec.unit_per_m)
    mesh_img = voxelize(cam2pixel(mesh, cam.focal, cam.princpt), root_depth, img2bb, extent,
                        grid.input_img_shape, grid.output_hm_shape)
    joint_img = voxelize(cam2pixel(joints, cam.focal, cam.princpt), root_depth, img2bb, extent,
                         grid.input_img_shape, grid.output_hm_shape)

    out_per_m = human_model.param_unit_per_m  # camera targets in the unit of the param-stage output
    joint_cam = rotate_points_3d(joints - joints[root][None, :], aug.rot) / spec.unit_per_m * out_per_m
    return FitResult(
        mesh=mesh,
        joints=joints,
        mesh_img=mesh_img,
        joint_img=joint_img,
        mesh_trunc=truncation_mask(mesh_img, grid.output_hm_shape),
        joint_trunc=truncation_mask(joint_img, grid.output_hm_shape),
        joint_cam=joint_cam.astype(np.float32),
        pose_param=rotate_root_pose(pose, aug.rot).astype(np.float32),
        shape_param=shape_param,
    )


class RegressedJointsCheck(FitCheck):
    """Human3.6M / MuCo fitting error in data units (mm), threshold 25 mm.

    The native root-relative, flipped camera joints are converted by name to the regressor's joint set (H36M 17);
    only joints present in both are compared with ``regressor`` · mesh, after translating the regressed set so that
    its mean equals the native mean; error = mean Euclidean distance.
    """

    def __init__(self, regressor: np.ndarray, native_names: Sequence[str],
                 regressor_names: Sequence[str] = H36M_JOINTS.names, threshold: float = 25.0) -> None:
        self.regressor = np.asarray(regressor, dtype=np.float64)
        if self.regressor.shape[0] != len(regressor_names):
            raise ValueError(f"RegressedJointsCheck: regressor has {self.regressor.shape[0]} rows, "
                             f"expected {len(regressor_names)}")
        self.native_names = tuple(native_names)
        self.regressor_names = tuple(regressor_names)
        shared = set(self.native_names) & set(self.regressor_names)
        self.rows = np.array([i for i, n in enumerate(self.regressor_names) if n in shared], dtype=np.int64)
        if self.rows.size == 0:
            raise ValueError("RegressedJointsCheck: no joint name in common between the native and regressor sets")
        self.threshold = float(threshold)

    def error(self, fit: FitResult, native: NativeJoints | None, record: SampleRecord, img2bb: np.ndarray,
              grid: Grid) -> float:
        if native is None or native.cam_rel is None:
            raise ValueError("RegressedJointsCheck needs native 3D joints")
        target = transform_joint_to_other_db(native.cam_rel, self.native_names, self.regressor_names)[self.rows]
        regressed = (self.regressor @ fit.mesh.astype(np.float64))[self.rows]
        regressed = regressed - regressed.mean(axis=0, keepdims=True) + target.mean(axis=0, keepdims=True)
        return float(np.sqrt(((target - regressed) ** 2).sum(axis=1)).mean())


class ProjectedKeypointsCheck(FitCheck):
    """MSCOCO fitting error in hm pixels, threshold 3.0, measured after the random crop as the original does.

    Both the crop dependence and the pelvis-depth product below are kept because they decide which MSCOCO fits
    trained the released models (docs/quirks.md#q-coco-pelvis-depth-product,
    docs/quirks.md#q-coco-fit-error-after-augmentation).

    17 COCO joints regressed from the fitted mesh (metres) + a pelvis built with :func:`append_pelvis` (depth =
    Z_lhip · Z_rhip, the original's bug), projected with the fit camera, mapped through ``img2bb`` and /4, compared
    in x, y with the native (flipped, mapped) keypoints over valid joints; error = mean Euclidean distance.
    """

    def __init__(self, regressor: np.ndarray, lhip_idx: int, rhip_idx: int, threshold: float = 3.0) -> None:
        self.regressor = np.asarray(regressor, dtype=np.float64)
        self.lhip_idx = lhip_idx
        self.rhip_idx = rhip_idx
        self.threshold = float(threshold)

    def error(self, fit: FitResult, native: NativeJoints | None, record: SampleRecord, img2bb: np.ndarray,
              grid: Grid) -> float:
        if native is None or record.cam is None:
            raise ValueError("ProjectedKeypointsCheck needs native keypoints and the fit camera")
        regressed = append_pelvis(self.regressor @ fit.mesh.astype(np.float64), self.lhip_idx, self.rhip_idx)
        proj = cam2pixel(regressed, record.cam.focal, record.cam.princpt)
        proj_hm = image_to_hm_xy(proj[:, :2], img2bb, grid.input_img_shape, grid.output_hm_shape)
        mask = native.valid.reshape(-1) > 0
        if proj_hm.shape[0] != mask.shape[0]:
            raise ValueError(f"ProjectedKeypointsCheck: {proj_hm.shape[0]} regressed joints vs "
                             f"{mask.shape[0]} native joints")
        if not mask.any():
            return float("inf")
        diff = proj_hm[mask] - native.img_hm[mask, :2]
        return float(np.sqrt((diff.astype(np.float64) ** 2).sum(axis=1)).mean())


def append_pelvis(joints: np.ndarray, lhip_idx: int, rhip_idx: int) -> np.ndarray:
    """Append a pelvis row to (N, 3) joints: x, y = mean of the two hips; third column = **product** of the hips'
    third columns (right for COCO visibility flags; for 3D points it is the original's pelvis-depth bug, kept:
    docs/quirks.md#q-coco-pelvis-depth-product). Returns (N + 1, 3)."""
    joints = np.asarray(joints)
    pelvis = np.empty((1, joints.shape[1]), dtype=joints.dtype)
    pelvis[0, :2] = (joints[lhip_idx, :2] + joints[rhip_idx, :2]) * 0.5
    pelvis[0, 2] = joints[lhip_idx, 2] * joints[rhip_idx, 2]
    return np.concatenate((joints, pelvis), axis=0)
