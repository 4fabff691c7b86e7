"""The order in which one process visits a dataset in one epoch: seeded, sharded, resumable mid-epoch."""
from __future__ import annotations

from typing import Iterator

import torch
from torch.utils.data import Sampler


class EpochSampler(Sampler[int]):
    """Indices of epoch ``e`` for process ``rank`` of ``world_size``.

    The epoch's order is a permutation drawn from a generator seeded with (``seed``, ``e``) (identity when not
    shuffling), so it does not depend on any global RNG and is identical on every process and after a resume.
    As ``DistributedSampler``, the order is padded with its own first indices to a multiple of ``world_size`` and
    process ``rank`` takes positions ``rank, rank + world_size, ...`` (the padding repeats a few samples; the
    test driver removes the duplicates before evaluating).  ``set_start(k)`` skips this process's first ``k``
    indices (a mid-epoch resume); it applies to the current epoch only and is cleared by ``set_epoch``.
    """

    def __init__(self, length: int, rank: int = 0, world_size: int = 1, shuffle: bool = True, seed: int = 0) -> None:
        if length <= 0:
            raise ValueError(f"EpochSampler: the dataset is empty (length {length})")
        if not 0 <= rank < world_size:
            raise ValueError(f"EpochSampler: rank {rank} outside world size {world_size}")
        self.length = length
        self.rank = rank
        self.world_size = world_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        self.start = 0

    @property
    def per_rank(self) -> int:
        """Indices of one process in a full epoch (ceil(length / world_size))."""
        return -(-self.length // self.world_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        self.start = 0

    def set_start(self, start: int) -> None:
        if not 0 <= start <= self.per_rank:
            raise ValueError(f"EpochSampler.set_start({start}): must lie in [0, {self.per_rank}]")
        self.start = int(start)

    def epoch_order(self) -> list[int]:
        """The full (padded) order of the current epoch, before sharding."""
        if self.shuffle:
            generator = torch.Generator()
            generator.manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.length, generator=generator).tolist()
        else:
            order = list(range(self.length))
        total = self.per_rank * self.world_size
        while len(order) < total:
            order += order[: total - len(order)]
        return order

    def __iter__(self) -> Iterator[int]:
        mine = self.epoch_order()[self.rank::self.world_size]
        return iter(mine[self.start:])

    def __len__(self) -> int:
        return self.per_rank - self.start
