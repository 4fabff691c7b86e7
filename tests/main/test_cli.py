"""Command lines of train.py / test.py (docs/training.md#cli): GPU lists, required flags, config flags, help."""
import subprocess
import sys
from pathlib import Path

import pytest

from main.cli import parse_test_args, parse_train_args

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("gpu,ids", [("0-3", (0, 1, 2, 3)), ("0,1,2,3", (0, 1, 2, 3)), ("2", (2,)), ("4-7", (4, 5, 6, 7))])
def test_gpu_lists_parse_as_the_original(gpu, ids):
    cfg = parse_train_args(["--gpu", gpu, "--stage", "lixel"])
    assert cfg.gpu_ids == ids and cfg.stage == "lixel" and not cfg.continue_train


def test_param_stage_with_continue_and_config_flags():
    cfg = parse_train_args(["--gpu", "0", "--stage", "param", "--continue", "--amp", "bf16", "--save_every_min", "30",
                            "--trainset_3d", "FreiHAND", "--trainset_2d", "--testset", "FreiHAND", "--num_thread", "4"])
    assert cfg.continue_train and cfg.stage == "param" and cfg.amp == "bf16" and cfg.save_every_min == 30.0
    assert cfg.is_hand and cfg.end_epoch == 30 and cfg.lr_dec_epoch == (22, 26) and cfg.num_thread == 4


@pytest.mark.parametrize("argv,message", [
    (["--stage", "lixel"], "--gpu is required"),
    (["--gpu", "0"], "--stage is required"),
    (["--gpu", "0", "--stage", "both"], "argument --stage: invalid choice"),
    (["--gpu", "0", "--stage", "lixel", "--amp", "fp8"], "argument --amp: invalid choice"),
    (["--gpu", "0", "--stage", "lixel", "--trainset_3d", "FreiHAND", "--trainset_2d"], "--testset PW3D is a body"),
    (["--gpu", "0-x", "--stage", "lixel"], "--gpu '0-x': expected a range like '0-3'"),
])
def test_bad_train_command_lines_name_the_flag(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_train_args(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_test_command_line_needs_an_epoch_or_a_file(capsys):
    cfg, epoch, path = parse_test_args(["--gpu", "0-3", "--stage", "param", "--test_epoch", "7"])
    assert epoch == 7 and path is None and cfg.gpu_ids == (0, 1, 2, 3) and cfg.end_epoch == 18
    assert parse_test_args(["--gpu", "0", "--stage", "lixel", "--model_path", "x.pth.tar"])[2] == "x.pth.tar"
    with pytest.raises(SystemExit):
        parse_test_args(["--gpu", "0", "--stage", "param"])
    assert "--test_epoch is required" in capsys.readouterr().err


@pytest.mark.parametrize("script", ["train.py", "test.py"])
def test_help_documents_the_flags_from_the_repository_root(script):
    out = subprocess.run([sys.executable, f"main/{script}", "--help"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    for flag in ("--gpu", "--stage", "--amp", "--trainset_3d", "--human_model_dir", "--data_dir", "--num_thread"):
        assert flag in out
    assert ("--continue" in out and "--save_every_min" in out) if script == "train.py" else "--test_epoch" in out
