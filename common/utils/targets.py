"""The shared sample pipeline: one datalist record + one augmentation draw -> (inputs, targets, meta_info).

Every dataset reader (Human36M, MuCo, MSCOCO, PW3D, FreiHAND) turns its own annotation format into
:class:`SampleRecord` objects and describes itself with a :class:`PipelineSpec`; everything else — image crop,
native-joint targets, SMPL/MANO fit targets, fitting-error tests, rotation augmentation, the exact output dicts —
is written once here (spec: ``datasets.md`` §0–§5, ``preprocessing.md`` §4–§9).

Units (stated per field below): "data unit" is the unit of a dataset's annotations — millimetres for Human3.6M and
MuCo (``unit_per_m = 1000``), metres for MSCOCO SMPLify fits and FreiHAND (``unit_per_m = 1``). The depth extent of
the 64³ grid in data units is ``bbox_3d_size_m * unit_per_m`` (2000 mm / 2 m / 0.3 m). "hm units" are coordinates
on the (D, H_hm, W_hm) output grid.

All functions are pure apart from reading the image file; randomness comes only through the :class:`AugParams`
the caller drew from its own generator.
"""
from __future__ import annotations

import abc
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import cv2
import numpy as np
import torch

from common.utils.human_models import MANO, SMPL, HumanModel
from common.utils.preprocessing import AugParams, augment_image, identity_aug_params, load_img, to_input_tensor
from common.utils.transforms import (
    cam2pixel,
    flip_joints_2d,
    flip_joints_3d,
    flip_smpl_pose,
    flip_translation,
    image_to_hm_xy,
    rotate_points_3d,
    rotate_root_pose,
    swap_pairs,
    transform_joint_to_other_db,
    truncation_mask,
    voxelize,
)

__all__ = [
    "JointSet",
    "H36M_JOINTS",
    "CameraParams",
    "ModelParams",
    "SampleRecord",
    "Grid",
    "PipelineSpec",
    "NativeJoints",
    "FitResult",
    "FitCheck",
    "RegressedJointsCheck",
    "ProjectedKeypointsCheck",
    "append_pelvis",
    "merge_camera_rotation",
    "load_crop",
    "native_joints",
    "single_threaded_torch",
    "posed_model",
    "fit_model",
    "model_mesh_cam",
    "make_train_sample",
    "make_test_sample",
    "TRAIN_TARGET_KEYS",
    "TRAIN_META_KEYS",
]

#: Keys of the training ``targets`` dict, in order (datasets.md §0.1).
TRAIN_TARGET_KEYS = ("orig_joint_img", "fit_joint_img", "fit_mesh_img", "orig_joint_cam", "fit_joint_cam",
                     "pose_param", "shape_param")
#: Keys of the training ``meta_info`` dict, in order (datasets.md §0.1).
TRAIN_META_KEYS = ("orig_joint_valid", "orig_joint_trunc", "fit_joint_trunc", "fit_mesh_trunc", "is_valid_fit",
                   "is_3D")

#: |beta_i| above this resets the ``shape_param`` target to zeros (after the mesh was built, quirk Q18).
SHAPE_RESET_LIMIT = 3.0


