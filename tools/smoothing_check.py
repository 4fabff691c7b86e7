"""What the demo's One-Euro smoothing (``--smooth``) does to jitter and lag, on synthetic joint tracks.

    python tools/smoothing_check.py [--min_cutoff HZ] [--beta B] [--seeds 5] [--seconds 10] [--components 3]
        [--sweep]

Ground truth: 29 joints x 3 coordinates at 30 frames/s; each coordinate moves by a sum of 3 sinusoids (frequencies
uniform in 0.2-2 Hz, random phases) whose amplitudes add up to a motion amplitude uniform in 100-300 mm.  The input
adds Gaussian noise of sigma 10 mm.  Metrics, for the raw input and the filtered one:

* jitter: the mean acceleration error, mean over frames and joints of |a_est - a_true| (3D norm), a the second
  difference over frames, in mm/frame^2 (x 900 for mm/s^2 at 30 frames/s);
* lag: per coordinate, the shift (frames) that maximises the correlation of the filtered track with the truth.

Prints a markdown table; ``--sweep`` prints one row per (min_cutoff, beta) of a small grid.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from main.predictor.smoothing import (  # noqa: E402
    DEFAULT_BETA,
    DEFAULT_D_CUTOFF,
    DEFAULT_MIN_CUTOFF,
    OneEuroFilter,
)

FPS = 30.0
JOINTS = 29
COMPONENTS = 3
AMPLITUDE_MM = (100.0, 300.0)
FREQUENCY_HZ = (0.2, 2.0)
NOISE_MM = 10.0
MAX_LAG = 10  # frames searched on either side
TARGET_RATIO, TARGET_LAG = 3.0, 2  # jitter at least 3x lower, lag at most 2 frames
SWEEP_MIN_CUTOFF = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0)  # Hz
SWEEP_BETA = (0.0, 0.0003, 0.001, 0.003)  # per mm/s


def synthetic_tracks(seed: int, seconds: float = 10.0, fps: float = FPS, joints: int = JOINTS,
                     components: int = COMPONENTS, noise_mm: float = NOISE_MM) -> tuple[np.ndarray, ...]:
    """Times (T,) seconds, true (T, joints, 3) and noisy (T, joints, 3) positions in mm."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * fps))) / fps
    amplitude = rng.uniform(*AMPLITUDE_MM, (joints, 3, 1)) / components
    freq = rng.uniform(*FREQUENCY_HZ, (joints, 3, components))
    phase = rng.uniform(0.0, 2 * np.pi, (joints, 3, components))
    truth = (amplitude * np.sin(2 * np.pi * freq * t[:, None, None, None] + phase)).sum(-1)
    return t, truth, truth + rng.normal(0.0, noise_mm, truth.shape)


def jitter(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Mean acceleration error (mm/frame^2) of (T, ..., 3) tracks: the mean over frames and points of the 3D norm of
    the difference of second differences over frames."""
    accel_error = np.diff(estimate, 2, axis=0) - np.diff(truth, 2, axis=0)
    return float(np.linalg.norm(accel_error, axis=-1).mean())


def lag_frames(estimate: np.ndarray, truth: np.ndarray, max_lag: int = MAX_LAG) -> np.ndarray:
    """Per coordinate of (T, ...) tracks, the lag k in [-max_lag, max_lag] (frames) that maximises the Pearson
    correlation of estimate[t + k] with truth[t] over the overlapping frames; k > 0: the estimate comes late."""
    est = estimate.reshape(len(estimate), -1)
    tru = truth.reshape(len(truth), -1)
    lags = np.arange(-max_lag, max_lag + 1)
    corr = np.stack([_pearson(est[k:], tru[:len(tru) - k]) if k >= 0 else _pearson(est[:k], tru[-k:])
                     for k in lags])
    return lags[np.argmax(corr, axis=0)]


def _pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Column-wise correlation of two (T, C) arrays."""
    a = a - a.mean(0)
    b = b - b.mean(0)
    return (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0))


def one_euro(noisy: np.ndarray, t: np.ndarray, min_cutoff: float, beta: float,
             d_cutoff: float = DEFAULT_D_CUTOFF) -> np.ndarray:
    """The demo's filter run over the frames of a (T, ...) track."""
    filt = OneEuroFilter(min_cutoff, beta, d_cutoff)
    return np.stack([filt(frame, float(time)) for frame, time in zip(noisy, t)])


