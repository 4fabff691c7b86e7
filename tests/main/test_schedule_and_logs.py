"""Training schedule (training.md §4), the per-iteration log line and the logger (training.md §7), the sampler."""
import logging
import re

import pytest

from common.logger import GREEN, Timer, format_train_line, make_logger
from common.sampler import EpochSampler
from main.config import make_config
from main.trainer import lr_at_epoch

HAND = dict(trainset_3d=["FreiHAND"], trainset_2d=[], testset="FreiHAND")

# training.md §4, "Resulting schedules": (variant, stage) -> (epochs run, {epoch: lr})
SCHEDULES = {
    ("body", "lixel"): (range(0, 13), {**{e: 1e-4 for e in range(0, 10)}, 10: 1e-5, 11: 1e-5, 12: 1e-6}),
    ("body", "param"): (range(13, 18), {13: 1e-4, 14: 1e-4, 15: 1e-5, 16: 1e-5, 17: 1e-6}),
    ("hand", "lixel"): (range(0, 25), {**{e: 1e-4 for e in range(0, 17)}, **{e: 1e-5 for e in range(17, 21)},
                                       **{e: 1e-6 for e in range(21, 25)}}),
    ("hand", "param"): (range(25, 30), {25: 1e-5, **{e: 1e-6 for e in range(26, 30)}}),  # Q32: starts decayed
}


@pytest.mark.parametrize("variant,stage", sorted(SCHEDULES))
def test_learning_rate_schedule_matches_the_spec_table(variant, stage):
    cfg = make_config(stage=stage, **(HAND if variant == "hand" else {}))
    epochs, table = SCHEDULES[(variant, stage)]
    assert cfg.end_epoch == epochs.stop  # the param stage resumes at the lixel stage's end_epoch
    assert {e: lr_at_epoch(cfg, e) for e in epochs} == pytest.approx(table, rel=1e-12)


def test_train_line_has_the_original_format():
    line = format_train_line(3, 13, 250, 5000, 1e-5, 1.2345, 0.9876, 0.0012,
                             {"joint_fit": 0.123456, "mesh_edge": 2.0})
    assert line == ("Epoch 3/13 itr 250/5000: lr: 1e-05 speed: 1.23(0.99s r0.00)s/itr 1.71h/epoch "
                    "loss_joint_fit: 0.1235 loss_mesh_edge: 2.0000")


def test_timer_ignores_the_first_ten_measurements():
    timer = Timer()
    for _ in range(10):
        timer.tic()
        timer.toc()
    assert timer.average == 0.0
    timer.tic()
    assert timer.toc() >= 0.0 and timer.average >= 0.0 and timer.calls == 11


def test_log_file_has_no_colour_and_a_time_stamp(tmp_path, capsys):
    logger = make_logger("unit", tmp_path / "log" / "train_logs.txt")
    logger.info("Creating dataset...")
    for handler in logger.handlers:
        handler.flush()
    text = (tmp_path / "log" / "train_logs.txt").read_text()
    assert re.fullmatch(r"\d\d-\d\d \d\d:\d\d:\d\d Creating dataset\.\.\.\n", text)
    assert GREEN not in text
    out = capsys.readouterr().out
    assert "Creating dataset..." in out and GREEN not in out  # captured stdout is not a terminal: no colour
    make_logger("unit", tmp_path / "log" / "train_logs.txt")  # re-creating does not duplicate the handlers
    assert len(logging.getLogger("i2l.unit").handlers) == 2


def test_sampler_shards_pad_and_resume():
    full = EpochSampler(10, shuffle=True, seed=3)
    full.set_epoch(2)
    order = list(full)
    assert sorted(order) == list(range(10))
    again = EpochSampler(10, shuffle=True, seed=3)
    again.set_epoch(2)
    assert list(again) == order  # seeded by (seed, epoch) only
    again.set_epoch(3)
    assert list(again) != order
    shards = [EpochSampler(10, rank=r, world_size=4, shuffle=True, seed=3) for r in range(4)]
    for s in shards:
        s.set_epoch(2)
    assert [len(s) for s in shards] == [3, 3, 3, 3]  # ceil(10 / 4), padded with the order's first indices
    assert sorted(i for s in shards for i in s) == sorted(order + order[:2])
    resumed = EpochSampler(10, shuffle=True, seed=3)
    resumed.set_epoch(2)
    resumed.set_start(4)
    assert list(resumed) == order[4:] and len(resumed) == 6
    resumed.set_epoch(3)  # the start applies to one epoch only
    assert len(resumed) == 10
    with pytest.raises(ValueError, match="set_start"):
        resumed.set_start(11)
