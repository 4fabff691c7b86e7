"""Evaluation metrics and result files for the test sets (spec: ``evaluation.md`` §3–§5, ``datasets.md`` §4, §5, §7).

Pure NumPy functions called by the dataset readers' ``evaluate(outs, cur_sample_idx)`` and
``print_eval_result(eval_result)``:

* body test sets (Human36M, PW3D): :func:`evaluate_body_sample` computes the per-sample MPJPE / PA-MPJPE of the lixel
  mesh and (param stage) of the param mesh on the 14 H36M evaluation joints; :func:`format_body_results` prints the
  original's four result lines;
* FreiHAND: :func:`freihand_pred_entry` / :func:`write_freihand_pred` build the official ``pred.json``;
  :func:`freihand_scores` computes the official FreiHAND evaluation's scores locally when the evaluation ground truth
  is available (:func:`load_freihand_eval_gt`); :func:`format_freihand_scores` prints them.

Units: every function works in the unit of its inputs unless stated otherwise. Human3.6M evaluation is in millimetres
(``scale = 1``); 3DPW is in metres and each per-sample error is multiplied by ``scale = 1000`` to report millimetres.
FreiHAND inputs are in metres; mean errors are reported in centimetres like the official evaluation.
Body Procrustes alignment is the corrected similarity transform of ``evaluation.md`` §3 (:func:`rigid_align`, proper
rotation); the FreiHAND scores use the official evaluation's fit instead (:func:`freihand_align`, reflections allowed).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
from scipy.spatial import cKDTree

from common.utils.io import atomic_write_bytes
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
    "write_freihand_pred",
    "FREIHAND_PCK_THRESHOLDS_M",
    "FREIHAND_F_THRESHOLDS_MM",
    "freihand_align",
    "freihand_scores",
    "format_freihand_scores",
    "load_freihand_eval_gt",
]

#: Indices into the H36M 17-joint set of the 14 evaluated joints (evaluation.md §4.1): R_Hip, R_Knee, R_Ankle, L_Hip,
#: L_Knee, L_Ankle, Neck, Head_top, L_Shoulder, L_Elbow, L_Wrist, R_Shoulder, R_Elbow, R_Wrist
#: (Pelvis = 0, Torso = 7 and Nose = 9 are excluded).
H36M_EVAL_JOINTS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 15, 16)

#: Index of the pelvis (root) in the H36M 17-joint set.
H36M_ROOT_IDX: int = 0

#: Per-sample result keys of the body test sets, in print order.
BODY_RESULT_KEYS: tuple[str, ...] = ("mpjpe_lixel", "pa_mpjpe_lixel", "mpjpe_param", "pa_mpjpe_param")

# The original's printed lines (evaluation.md §5), in order, with the result key each one averages.
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


def _same_shape(pred: np.ndarray, gt: np.ndarray, func: str) -> tuple[np.ndarray, np.ndarray]:
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
    pred, gt = _same_shape(pred, gt, "mpjpe")
    return float(np.mean(np.linalg.norm(pred - gt, axis=1)))


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """MPJPE after Procrustes (similarity) alignment of ``pred`` onto ``gt`` (corrected formula, evaluation.md §3).

    ``pred``, ``gt``: (n, 3), same unit. Returns the mean Euclidean distance in that unit.
    """
    pred, gt = _same_shape(pred, gt, "pa_mpjpe")
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
    pred, gt = _same_shape(pred_verts, gt_verts, "mpvpe")
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
    """Per-sample errors of one body test sample (evaluation.md §4.1 Human36M, §4.2 PW3D).

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
    """The original's result printout for Human36M / PW3D (evaluation.md §5).

    ``eval_result``: merged per-sample lists (millimetres) keyed by :data:`BODY_RESULT_KEYS`. Each line is the plain
    mean over samples, formatted with ``%.2f``; a missing or empty list gives ``nan`` (the lixel stage prints ``nan``
    for the two param lines, quirk Q35 — kept). Lines, in order::

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
    """One evaluation sample's ``pred.json`` entry (evaluation.md §4.4).

    ``mesh_cam``: (778, 3) camera-space hand mesh (lixel stage: absolute, metres; param stage: whatever the caller
    passes — the original writes the root-relative millimetre MANO output, quirk Q36). ``hand_regressor``: (21, 778),
    I2L's hand joint regressor (middle fingertip = vertex 445), FreiHAND joint order.
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


