"""The record types of the shared sample pipeline: what a dataset reader produces and how it describes itself.

Every reader (Human36M, MuCo, MSCOCO, PW3D, FreiHAND) turns its own annotation format into :class:`SampleRecord`
objects and describes itself with a :class:`PipelineSpec`; :mod:`data.pipeline` turns a record into a sample.

Units (stated per field below): "data unit" is the unit of a dataset's annotations — millimetres for Human3.6M and
MuCo (``unit_per_m = 1000``), metres for MSCOCO SMPLify fits and FreiHAND (``unit_per_m = 1``). The depth extent of
the 64³ grid in data units is ``bbox_3d_size_m * unit_per_m`` (2000 mm / 2 m / 0.3 m). "hm units" are coordinates
on the (D, H_hm, W_hm) output grid (docs/conventions.md).
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from common.config import Config

#: Keys of the training ``targets`` dict, in order (docs/data.md#sample-dicts).
TRAIN_TARGET_KEYS = ("orig_joint_img", "fit_joint_img", "fit_mesh_img", "orig_joint_cam", "fit_joint_cam",
                     "pose_param", "shape_param")
#: Keys of the training ``meta_info`` dict, in order (docs/data.md#sample-dicts).
TRAIN_META_KEYS = ("orig_joint_valid", "orig_joint_trunc", "fit_joint_trunc", "fit_mesh_trunc", "is_valid_fit",
                   "is_3D")

#: |beta_i| above this resets the ``shape_param`` target to zeros, after the mesh was built, so the targets equal the
#: original's (docs/quirks.md#q-shape-reset-after-mesh).
SHAPE_RESET_LIMIT = 3.0


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


#: Human3.6M 17-joint set, also the row order of ``J_regressor_h36m_correct.npy``
#: (docs/body_models.md#external-regressors).
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
    def from_config(cfg: Config) -> "Grid":
        return Grid(tuple(cfg.input_img_shape), tuple(cfg.output_hm_shape), float(cfg.bbox_3d_size))

    @property
    def aspect_ratio(self) -> float:
        """W_in / H_in of the network crop: boxes are extended to it (docs/conventions.md#bbox-processing)."""
        return self.input_img_shape[1] / self.input_img_shape[0]

    def depth_extent(self, unit_per_m: float) -> float:
        """S' in data units (2000 for millimetre bodies, 2 for metre bodies, 0.3 for hands)."""
        return self.bbox_3d_size_m * unit_per_m


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


@dataclass(frozen=True)
class FitResult:
    """Targets and intermediates of one fitted SMPL/MANO sample.

    mesh, joints: (V, 3), (J, 3) camera space in data units, after the flip translation (used by fitting errors).
    mesh_img, joint_img: hm units (root = the model's kinematic root depth, not the dataset's root as for native
    joints: docs/quirks.md#q-two-depth-origins). mesh_trunc, joint_trunc: (V, 1), (J, 1) inside-grid masks.
    joint_cam: (J, 3) root-relative, rotation-augmented; metres for SMPL, millimetres for MANO, the units the
    released weights were trained with (docs/quirks.md#q-param-stage-units). pose_param: (3K,) camera frame, flipped
    if flipping, root rotated by R_aug. shape_param: (10,) betas (zeroed for SMPL if any |beta| > 3).
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
    fit_check: FitCheck | None = None
