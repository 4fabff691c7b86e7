"""Config: the original's defaults, derived variant/stage values, CLI overrides, validation."""
import argparse
import dataclasses
from pathlib import Path

import pytest

from main.config import ROOT_DIR, Config, add_config_arguments, config_from_args, make_config, parse_gpu_ids


def test_body_defaults_match_the_original():
    cfg = make_config()
    assert cfg.trainset_3d == ("Human36M", "MuCo") and cfg.trainset_2d == ("MSCOCO",) and cfg.testset == "PW3D"
    assert not cfg.is_hand
    assert cfg.input_img_shape == (256, 256) and cfg.output_hm_shape == (64, 64, 64)
    assert cfg.bbox_3d_size == 2 and cfg.sigma == 2.5
    assert cfg.lr == 1e-4 and cfg.lr_dec_factor == 10 and cfg.lr_dec_epoch == (10, 12) and cfg.end_epoch == 13
    assert cfg.train_batch_size == 16 and cfg.test_batch_size == 16 and cfg.normal_loss_weight == 0.1
    assert cfg.resnet_type == 50 and cfg.stage == "lixel" and not cfg.use_gt_info and cfg.num_thread is None and cfg.amp == "fp32"
    assert cfg.model_dir == ROOT_DIR / "output" / "model_dump"
    assert cfg.log_dir == ROOT_DIR / "output" / "log" and cfg.result_dir == ROOT_DIR / "output" / "result"


def test_param_stage_shifts_schedule_by_five():
    cfg = make_config(stage="param")
    assert cfg.lr_dec_epoch == (15, 17) and cfg.end_epoch == 18


def test_hand_variant_is_derived_from_freihand():
    cfg = make_config(trainset_3d=["FreiHAND"], trainset_2d=[], testset="FreiHAND")
    assert cfg.is_hand and cfg.bbox_3d_size == 0.3
    assert cfg.lr_dec_epoch == (17, 21) and cfg.end_epoch == 25
    param = make_config(trainset_3d=["FreiHAND"], trainset_2d=[], testset="FreiHAND", stage="param")
    assert param.lr_dec_epoch == (22, 26) and param.end_epoch == 30


def test_body_and_hand_configs_coexist_and_are_immutable():
    body, hand = make_config(), make_config(trainset_3d=["FreiHAND"], trainset_2d=[], testset="FreiHAND")
    assert not body.is_hand and hand.is_hand and body.bbox_3d_size == 2.0
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'lr'"):
        body.lr = 1.0
    assert body.lr == 1e-4


def test_explicit_values_win_over_derived_defaults_and_the_schedule_follows_the_stage():
    cfg = make_config(end_epoch=3, lr_dec_epoch=[1], bbox_3d_size=1.0, trainset_3d=["FreiHAND"], trainset_2d=[],
                      testset="FreiHAND")
    assert cfg.end_epoch == 3 and cfg.lr_dec_epoch == (1,) and cfg.bbox_3d_size == 1.0
    # like the original config file, an explicit schedule is given in lixel-stage epochs and shifted for param
    param = make_config(stage="param", end_epoch=3, lr_dec_epoch=[1])
    assert param.end_epoch == 8 and param.lr_dec_epoch == (6,)


