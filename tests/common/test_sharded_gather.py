"""gather_samples across two real processes (gloo on CPU): rank 0 gets every index once, in order; rank 1 None.

Kept apart from the dataset tests so the spawned processes import only NumPy, torch and common.sharded_eval.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch.distributed as dist
import torch.multiprocessing as mp

from common.sharded_eval import gather_samples

#: rank -> the (index, payload) pairs it evaluated: a padded, shuffled shard of 7 samples (indices 0 and 5 repeated)
SHARDS = {0: [5, 0, 6, 2], 1: [1, 3, 4, 5, 0]}


def _payload(index: int, rank: int) -> dict:
    return {"mesh": np.full((4, 3), index, dtype=np.float32), "rank": rank}


def _run_rank(rank: int, world: int, rendezvous: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=rendezvous, rank=rank, world_size=world)
    try:
        gathered = gather_samples([(i, _payload(i, rank)) for i in SHARDS[rank]], expected_len=7)
        with open(Path(out_dir) / f"rank{rank}.pkl", "wb") as f:
            pickle.dump(gathered, f)
    finally:
        dist.destroy_process_group()


def test_gather_samples_two_gloo_processes(tmp_path) -> None:
    mp.spawn(_run_rank, args=(2, f"file://{tmp_path / 'rendezvous'}", str(tmp_path)), nprocs=2, join=True)
    with open(tmp_path / "rank1.pkl", "rb") as f:
        assert pickle.load(f) is None
    with open(tmp_path / "rank0.pkl", "rb") as f:
        indices, items = pickle.load(f)
    assert indices == list(range(7))
    for index, item in zip(indices, items):
        np.testing.assert_array_equal(item["mesh"], np.full((4, 3), index, dtype=np.float32))
    # a repeated index keeps the lower rank's item (rank 0 holds 0 and 5 as well as rank 1)
    assert [item["rank"] for item in items] == [0, 1, 0, 1, 1, 0, 0]
