"""SMPL (body) and MANO (right hand) models with the joint sets I2L-MeshNet builds on them.

Semantics follow the original's vendored layers (docs/body_models.md):

* :class:`SMPL`: 29-joint set = 24 SMPL kinematic joints + 5 face vertices (nose, eyes, ears).  The layer returns
  vertices and the 24 *kinematic* joints in **metres**.  ``joint_regressor`` (29 x 6890) = the 24 ``J_regressor``
  rows + one-hot face-vertex rows, used for joints computed *from a mesh*.
* :class:`MANO`: 21-joint set (wrist, then thumb/index/middle/ring/pinky from base to tip).  The layer returns
  vertices and 21 joints in **millimetres** (x1000 like the original's vendored layer), its fingertips taken at
  vertices 745, 317, **444**, 556, 673; the I2L regressor ``joint_regressor`` (21 x 778) uses vertex **445** for the
  middle fingertip (kept on purpose: the released hand model's targets and submitted joints depend on both;
  docs/quirks.md#q-middle-fingertip-444-445).

Layers are ``smplx`` modules built from the official ``.pkl`` files read by the safe reader
(:mod:`common.utils.model_files`), with ``use_pca=False, flat_hand_mean=False`` for MANO.
"""
from __future__ import annotations

import contextlib
import copy
import io
from collections import OrderedDict
from pathlib import Path

import numpy as np
import smplx
import torch
from smplx.utils import Struct

from common.utils.model_files import ModelFileError, load_model_file

SMPL_FILENAMES = {
    "neutral": "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl",
    "male": "basicModel_m_lbs_10_207_0_v1.0.0.pkl",
    "female": "basicModel_f_lbs_10_207_0_v1.0.0.pkl",
}
MANO_FILENAME = "MANO_RIGHT.pkl"

_SMPL_SOURCES = {
    "neutral": "https://smplify.is.tue.mpg.de (SMPLify download, file models/" + SMPL_FILENAMES["neutral"] + ")",
    "male": "https://smpl.is.tue.mpg.de (SMPL for Python v1.0.0, file " + SMPL_FILENAMES["male"] + ")",
    "female": "https://smpl.is.tue.mpg.de (SMPL for Python v1.0.0, file " + SMPL_FILENAMES["female"] + ")",
}
_MANO_SOURCE = "https://mano.is.tue.mpg.de (Models & Code, file mano_v1_2/models/MANO_RIGHT.pkl)"

_SMPL_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "f", "kintree_table")
_MANO_KEYS = _SMPL_KEYS + ("hands_components", "hands_mean")


def _model_path(model_dir: Path, filename: str, source: str) -> Path:
    path = Path(model_dir) / filename
    if not path.is_file():
        raise ModelFileError(
            f"model file '{filename}' not found in '{Path(model_dir).resolve()}'. Download it from {source}, "
            f"place it in that folder under this exact name, or point --human_model_dir to the folder holding it. "
            f"(For tests and quick starts, `python -m tools.synthetic.body_models --out <folder>` writes synthetic "
            f"stand-ins.)"
        )
    return path


def _check_bs_type(data: dict, path: str) -> None:
    bs_type = data.get("bs_type", "lrotmin")
    if isinstance(bs_type, bytes):
        bs_type = bs_type.decode("latin1")
    if str(bs_type) != "lrotmin":
        raise ModelFileError(f"{path}: bs_type is {bs_type!r}, only 'lrotmin' models are supported")


def _vendored_layer_buffers(data: dict) -> "OrderedDict[str, torch.Tensor]":
    """The buffers the original's vendored SMPL/MANO layers keep in checkpoints, in their order.

    See docs/network.md#human-model-buffers."""
    return OrderedDict([
        # the file's 'betas' when present, else zeros (the official files have none)
        ("th_betas", torch.as_tensor(np.asarray(data.get("betas", np.zeros(10)))[:10].reshape(1, 10),
                                     dtype=torch.float32)),
        ("th_shapedirs", torch.as_tensor(np.asarray(data["shapedirs"])[:, :, :10], dtype=torch.float32)),
        ("th_posedirs", torch.as_tensor(np.asarray(data["posedirs"]), dtype=torch.float32)),
        ("th_v_template", torch.as_tensor(np.asarray(data["v_template"]), dtype=torch.float32)[None]),
        ("th_J_regressor", torch.as_tensor(np.asarray(data["J_regressor"]), dtype=torch.float32)),
        ("th_weights", torch.as_tensor(np.asarray(data["weights"]), dtype=torch.float32)),
        ("th_faces", torch.as_tensor(np.asarray(data["f"]).astype(np.int64))),
    ])


