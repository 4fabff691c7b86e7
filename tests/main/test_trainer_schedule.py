"""The learning-rate schedule of the training driver (main/trainer.py), per variant and stage
(docs/training.md#schedule)."""
import pytest

from main.config import make_config
from main.trainer import lr_at_epoch

HAND = dict(trainset_3d=["FreiHAND"], trainset_2d=[], testset="FreiHAND")

# the resulting schedules of docs/training.md#schedule: (variant, stage) -> (epochs run, {epoch: lr})
SCHEDULES = {
    ("body", "lixel"): (range(0, 13), {**{e: 1e-4 for e in range(0, 10)}, 10: 1e-5, 11: 1e-5, 12: 1e-6}),
    ("body", "param"): (range(13, 18), {13: 1e-4, 14: 1e-4, 15: 1e-5, 16: 1e-5, 17: 1e-6}),
    ("hand", "lixel"): (range(0, 25), {**{e: 1e-4 for e in range(0, 17)}, **{e: 1e-5 for e in range(17, 21)},
                                       **{e: 1e-6 for e in range(21, 25)}}),
    # starts decayed: the epoch-indexed schedule's shifted decay epochs lie before and inside the hand's param stage
    # (docs/quirks.md#q-hand-param-stage-starts-decayed)
    ("hand", "param"): (range(25, 30), {25: 1e-5, **{e: 1e-6 for e in range(26, 30)}}),
}


@pytest.mark.parametrize("variant,stage", sorted(SCHEDULES))
def test_learning_rate_schedule_matches_the_spec_table(variant, stage):
    cfg = make_config(stage=stage, **(HAND if variant == "hand" else {}))
    epochs, table = SCHEDULES[(variant, stage)]
    assert cfg.end_epoch == epochs.stop  # the param stage resumes at the lixel stage's end_epoch
    assert {e: lr_at_epoch(cfg, e) for e in epochs} == pytest.approx(table, rel=1e-12)
