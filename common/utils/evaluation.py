"""Evaluation metrics and result files for the test sets (docs/evaluation.md).

Pure NumPy functions called by the dataset readers' ``evaluate(outs, indices)`` and ``report(eval_result, ...)``:

* body test sets (Human36M, PW3D): :func:`evaluate_body_sample` computes the per-sample MPJPE / PA-MPJPE of the lixel
  mesh and (param stage) of the param mesh on the 14 H36M evaluation joints; :func:`format_body_results` gives the
  original's four result lines;
* FreiHAND: :func:`freihand_pred_entry` / :func:`freihand_pred_json` build the official ``pred.json``; the official
  evaluation's scores, computed locally when its ground truth is present, are in :mod:`common.utils.freihand_scores`.

Units: every function works in the unit of its inputs unless stated otherwise. Human3.6M evaluation is in millimetres
(``scale = 1``); 3DPW is in metres and each per-sample error is multiplied by ``scale = 1000`` to report millimetres.
FreiHAND inputs are in metres; mean errors are reported in centimetres like the official evaluation.
Body Procrustes alignment is the corrected similarity transform (docs/evaluation.md#procrustes; :func:`rigid_align`,
proper rotation); the FreiHAND scores use the official evaluation's fit instead (reflections allowed).
"""
from __future__ import annotations

import json
from typing import Callable, Mapping, Sequence

import numpy as np

from common.utils.transforms import rigid_align

__all__ = [
    "H36M_EVAL_JOINTS",
    "H36M_ROOT_IDX",
    "BODY_RESULT_KEYS",
    "root_relative_eval_joints",
    "mpjpe",
    "pa_mpjpe",
    "mpvpe",
    "evaluate_body_sample",
    "format_body_results",
    "freihand_pred_entry",
    "freihand_pred_json",
    "same_shape",
]

#: Indices into the H36M 17-joint set of the 14 evaluated joints (docs/evaluation.md#human36m-protocol): R_Hip, R_Knee,
#: R_Ankle, L_Hip, L_Knee, L_Ankle, Neck, Head_top, L_Shoulder, L_Elbow, L_Wrist, R_Shoulder, R_Elbow, R_Wrist
#: (Pelvis = 0, Torso = 7 and Nose = 9 are excluded).
H36M_EVAL_JOINTS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 15, 16)

#: Index of the pelvis (root) in the H36M 17-joint set.
H36M_ROOT_IDX: int = 0

#: Per-sample result keys of the body test sets, in print order.
BODY_RESULT_KEYS: tuple[str, ...] = ("mpjpe_lixel", "pa_mpjpe_lixel", "mpjpe_param", "pa_mpjpe_param")

# The original's printed lines (docs/evaluation.md#result-lines), in order, with the result key each one averages.
_BODY_RESULT_LINES: tuple[tuple[str, str], ...] = (
    ("mpjpe_lixel", "MPJPE from lixel mesh: %.2f mm"),
    ("pa_mpjpe_lixel", "PA MPJPE from lixel mesh: %.2f mm"),
    ("mpjpe_param", "MPJPE from param mesh: %.2f mm"),
    ("pa_mpjpe_param", "PA MPJPE from param mesh: %.2f mm"),
)

# Extra lines (beyond the original) printed only when a reader stored per-vertex errors.
_BODY_EXTRA_LINES: tuple[tuple[str, str], ...] = (
    ("mpvpe_lixel", "MPVPE from lixel mesh: %.2f mm"),
    ("mpvpe_param", "MPVPE from param mesh: %.2f mm"),
)

FREIHAND_NUM_JOINTS = 21
FREIHAND_NUM_VERTS = 778


# --------------------------------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------------------------------

def _points(arr: np.ndarray, name: str, rows: int | None = None) -> np.ndarray:
    """Return ``arr`` as a float64 (n, 3) array, raising a ValueError naming ``name`` otherwise."""
    out = np.asarray(arr, dtype=np.float64)
    if out.ndim != 2 or out.shape[1] != 3:
        raise ValueError(f"{name}: expected an (n, 3) array, got shape {out.shape}")
    if rows is not None and out.shape[0] != rows:
        raise ValueError(f"{name}: expected {rows} rows, got {out.shape[0]}")
    return out


