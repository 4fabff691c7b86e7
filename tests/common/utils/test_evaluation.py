"""Tests for common/utils/evaluation.py: the body metrics, the printed result lines and FreiHAND's pred.json
(docs/evaluation.md#metrics, docs/evaluation.md#result-lines, docs/evaluation.md#freihand-pred).

Expected values are hand-computed or follow from geometry (rigid motions, known offsets), not from re-implementing
the code under test. Everything is synthetic: a random non-negative regressor and random point clouds.
"""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from common.utils.evaluation import (
    H36M_EVAL_JOINTS,
    evaluate_body_sample,
    format_body_results,
    freihand_pred_entry,
    freihand_pred_json,
    mpjpe,
    mpvpe,
    pa_mpjpe,
    root_relative_eval_joints,
)
from common.utils.freihand_scores import load_freihand_eval_gt

NUM_VERTS = 50


@pytest.fixture()
def rng():
    return np.random.default_rng(0)


@pytest.fixture()
def body(rng):
    """A (17, V) row-normalised regressor, a mesh in mm and its regressed joints."""
    regressor = rng.random((17, NUM_VERTS))
    regressor /= regressor.sum(axis=1, keepdims=True)
    mesh = rng.normal(scale=300.0, size=(NUM_VERTS, 3)) + np.array([100.0, -50.0, 4000.0])
    joints = regressor @ mesh
    return regressor, mesh, joints


def _similarity(points, scale=1.3, trans=(10.0, -20.0, 30.0)):
    rot = Rotation.from_euler("xyz", [20, -35, 50], degrees=True).as_matrix()
    return scale * points @ rot.T + np.asarray(trans)


# ---------------------------------------------------------------------------------------------------------------------
# Body metrics
# ---------------------------------------------------------------------------------------------------------------------

def test_eval_joint_indices():
    assert H36M_EVAL_JOINTS == (1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 15, 16)
    joints = np.arange(51, dtype=float).reshape(17, 3) + 5.0
    out = root_relative_eval_joints(joints)
    assert out.shape == (14, 3)
    # row k of the input minus row 0 = 3k on every axis
    np.testing.assert_allclose(out, 3.0 * np.repeat(np.array(H36M_EVAL_JOINTS, float)[:, None], 3, axis=1))


def test_mpjpe_hand_computed():
    gt = np.zeros((3, 3))
    pred = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 2.0], [1.0, 2.0, 2.0]])  # distances 5, 2, 3
    assert mpjpe(pred, gt) == pytest.approx(10.0 / 3.0)