def _make_non_persistent(module: torch.nn.Module) -> torch.nn.Module:
    """Keep the layer's buffers out of ``state_dict`` (the network checkpoint carries only network weights)."""
    for sub in module.modules():
        for name, buf in list(sub.named_buffers(recurse=False)):
            sub.register_buffer(name, buf, persistent=False)
    return module


def _float32_data(data: dict) -> dict:
    """The model file's floating-point arrays as float32 (the layers compute in float32 anyway; halves what every
    process holds). Integer arrays (faces, kinematic tree) and other values are kept as they are."""
    return {k: v.astype(np.float32) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v
            for k, v in data.items()}


class _LayerCache(dict):
    """CPU layers for sample generation, built on demand and shared by every ``sample_copy()`` of one model.

    Pickled empty (and once per pickle, so the copies that shared it in one process share it after unpickling):
    each process, e.g. each DataLoader worker, builds at most one layer per gender.
    """

    def __reduce__(self) -> tuple:
        return (_LayerCache, ())


class _HumanModelBase:
    """What SMPL and MANO share: copies with their own or shared layers, and the unit of the param-stage output."""

    #: units of the layer's output (and of the param-stage mesh) per metre: 1 for SMPL, 1000 for MANO (millimetres,
    #: as the original's vendored hand layer, which the released hand weights were trained with)
    param_unit_per_m = 1.0
    _layers: dict
    _sample_layers: _LayerCache

    def copy_without_layers(self):
        """A copy sharing the (read-only) model data and joint sets that builds its own layers on first use.

        The network moves its layer to its device; data loaders keep theirs on the CPU.
        """
        clone = copy.copy(self)
        clone._layers = {}
        return clone

    def sample_copy(self):
        """A copy for CPU sample generation (datasets): every sample copy of this model (and of its copies) uses the
        same layers, so a process builds one CPU layer per gender however many datasets it holds."""
        clone = copy.copy(self)
        clone._layers = self._sample_layers
        return clone


