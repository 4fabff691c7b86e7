"""main/train.py and main/test.py: a user error is one ``error:`` line naming the file and the fix, exit status 1;
``--debug`` shows the traceback; the repository root is found from any working directory."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(script: str, *flags: str, cwd: Path = ROOT / "main") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, script, *flags], cwd=cwd, capture_output=True, text=True, timeout=300)


def one_error_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def test_missing_snapshot_is_one_line_and_debug_shows_the_traceback(tmp_path):
    flags = ("--gpu", "0", "--stage", "param", "--test_epoch", "3", "--output_dir", str(tmp_path))
    line = one_error_line(run("test.py", *flags))
    assert f"--test_epoch 3: cannot find model at {tmp_path / 'model_dump' / 'snapshot_3.pth.tar'}" in line
    assert "pass an existing --test_epoch, --output_dir or --model_path FILE" in line
    debug = run("test.py", *flags, "--debug")
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "CheckpointError" in debug.stderr


def test_missing_body_model_file_is_one_line(tmp_path):
    missing = tmp_path / "no_models"
    line = one_error_line(run(str(ROOT / "main" / "train.py"), "--gpu", "0", "--stage", "lixel", "--random_init",
                              "--human_model_dir", str(missing), "--output_dir", str(tmp_path), cwd=tmp_path))
    assert "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl" in line and f"not found in '{missing}'" in line


@pytest.mark.parametrize("script, flags", [("train.py", ("--stage", "lixel", "--random_init")),
                                           ("test.py", ("--stage", "lixel", "--model_path", "snapshot.pth.tar"))])
def test_missing_dataset_file_is_one_line(model_dir, tmp_path, script, flags):
    data = tmp_path / "empty_data"
    data.mkdir()
    flags = tuple(str(tmp_path / f) if f.endswith(".pth.tar") else f for f in flags)
    (tmp_path / "snapshot.pth.tar").write_bytes(b"")  # found; the test set is read before the snapshot
    line = one_error_line(run(script, "--gpu", "0", *flags, "--trainset_3d", "FreiHAND", "--trainset_2d",
                              "--testset", "FreiHAND", "--human_model_dir", str(model_dir), "--data_dir", str(data),
                              "--output_dir", str(tmp_path / "out")))
    assert str(data / "FreiHAND") in line and "not found" in line and "--data_dir" in line