def test_mpjpe_and_pa_mpjpe_errors():
    with pytest.raises(ValueError, match="3 points but gt has 4"):
        mpjpe(np.zeros((3, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"\(n, 3\)"):
        pa_mpjpe(np.zeros((3, 2)), np.zeros((3, 2)))


def test_pa_mpjpe_removes_similarity(rng):
    gt = rng.normal(size=(14, 3)) * 200.0
    pred = _similarity(gt)
    assert mpjpe(pred, gt) > 10.0
    assert pa_mpjpe(pred, gt) == pytest.approx(0.0, abs=1e-8)
    assert pa_mpjpe(gt, gt) == pytest.approx(0.0, abs=1e-10)


def test_body_sample_gt_as_prediction_is_zero(body):
    regressor, mesh, joints = body
    res = evaluate_body_sample(mesh, joints, regressor, mesh, scale=1.0, gt_mesh_cam=mesh)
    assert set(res) == {"mpjpe_lixel", "pa_mpjpe_lixel", "mpjpe_param", "pa_mpjpe_param", "mpvpe_lixel", "mpvpe_param"}
    for key, value in res.items():
        assert value == pytest.approx(0.0, abs=1e-8), key


def test_body_sample_lixel_only_keys(body):
    regressor, mesh, joints = body
    res = evaluate_body_sample(mesh, joints, regressor, None, scale=1.0)
    assert set(res) == {"mpjpe_lixel", "pa_mpjpe_lixel"}


def test_body_sample_translation_removed_by_root(body):
    regressor, mesh, joints = body
    # absolute GT vs a translated lixel mesh, and a root-relative GT vs a (differently) translated param mesh
    res = evaluate_body_sample(mesh + np.array([123.0, -45.0, 678.0]), joints, regressor, mesh - 1000.0, scale=1.0)
    for key, value in res.items():
        assert value == pytest.approx(0.0, abs=1e-8), key
    res_rel = evaluate_body_sample(mesh + 7.0, joints - joints[0], regressor, None, scale=1.0)
    assert res_rel["mpjpe_lixel"] == pytest.approx(0.0, abs=1e-8)


def test_body_sample_similarity_only_pa_is_zero(body):
    regressor, mesh, joints = body
    res = evaluate_body_sample(_similarity(mesh), joints, regressor, None, scale=1.0)
    assert res["mpjpe_lixel"] > 10.0
    assert res["pa_mpjpe_lixel"] == pytest.approx(0.0, abs=1e-6)


def test_body_sample_known_error_and_scale(body):
    regressor, mesh, joints = body
    # Perturb one evaluated GT joint (R_Knee, index 2) by (0, 3, 4) -> distance 5 on 1 of 14 joints
    gt = joints.copy()
    gt[2] += np.array([0.0, 3.0, 4.0])
    res = evaluate_body_sample(mesh, gt, regressor, None, scale=1.0)
    assert res["mpjpe_lixel"] == pytest.approx(5.0 / 14.0)
    # metres with scale 1000 -> same number of millimetres
    res_m = evaluate_body_sample(mesh / 1000.0, gt / 1000.0, regressor, mesh / 1000.0, scale=1000.0)
    assert res_m["mpjpe_lixel"] == pytest.approx(5.0 / 14.0)
    assert res_m["mpjpe_param"] == pytest.approx(5.0 / 14.0)
    res_m1 = evaluate_body_sample(mesh / 1000.0, gt / 1000.0, regressor, None, scale=1.0)
    assert res_m1["mpjpe_lixel"] == pytest.approx(5.0 / 14.0 / 1000.0)
    assert res_m["pa_mpjpe_lixel"] == pytest.approx(1000.0 * res_m1["pa_mpjpe_lixel"])


def test_body_sample_shape_errors(body):
    regressor, mesh, joints = body
    with pytest.raises(ValueError, match="does not match a mesh with 49 vertices"):
        evaluate_body_sample(mesh[:-1], joints, regressor)


def test_mpvpe_root_aligned(body):
    regressor, mesh, _ = body
    assert mpvpe(mesh + 55.0, mesh, regressor) == pytest.approx(0.0, abs=1e-8)
    assert mpvpe(mesh + 55.0, mesh) == pytest.approx(55.0 * np.sqrt(3.0))
    # one vertex off by 6 of V: without regressor exactly 6 / V
    pred = mesh.copy()
    pred[0, 0] += 6.0
    assert mpvpe(pred, mesh) == pytest.approx(6.0 / NUM_VERTS)


# ---------------------------------------------------------------------------------------------------------------------
# Printed lines
# ---------------------------------------------------------------------------------------------------------------------

def test_format_body_results_exact_text(capsys):
    result = {
        "mpjpe_lixel": [50.0, 61.666],
        "pa_mpjpe_lixel": [41.1],
        "mpjpe_param": [66.054],
        "pa_mpjpe_param": [45.026, 45.034],
    }
    lines = format_body_results(result)
    assert lines == [
        "MPJPE from lixel mesh: 55.83 mm",
        "PA MPJPE from lixel mesh: 41.10 mm",
        "MPJPE from param mesh: 66.05 mm",
        "PA MPJPE from param mesh: 45.03 mm",
    ]
    assert capsys.readouterr().out == "\n".join(lines) + "\n"


def test_format_body_results_lixel_stage_prints_nan(capsys):
    result = {"mpjpe_lixel": [1.0, 2.0], "pa_mpjpe_lixel": [0.5], "mpjpe_param": [], "pa_mpjpe_param": []}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning for the empty lists
        lines = format_body_results(result)
    assert lines[2:] == ["MPJPE from param mesh: nan mm", "PA MPJPE from param mesh: nan mm"]
    assert lines[:2] == ["MPJPE from lixel mesh: 1.50 mm", "PA MPJPE from lixel mesh: 0.50 mm"]
    assert "param mesh: nan mm" in capsys.readouterr().out
    # missing keys behave like empty lists; print_fn=None prints nothing; extra MPVPE line only when present
    collected: list[str] = []
    lines = format_body_results({"mpvpe_lixel": [3.0]}, print_fn=collected.append)
    assert collected == lines
    assert lines[0] == "MPJPE from lixel mesh: nan mm" and lines[-1] == "MPVPE from lixel mesh: 3.00 mm"
    assert len(lines) == 5
    format_body_results({}, print_fn=None)
    assert capsys.readouterr().out == ""


# ---------------------------------------------------------------------------------------------------------------------
# FreiHAND
# ---------------------------------------------------------------------------------------------------------------------

def test_freihand_pred_entry(rng):
    reg = np.zeros((21, 778))
    reg[np.arange(21), np.arange(21) * 10] = 1.0
    mesh = rng.normal(size=(778, 3)) * 0.05 + np.array([0.0, 0.0, 0.6])
    joints, verts = freihand_pred_entry(mesh, reg)
    assert joints.shape == (21, 3) and verts.shape == (778, 3)
    np.testing.assert_allclose(joints, mesh[np.arange(21) * 10])
    np.testing.assert_allclose(verts, mesh)
    with pytest.raises(ValueError):
        freihand_pred_entry(mesh[:100], reg)


def test_freihand_pred_json_round_trip(rng):
    xyz = [rng.normal(size=(21, 3)).astype(np.float32) for _ in range(3)]
    verts = [rng.normal(size=(778, 3)) for _ in range(3)]
    data = json.loads(freihand_pred_json(xyz, verts))
    assert isinstance(data, list) and len(data) == 2
    joints, meshes = data
    assert len(joints) == 3 and len(meshes) == 3
    assert all(len(j) == 21 and all(len(r) == 3 for r in j) for j in joints)
    assert all(len(m) == 778 and all(len(r) == 3 for r in m) for m in meshes)
    assert isinstance(joints[0][0][0], float)
    np.testing.assert_array_equal(np.asarray(joints[1], dtype=np.float32), xyz[1])
    np.testing.assert_array_equal(np.asarray(meshes[2]), verts[2])


def test_freihand_pred_json_errors():
    with pytest.raises(ValueError, match="xyz_list has 2 entries but verts_list has 1"):
        freihand_pred_json([np.zeros((21, 3))] * 2, [np.zeros((778, 3))])
    with pytest.raises(ValueError, match="non-finite"):
        freihand_pred_json([np.full((21, 3), np.nan)], [np.zeros((778, 3))])
    with pytest.raises(ValueError, match=r"expected shape \(778, 3\)"):
        freihand_pred_json([np.zeros((21, 3))], [np.zeros((777, 3))])


# The FreiHAND scores (official evaluation definitions) are tested in tests/common/utils/test_freihand_scores.py.


def test_load_freihand_eval_gt(tmp_path):
    assert load_freihand_eval_gt(tmp_path) is None
    folder = tmp_path / "FreiHAND" / "data"
    folder.mkdir(parents=True)
    (folder / "evaluation_xyz.json").write_text(json.dumps([np.zeros((21, 3)).tolist()] * 2))
    assert load_freihand_eval_gt(tmp_path) is None  # verts file missing
    (folder / "evaluation_verts.json").write_text(json.dumps([np.ones((778, 3)).tolist()] * 2))
    loaded = load_freihand_eval_gt(tmp_path)
    assert loaded is not None
    xyz, verts = loaded
    assert len(xyz) == 2 and len(verts) == 2
    assert xyz[0].shape == (21, 3) and verts[1].shape == (778, 3)
    assert np.all(verts[1] == 1.0)
    assert load_freihand_eval_gt(folder) is not None  # the FreiHAND data folder itself also works
