"""DataLoaders for the drivers: worker counts, OpenCV in the workers, and the loader itself.

OpenCV's pthreads pool does not survive ``fork()``: in a child whose parent had started the pool,
``cv2.setNumThreads`` joins threads that exist only in the parent and never returns (reproduced with DataLoader
workers).  Every dataset (:class:`data.base.BaseDataset`) and :func:`make_loader` therefore install, once per
process, a fork hook (``os.register_at_fork``) that sets OpenCV to one thread right before a fork (which stops its
pool) and restores the parent's count right after, so a forked worker starts with an idle single-threaded OpenCV and
:func:`worker_init_fn` is safe under every start method.
"""
from __future__ import annotations

import os

import cv2
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from common.config import Config
from common.launch import DistContext

__all__ = ["num_workers", "worker_init_fn", "install_fork_guard", "make_loader"]


def num_workers(cfg: Config, ctx: DistContext) -> int:
    """``--num_thread`` loader workers per process; by default the machine's cores shared by the processes on this
    node, at most 30 (the original's count)."""
    if cfg.num_thread is not None:
        return int(cfg.num_thread)
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", ctx.world_size))
    return max(0, min(30, (os.cpu_count() or 1) // max(1, local_world)))


def worker_init_fn(worker_id: int) -> None:
    """``DataLoader(worker_init_fn=...)``: OpenCV single-threaded in every worker (torch already is: the DataLoader
    gives each worker one thread). Seeds nothing: augmentation comes from per-sample generators (:func:`sample_rng`)."""
    cv2.setNumThreads(1)


_opencv_threads_at_fork: list[int] = []


def _opencv_idle_before_fork() -> None:
    _opencv_threads_at_fork.append(cv2.getNumThreads())
    cv2.setNumThreads(1)


def _opencv_restore_after_fork() -> None:
    if _opencv_threads_at_fork:
        cv2.setNumThreads(_opencv_threads_at_fork.pop())


_fork_guard_installed: list[bool] = []


def install_fork_guard() -> None:
    """Register the OpenCV fork hook of this module's docstring (once per process; later calls do nothing)."""
    if not _fork_guard_installed:
        os.register_at_fork(before=_opencv_idle_before_fork, after_in_parent=_opencv_restore_after_fork,
                            after_in_child=_opencv_threads_at_fork.clear)
        _fork_guard_installed.append(True)


def make_loader(dataset: Dataset, batch_size: int, sampler: Sampler, workers: int, device: torch.device,
                train: bool) -> DataLoader:
    """The drivers' DataLoader: ``workers`` processes (persistent and dropping the last incomplete batch when
    ``train``), pinned memory on CUDA, OpenCV single-threaded in the workers."""
    install_fork_guard()
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers,
                      pin_memory=device.type == "cuda", persistent_workers=train and workers > 0, drop_last=train,
                      worker_init_fn=worker_init_fn)
