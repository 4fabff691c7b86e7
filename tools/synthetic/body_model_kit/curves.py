"""Smooth 1-D functions and profile curves used to shape and deform the synthetic meshes.

A *profile* is a table of cross-section parameters against a coordinate along a limb or the torso (metres),
interpolated monotonically so the surface has no overshoots between table rows.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.interpolate import PchipInterpolator

Profile = Callable[[np.ndarray | float], np.ndarray]


def smoothstep(t: np.ndarray) -> np.ndarray:
    """Cubic 0 -> 1 step on [0, 1] with zero slope at both ends (``t`` clipped to [0, 1])."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def ramp(x: np.ndarray | float, lo: float, hi: float) -> np.ndarray:
    """Smooth 0 -> 1 transition as ``x`` goes from ``lo`` to ``hi`` (``lo > hi`` flips it)."""
    return smoothstep((np.asarray(x, dtype=np.float64) - lo) / (hi - lo))


def bump(x: np.ndarray | float, centre: float, width: float) -> np.ndarray:
    """Gaussian bump of height 1 at ``centre`` with standard deviation ``width`` (same units as ``x``)."""
    return np.exp(-0.5 * ((np.asarray(x, dtype=np.float64) - centre) / width) ** 2)


def normalize(v: np.ndarray | Sequence[float]) -> np.ndarray:
    """``v`` (..., 3) scaled to unit length along the last axis."""
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def profile(points: Sequence[Sequence[float]]) -> Profile:
    """Monotone cubic interpolation of a table ``[(t, a, b, ...), ...]`` -> callable t -> (n, k)."""
    arr = np.asarray(points, dtype=np.float64)
    arr = arr[np.argsort(arr[:, 0])]
    interp = PchipInterpolator(arr[:, 0], arr[:, 1:], axis=0, extrapolate=True)
    return lambda t: interp(np.asarray(t, dtype=np.float64))


def arclength_samples(prof: Profile, t0: float, t1: float, count: int, radius_cols: Sequence[int] = (0, 1),
                      dense: int = 4000) -> np.ndarray:
    """``count`` values of t in [t0, t1) equally spaced in arc length of the profile curve.

    The profile curve is (t, mean radius) so rings bunch up where the cross-section changes fast.
    """
    t = np.linspace(t0, t1, dense)
    r = prof(t)[:, list(radius_cols)].mean(axis=1)
    seg = np.hypot(np.diff(t), np.diff(r))
    s = np.concatenate([[0.0], np.cumsum(seg)])
    targets = np.linspace(0.0, s[-1], count, endpoint=False)
    return np.interp(targets, s, t)


def arclength(prof: Profile, t0: float, t1: float, radius_cols: Sequence[int] = (0, 1),
              dense: int = 4000) -> float:
    """Length of the (t, mean radius) curve of ``prof`` between ``t0`` and ``t1`` (metres)."""
    t = np.linspace(t0, t1, dense)
    r = prof(t)[:, list(radius_cols)].mean(axis=1)
    return float(np.hypot(np.diff(t), np.diff(r)).sum())