class SMPL(_HumanModelBase):
    """SMPL body model with the 29-joint I2L set.  Coordinates in metres."""

    joint_num = 29
    orig_joint_num = 24
    vertex_num = 6890
    root_joint_idx = 0
    face_kps_vertex = (331, 2802, 6262, 3489, 3990)
    joints_name = (
        "Pelvis", "L_Hip", "R_Hip", "Torso", "L_Knee", "R_Knee", "Spine", "L_Ankle", "R_Ankle", "Chest",
        "L_Toe", "R_Toe", "Neck", "L_Thorax", "R_Thorax", "Head", "L_Shoulder", "R_Shoulder", "L_Elbow",
        "R_Elbow", "L_Wrist", "R_Wrist", "L_Hand", "R_Hand", "Nose", "L_Eye", "R_Eye", "L_Ear", "R_Ear",
    )
    flip_pairs = ((1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17), (18, 19), (20, 21), (22, 23), (25, 26),
                  (27, 28))
    skeleton = ((0, 1), (1, 4), (4, 7), (7, 10), (0, 2), (2, 5), (5, 8), (8, 11), (0, 3), (3, 6), (6, 9), (9, 14),
                (14, 17), (17, 19), (19, 21), (21, 23), (9, 13), (13, 16), (16, 18), (18, 20), (20, 22), (9, 12),
                (12, 24), (24, 15), (24, 25), (24, 26), (25, 27), (26, 28))
    parents = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)

    def __init__(self, model_dir: str | Path) -> None:
        self.model_dir = Path(model_dir)
        self._data: dict[str, dict] = {}
        self._layers: dict[str, smplx.SMPL] = {}
        self._sample_layers = _LayerCache()
        neutral = self.model_data("neutral")
        self.face = np.asarray(neutral["f"], dtype=np.int64)  # (13776, 3)
        regressor = np.asarray(neutral["J_regressor"], dtype=np.float32)  # (24, 6890)
        onehot = np.zeros((len(self.face_kps_vertex), regressor.shape[1]), dtype=np.float32)
        onehot[np.arange(len(self.face_kps_vertex)), self.face_kps_vertex] = 1.0
        self.joint_regressor = np.concatenate([regressor, onehot], axis=0)  # (29, 6890)
        self.orig_flip_pairs = tuple(p for p in self.flip_pairs if p[0] < 24 and p[1] < 24)

    def model_data(self, gender: str = "neutral") -> dict:
        """Plain-NumPy contents of the official ``.pkl`` of ``gender``, floating arrays float32 (read once, cached)."""
        if gender not in SMPL_FILENAMES:
            raise ValueError(f"unknown SMPL gender {gender!r}; use one of {list(SMPL_FILENAMES)}")
        if gender not in self._data:
            path = _model_path(self.model_dir, SMPL_FILENAMES[gender], _SMPL_SOURCES[gender])
            data = load_model_file(path, _SMPL_KEYS)
            _check_bs_type(data, str(path))
            self._data[gender] = _float32_data(data)
        return self._data[gender]

    def layer(self, gender: str = "neutral") -> smplx.SMPL:
        """The ``smplx.SMPL`` layer of ``gender`` (built lazily; its buffers are not persistent)."""
        if gender not in self._layers:
            data = dict(self.model_data(gender))
            with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a notice about 10 shape coefficients
                layer = smplx.SMPL(
                    model_path=str(self.model_dir), data_struct=Struct(**data), gender=gender,
                    create_betas=False, create_global_orient=False, create_body_pose=False, create_transl=False,
                )
            self._layers[gender] = _make_non_persistent(layer)
        return self._layers[gender]

    def forward(self, pose: torch.Tensor, shape: torch.Tensor, trans: torch.Tensor | None = None,
                gender: str = "neutral", layer: smplx.SMPL | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Run SMPL.

        Args:
            pose: (B, 72) axis-angle, joint-major, joint 0 = global orientation.
            shape: (B, 10) betas.
            trans: (B, 3) metres or None.
            layer: a layer to use instead of ``self.layer(gender)`` (e.g. one registered in a network and moved
                to its device).
        Returns:
            vertices (B, 6890, 3) and the 24 posed kinematic joints (B, 24, 3), metres.
        """
        layer = layer if layer is not None else self.layer(gender)
        out = layer(global_orient=pose[:, :3], body_pose=pose[:, 3:], betas=shape, transl=trans)
        return out.vertices, out.joints[:, : self.orig_joint_num]

    def checkpoint_buffers(self) -> "OrderedDict[str, torch.Tensor]":
        """The vendored smplpytorch layer's buffers as official checkpoints store them.

        See docs/body_models.md#checkpoint-buffers."""
        return _vendored_layer_buffers(self.model_data("neutral"))


class MANO(_HumanModelBase):
    """MANO right-hand model with the 21-joint I2L set.  Layer output in millimetres."""

    param_unit_per_m = 1000.0
    joint_num = 21
    orig_joint_num = 16
    vertex_num = 778
    root_joint_idx = 0
    # The layer's fingertips (thumb, index, middle, ring, little); the I2L regressor uses 445 for the middle tip.
    fingertip_vertex_idx = (745, 317, 444, 556, 673)
    regressor_fingertip_vertex_idx = (745, 317, 445, 556, 673)
    joint_reorder = (0, 13, 14, 15, 16, 1, 2, 3, 17, 4, 5, 6, 18, 10, 11, 12, 19, 7, 8, 9, 20)
    joints_name = (
        "Wrist", "Thumb_1", "Thumb_2", "Thumb_3", "Thumb_4", "Index_1", "Index_2", "Index_3", "Index_4",
        "Middle_1", "Middle_2", "Middle_3", "Middle_4", "Ring_1", "Ring_2", "Ring_3", "Ring_4",
        "Pinky_1", "Pinky_2", "Pinky_3", "Pinly_4",  # 'Pinly_4': the original's typo, kept for name matching
    )
    flip_pairs: tuple[tuple[int, int], ...] = ()
    skeleton = ((0, 1), (0, 5), (0, 9), (0, 13), (0, 17), (1, 2), (2, 3), (3, 4), (5, 6), (6, 7), (7, 8), (9, 10),
                (10, 11), (11, 12), (13, 14), (14, 15), (15, 16), (17, 18), (18, 19), (19, 20))
    parents = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 0, 10, 11, 0, 13, 14)

    def __init__(self, model_dir: str | Path) -> None:
        self.model_dir = Path(model_dir)
        path = _model_path(self.model_dir, MANO_FILENAME, _MANO_SOURCE)
        self._data = load_model_file(path, _MANO_KEYS)
        _check_bs_type(self._data, str(path))
        self._data = _float32_data(self._data)
        self._layers: dict[str, smplx.MANO] = {}  # key "right"
        self._sample_layers = _LayerCache()
        self.face = np.asarray(self._data["f"], dtype=np.int64)  # (1538, 3)
        regressor = np.asarray(self._data["J_regressor"], dtype=np.float32)  # (16, 778)
        onehot = np.zeros((5, regressor.shape[1]), dtype=np.float32)
        onehot[np.arange(5), self.regressor_fingertip_vertex_idx] = 1.0
        self.joint_regressor = np.concatenate([regressor, onehot], axis=0)[list(self.joint_reorder)]  # (21, 778)

    def model_data(self) -> dict:
        return self._data

    def layer(self) -> smplx.MANO:
        """The ``smplx.MANO`` layer (right hand, ``use_pca=False``, ``flat_hand_mean=False``; metres)."""
        if "right" not in self._layers:
            with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a notice about 10 shape coefficients
                layer = smplx.MANO(
                    model_path=str(self.model_dir), data_struct=Struct(**dict(self._data)), is_rhand=True,
                    use_pca=False, flat_hand_mean=False, create_global_orient=False, create_hand_pose=False,
                    create_body_pose=False, create_betas=False, create_transl=False,
                )
            self._layers["right"] = _make_non_persistent(layer)
        return self._layers["right"]

    def forward(self, pose: torch.Tensor, shape: torch.Tensor, trans: torch.Tensor | None = None,
                layer: smplx.MANO | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Run MANO like the original's vendored layer.

        Args:
            pose: (B, 48) axis-angle; [0:3] global orientation, [3:48] articulation as offsets from the mean hand.
            shape: (B, 10) betas.
            trans: (B, 3) metres or None.
        Returns:
            vertices (B, 778, 3) and joints (B, 21, 3), **millimetres**, joints in the I2L 21-joint order with the
            layer's fingertips (middle tip = vertex 444).
        """
        layer = layer if layer is not None else self.layer()
        out = layer(global_orient=pose[:, :3], hand_pose=pose[:, 3:], betas=shape, transl=trans)
        vertices = out.vertices
        tips = vertices[:, list(self.fingertip_vertex_idx)]
        joints = torch.cat([out.joints[:, : self.orig_joint_num], tips], dim=1)[:, list(self.joint_reorder)]
        return vertices * self.param_unit_per_m, joints * self.param_unit_per_m

    def checkpoint_buffers(self) -> "OrderedDict[str, torch.Tensor]":
        """The vendored manopth layer's buffers as official checkpoints store them.

        See docs/body_models.md#checkpoint-buffers."""
        buffers = _vendored_layer_buffers(self._data)
        buffers["th_hands_mean"] = torch.as_tensor(np.asarray(self._data["hands_mean"]).reshape(1, 45),
                                                   dtype=torch.float32)
        # Built from the constructor's default ncomps=6 although PCA is off, so our snapshots match the official key set
        # and shapes (docs/quirks.md#q-mano-selected-comps-6x45).
        buffers["th_selected_comps"] = torch.as_tensor(np.asarray(self._data["hands_components"])[:6],
                                                       dtype=torch.float32)
        return buffers


HumanModel = SMPL | MANO


def build_human_model(is_hand: bool, model_dir: str | Path) -> HumanModel:
    """The MANO hand model for the hand variant, else the SMPL body model."""
    return MANO(model_dir) if is_hand else SMPL(model_dir)