def write_freihand_pred(
    path: str | os.PathLike,
    xyz_list: Sequence[np.ndarray],
    verts_list: Sequence[np.ndarray],
) -> Path:
    """Write the official FreiHAND submission file (evaluation.md §4.4) atomically.

    ``xyz_list``: one (21, 3) joint array per evaluation sample, in datalist order; ``verts_list``: one (778, 3) mesh
    per sample, same order and length. Values are written unrounded in the unit given (metres for the lixel stage).
    File content: a JSON array with exactly two elements ``[joints, meshes]``, ``joints`` a list of 21 × 3 nested
    lists and ``meshes`` a list of 778 × 3 nested lists of plain JSON numbers. The file is written to a temporary file
    in the same folder and moved into place (:func:`common.utils.io.atomic_write_bytes`, usual permissions); parent
    folders are created. Returns the path.
    Printing ``Saved at <path>`` is left to the caller.
    """
    if len(xyz_list) != len(verts_list):
        raise ValueError(
            f"write_freihand_pred: xyz_list has {len(xyz_list)} entries but verts_list has {len(verts_list)}"
        )
    joints = [_nested_list(x, FREIHAND_NUM_JOINTS, f"write_freihand_pred: xyz_list[{i}]")
              for i, x in enumerate(xyz_list)]
    meshes = [_nested_list(v, FREIHAND_NUM_VERTS, f"write_freihand_pred: verts_list[{i}]")
              for i, v in enumerate(verts_list)]
    return atomic_write_bytes(path, json.dumps([joints, meshes], allow_nan=False).encode())


#: PCK thresholds of the official FreiHAND evaluation, in metres: 100 values from 0 to 50 mm.
FREIHAND_PCK_THRESHOLDS_M: np.ndarray = np.linspace(0.0, 0.05, 100)
FREIHAND_PCK_THRESHOLDS_M.setflags(write=False)

#: F-score thresholds of the official FreiHAND evaluation, in millimetres.
FREIHAND_F_THRESHOLDS_MM: tuple[float, ...] = (5.0, 15.0)

# Added to each Frobenius norm by the official alignment (in the input unit: metres).
_FREIHAND_NORM_EPS = 1e-8


