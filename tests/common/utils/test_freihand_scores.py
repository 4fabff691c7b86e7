"""Tests for common/utils/freihand_scores.py (the official FreiHAND evaluation's definitions).

The alignment is checked against two computations written differently from the code under test (the polar
decomposition of the cross-covariance by an eigen-decomposition, and a numerical least-squares search over rotations
and reflections); PCK / AUC / F-score values are hand-computed on small configurations.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.spatial.transform import Rotation

from common.utils.evaluation import pa_mpjpe
from common.utils.freihand_scores import (
    FREIHAND_PCK_THRESHOLDS_M,
    _pck_auc,
    format_freihand_scores,
    freihand_align,
    freihand_scores,
)

EPS = 1e-8  # the official evaluation adds this to each Frobenius norm (metres)
MIRROR = np.diag([-1.0, 1.0, 1.0])


@pytest.fixture()
def rng():
    return np.random.default_rng(7)


def _hand(rng, n):
    """n random points, hand-sized (a few cm), 60 cm in front of the camera, metres."""
    return rng.normal(scale=0.04, size=(n, 3)) + np.array([0.02, -0.01, 0.6])


def _similarity(points, scale, rot, trans):
    return scale * points @ np.asarray(rot).T + np.asarray(trans)


def _polar_reference(pred, gt):
    """Independent derivation: the orthogonal Q minimising ‖P̃Q − G̃‖ is the polar factor of M = P̃ᵀG̃,
    Q = M (MᵀM)^(-1/2) (via an eigen-decomposition, no SVD); scale c = tr(QᵀM) / (‖P̃‖ + ε)² (the official fit
    normalises both sets by their norm + ε, which shrinks the least-squares scale tr(QᵀM) / ‖P̃‖² by that factor)."""
    p = pred - pred.mean(axis=0)
    g = gt - gt.mean(axis=0)
    m = p.T @ g
    evals, evecs = np.linalg.eigh(m.T @ m)
    q = m @ (evecs @ np.diag(evals ** -0.5) @ evecs.T)
    c = np.trace(q.T @ m) / (np.linalg.norm(p) + EPS) ** 2
    return c * p @ q + gt.mean(axis=0), q


# ---------------------------------------------------------------------------------------------------------------------
# Alignment
# ---------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mirrored", [False, True])
def test_align_matches_polar_decomposition(rng, mirrored):
    for n in (21, 778):
        gt = _hand(rng, n)
        rot = Rotation.from_rotvec(rng.normal(size=3)).as_matrix()
        if mirrored:
            rot = rot @ MIRROR
        pred = _similarity(gt, 0.8, rot, (0.01, -0.02, 0.05)) + rng.normal(scale=0.005, size=(n, 3))
        expected, q = _polar_reference(pred, gt)
        assert np.linalg.det(q) == pytest.approx(-1.0 if mirrored else 1.0)
        np.testing.assert_allclose(freihand_align(pred, gt), expected, rtol=0, atol=1e-12)


def test_align_is_least_squares_optimum_over_orthogonal_matrices(rng):
    """Brute force: minimise ‖c·P̃Q − G̃‖² over rotations Q and reflections Q·diag(-1, 1, 1) (rotation vectors from
    many starts, c ≥ 0 in closed form for each Q) and compare with the official fit (the same up to its 1e-8)."""
    gt = _hand(rng, 21)
    pred = _similarity(gt, 1.2, Rotation.from_rotvec([0.4, -0.3, 1.1]).as_matrix() @ MIRROR, (0.0, 0.03, -0.1))
    pred = pred + rng.normal(scale=0.008, size=pred.shape)
    p = pred - pred.mean(axis=0)
    g = gt - gt.mean(axis=0)

    def cost(q):
        x = p @ q
        c = max(np.sum(x * g) / np.sum(x * x), 0.0)  # c >= 0: a negative c would be a hidden reflection (-I)
        return np.sum((c * x - g) ** 2), c

    best = (np.inf, None, None)
    for flip in (np.eye(3), MIRROR):
        for start in rng.normal(size=(6, 3)):
            res = minimize(lambda v: cost(Rotation.from_rotvec(v).as_matrix() @ flip)[0], start, method="BFGS",
                           options={"gtol": 1e-12})
            if res.fun < best[0]:
                q = Rotation.from_rotvec(res.x).as_matrix() @ flip
                best = (res.fun, q, cost(q)[1])
    _, q, c = best
    assert np.linalg.det(q) == pytest.approx(-1.0)  # the reflection fits better than any rotation here
    brute = c * p @ q + gt.mean(axis=0)
    aligned = freihand_align(pred, gt)
    np.testing.assert_allclose(aligned, brute, rtol=0, atol=1e-7)  # metres; the 1e-8 moves points by < 1e-8 m
    # and no sampled orthogonal matrix (rotation or reflection) does better than the official fit
    for _ in range(200):
        q_rand, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        assert cost(q_rand)[0] >= np.sum((aligned - gt) ** 2) - 1e-12


def test_mirrored_prediction_reflection_matters(rng):
    gt = _hand(rng, 21)
    rot = Rotation.from_euler("xyz", [10, -20, 30], degrees=True).as_matrix()
    pred = _similarity(gt, 0.9, rot @ MIRROR, (0.01, 0.02, 0.03))  # an exact mirror image, moved and scaled
    # exact up to the official 1e-8 in the normalisation (scale shrunk by ~2e-8 / ‖P̃‖ ≈ 1e-7 relative)
    np.testing.assert_allclose(freihand_align(pred, gt), gt, rtol=0, atol=2e-8)
    # the body metric keeps the original I2L alignment (proper rotation only): it cannot undo the mirror
    assert pa_mpjpe(pred, gt) > 0.01  # > 1 cm
    verts = _hand(rng, 778)
    res = freihand_scores([pred], [_similarity(verts, 1.1, MIRROR, (0.0, 0.0, 0.02))], [gt], [verts])
    assert res["joints_aligned_mean_cm"] == pytest.approx(0.0, abs=1e-6)  # the 1e-8 leaves ~4e-7 cm
    assert res["mesh_aligned_mean_cm"] == pytest.approx(0.0, abs=1e-6)
    assert res["mesh_aligned_f_5mm"] == 1.0 and res["extra_joints_aligned_f_5mm"] == 1.0
    assert res["joints_mean_cm"] > 1.0


# ---------------------------------------------------------------------------------------------------------------------
# PCK / AUC, units
# ---------------------------------------------------------------------------------------------------------------------

def test_pck_auc_hand_computed():
    thresholds = np.array([0.0, 1.0, 2.0])
    # point 0: errors 0.5, 1.5 -> PCK 0, 1/2, 1 -> area 0.25 + 0.75 = 1.0 -> AUC 1/2
    # point 1: errors 1.0, 3.0 -> PCK 0, 1/2 (1.0 <= 1 counts), 1/2 -> area 0.25 + 0.5 = 0.75 -> AUC 3/8
    errors = np.array([[0.5, 1.0], [1.5, 3.0]])
    assert _pck_auc(errors, thresholds) == pytest.approx((0.5 + 0.375) / 2.0, abs=1e-15)
    # uneven steps: the trapezoid uses each step's width; PCK 0, 1, 1 over [0, 1, 3] -> (0.5 + 2) / 3
    assert _pck_auc(np.array([[0.5]]), np.array([0.0, 1.0, 3.0])) == pytest.approx(2.5 / 3.0, abs=1e-15)


def test_official_pck_thresholds():
    assert FREIHAND_PCK_THRESHOLDS_M.shape == (100,)
    assert FREIHAND_PCK_THRESHOLDS_M[0] == 0.0 and FREIHAND_PCK_THRESHOLDS_M[-1] == 0.05
    np.testing.assert_allclose(np.diff(FREIHAND_PCK_THRESHOLDS_M), 0.05 / 99, rtol=1e-9)
    with pytest.raises(ValueError):
        FREIHAND_PCK_THRESHOLDS_M[0] = 1.0  # read-only


def test_identical_prediction(rng):
    xyz, verts = [_hand(rng, 21) for _ in range(2)], [_hand(rng, 778) for _ in range(2)]
    res = freihand_scores(xyz, verts, xyz, verts)
    assert res["num_samples"] == 2
    for part in ("joints", "mesh"):
        assert res[f"{part}_mean_cm"] == 0.0
        assert res[f"{part}_auc"] == 1.0  # error 0 <= threshold 0: PCK is 1 from the first threshold
        assert res[f"{part}_aligned_mean_cm"] == pytest.approx(0.0, abs=1e-6)  # the 1e-8 leaves ~4e-7 cm
    for key in ("mesh_f_5mm", "mesh_f_15mm", "mesh_aligned_f_5mm", "mesh_aligned_f_15mm",
                "extra_joints_aligned_f_5mm", "extra_joints_aligned_f_15mm"):
        assert res[key] == 1.0, key


def test_translated_prediction_units_auc_and_unaligned_f():
    # points 10 cm apart, prediction shifted by 1 cm: every error is 10 mm = 1 cm, each point's nearest neighbour is
    # its own partner; the aligned errors vanish.
    grid = np.stack(np.meshgrid(*[np.arange(3) * 0.1] * 3, indexing="ij"), axis=-1).reshape(-1, 3)
    gt = grid + np.array([0.0, 0.0, 0.5])
    pred = gt + np.array([0.0, 0.01, 0.0])
    res = freihand_scores([pred, pred], [pred, pred], [gt, gt], [gt, gt])
    assert res["joints_mean_cm"] == pytest.approx(1.0, abs=1e-12)
    assert res["mesh_mean_cm"] == pytest.approx(1.0, abs=1e-12)
    # thresholds 50·i/99 mm: PCK is 0 up to i = 19 (9.60 mm), 1 from i = 20 (10.10 mm) -> area (0.5 + 79) / 99
    assert res["joints_auc"] == pytest.approx(79.5 / 99.0, abs=1e-12)
    assert res["mesh_auc"] == pytest.approx(79.5 / 99.0, abs=1e-12)
    assert res["mesh_f_5mm"] == 0.0 and res["mesh_f_15mm"] == 1.0
    assert res["mesh_aligned_mean_cm"] == pytest.approx(0.0, abs=1e-6)
    assert res["mesh_aligned_auc"] == pytest.approx(1.0 - 0.5 / 99.0, abs=1e-12)  # tiny non-zero errors: PCK(0) = 0
    assert res["mesh_aligned_f_5mm"] == 1.0


def test_scores_in_range_on_noisy_predictions(rng):
    xyz, verts = [_hand(rng, 21) for _ in range(3)], [_hand(rng, 778) for _ in range(3)]
    res = freihand_scores([x + rng.normal(scale=0.01, size=x.shape) for x in xyz],
                          [v + rng.normal(scale=0.01, size=v.shape) for v in verts], xyz, verts)
    for key, value in res.items():
        if key.endswith("_auc") or "_f_" in key:
            assert 0.0 < value < 1.0, key
    # ~1 cm Gaussian noise per axis: mean 3D error ≈ 1.6 cm; alignment can only lower it
    assert 1.3 < res["mesh_mean_cm"] < 1.9
    assert res["mesh_aligned_mean_cm"] <= res["mesh_mean_cm"]
    assert res["joints_aligned_mean_cm"] <= res["joints_mean_cm"]


# ---------------------------------------------------------------------------------------------------------------------
# F-scores
# ---------------------------------------------------------------------------------------------------------------------

def _identity_alignment_sets(offsets_m):
    """Prediction {±1·e1, ±2·e2, ±3·e3 (metres), then len(offsets_m) points at the origin} and GT = prediction with
    the origin points moved by ``offsets_m`` (zero-sum). Both centroids are 0 and P̃ᵀG̃ = P̃ᵀP̃ = diag(2, 8, 18), so
    the fit is the identity up to the 1e-8 in its scale: F-scores can be counted by hand."""
    axes = np.diag([1.0, 2.0, 3.0])
    base = np.concatenate([axes, -axes])
    offsets = np.asarray(offsets_m, dtype=float)
    assert np.allclose(offsets.sum(axis=0), 0.0)
    return np.concatenate([base, np.zeros_like(offsets)]), np.concatenate([base, offsets])


def test_f_score_hand_computed():
    # 8 points: 6 identical, 2 displaced by 10 mm -> at 5 mm P = R = 6/8, F = 0.75; at 15 mm F = 1
    pred, gt = _identity_alignment_sets([[0.0, 0.0, 0.010], [0.0, 0.0, -0.010]])
    res = freihand_scores([pred], [pred], [gt], [gt])
    for kind in ("mesh", "mesh_aligned", "extra_joints_aligned"):
        assert res[f"{kind}_f_5mm"] == pytest.approx(0.75, abs=1e-15), kind
        assert res[f"{kind}_f_15mm"] == 1.0, kind
    assert res["mesh_mean_cm"] == pytest.approx(0.25, abs=1e-15)  # 2 of 8 points off by 1 cm
    assert res["mesh_aligned_mean_cm"] == pytest.approx(0.25, abs=1e-5)  # the fit's 1e-8 (metres) in its scale


def test_f_score_precision_differs_from_recall_and_strict_threshold():
    # 9 points: 3 prediction points at the origin, GT at z = +4, +4, -8 mm. At 5 mm every prediction point has a GT
    # point within 4 mm (P = 1), the GT point at -8 mm has no prediction within 5 mm (R = 8/9): F = 16/17.
    pred, gt = _identity_alignment_sets([[0.0, 0.0, 0.004], [0.0, 0.0, 0.004], [0.0, 0.0, -0.008]])
    res = freihand_scores([pred], [pred], [gt], [gt])
    assert res["mesh_f_5mm"] == pytest.approx(16.0 / 17.0, abs=1e-15)
    assert res["mesh_aligned_f_5mm"] == pytest.approx(16.0 / 17.0, abs=1e-15)
    # mean over samples of the per-sample F: this sample and an identical one -> (16/17 + 1) / 2
    res2 = freihand_scores([pred, gt], [pred, gt], [gt, gt], [gt, gt], thresholds_mm=(5,))
    assert res2["mesh_f_5mm"] == pytest.approx((16.0 / 17.0 + 1.0) / 2.0, abs=1e-15)
    assert {k for k in res2 if "_f_" in k} == {"mesh_f_5mm", "mesh_aligned_f_5mm", "extra_joints_aligned_f_5mm"}
    # a distance of exactly 5 mm does not count (strictly below the threshold): P = R = 6/8 unaligned
    pred, gt = _identity_alignment_sets([[0.0, 0.0, 0.005], [0.0, 0.0, -0.005]])
    assert freihand_scores([pred], [pred], [gt], [gt], thresholds_mm=(5,))["mesh_f_5mm"] == pytest.approx(0.75)


def test_f_score_is_mesh_only_and_zero_when_far():
    # A collinear prediction aligned onto a metre-sized triangle stays > 15 mm from every GT point: P = R = 0, F = 0.
    gt = np.diag([1.0, 2.0, 3.0])
    line = np.array([[0.0, 0.5, 0.5], [1.0, 0.5, 0.5], [2.0, 0.5, 0.5]])
    res = freihand_scores([gt], [line], [gt], [gt])
    assert res["mesh_aligned_mean_cm"] > 10.0
    assert res["mesh_f_5mm"] == res["mesh_f_15mm"] == 0.0
    assert res["mesh_aligned_f_5mm"] == res["mesh_aligned_f_15mm"] == 0.0
    assert res["extra_joints_aligned_f_5mm"] == 1.0  # the joints are perfect: only the mesh F-scores drop


# ---------------------------------------------------------------------------------------------------------------------
# Errors and printout
# ---------------------------------------------------------------------------------------------------------------------

def test_input_errors():
    z = [np.zeros((21, 3))]
    with pytest.raises(ValueError, match="pred_xyz=1, pred_verts=2"):
        freihand_scores(z, z * 2, z, z)
    with pytest.raises(ValueError, match="no samples"):
        freihand_scores([], [], [], [])
    with pytest.raises(ValueError, match=r"mesh, sample 1\): 20 points, but sample 0 has 21"):
        freihand_scores(z * 2, [z[0], z[0][:20]], z * 2, [z[0], z[0][:20]])
    with pytest.raises(ValueError, match="pred has 21 points but gt has 20"):
        freihand_align(z[0], z[0][:20])


def test_format_freihand_scores(capsys):
    scores = {"num_samples": 3, "joints_mean_cm": 1.5, "joints_aligned_mean_cm": 0.74, "joints_auc": 0.7,
              "joints_aligned_auc": 0.85, "mesh_mean_cm": 1.6, "mesh_aligned_mean_cm": 0.76, "mesh_auc": 0.69,
              "mesh_aligned_auc": 0.849, "mesh_f_15mm": 0.9, "mesh_f_5mm": 0.5, "mesh_aligned_f_5mm": 0.681,
              "mesh_aligned_f_15mm": 0.973, "extra_joints_aligned_f_5mm": 0.6, "extra_joints_aligned_f_15mm": 0.97}
    lines = format_freihand_scores(scores)
    assert lines == [
        "FreiHAND scores on 3 samples (official evaluation; aligned = per-sample scaled Procrustes fit, "
        "reflections allowed)",
        "Joints, mean error: 1.5000 cm",
        "Joints, mean error, aligned: 0.7400 cm",
        "Joints, AUC of PCK 0-50 mm: 0.7000",
        "Joints, AUC of PCK 0-50 mm, aligned: 0.8500",
        "Mesh, mean error: 1.6000 cm",
        "Mesh, mean error, aligned: 0.7600 cm",
        "Mesh, AUC of PCK 0-50 mm: 0.6900",
        "Mesh, AUC of PCK 0-50 mm, aligned: 0.8490",
        "Mesh, F-score at 5 mm: 0.5000",
        "Mesh, F-score at 15 mm: 0.9000",
        "Mesh, F-score at 5 mm, aligned: 0.6810",
        "Mesh, F-score at 15 mm, aligned: 0.9730",
        "Extra (not in the official evaluation): Joints, F-score at 5 mm, aligned: 0.6000",
        "Extra (not in the official evaluation): Joints, F-score at 15 mm, aligned: 0.9700",
    ]
    assert capsys.readouterr().out.splitlines() == lines
    assert format_freihand_scores(scores, print_fn=None) == lines
    assert capsys.readouterr().out == ""
    # the keys freihand_scores returns are exactly the ones printed
    res = freihand_scores([np.eye(3)], [np.eye(3)], [np.eye(3)], [np.eye(3)])
    assert set(res) == set(scores)
