"""main/predictor/smoothing.py on arrays: the One-Euro recursion, rotations through sign-continuous quaternions, the
per-key and per-track state."""
import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from main.predictor.errors import DemoError
from main.predictor.smoothing import (
    DEFAULT_SCALES,
    OneEuroFilter,
    RotationFilter,
    Smoothers,
    TrackSmoother,
    axis_angle_to_quaternion,
    quaternion_to_axis_angle,
)


def scalar_one_euro(xs, ts, min_cutoff, beta, d_cutoff):
    """The paper's recursion written out for one scalar (speed from the previous raw value)."""
    def alpha(cutoff, dt):
        r = 2 * math.pi * cutoff * dt
        return r / (r + 1)

    out, x_hat, dx_hat = [xs[0]], xs[0], 0.0
    for i in range(1, len(xs)):
        dt = ts[i] - ts[i - 1]
        dx_hat = alpha(d_cutoff, dt) * (xs[i] - xs[i - 1]) / dt + (1 - alpha(d_cutoff, dt)) * dx_hat
        a = alpha(min_cutoff + beta * abs(dx_hat), dt)
        x_hat = a * xs[i] + (1 - a) * x_hat
        out.append(x_hat)
    return np.array(out)


def test_one_euro_matches_the_scalar_recursion_elementwise():
    rng = np.random.default_rng(0)
    ts = np.cumsum(rng.uniform(0.02, 0.1, 40))  # uneven steps: strides and dropped frames
    xs = rng.normal(0, 50, (40, 2, 3)).cumsum(0)
    filt = OneEuroFilter(min_cutoff=1.5, beta=0.01, d_cutoff=1.0)
    out = np.stack([filt(x, t) for x, t in zip(xs, ts)])
    np.testing.assert_array_equal(out[0], xs[0])  # the first call returns its input
    for j in range(2):
        for k in range(3):
            np.testing.assert_allclose(out[:, j, k], scalar_one_euro(xs[:, j, k], ts, 1.5, 0.01, 1.0), rtol=1e-12)


def test_one_euro_keeps_a_constant_and_beta_cuts_the_lag_of_a_ramp():
    filt = OneEuroFilter()
    for i in range(10):
        assert filt(np.full(3, 7.0), i / 30)[0] == 7.0
    ramp = [1000.0 * i / 30 for i in range(60)]  # 1 m/s
    slow, fast = OneEuroFilter(1.0, 0.0), OneEuroFilter(1.0, 0.01)
    lag_slow = ramp[-1] - [slow(np.array(v), i / 30) for i, v in enumerate(ramp)][-1]
    lag_fast = ramp[-1] - [fast(np.array(v), i / 30) for i, v in enumerate(ramp)][-1]
    # a first-order low-pass trails a ramp by speed / (2 pi fc) at steady state: 159 mm at 1 Hz
    assert lag_slow == pytest.approx(1000 / (2 * math.pi), rel=0.05)
    assert lag_fast < lag_slow / 5  # cutoff 1 + 0.01 * 1000 = 11 Hz


def test_one_euro_rejects_bad_parameters_and_times():
    with pytest.raises(DemoError, match="--smooth_min_cutoff"):
        OneEuroFilter(min_cutoff=0)
    with pytest.raises(DemoError, match="--smooth_beta"):
        TrackSmoother(beta=-1)
    filt = OneEuroFilter()
    filt(np.zeros(2), 1.0)
    with pytest.raises(ValueError, match="must increase"):
        filt(np.zeros(2), 1.0)


def test_quaternion_conversions_against_scipy():
    rng = np.random.default_rng(1)
    rotvec = np.concatenate([rng.normal(0, 1.5, (50, 3)), rng.normal(0, 1e-8, (3, 3)), np.zeros((1, 3)),
                             [[math.pi, 0, 0], [0, -3.1, 0.2]]])
    quat = axis_angle_to_quaternion(rotvec)
    xyzw = Rotation.from_rotvec(rotvec).as_quat()
    reference = np.concatenate([xyzw[:, 3:], xyzw[:, :3]], axis=1)
    sign = np.sign(np.sum(quat * reference, axis=1, keepdims=True))
    np.testing.assert_allclose(quat, sign * reference, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(quat, axis=1), 1.0)
    # back, from either sign: the same rotation, angle in [0, pi]
    for q in (quat, -quat):
        back = quaternion_to_axis_angle(q)
        assert np.all(np.linalg.norm(back, axis=1) <= math.pi + 1e-12)
        np.testing.assert_allclose(Rotation.from_rotvec(back).as_matrix(), Rotation.from_rotvec(rotvec).as_matrix(),
                                   atol=1e-10)
    small = rotvec[50:53]
    np.testing.assert_allclose(quaternion_to_axis_angle(axis_angle_to_quaternion(small)), small, rtol=1e-10)