# --------------------------------------------------------------------------------------------------------------------
# Records and specs
# --------------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class JointSet:
    """A dataset's native joint set: names (order = array rows), left/right flip pairs, root joint index."""

    names: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...]
    root_idx: int

    @property
    def num(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        return self.names.index(name)


#: Human3.6M 17-joint set (body_models.md §6), also the row order of ``J_regressor_h36m_correct.npy``.
H36M_JOINTS = JointSet(
    names=("Pelvis", "R_Hip", "R_Knee", "R_Ankle", "L_Hip", "L_Knee", "L_Ankle", "Torso", "Neck", "Nose",
           "Head_top", "L_Shoulder", "L_Elbow", "L_Wrist", "R_Shoulder", "R_Elbow", "R_Wrist"),
    flip_pairs=((1, 4), (2, 5), (3, 6), (14, 11), (15, 12), (16, 13)),
    root_idx=0,
)


@dataclass(frozen=True)
class CameraParams:
    """Pinhole camera. ``focal`` (f_x, f_y) and ``princpt`` (c_x, c_y) in pixels, (2,) float32.

    ``R`` (3, 3) world-to-camera rotation and ``t`` (3,) translation in the dataset's data unit, only for datasets
    whose SMPL parameters live in a world frame (Human3.6M); ``None`` otherwise.
    """

    focal: np.ndarray
    princpt: np.ndarray
    R: np.ndarray | None = None
    t: np.ndarray | None = None

    @staticmethod
    def make(focal: Sequence[float], princpt: Sequence[float], R: Any = None, t: Any = None) -> "CameraParams":
        return CameraParams(
            focal=np.asarray(focal, dtype=np.float32).reshape(2),
            princpt=np.asarray(princpt, dtype=np.float32).reshape(2),
            R=None if R is None else np.asarray(R, dtype=np.float32).reshape(3, 3),
            t=None if t is None else np.asarray(t, dtype=np.float32).reshape(3),
        )


@dataclass(frozen=True)
class ModelParams:
    """SMPL/MANO parameters of one person: ``pose`` (72,) or (48,) axis-angle radians, ``shape`` (10,) betas,
    ``trans`` (3,) metres, ``gender`` ('neutral' | 'male' | 'female', SMPL only)."""

    pose: np.ndarray
    shape: np.ndarray
    trans: np.ndarray
    gender: str = "neutral"

    @staticmethod
    def make(pose: Sequence[float], shape: Sequence[float], trans: Sequence[float],
             gender: str = "neutral") -> "ModelParams":
        return ModelParams(
            pose=np.asarray(pose, dtype=np.float32).reshape(-1),
            shape=np.asarray(shape, dtype=np.float32).reshape(-1),
            trans=np.asarray(trans, dtype=np.float32).reshape(3),
            gender=gender,
        )


@dataclass
class SampleRecord:
    """One datalist entry, as built by a dataset reader at load time.

    img_path: image file. img_shape: (H, W) pixels. bbox: (4,) processed (x, y, w, h) pixels (aspect-fixed and
    extended; RootNet boxes as given). cam: the camera the fit / native joints are projected with (``None`` when there
    is neither, e.g. an MSCOCO training person without a SMPLify fit). root_depth: root Z in data units, test-time
    back-projection only (``None`` = taken from ground truth at evaluation). joint_img: (N, 3) native joints (u, v) in
    original-image pixels + camera depth (data unit; 0 for 2D-only data). joint_cam: (N, 3) native camera-space joints,
    data unit (``None`` for 2D-only data). joint_valid: (N, 1) 0/1. params: SMPL/MANO fit or ``None``. ids: anything
    the reader wants to keep (image id, annotation id, ...).
    """

    img_path: Path
    img_shape: tuple[int, int]
    bbox: np.ndarray
    cam: CameraParams | None = None
    root_depth: float | None = None
    joint_img: np.ndarray | None = None
    joint_cam: np.ndarray | None = None
    joint_valid: np.ndarray | None = None
    params: ModelParams | None = None
    ids: dict[str, Any] = field(default_factory=dict)

    @property
    def img_width(self) -> int:
        return int(self.img_shape[1])


@dataclass(frozen=True)
class Grid:
    """Crop and output-grid geometry: ``input_img_shape`` (H_in, W_in) pixels, ``output_hm_shape`` (D, H, W),
    ``bbox_3d_size_m`` the grid's depth extent in metres (2 body, 0.3 hand)."""

    input_img_shape: tuple[int, int] = (256, 256)
    output_hm_shape: tuple[int, int, int] = (64, 64, 64)
    bbox_3d_size_m: float = 2.0

    @staticmethod
    def from_config(cfg: Any) -> "Grid":
        return Grid(tuple(cfg.input_img_shape), tuple(cfg.output_hm_shape), float(cfg.bbox_3d_size))

    @property
    def aspect_ratio(self) -> float:
        """W_in / H_in of the network crop: the aspect ratio boxes are extended to (preprocessing.md §2.2)."""
        return self.input_img_shape[1] / self.input_img_shape[0]

    def depth_extent(self, unit_per_m: float) -> float:
        """S' in data units (2000 for millimetre bodies, 2 for metre bodies, 0.3 for hands)."""
        return self.bbox_3d_size_m * unit_per_m


@dataclass(frozen=True)
class PipelineSpec:
    """Which pipeline pieces apply to a dataset's training samples.

    joint_set: native joint set, or ``None`` when the dataset provides no native joints (FreiHAND).
    is_3d: native joints carry depth (Human36M, MuCo; and FreiHAND's ``is_3D`` flag); False for MSCOCO.
    unit_per_m: data units per metre (1000 for millimetre annotations, 1 for metres).
    allow_flip: horizontal flip augmentation allowed (False for FreiHAND).
    world_frame_params: SMPL pose/trans are in a world frame: merge the camera rotation into the root and compensate
        the translation with the camera (R, t) (Human3.6M).
    fit_check: fitting-error test deciding ``is_valid_fit``; ``None`` = every existing fit is valid.
    """

    joint_set: JointSet | None
    is_3d: bool
    unit_per_m: float
    allow_flip: bool = True
    world_frame_params: bool = False
    fit_check: "FitCheck | None" = None


# --------------------------------------------------------------------------------------------------------------------
# Image
# --------------------------------------------------------------------------------------------------------------------

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

@dataclass(frozen=True)
class NativeJoints:
    """Native-joint intermediates, in the dataset's own joint order, after the flip.

    img_hm: (N, 3) float32 hm units (z = 0 for 2D-only data); cam_rel: (N, 3) root-relative camera space in data
    units, flipped, **not** rotation-augmented (``None`` for 2D-only data); valid: (N, 1); trunc: (N, 1) = valid ×
    inside-grid (x, y only for 2D data).
    """

    img_hm: np.ndarray
    cam_rel: np.ndarray | None
    valid: np.ndarray
    trunc: np.ndarray


def native_joints(record: SampleRecord, spec: PipelineSpec, aug: AugParams, img2bb: np.ndarray,
                  grid: Grid) -> NativeJoints:
    """Flip, affine-transform and voxelise the native joints of ``record`` (preprocessing.md §6–§7).

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


def append_pelvis(joints: np.ndarray, lhip_idx: int, rhip_idx: int) -> np.ndarray:
    """Append a pelvis row to (N, 3) joints: x, y = mean of the two hips; third column = **product** of the hips'
    third columns (right for COCO visibility flags; for 3D points it is the original's pelvis-depth bug, quirk Q19).
    Returns (N + 1, 3)."""
    joints = np.asarray(joints)
    pelvis = np.empty((1, joints.shape[1]), dtype=joints.dtype)
    pelvis[0, :2] = (joints[lhip_idx, :2] + joints[rhip_idx, :2]) * 0.5
    pelvis[0, 2] = joints[lhip_idx, 2] * joints[rhip_idx, 2]
    return np.concatenate((joints, pelvis), axis=0)


# --------------------------------------------------------------------------------------------------------------------
# Fitted SMPL / MANO
# --------------------------------------------------------------------------------------------------------------------

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


@dataclass(frozen=True)
class FitResult:
    """Targets and intermediates of one fitted SMPL/MANO sample.

    mesh, joints: (V, 3), (J, 3) camera space in data units, after the flip translation (used by fitting errors).
    mesh_img, joint_img: hm units (root = the model's kinematic root depth, quirk Q26). mesh_trunc, joint_trunc:
    (V, 1), (J, 1) inside-grid masks. joint_cam: (J, 3) root-relative, rotation-augmented; metres for SMPL,
    millimetres for MANO (quirk Q12). pose_param: (3K,) camera frame, flipped if flipping, root rotated by R_aug.
    shape_param: (10,) betas (zeroed for SMPL if any |beta| > 3).
    """

    mesh: np.ndarray
    joints: np.ndarray
    mesh_img: np.ndarray
    joint_img: np.ndarray
    mesh_trunc: np.ndarray
    joint_trunc: np.ndarray
    joint_cam: np.ndarray
    pose_param: np.ndarray
    shape_param: np.ndarray


def fit_model(human_model: HumanModel, record: SampleRecord, spec: PipelineSpec, aug: AugParams,
              img2bb: np.ndarray, grid: Grid) -> FitResult:
    """SMPL/MANO fit targets (datasets.md §1.4, §2, §3.1, §5).

    Steps: camera merge of the root (world-frame params only) -> flip the pose -> layer without translation
    (+ face-vertex joints) -> translation (camera-frame ``trans``, or the compensation
    T = R·trans + t/unit − J_0 + R·J_0 for world-frame params) -> flip translation -> shape reset (SMPL, after the
    mesh, Q18) -> data units -> projection with ``record.cam`` -> voxelisation relative to the model's root depth ->
    truncation masks -> root-relative, rotation-augmented camera joints and root-rotated pose.
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

    out_per_m = 1000.0 if is_hand else 1.0  # MANO camera targets in millimetres (Q12)
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


# --------------------------------------------------------------------------------------------------------------------
# Fitting-error tests
# --------------------------------------------------------------------------------------------------------------------

class FitCheck(abc.ABC):
    """Decides ``is_valid_fit`` from a fit and the sample's native joints: error <= threshold."""

    threshold: float

    @abc.abstractmethod
    def error(self, fit: FitResult, native: NativeJoints | None, record: SampleRecord, img2bb: np.ndarray,
              grid: Grid) -> float:
        """The fitting error (unit: see the subclass); ``inf`` if nothing can be compared."""

    def passes(self, fit: FitResult, native: NativeJoints | None, record: SampleRecord, img2bb: np.ndarray,
               grid: Grid) -> bool:
        return bool(self.error(fit, native, record, img2bb, grid) <= self.threshold)


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
    """MSCOCO fitting error in hm pixels, threshold 3.0 (quirks Q19, Q20).

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


# --------------------------------------------------------------------------------------------------------------------
# Whole samples
# --------------------------------------------------------------------------------------------------------------------

def make_train_sample(record: SampleRecord, aug: AugParams, human_model: HumanModel, spec: PipelineSpec,
                      grid: Grid) -> tuple[dict[str, torch.Tensor], dict[str, np.ndarray], dict[str, Any]]:
    """One training sample (datasets.md §0.1 body / §5 hand).

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
    """One test sample (datasets.md §0.2): identity augmentation crop of ``record.bbox``.

    Returns ({'img': (3, H_in, W_in) float32}, ``extra_targets`` or {}, {'bb2img_trans': (2, 3) float32}).
    """
    img, _, bb2img = load_crop(record, identity_aug_params(), grid)
    targets = {k: _as_f32(v) for k, v in (extra_targets or {}).items()}
    return {"img": img}, targets, {"bb2img_trans": _as_f32(bb2img)}


def _as_f32(arr: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(arr, dtype=np.float32)
