"""Temporal smoothing of a tracked person's outputs: the One-Euro filter (Casiez, Roussel and Vogel, CHI 2012),
vectorised, with rotations filtered as sign-continuous unit quaternions (docs/tracking_smoothing.md).

Times are in seconds (video frame index / frame rate).  The filter is causal: each output depends on the frames seen
so far only, so results can be written as the frames are decoded.
"""
from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from types import MappingProxyType

import numpy as np

from main.predictor.errors import DemoError

# Chosen with tools/smoothing_check.py --sweep (synthetic 29-joint tracks at 30 frames/s, 10 mm noise): jitter 3.3x
# lower than the raw input, cross-correlation lag 1.2 frames on average and 2 at most, over 20 seeds too.  A lower
# min_cutoff smooths more but lags 3 frames on some coordinates; a larger beta cuts the lag but lets more noise through.
DEFAULT_MIN_CUTOFF = 2.5  # Hz: the cutoff when the value does not move
DEFAULT_BETA = 0.001  # Hz per mm/s: how fast the cutoff rises with the speed of the value (see DEFAULT_SCALES)
DEFAULT_D_CUTOFF = 1.0  # Hz: the cutoff of the speed estimate (the paper's value)
# beta multiplies a speed, so its meaning depends on the unit of each value.  Speeds are compared in millimetres per
# second: a key's value times its scale is in millimetres (or its equivalent).  Metres: 1000.  Pixels: 4, about the
# millimetres per pixel of a standing person (1.7 m) some 400 px high in a 640x480 video.  Unit quaternions: 500;
# they change by about half the rotation angle, so the end of a 25 cm body segment moves 2 x 250 mm per unit.
# SMPL/MANO shape coefficients (unit standard deviations) and unlisted keys: 1.
DEFAULT_SCALES: Mapping[str, float] = MappingProxyType({
    "bbox": 4.0, "joints_img": 4.0, "root_depth": 1000.0, "joints_cam": 1000.0, "mesh_lixel_cam": 1000.0,
    "mesh_param_cam": 1000.0, "trans": 1000.0, "pose": 500.0, "shape": 1.0,
})
DEFAULT_ROTATIONS = frozenset({"pose"})  # keys holding axis-angle rotations, (K*3,) or (K, 3)


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    """Smoothing factor of a first-order low-pass of ``cutoff`` Hz sampled every ``dt`` seconds."""
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One-Euro filter over an array of any fixed shape, each element filtered on its own.

    Per call: the speed (value - previous value) / dt is low-passed at ``d_cutoff``; the value is low-passed at
    ``min_cutoff + beta * |speed|`` Hz.  Slow values are smoothed hard (little jitter), fast ones lightly (little lag).
    The speed is taken from the raw values, as in the authors' reference code.
    """

    def __init__(self, min_cutoff: float = DEFAULT_MIN_CUTOFF, beta: float = DEFAULT_BETA,
                 d_cutoff: float = DEFAULT_D_CUTOFF):
        if not min_cutoff > 0:
            raise DemoError(f"--smooth_min_cutoff {min_cutoff} must be a positive frequency in Hz (default "
                            f"{DEFAULT_MIN_CUTOFF})")
        if not beta >= 0:
            raise DemoError(f"--smooth_beta {beta} must be 0 or more (default {DEFAULT_BETA})")
        if not d_cutoff > 0:
            raise DemoError(f"the One-Euro speed cutoff {d_cutoff} must be a positive frequency in Hz")
        self.min_cutoff, self.beta, self.d_cutoff = float(min_cutoff), float(beta), float(d_cutoff)
        self._raw: np.ndarray | None = None  # previous input
        self._x: np.ndarray | None = None  # previous output
        self._dx: np.ndarray | None = None  # previous filtered speed, units per second
        self._t: float | None = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """Filtered value (float64, shape of ``x``) at time ``t`` seconds; the first call returns ``x``.  A change
        of shape restarts the filter."""
        x = np.array(x, dtype=np.float64)
        if self._x is None or self._x.shape != x.shape:
            self._raw, self._x, self._dx, self._t = x, x.copy(), np.zeros_like(x), float(t)
            return x.copy()
        dt = float(t) - self._t
        if not dt > 0:
            raise ValueError(f"One-Euro filter times must increase: got t={t} s after t={self._t} s")
        speed = (x - self._raw) / dt
        self._dx = self._dx + _alpha(self.d_cutoff, dt) * (speed - self._dx)
        alpha = _alpha(self.min_cutoff + self.beta * np.abs(self._dx), dt)
        self._x = self._x + alpha * (x - self._x)
        self._raw, self._t = x, float(t)
        return self._x.copy()


def axis_angle_to_quaternion(rotvec: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle (radians) -> (..., 4) unit quaternions (w, x, y, z)."""
    rotvec = np.asarray(rotvec, dtype=np.float64)
    angle = np.linalg.norm(rotvec, axis=-1, keepdims=True)
    small = angle < 1e-6
    safe = np.where(small, 1.0, angle)
    # sin(a/2)/a, with its Taylor series 1/2 - a^2/48 where a/0 is unsafe
    k = np.where(small, 0.5 - angle ** 2 / 48.0, np.sin(safe / 2.0) / safe)
    return np.concatenate([np.cos(angle / 2.0), rotvec * k], axis=-1)