def same_shape(pred: np.ndarray, gt: np.ndarray, func: str) -> tuple[np.ndarray, np.ndarray]:
    pred = _points(pred, f"{func} (pred)")
    gt = _points(gt, f"{func} (gt)")
    if pred.shape[0] != gt.shape[0]:
        raise ValueError(f"{func}: pred has {pred.shape[0]} points but gt has {gt.shape[0]}")
    if pred.shape[0] == 0:
        raise ValueError(f"{func}: empty point sets")
    return pred, gt


def _regress(regressor: np.ndarray, mesh: np.ndarray, name: str) -> np.ndarray:
    """(J, V) regressor · (V, 3) mesh -> (J, 3) float64, with shape checks."""
    regressor = np.asarray(regressor, dtype=np.float64)
    mesh = _points(mesh, name)
    if regressor.ndim != 2 or regressor.shape[1] != mesh.shape[0]:
        raise ValueError(
            f"{name}: regressor of shape {tuple(regressor.shape)} does not match a mesh with {mesh.shape[0]} vertices"
        )
    return regressor @ mesh


# --------------------------------------------------------------------------------------------------------------------
# Body metrics (Human36M, PW3D)
# --------------------------------------------------------------------------------------------------------------------

def root_relative_eval_joints(
    joints17: np.ndarray,
    root_idx: int = H36M_ROOT_IDX,
    eval_idx: Sequence[int] = H36M_EVAL_JOINTS,
) -> np.ndarray:
    """Subtract the root joint and keep the evaluated joints.

    ``joints17``: (17, 3) H36M joints (absolute or root-relative, any unit). Returns (len(eval_idx), 3) float64 =
    (joints17 − joints17[root_idx])[eval_idx], same unit; (14, 3) with the defaults.
    """
    joints = _points(joints17, "root_relative_eval_joints")
    if not -joints.shape[0] <= root_idx < joints.shape[0]:
        raise ValueError(f"root_relative_eval_joints: root_idx {root_idx} out of range for {joints.shape[0]} joints")
    eval_idx = list(eval_idx)
    if eval_idx and (max(eval_idx) >= joints.shape[0] or min(eval_idx) < -joints.shape[0]):
        raise ValueError(
            f"root_relative_eval_joints: eval index {max(eval_idx)} out of range for {joints.shape[0]} joints"
        )
    return (joints - joints[root_idx])[eval_idx]


def mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean per-joint position error: (1/n) Σ_i ‖pred_i − gt_i‖.

    ``pred``, ``gt``: (n, 3), same unit (no alignment is applied here; pass root-relative joints).
    Returns the mean Euclidean distance in that unit.
    """
    pred, gt = same_shape(pred, gt, "mpjpe")
    return float(np.mean(np.linalg.norm(pred - gt, axis=1)))


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """MPJPE after Procrustes (similarity) alignment of ``pred`` onto ``gt`` (corrected: docs/evaluation.md#procrustes).

    ``pred``, ``gt``: (n, 3), same unit. Returns the mean Euclidean distance in that unit.
    """
    pred, gt = same_shape(pred, gt, "pa_mpjpe")
    return mpjpe(rigid_align(pred, gt), gt)


def mpvpe(
    pred_verts: np.ndarray,
    gt_verts: np.ndarray,
    regressor: np.ndarray | None = None,
    root_idx: int = H36M_ROOT_IDX,
) -> float:
    """Mean per-vertex position error (beyond the original; intended for 3DPW).

    ``pred_verts``, ``gt_verts``: (V, 3) meshes, same unit. With ``regressor`` ((17, V), the H36M joint regressor)
    each mesh is first made relative to its own regressed pelvis (joint ``root_idx``), exactly like the joints in
    :func:`evaluate_body_sample`; without it the meshes are compared as given (pass root-relative meshes).
    Returns (1/V) Σ_v ‖pred_v − gt_v‖ in the input unit (multiply by 1000 for metres -> millimetres).
    """
    pred, gt = same_shape(pred_verts, gt_verts, "mpvpe")
    if regressor is not None:
        pred = pred - _regress(regressor, pred, "mpvpe (pred)")[root_idx]
        gt = gt - _regress(regressor, gt, "mpvpe (gt)")[root_idx]
    return float(np.mean(np.linalg.norm(pred - gt, axis=1)))


def evaluate_body_sample(
    mesh_lixel_cam: np.ndarray,
    gt_joints17: np.ndarray,
    regressor: np.ndarray,
    mesh_param_cam: np.ndarray | None = None,
    scale: float = 1.0,
    gt_mesh_cam: np.ndarray | None = None,
    root_idx: int = H36M_ROOT_IDX,
    eval_idx: Sequence[int] = H36M_EVAL_JOINTS,
) -> dict[str, float]:
    """Per-sample errors of one body test sample (the Human36M and PW3D protocols of docs/evaluation.md#metrics).

    Arguments (all coordinates camera space, one common unit U — millimetres for Human36M, metres for PW3D):

    * ``mesh_lixel_cam``: (V, 3) camera-space lixel mesh (absolute or root-relative), unit U;
    * ``gt_joints17``: (17, 3) ground-truth H36M joints, absolute or root-relative, unit U (Human36M: the native
      ``joint_cam``; PW3D: the H36M regressor applied to the GT mesh);
    * ``regressor``: (17, V) ``J_regressor_h36m_correct``;
    * ``mesh_param_cam``: (V, 3) param-stage mesh in unit U or ``None`` (lixel stage). The caller converts units
      (Human36M: ``mesh_coord_cam`` × 1000; PW3D: used as is);
    * ``scale``: factor applied to every per-sample error (1 for Human36M, 1000 for PW3D metres -> millimetres);
    * ``gt_mesh_cam``: optional (V, 3) GT mesh in unit U (beyond the original): adds ``mpvpe_lixel`` (and
      ``mpvpe_param``), each mesh relative to its own H36M-regressed pelvis.

    Each predicted mesh goes through the regressor, minus its regressed pelvis, eval joints; the GT goes through
    :func:`root_relative_eval_joints`. Returns ``{"mpjpe_lixel", "pa_mpjpe_lixel"}`` plus ``{"mpjpe_param",
    "pa_mpjpe_param"}`` when ``mesh_param_cam`` is given (plus the optional MPVPE keys), floats in unit U × ``scale``.
    """
    gt = root_relative_eval_joints(gt_joints17, root_idx, eval_idx)
    meshes = {"lixel": mesh_lixel_cam}
    if mesh_param_cam is not None:
        meshes["param"] = mesh_param_cam
    result: dict[str, float] = {}
    for name, mesh in meshes.items():
        joints = _regress(regressor, mesh, f"evaluate_body_sample ({name} mesh)")
        if joints.shape[0] != np.asarray(gt_joints17).shape[0]:
            raise ValueError(
                f"evaluate_body_sample: regressor gives {joints.shape[0]} joints but gt_joints17 has "
                f"{np.asarray(gt_joints17).shape[0]}"
            )
        pred = root_relative_eval_joints(joints, root_idx, eval_idx)
        result[f"mpjpe_{name}"] = mpjpe(pred, gt) * scale
        result[f"pa_mpjpe_{name}"] = pa_mpjpe(pred, gt) * scale
    if gt_mesh_cam is not None:
        for name, mesh in meshes.items():
            result[f"mpvpe_{name}"] = mpvpe(mesh, gt_mesh_cam, regressor, root_idx) * scale
    return result


def _mean_or_nan(values: Sequence[float]) -> float:
    """Arithmetic mean; ``nan`` for an empty list (what NumPy returns, without its RuntimeWarning)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return float("nan")
    return float(np.mean(values))


def format_body_results(
    eval_result: Mapping[str, Sequence[float]],
    print_fn: Callable[[str], object] | None = print,
) -> list[str]:
    """The original's result printout for Human36M / PW3D (docs/evaluation.md#result-lines).

    ``eval_result``: merged per-sample lists (millimetres) keyed by :data:`BODY_RESULT_KEYS`. Each line is the plain
    mean over samples, formatted with ``%.2f``; a missing or empty list gives ``nan`` (the lixel stage prints ``nan``
    for the two param lines, kept for log parity: docs/quirks.md#q-lixel-stage-nan-lines). Lines, in order::

        MPJPE from lixel mesh: %.2f mm
        PA MPJPE from lixel mesh: %.2f mm
        MPJPE from param mesh: %.2f mm
        PA MPJPE from param mesh: %.2f mm

    Beyond the original, ``MPVPE from lixel mesh: %.2f mm`` / ``MPVPE from param mesh: %.2f mm`` follow when the
    corresponding key is present with a non-empty list. Every line is passed to ``print_fn`` (default ``print``;
    ``None`` prints nothing) and the list of lines is returned.
    """
    lines = [fmt % _mean_or_nan(eval_result.get(key, [])) for key, fmt in _BODY_RESULT_LINES]
    lines += [fmt % _mean_or_nan(eval_result[key]) for key, fmt in _BODY_EXTRA_LINES if len(eval_result.get(key, []))]
    if print_fn is not None:
        for line in lines:
            print_fn(line)
    return lines


# --------------------------------------------------------------------------------------------------------------------
# FreiHAND
# --------------------------------------------------------------------------------------------------------------------

def freihand_pred_entry(mesh_cam: np.ndarray, hand_regressor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One evaluation sample's ``pred.json`` entry (docs/evaluation.md#freihand-protocol).

    ``mesh_cam``: (778, 3) camera-space hand mesh (lixel stage: absolute, metres; param stage: whatever the caller
    passes — the original writes the root-relative millimetre MANO output, kept so the file equals the original's:
    docs/quirks.md#q-freihand-param-pred-units). ``hand_regressor``: (21, 778), I2L's hand joint regressor (middle
    fingertip = vertex 445), FreiHAND joint order.
    Returns (joints (21, 3), verts (778, 3)) float64 in the unit of ``mesh_cam``.
    """
    verts = _points(mesh_cam, "freihand_pred_entry (mesh_cam)", FREIHAND_NUM_VERTS)
    joints = _regress(hand_regressor, verts, "freihand_pred_entry")
    if joints.shape[0] != FREIHAND_NUM_JOINTS:
        raise ValueError(
            f"freihand_pred_entry: hand_regressor gives {joints.shape[0]} joints, expected {FREIHAND_NUM_JOINTS}"
        )
    return joints, verts


def _nested_list(arr: np.ndarray, rows: int, name: str) -> list[list[float]]:
    arr = np.asarray(arr)
    if arr.shape != (rows, 3):
        raise ValueError(f"{name}: expected shape ({rows}, 3), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains non-finite values (not representable in JSON)")
    return arr.tolist()


def freihand_pred_json(
    xyz_list: Sequence[np.ndarray],
    verts_list: Sequence[np.ndarray],
) -> bytes:
    """The official FreiHAND submission file ``pred.json`` as bytes.

    ``xyz_list``: one (21, 3) joint array per evaluation sample, in datalist order; ``verts_list``: one (778, 3) mesh
    per sample, same order and length. Values are written unrounded in the unit given (metres for the lixel stage).
    File content: a JSON array with exactly two elements ``[joints, meshes]``, ``joints`` a list of 21 × 3 nested
    lists and ``meshes`` a list of 778 × 3 nested lists of plain JSON numbers (NaN is refused).
    """
    if len(xyz_list) != len(verts_list):
        raise ValueError(
            f"freihand_pred_json: xyz_list has {len(xyz_list)} entries but verts_list has {len(verts_list)}"
        )
    joints = [_nested_list(x, FREIHAND_NUM_JOINTS, f"freihand_pred_json: xyz_list[{i}]")
              for i, x in enumerate(xyz_list)]
    meshes = [_nested_list(v, FREIHAND_NUM_VERTS, f"freihand_pred_json: verts_list[{i}]")
              for i, v in enumerate(verts_list)]
    return json.dumps([joints, meshes], allow_nan=False).encode()