def rotation_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (radians) of the rotation between axis-angles a and b, (..., 3)."""
    return np.linalg.norm((Rotation.from_rotvec(a.reshape(-1, 3)).inv()
                           * Rotation.from_rotvec(b.reshape(-1, 3))).as_rotvec(), axis=1)


def test_rotations_through_pi_are_smoothed_and_raw_axis_angle_would_break():
    # one joint turning steadily about a fixed axis through pi: the axis-angle jumps from about +pi v to -pi v
    axis = np.array([0.0, 0.6, 0.8])
    t = np.arange(40) / 30
    angles = 2.6 + 1.5 * t  # rad, crosses pi at frame 11
    truth = Rotation.from_rotvec(angles[:, None] * axis).as_rotvec()  # scipy keeps the angle in [0, pi]
    assert np.linalg.norm(truth[12] - truth[10]) > 5  # the jump
    rot_filter, raw_filter = RotationFilter(), OneEuroFilter()
    smoothed = np.stack([rot_filter(r[None], ti) for r, ti in zip(truth, t)])[:, 0]
    raw = np.stack([raw_filter(r, ti) for r, ti in zip(truth, t)])
    # the quaternion path trails by a few hundredths of a radian; filtering the axis-angle numbers passes near identity
    assert rotation_error(smoothed, truth).max() < 0.15
    assert rotation_error(raw, truth).max() > 1.0
    # a constant rotation, with its quaternion given in both signs, comes out unchanged
    still = RotationFilter()
    for i, r in enumerate([[0, math.pi, 0], [0, -math.pi, 0]] * 3):
        np.testing.assert_allclose(Rotation.from_rotvec(still(np.array([r]), i / 30)[0]).as_matrix(),
                                   Rotation.from_rotvec([0, math.pi, 0]).as_matrix(), atol=1e-12)


def test_track_smoother_keys_shapes_none_and_units():
    rng = np.random.default_rng(2)
    smoother = TrackSmoother()
    frames = [{"bbox": rng.normal(100, 5, 4), "root_depth": 5.0 + i * 0.01, "joints_cam": rng.normal(0, 1, (29, 3)),
               "pose": rng.normal(0, 0.3, 72), "shape": rng.normal(0, 1, 10), "mesh_param_cam": None}
              for i in range(3)]
    outs = [smoother.smooth(f, i / 30) for i, f in enumerate(frames)]
    assert outs[0]["mesh_param_cam"] is None and isinstance(outs[2]["root_depth"], float)
    for key in ("bbox", "joints_cam", "pose", "shape"):
        assert outs[2][key].shape == frames[2][key].shape
        # first frame: unchanged (pose up to the rounding of the quaternion round trip)
        np.testing.assert_allclose(outs[0][key], frames[0][key], rtol=0, atol=1e-12)
    # each key has its own filter: joints_cam (metres, scale 1000) filtered as mm with beta unscaled
    mm = OneEuroFilter(beta=smoother.beta)
    expected = [mm(f["joints_cam"] * 1000, i / 30) for i, f in enumerate(frames)][-1] / 1000
    np.testing.assert_allclose(outs[2]["joints_cam"], expected, rtol=0, atol=1e-12)
    assert DEFAULT_SCALES["joints_cam"] == 1000
    # pose goes through quaternions: the output is the rotation path's, not the plain filter's
    rot = RotationFilter(beta=smoother.beta * DEFAULT_SCALES["pose"])
    expected_pose = [rot(f["pose"].reshape(-1, 3), i / 30) for i, f in enumerate(frames)][-1]
    np.testing.assert_allclose(outs[2]["pose"], expected_pose.reshape(72), rtol=0, atol=1e-12)
    # a value absent on one frame passes through as None, and its filter resumes from where it was
    again = smoother.smooth({"bbox": None, "shape": frames[2]["shape"]}, 3 / 30)
    assert again["bbox"] is None and set(again) == {"bbox", "shape"}


def test_smoothers_keep_one_state_per_track_and_forget_ended_ones():
    smoothers = Smoothers(min_cutoff=1.0, beta=0.0)  # a plain low-pass: 0.17 of each step at 30 frames/s
    a = smoothers.smooth(0, {"trans": np.zeros(3)}, 0.0)
    b = smoothers.smooth(1, {"trans": np.ones(3)}, 0.0)
    np.testing.assert_array_equal(a["trans"], 0)
    np.testing.assert_array_equal(b["trans"], 1)
    # track 1's filter starts from its own first value, not track 0's
    assert np.all(smoothers.smooth(1, {"trans": np.ones(3)}, 1 / 30)["trans"] == 1)
    alpha = 1 / (1 + 30 / (2 * math.pi))
    np.testing.assert_allclose(smoothers.smooth(0, {"trans": np.ones(3)}, 1 / 30)["trans"], alpha)
    smoothers.retain([1])
    assert smoothers.track_ids == [1]
    # a track seen again after being forgotten starts over
    np.testing.assert_array_equal(smoothers.smooth(0, {"trans": np.full(3, 9.0)}, 2 / 30)["trans"], 9.0)
    with pytest.raises(DemoError, match="--smooth_min_cutoff"):
        Smoothers(min_cutoff=-1)