def measure(min_cutoff: float = DEFAULT_MIN_CUTOFF, beta: float = DEFAULT_BETA, seed: int = 0,
            seconds: float = 10.0, components: int = COMPONENTS, d_cutoff: float = DEFAULT_D_CUTOFF) -> dict:
    """Jitter (mm/frame^2) of the raw and filtered tracks of one seed, their ratio, and the filtered lag (frames)
    per coordinate (``lags``) with its mean and max."""
    t, truth, noisy = synthetic_tracks(seed, seconds, components=components)
    filtered = one_euro(noisy, t, min_cutoff, beta, d_cutoff)
    raw, smooth = jitter(noisy, truth), jitter(filtered, truth)
    lags = lag_frames(filtered, truth)
    return {"min_cutoff": min_cutoff, "beta": beta, "raw_jitter": raw, "filtered_jitter": smooth,
            "ratio": raw / smooth, "lags": lags, "lag_mean": float(lags.mean()), "lag_max": int(lags.max())}


def measure_seeds(min_cutoff: float, beta: float, seeds: int = 5, seconds: float = 10.0,
                  components: int = COMPONENTS) -> dict:
    """``measure`` over seeds 0..seeds-1: mean jitters, ratio of the means, lag mean and max over all coordinates,
    and whether both targets are met."""
    runs = [measure(min_cutoff, beta, seed, seconds, components) for seed in range(seeds)]
    raw = float(np.mean([r["raw_jitter"] for r in runs]))
    smooth = float(np.mean([r["filtered_jitter"] for r in runs]))
    lags = np.concatenate([r["lags"] for r in runs])
    result = {"min_cutoff": min_cutoff, "beta": beta, "raw_jitter": raw, "filtered_jitter": smooth,
              "ratio": raw / smooth, "lag_mean": float(lags.mean()), "lag_max": int(lags.max())}
    result["meets_targets"] = result["ratio"] >= TARGET_RATIO and result["lag_max"] <= TARGET_LAG
    return result


def table(rows: list[dict]) -> str:
    """Markdown table of ``measure_seeds`` results."""
    lines = ["| min_cutoff (Hz) | beta (per mm/s) | raw jitter (mm/frame^2) | filtered jitter (mm/frame^2) | "
             "ratio | lag mean (frames) | lag max (frames) | targets met |",
             "|---:|---:|---:|---:|---:|---:|---:|:---:|"]
    for r in rows:
        lines.append(f"| {r['min_cutoff']:g} | {r['beta']:g} | {r['raw_jitter']:.2f} | {r['filtered_jitter']:.2f} | "
                     f"{r['ratio']:.2f} | {r['lag_mean']:.2f} | {r['lag_max']} | "
                     f"{'yes' if r['meets_targets'] else 'no'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--min_cutoff", type=float, default=DEFAULT_MIN_CUTOFF, help="Hz")
    parser.add_argument("--beta", type=float, default=DEFAULT_BETA, help="per mm/s")
    parser.add_argument("--seeds", type=int, default=5, help="synthetic sets, seeds 0..N-1 (default 5)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each set (default 10)")
    parser.add_argument("--components", type=int, default=COMPONENTS,
                        help=f"sinusoids per coordinate (default {COMPONENTS}); 1: a single 100-300 mm sinusoid")
    parser.add_argument("--sweep", action="store_true", help="a grid of min_cutoff x beta instead of one setting")
    args = parser.parse_args(argv)
    grid = ([(c, b) for c in SWEEP_MIN_CUTOFF for b in SWEEP_BETA] if args.sweep
            else [(args.min_cutoff, args.beta)])
    rows = [measure_seeds(c, b, args.seeds, args.seconds, args.components) for c, b in grid]
    print(f"{JOINTS} joints x 3 coordinates, {args.components} sinusoid(s) each, {args.seconds:g} s at {FPS:g} "
          f"frames/s, seeds 0..{args.seeds - 1}, noise {NOISE_MM:g} mm; targets: ratio >= {TARGET_RATIO:g}, "
          f"lag max <= {TARGET_LAG} frames")
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
