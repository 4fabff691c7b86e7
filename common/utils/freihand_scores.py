"""The official FreiHAND evaluation's scores, computed locally when its ground truth is present.

See docs/evaluation.md#freihand-scores; predictions must be in the official evaluation order (docs/data.md#ordering).

:func:`freihand_scores` takes predicted and ground-truth joints (21 x 3) and vertices (778 x 3) in metres and returns
the official definitions: mean errors (reported in centimetres), PCK AUCs over 0-50 mm, and F-scores at 5 and 15 mm,
each before and after the official alignment (:func:`freihand_align`: a similarity fit that allows reflections, used
only here; the body test sets use :func:`common.utils.transforms.rigid_align`).  :func:`load_freihand_eval_gt` reads
the evaluation ground truth; :func:`format_freihand_scores` prints the scores.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
from scipy.spatial import cKDTree

from common.utils.evaluation import same_shape

__all__ = ["FREIHAND_PCK_THRESHOLDS_M", "FREIHAND_F_THRESHOLDS_MM", "freihand_align", "freihand_scores",
           "format_freihand_scores", "load_freihand_eval_gt"]

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
    pred, gt = same_shape(pred, gt, "freihand_align")
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
            pred, gt = same_shape(pred_seq[i], gt_seq[i], f"freihand_scores ({kind}, sample {i})")
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
