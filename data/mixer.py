"""The training-set mixer: datasets concatenated, or presented with the longest member's length (docs/data.md)."""
from __future__ import annotations

import bisect
import math
import zlib
from typing import Any, Callable, Sequence

import numpy as np
import torch.utils.data

from common.config import Config
from common.utils.human_models import HumanModel
from data.base import EmptyDatasetError
from data.registry import build_dataset
from data.seeding import SharedEpoch, sample_rng

__all__ = ["MultipleDatasets", "build_train_dataset"]

_MIXER_OWNER = "MultipleDatasets (the training set)"


class MultipleDatasets(torch.utils.data.Dataset):
    """Concatenate datasets (``make_same_len=False``) or present each with the longest member's length
    (``make_same_len=True``), exactly as the original (docs/data.md#mixer).

    With ``make_same_len``: length = L_max · n; index i -> member d = i // L_max, j = i mod L_max; if
    j >= len_d · floor(L_max / len_d), j is replaced by a uniform random index in [0, len_d − 1] drawn from
    ``sample_rng(seed, ·, epoch, i)``; otherwise j <- j mod len_d.
    """

    _RNG_KEY = zlib.crc32(b"MultipleDatasets")

    def __init__(self, datasets: Sequence[Any], make_same_len: bool = True, seed: int = 0) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("MultipleDatasets: no dataset given")
        self.make_same_len = bool(make_same_len)
        self.seed = int(seed)
        self._epoch = SharedEpoch()
        self.lengths = [len(d) for d in self.datasets]
        if any(n == 0 for n in self.lengths):
            raise EmptyDatasetError(f"MultipleDatasets: a member dataset is empty (lengths {self.lengths})")
        self.max_len = max(self.lengths)
        self.cum_lengths = list(np.cumsum(self.lengths).tolist())

    @property
    def vertex_num(self) -> int:
        return self.datasets[0].vertex_num

    @property
    def joint_num(self) -> int:
        return self.datasets[0].joint_num

    @property
    def epoch(self) -> int:
        """The current epoch; ``RuntimeError`` if :meth:`set_epoch` was never called."""
        return self._epoch.require(_MIXER_OWNER)

    def set_epoch(self, epoch: int) -> None:
        """Select the random-fill stream of ``epoch`` and pass it on to the members (nested mixers included)."""
        self._epoch.set(epoch)
        for d in self.datasets:
            if hasattr(d, "set_epoch"):
                d.set_epoch(epoch)

    def __len__(self) -> int:
        if self.make_same_len:
            return self.max_len * len(self.datasets)
        return self.cum_lengths[-1]

    def locate(self, index: int) -> tuple[int, int]:
        """Global index -> (member index, local index)."""
        if not 0 <= index < len(self):
            raise IndexError(f"MultipleDatasets: index {index} out of range for length {len(self)}")
        if self.make_same_len:
            d = index // self.max_len
            j = index % self.max_len
            len_d = self.lengths[d]
            if j >= len_d * math.floor(self.max_len / len_d):
                j = int(sample_rng(self.seed, self._RNG_KEY, self.epoch, index).integers(0, len_d))
            else:
                j = j % len_d
            return d, j
        d = bisect.bisect_right(self.cum_lengths, index)
        return d, index - (self.cum_lengths[d - 1] if d > 0 else 0)

    def get_sample(self, index: int, draw_index: int) -> Any:
        """Sample ``index`` with augmentation draw ``draw_index`` passed on to the member that holds it.
        ``RuntimeError`` before the first :meth:`set_epoch`."""
        self._epoch.require(_MIXER_OWNER)
        d, j = self.locate(index)
        member = self.datasets[d]
        return member.get_sample(j, draw_index) if hasattr(member, "get_sample") else member[j]

    def __getitem__(self, index: int) -> Any:
        return self.get_sample(index, index)


def build_train_dataset(cfg: Config, human_model: HumanModel,
                        build: Callable[..., Any] = build_dataset) -> MultipleDatasets:
    """The training set of ``cfg`` (docs/data.md#mixer): 3D list and 2D list each concatenated; both present -> the two
    groups mixed 1:1 with ``make_same_len=True``. ``vertex_num`` / ``joint_num`` come from the first 3D set (else
    the first 2D set)."""
    sets_3d = [build(name, cfg, "train", human_model) for name in cfg.trainset_3d]
    sets_2d = [build(name, cfg, "train", human_model) for name in cfg.trainset_2d]
    seed = int(cfg.seed)
    if sets_3d and sets_2d:
        return MultipleDatasets([MultipleDatasets(sets_3d, False, seed), MultipleDatasets(sets_2d, False, seed)],
                                True, seed)
    if sets_3d:
        return MultipleDatasets(sets_3d, False, seed)
    if sets_2d:
        return MultipleDatasets(sets_2d, False, seed)
    raise ValueError("no training dataset configured: set --trainset_3d and/or --trainset_2d")