def quaternion_to_axis_angle(quat: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions (w, x, y, z; normalised here) -> (..., 3) axis-angle with angle in [0, pi]."""
    quat = np.asarray(quat, dtype=np.float64)
    quat = quat / np.linalg.norm(quat, axis=-1, keepdims=True)
    quat = np.where(quat[..., :1] < 0, -quat, quat)  # q and -q are one rotation: take the one with angle <= pi
    w, xyz = quat[..., :1], quat[..., 1:]
    sin_half = np.linalg.norm(xyz, axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(sin_half, w)
    small = sin_half < 1e-6
    # angle / sin(angle/2), and its limit 2/w (1 - sin^2/(3 w^2)) for tiny rotations
    k = np.where(small, 2.0 / w * (1.0 - sin_half ** 2 / (3.0 * w ** 2)), angle / np.where(small, 1.0, sin_half))
    return xyz * k


class RotationFilter:
    """One-Euro filter of (K, 3) axis-angle rotations through unit quaternions.

    Axis-angle is not filtered directly: near an angle of pi the same rotation jumps between v and about -v, and an
    average of the two is a different rotation.  Each quaternion is flipped into the hemisphere of the previous output
    (q and -q are one rotation), filtered component-wise, renormalised and converted back.
    """

    def __init__(self, min_cutoff: float = DEFAULT_MIN_CUTOFF, beta: float = DEFAULT_BETA,
                 d_cutoff: float = DEFAULT_D_CUTOFF):
        self._filter = OneEuroFilter(min_cutoff, beta, d_cutoff)
        self._previous: np.ndarray | None = None

    def __call__(self, rotvec: np.ndarray, t: float) -> np.ndarray:
        """(..., 3) axis-angle at time ``t`` seconds -> filtered (..., 3) axis-angle (same shape)."""
        rotvec = np.asarray(rotvec, dtype=np.float64)
        quat = axis_angle_to_quaternion(rotvec.reshape(-1, 3))
        if self._previous is not None and self._previous.shape == quat.shape:
            quat = np.where(np.sum(quat * self._previous, axis=-1, keepdims=True) < 0, -quat, quat)
        filtered = self._filter(quat, t)
        self._previous = filtered / np.linalg.norm(filtered, axis=-1, keepdims=True)
        return quaternion_to_axis_angle(self._previous).reshape(rotvec.shape)


class TrackSmoother:
    """The smoothing state of one track: one filter per named value.

    Keys in ``rotations`` hold axis-angle rotations ((K*3,) or (K, 3)) and go through :class:`RotationFilter`; the
    others through :class:`OneEuroFilter`.  Each key's ``beta`` is ``beta`` times its ``scales`` entry (speeds in mm/s).
    """

    def __init__(self, min_cutoff: float = DEFAULT_MIN_CUTOFF, beta: float = DEFAULT_BETA,
                 d_cutoff: float = DEFAULT_D_CUTOFF, rotations: Collection[str] = DEFAULT_ROTATIONS,
                 scales: Mapping[str, float] = DEFAULT_SCALES):
        OneEuroFilter(min_cutoff, beta, d_cutoff)  # checks the parameters now, not at the first frame
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.rotations = frozenset(rotations)
        self.scales = dict(scales)
        self._filters: dict[str, OneEuroFilter | RotationFilter] = {}

    def smooth(self, values: Mapping[str, np.ndarray | float | None], t: float) -> dict:
        """Smoothed copy of ``values`` at time ``t`` seconds: arrays keep their shape (float64), Python numbers
        stay floats, None passes through (the key's filter keeps its state for the next value)."""
        out = {}
        for key, value in values.items():
            if value is None:
                out[key] = None
                continue
            if key not in self._filters:
                # filtering value * scale with beta equals filtering value with beta * scale, then dividing
                kind = RotationFilter if key in self.rotations else OneEuroFilter
                self._filters[key] = kind(self.min_cutoff, self.beta * self.scales.get(key, 1.0), self.d_cutoff)
            smoothed = self._filters[key](np.asarray(value), t)
            out[key] = float(smoothed) if np.ndim(value) == 0 and not isinstance(value, np.ndarray) else smoothed
        return out


class Smoothers:
    """One :class:`TrackSmoother` per track id, made on first use, with shared parameters."""

    def __init__(self, **params):
        """``params``: the keyword arguments of :class:`TrackSmoother` (checked here)."""
        TrackSmoother(**params)
        self._params = params
        self._tracks: dict[int, TrackSmoother] = {}

    def smooth(self, track_id: int, values: Mapping[str, np.ndarray | float | None], t: float) -> dict:
        """``TrackSmoother.smooth`` of track ``track_id``."""
        if track_id not in self._tracks:
            self._tracks[track_id] = TrackSmoother(**self._params)
        return self._tracks[track_id].smooth(values, t)

    def retain(self, track_ids: Iterable[int]) -> None:
        """Forget the tracks not in ``track_ids`` (those the tracker dropped)."""
        keep = set(track_ids)
        self._tracks = {tid: smoother for tid, smoother in self._tracks.items() if tid in keep}

    @property
    def track_ids(self) -> list[int]:
        return sorted(self._tracks)
