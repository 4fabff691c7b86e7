"""tools/smoothing_check.py: the jitter and lag metrics on known cases, and the demo's default smoothing against the
targets (jitter at least 3x lower, lag at most 2 frames)."""
import numpy as np

from main.predictor.smoothing import DEFAULT_BETA, DEFAULT_MIN_CUTOFF
from tools.smoothing_check import (
    AMPLITUDE_MM,
    jitter,
    lag_frames,
    main,
    measure,
    measure_seeds,
    synthetic_tracks,
)


def test_synthetic_tracks_follow_the_stated_recipe():
    t, truth, noisy = synthetic_tracks(seed=3, seconds=4.0)
    assert t.shape == (120,) and truth.shape == noisy.shape == (120, 29, 3)
    np.testing.assert_allclose(np.diff(t), 1 / 30)
    assert np.abs(truth).max() <= AMPLITUDE_MM[1]  # the sinusoids' amplitudes add up to at most 300 mm
    assert 9.0 < (noisy - truth).std() < 11.0
    np.testing.assert_array_equal(synthetic_tracks(seed=3, seconds=4.0)[2], noisy)  # seeded


def test_jitter_is_zero_without_noise_and_known_for_a_single_bump():
    _, truth, _ = synthetic_tracks(seed=0, seconds=2.0)
    assert jitter(truth, truth) == 0.0
    assert jitter(truth + np.array([5.0, -2.0, 1.0]), truth) < 1e-12  # an offset has no acceleration
    bumped = truth.copy()
    bumped[10, 4] += [3.0, 4.0, 0.0]  # 5 mm on one joint, one frame: second differences -> 5, -10, 5 mm/frame^2
    assert np.isclose(jitter(bumped, truth), 20.0 / ((len(truth) - 2) * 29))


def test_lag_of_a_pure_delay_is_the_delay():
    t, truth, _ = synthetic_tracks(seed=1, seconds=5.0)
    for k in (0, 1, 3, 7):
        delayed = np.concatenate([np.repeat(truth[:1], k, axis=0), truth[:len(truth) - k]])
        lags = lag_frames(delayed, truth)
        assert lags.shape == (29 * 3,) and np.all(lags == k)
    assert np.all(lag_frames(truth[2:], truth[:-2]) == -2)  # an estimate ahead of the truth has a negative lag


def test_default_smoothing_meets_the_targets():
    for seed in range(3):
        result = measure(DEFAULT_MIN_CUTOFF, DEFAULT_BETA, seed=seed, seconds=4.0)
        assert result["raw_jitter"] > 30  # 10 mm noise: sqrt(6) x 10 mm per coordinate, ~39 mm/frame^2 in 3D
        assert result["ratio"] >= 3.0, result
        assert result["lag_max"] <= 2 and result["lag_mean"] > 0.5, result
    # filtering harder lags more than 2 frames: the lag metric does see the filter
    assert measure_seeds(1.0, 0.0, seeds=1, seconds=4.0)["lag_max"] > 2


def test_command_prints_a_markdown_table(capsys):
    rows = main(["--seeds", "1", "--seconds", "3"])
    out = capsys.readouterr().out
    assert len(rows) == 1 and rows[0]["min_cutoff"] == DEFAULT_MIN_CUTOFF
    assert "| min_cutoff (Hz) |" in out and f"| {DEFAULT_MIN_CUTOFF:g} | {DEFAULT_BETA:g} |" in out
