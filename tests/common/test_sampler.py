"""The epoch sampler (common/sampler.py): seeded order, shards padded to equal length, mid-epoch resume."""
import pytest

from common.sampler import EpochSampler


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