def freihand_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Scaled orthogonal Procrustes fit of ``pred`` onto ``gt`` as in the official FreiHAND evaluation.

    ``pred``, ``gt``: (n, 3) point sets in metres (the 1e-8 below is in the input unit). Unlike :func:`rigid_align`
    (Human3.6M / 3DPW), the fitted matrix may be a **reflection** (no determinant correction):

    1. P = pred − mean(pred), G = gt − mean(gt); p = P / (‖P‖_F + 1e-8), g = G / (‖G‖_F + 1e-8);
    2. SVD pᵀg = U diag(s) Vᵀ; Q = U Vᵀ maximises tr(Qᵀ pᵀg) over all orthogonal Q, i.e. minimises ‖pQ − g‖_F;
    3. scale Σs (= tr(Qᵀ pᵀg), the least-squares scale since ‖p‖_F ≈ 1);
    4. back into the GT frame: aligned = Σs · (p Q) · (‖G‖_F + 1e-8) + mean(gt).

    Returns the aligned prediction (n, 3) float64, metres.
    """
    pred, gt = _same_shape(pred, gt, "freihand_align")
    mean_gt = gt.mean(axis=0)
    p = pred - pred.mean(axis=0)
    g = gt - mean_gt
    norm_p = np.linalg.norm(p) + _FREIHAND_NORM_EPS
    norm_g = np.linalg.norm(g) + _FREIHAND_NORM_EPS
    p, g = p / norm_p, g / norm_g
    u, s, vt = np.linalg.svd(p.T @ g)
    return s.sum() * (p @ (u @ vt)) * norm_g + mean_gt


def _pck_auc(errors: np.ndarray, thresholds: np.ndarray) -> float:
    """AUC of the PCK curve as the official FreiHAND evaluation computes it.

    ``errors``: (N samples, K points) distances; ``thresholds``: (T,) increasing, same unit. Per point k:
    PCK_k(t) = fraction of samples with error ≤ t, AUC_k = trapezoid area under PCK_k over ``thresholds`` divided by
    (thresholds[-1] − thresholds[0]). Returns the mean of AUC_k over the K points, in [0, 1].
    """
    pck = np.stack([np.mean(errors <= t, axis=0) for t in thresholds], axis=1)  # (K, T)
    area = np.sum(np.diff(thresholds) * (pck[:, 1:] + pck[:, :-1]) / 2.0, axis=1)
    return float(np.mean(area / (thresholds[-1] - thresholds[0])))


def _f_scores(pred: np.ndarray, gt: np.ndarray, thresholds: Sequence[float]) -> list[float]:
    """F-score of two point sets at each threshold (same unit as the points).

    Precision = fraction of ``pred`` points whose nearest ``gt`` point is strictly closer than the threshold; recall =
    fraction of ``gt`` points whose nearest ``pred`` point is strictly closer than it (exact nearest neighbours with
    ``scipy.spatial.cKDTree``); F = 2PR / (P + R), 0 when P + R = 0. F is symmetric in (pred, gt).
    """
    d_pred_to_gt, _ = cKDTree(gt).query(pred, k=1)
    d_gt_to_pred, _ = cKDTree(pred).query(gt, k=1)
    scores = []
    for threshold in thresholds:
        precision = float(np.mean(d_pred_to_gt < threshold))
        recall = float(np.mean(d_gt_to_pred < threshold))
        scores.append(0.0 if precision + recall == 0.0 else 2.0 * precision * recall / (precision + recall))
    return scores


def _threshold_key(kind: str, threshold_mm: float) -> str:
    """Result key of an F-score: ``mesh_f_5mm``, ``mesh_aligned_f_15mm``, ``extra_joints_aligned_f_5mm``, ..."""
    return f"{kind}_f_{threshold_mm:g}mm"


def freihand_scores(
    pred_xyz: Sequence[np.ndarray],
    pred_verts: Sequence[np.ndarray],
    gt_xyz: Sequence[np.ndarray],
    gt_verts: Sequence[np.ndarray],
    thresholds_mm: Sequence[float] = FREIHAND_F_THRESHOLDS_MM,
) -> dict[str, float]:
    """The official FreiHAND evaluation's scores, computed locally.

    Inputs, one entry per sample (four sequences of equal length): ``pred_xyz`` / ``gt_xyz`` (n_j, 3) joints and
    ``pred_verts`` / ``gt_verts`` (n_v, 3) meshes (21 / 778 for FreiHAND), camera space, **metres**. "Aligned" means
    :func:`freihand_align` per sample, joints and vertices separately (reflections allowed). Returned dict:

    * ``joints_mean_cm``, ``joints_aligned_mean_cm``, ``mesh_mean_cm``, ``mesh_aligned_mean_cm``: mean point error in
      **centimetres** (unaligned = absolute camera space as given);
    * ``joints_auc``, ``joints_aligned_auc``, ``mesh_auc``, ``mesh_aligned_auc``: area under the PCK curve over
      0–50 mm (:data:`FREIHAND_PCK_THRESHOLDS_M`, error ≤ threshold), per point over samples, then averaged over
      points; in [0, 1];
    * ``mesh_f_<d>mm``, ``mesh_aligned_f_<d>mm`` for each ``d`` in ``thresholds_mm`` (default 5 and 15): F-score of the
      vertices (distance strictly below ``d``), mean over samples of the per-sample F, in [0, 1];
    * ``extra_joints_aligned_f_<d>mm``: the same F-score on the aligned joints (not part of the official evaluation);
    * ``num_samples``.
    """
    n = len(pred_xyz)
    lengths = {"pred_xyz": n, "pred_verts": len(pred_verts), "gt_xyz": len(gt_xyz), "gt_verts": len(gt_verts)}
    if len(set(lengths.values())) != 1:
        raise ValueError("freihand_scores: sample counts differ: " + ", ".join(f"{k}={v}" for k, v in lengths.items()))
    if n == 0:
        raise ValueError("freihand_scores: no samples")
    thresholds_mm = tuple(float(d) for d in thresholds_mm)
    thresholds_m = [d / 1000.0 for d in thresholds_mm]

    errors: dict[str, list[np.ndarray]] = {k: [] for k in ("joints", "joints_aligned", "mesh", "mesh_aligned")}
    f_kinds = ("mesh", "mesh_aligned", "extra_joints_aligned")
    f_values: dict[str, list[list[float]]] = {k: [] for k in f_kinds}
    for i in range(n):
        for kind, pred_seq, gt_seq in (("joints", pred_xyz, gt_xyz), ("mesh", pred_verts, gt_verts)):
            pred, gt = _same_shape(pred_seq[i], gt_seq[i], f"freihand_scores ({kind}, sample {i})")
            if i > 0 and pred.shape[0] != errors[kind][0].shape[0]:
                raise ValueError(f"freihand_scores ({kind}, sample {i}): {pred.shape[0]} points, but sample 0 has "
                                 f"{errors[kind][0].shape[0]}")
            aligned = freihand_align(pred, gt)
            errors[kind].append(np.linalg.norm(pred - gt, axis=1))
            errors[kind + "_aligned"].append(np.linalg.norm(aligned - gt, axis=1))
            if kind == "mesh":
                f_values["mesh"].append(_f_scores(pred, gt, thresholds_m))
                f_values["mesh_aligned"].append(_f_scores(aligned, gt, thresholds_m))
            else:
                f_values["extra_joints_aligned"].append(_f_scores(aligned, gt, thresholds_m))

    result: dict[str, float] = {}
    for kind, per_sample in errors.items():
        stacked = np.stack(per_sample)  # (N, K), metres
        result[f"{kind}_mean_cm"] = float(np.mean(stacked)) * 100.0
        result[f"{kind}_auc"] = _pck_auc(stacked, FREIHAND_PCK_THRESHOLDS_M)
    for kind in f_kinds:
        means = np.mean(np.asarray(f_values[kind]), axis=0)
        for d, value in zip(thresholds_mm, means):
            result[_threshold_key(kind, d)] = float(value)
    result["num_samples"] = n
    return result


def format_freihand_scores(
    scores: Mapping[str, float],
    print_fn: Callable[[str], object] | None = print,
) -> list[str]:
    """Printed lines of :func:`freihand_scores` (mean errors in cm, AUCs and F-scores unitless, ``%.4f``)::

        FreiHAND scores on <N> samples (official evaluation; aligned = per-sample scaled Procrustes fit, ...
        Joints, mean error: <x> cm
        Joints, mean error, aligned: <x> cm
        Joints, AUC of PCK 0-50 mm: <x>
        Joints, AUC of PCK 0-50 mm, aligned: <x>
        Mesh, mean error: <x> cm
        Mesh, mean error, aligned: <x> cm
        Mesh, AUC of PCK 0-50 mm: <x>
        Mesh, AUC of PCK 0-50 mm, aligned: <x>
        Mesh, F-score at 5 mm: <x>            (one line per threshold, then the aligned ones)
        Mesh, F-score at 5 mm, aligned: <x>
        Extra (not in the official evaluation): Joints, F-score at 5 mm, aligned: <x>

    (the first line continues with ``reflections allowed)``). Every line is passed to ``print_fn`` (``None`` prints
    nothing) and the list of lines is returned.
    """
    n = scores["num_samples"]
    lines = [f"FreiHAND scores on {n} sample{'' if n == 1 else 's'} (official evaluation; aligned = per-sample scaled "
             f"Procrustes fit, reflections allowed)"]
    for part, label in (("joints", "Joints"), ("mesh", "Mesh")):
        lines += [f"{label}, mean error: {scores[f'{part}_mean_cm']:.4f} cm",
                  f"{label}, mean error, aligned: {scores[f'{part}_aligned_mean_cm']:.4f} cm",
                  f"{label}, AUC of PCK 0-50 mm: {scores[f'{part}_auc']:.4f}",
                  f"{label}, AUC of PCK 0-50 mm, aligned: {scores[f'{part}_aligned_auc']:.4f}"]
    for kind, label in (("mesh", "Mesh, F-score at {} mm"), ("mesh_aligned", "Mesh, F-score at {} mm, aligned"),
                        ("extra_joints_aligned",
                         "Extra (not in the official evaluation): Joints, F-score at {} mm, aligned")):
        prefix = f"{kind}_f_"  # keys are f"{kind}_f_{d:g}mm" (see _threshold_key)
        for key in sorted((k for k in scores if k.startswith(prefix) and k.endswith("mm")),
                          key=lambda k: float(k[len(prefix):-2])):
            lines.append(f"{label.format(key[len(prefix):-2])}: {scores[key]:.4f}")
    if print_fn is not None:
        for line in lines:
            print_fn(line)
    return lines


def load_freihand_eval_gt(data_dir: str | os.PathLike) -> tuple[list[np.ndarray], list[np.ndarray]] | None:
    """Load the FreiHAND evaluation ground truth if it is available locally.

    ``data_dir``: the repository's ``data`` folder (``cfg.data_dir``); the files are looked up in
    ``<data_dir>/FreiHAND/data/`` and, failing that, directly in ``<data_dir>`` (so the FreiHAND data folder itself may
    be passed). Reads ``evaluation_xyz.json`` (list of 21 × 3, metres) and ``evaluation_verts.json`` (list of 778 × 3,
    metres). Returns (xyz list of (21, 3) float64 arrays, verts list of (778, 3) float64 arrays), or ``None`` when
    either file is missing. Raises ValueError when the two files hold different numbers of samples.
    """
    data_dir = Path(data_dir)
    for folder in (data_dir / "FreiHAND" / "data", data_dir):
        xyz_path = folder / "evaluation_xyz.json"
        verts_path = folder / "evaluation_verts.json"
        if xyz_path.is_file() and verts_path.is_file():
            break
    else:
        return None
    with open(xyz_path) as f:
        xyz = [np.asarray(x, dtype=np.float64) for x in json.load(f)]
    with open(verts_path) as f:
        verts = [np.asarray(v, dtype=np.float64) for v in json.load(f)]
    if len(xyz) != len(verts):
        raise ValueError(
            f"load_freihand_eval_gt: {xyz_path} has {len(xyz)} samples but {verts_path} has {len(verts)}"
        )
    return xyz, verts