def test_import_creates_nothing(tmp_path):
    cfg = make_config(output_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    cfg.make_dirs()
    assert all((tmp_path / "out" / d).is_dir() for d in ("model_dump", "log", "result"))
    assert not (tmp_path / "out" / "vis").exists()  # nothing writes visualisations there


@pytest.mark.parametrize("text, ids", [("0-3", (0, 1, 2, 3)), ("0,1,2,3", (0, 1, 2, 3)), ("2", (2,)), ("1-1", (1,))])
def test_gpu_id_parsing(text, ids):
    assert parse_gpu_ids(text) == ids


@pytest.mark.parametrize("bad", ["", "a-b", "0-2,5"])
def test_gpu_id_parsing_errors_name_the_flag(bad):
    with pytest.raises(ValueError, match="--gpu"):
        parse_gpu_ids(bad)


@pytest.mark.parametrize("overrides, flag", [
    ({"stage": "mesh"}, "--stage"),
    ({"trainset_3d": ["Human3.6M"]}, "--trainset_3d"),
    ({"trainset_2d": ["COCO"]}, "--trainset_2d"),
    ({"testset": "3DPW"}, "--testset"),
    ({"resnet_type": 34}, "--resnet_type"),
    ({"testset": "FreiHAND"}, "--testset FreiHAND"),
    ({"trainset_3d": ["FreiHAND"], "trainset_2d": [], "testset": "PW3D"}, "--testset PW3D is a body"),
    ({"trainset_3d": ["FreiHAND", "Human36M"], "trainset_2d": [], "testset": "FreiHAND"}, "--testset FreiHAND"),
    ({"trainset_3d": ["FreiHAND"], "trainset_2d": ["MSCOCO"], "testset": "Human36M"}, "body datasets"),
    ({"input_img_shape": (128, 128)}, "--input_img_shape 128 128"),
    ({"input_img_shape": (256, 192)}, "--input_img_shape 256 192"),
    ({"output_hm_shape": (32, 32, 32)}, "--output_hm_shape 32 32 32"),
])
def test_invalid_values_raise_naming_the_flag(overrides, flag):
    with pytest.raises(ValueError, match=flag):
        make_config(**overrides)


def test_unknown_field_is_rejected():
    with pytest.raises(ValueError, match="unknown config field"):
        make_config(learning_rate=1.0)


def test_cli_overrides_every_field_and_keeps_derived_defaults():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gpu")
    parser.add_argument("--stage")
    parser.add_argument("--continue", dest="continue_train", action="store_true")
    add_config_arguments(parser)
    args = parser.parse_args(["--gpu", "0-1", "--stage", "param", "--continue", "--trainset_3d", "Human36M",
                              "--trainset_2d", "--testset", "Human36M", "--lr", "5e-5", "--use_gt_info",
                              "--train_batch_size", "8", "--output_dir", "/tmp/x", "--input_img_shape", "256", "256"])
    cfg = config_from_args(args)
    assert cfg.gpu_ids == (0, 1) and cfg.stage == "param" and cfg.continue_train
    assert cfg.trainset_3d == ("Human36M",) and cfg.trainset_2d == () and cfg.testset == "Human36M"
    assert cfg.lr == 5e-5 and cfg.use_gt_info is True and cfg.train_batch_size == 8
    assert cfg.output_dir == Path("/tmp/x") and cfg.input_img_shape == (256, 256)
    assert cfg.end_epoch == 18 and cfg.lr_dec_epoch == (15, 17)
    flags = {a.dest for a in parser._actions}
    from dataclasses import fields
    assert {f.name for f in fields(Config)} - {"gpu_ids", "root_dir", "overrides"} <= flags

    assert "overrides" not in flags  # bookkeeping, not a setting


HAND = {"trainset_3d": ["FreiHAND"], "trainset_2d": [], "testset": "FreiHAND"}


@pytest.mark.parametrize("first, changes", [
    ({}, {"stage": "param"}),
    ({"stage": "param"}, {"stage": "lixel"}),
    ({"end_epoch": 3, "lr_dec_epoch": [1], "lr": 5e-5, "gpu_ids": [0, 1]}, {"stage": "param"}),
    ({}, HAND),
    (HAND, {"trainset_3d": ["Human36M"], "trainset_2d": ["MSCOCO"], "testset": "Human36M", "stage": "param"}),
    ({"bbox_3d_size": 1.0}, HAND),
])
def test_replace_rederives_like_make_config(first, changes):
    cfg = make_config(**first).replace(**changes)
    assert cfg == make_config(**{**first, **changes})
    assert cfg.replace() == cfg and cfg.replace(lr=cfg.lr) == cfg


def test_replace_switches_stage_and_variant_with_their_schedules():
    lixel = make_config(lr=5e-5)
    param = lixel.replace(stage="param")  # a one-process lixel-then-param run must get the param schedule
    assert (param.end_epoch, param.lr_dec_epoch, param.lr) == (18, (15, 17), 5e-5)
    assert param.replace(stage="lixel") == lixel
    hand = lixel.replace(**HAND)
    assert hand.is_hand and (hand.bbox_3d_size, hand.end_epoch, hand.lr_dec_epoch) == (0.3, 25, (17, 21))
    with pytest.raises(ValueError, match="--testset FreiHAND requires --trainset_3d FreiHAND"):
        lixel.replace(testset="FreiHAND")  # would be a hand network with body settings
    with pytest.raises(ValueError, match="--stage 'mesh'"):
        lixel.replace(stage="mesh")


def test_configs_that_bypass_the_derivation_are_refused():
    cfg = make_config()
    with pytest.raises(ValueError, match=r"stage='param' \(expected 'lixel'\).*make_config"):
        Config(stage="param", end_epoch=18, lr_dec_epoch=(15, 17))  # would lose its stage on the next replace
    with pytest.raises(ValueError, match=r"lr=0.001 \(expected 0.0001\)"):
        Config(lr=1e-3)
    with pytest.raises(ValueError, match=r"stage='param'.*cfg.replace"):
        dataclasses.replace(cfg, stage="param")
    with pytest.raises(ValueError, match="--input_img_shape 128 128"):
        dataclasses.replace(cfg, input_img_shape=(128, 128))
    assert Config() == cfg  # the defaults are consistent


def test_batches_are_per_process():
    assert make_config(gpu_ids=parse_gpu_ids("0-3"), train_batch_size=8).train_batch_size == 8  # not x 4 GPUs


def test_exact_is_refused_with_amp_or_recompute():
    assert make_config(exact=True).exact
    with pytest.raises(ValueError, match="--exact with --amp bf16"):
        make_config(exact=True, amp="bf16")
    with pytest.raises(ValueError, match="--exact with --recompute"):
        make_config(exact=True, recompute=True)
