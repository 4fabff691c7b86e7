"""Reproducible augmentation without global random state: per-draw generators and the epoch in shared memory.

Index ``i`` of the training set in epoch ``e`` draws its augmentation from ``np.random.default_rng([seed,
dataset_key, e, i])`` (``i`` = the outermost mixer's index, so a sample repeated by ``make_same_len`` gets a fresh
draw each time; the mixer's random fill likewise), so a sample is the same whichever DataLoader worker produces it.
Call ``set_epoch(e)`` on the training dataset at the start of every epoch: a training sample requested before any
``set_epoch`` raises ``RuntimeError`` (instead of silently repeating epoch 0's augmentation); the epoch lives in
shared memory, so persistent workers see every later ``set_epoch``.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["SharedEpoch", "sample_rng"]


class SharedEpoch:
    """The current epoch in shared memory: ``set_epoch`` in the main process is seen by DataLoader workers that
    already exist (``persistent_workers=True``) as well as by new ones. Starts unset (``get()`` is None)."""

    def __init__(self) -> None:
        self._value = torch.full((), -1, dtype=torch.int64).share_memory_()

    def get(self) -> int | None:
        value = int(self._value)
        return None if value < 0 else value

    def set(self, epoch: int) -> None:
        if int(epoch) < 0:
            raise ValueError(f"set_epoch({epoch}): the epoch must be >= 0")
        self._value.fill_(int(epoch))

    def require(self, owner: str) -> int:
        """The epoch; ``RuntimeError`` naming ``owner`` and the fix when it was never set."""
        value = self.get()
        if value is None:
            raise RuntimeError(f"{owner}: the training epoch was never set; call set_epoch(e) on the training dataset "
                               f"at the start of every epoch e (before iterating its DataLoader)")
        return value


def sample_rng(seed: int, key: int, epoch: int, index: int) -> np.random.Generator:
    """The generator of one draw: independent of worker assignment and of the order samples are requested in."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(key), int(epoch), int(index)])
