"""Processes and devices of a run: one process per GPU (spawned here or by ``torchrun``), or one CPU process.

* ``--gpu 0-3`` on a CUDA machine: this module spawns one process per listed GPU (DistributedDataParallel, NCCL), each
  with the per-GPU batch of the config: the original's DataParallel BatchNorm groups of 16 samples per GPU
  (docs/quirks.md#q-per-gpu-batchnorm).
* ``torchrun --nnodes N --nproc_per_node G main/train.py ...``: the processes exist already (``RANK`` /
  ``WORLD_SIZE`` / ``LOCAL_RANK`` in the environment); process ``LOCAL_RANK`` takes the ``LOCAL_RANK``-th GPU of
  ``--gpu`` (or GPU ``LOCAL_RANK`` when ``--gpu`` is not given). On CPU machines torchrun runs gloo processes.
* No CUDA: one CPU process, with a printed line saying so (tests run gloo on CPU through :func:`launch` with
  ``cpu_processes``).
"""
from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from common.errors import UserError


@dataclass(frozen=True)
class DistContext:
    """Where this process runs: its global rank, the number of processes and its device."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that logs and writes files."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def cuda_devices(gpu_ids: Sequence[int]) -> list[torch.device]:
    """The CUDA devices named by ``--gpu``; raises ``ValueError`` naming the devices found when one does not exist."""
    count = torch.cuda.device_count()
    missing = [i for i in gpu_ids if not 0 <= i < count]
    if missing:
        found = ", ".join(f"{i}: {torch.cuda.get_device_name(i)}" for i in range(count)) or "none"
        raise ValueError(f"--gpu {','.join(map(str, gpu_ids))}: GPU id(s) {missing} do not exist; CUDA devices found: "
                         f"{found} (CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')})")
    return [torch.device("cuda", i) for i in gpu_ids]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def under_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ and "LOCAL_RANK" in os.environ


def _backend(device: torch.device) -> str:
    return "nccl" if device.type == "cuda" else "gloo"


def _run_in_group(fn: Callable[..., Any], ctx: DistContext, args: tuple) -> Any:
    """Run ``fn(ctx, *args)`` inside an initialised process group, destroying it afterwards."""
    if ctx.device.type == "cuda":
        torch.cuda.set_device(ctx.device)
    dist.init_process_group(_backend(ctx.device), rank=ctx.rank, world_size=ctx.world_size,
                            device_id=ctx.device if ctx.device.type == "cuda" else None)
    try:
        return fn(ctx, *args)
    finally:
        dist.destroy_process_group()


USER_ERROR_EXIT = 3  # exit status of a spawned process stopped by a UserError (after printing it)


def _spawned(local_rank: int, fn: Callable[..., Any], devices: list[torch.device], port: int, args: tuple) -> None:
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    ctx = DistContext(local_rank, len(devices), local_rank, devices[local_rank])
    try:
        _run_in_group(fn, ctx, args)
    except UserError as exc:  # one line from the first rank instead of one traceback per process
        if local_rank == 0:
            print(f"error: {exc}", file=sys.stderr, flush=True)
        sys.exit(USER_ERROR_EXIT)


def launch(fn: Callable[..., Any], gpu_ids: Sequence[int], *args: Any, cpu_processes: int = 1) -> Any:
    """Run ``fn(ctx: DistContext, *args)`` on the devices of ``--gpu`` (see the module docstring).

    Returns ``fn``'s result in a single-process run, and rank 0's result is not returned from spawned runs (None).
    ``cpu_processes`` > 1 spawns that many gloo CPU processes (used by the tests; CUDA machines ignore it).
    """
    if under_torchrun():
        rank, world, local = (int(os.environ[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
        if torch.cuda.is_available():
            ids = list(gpu_ids) if gpu_ids else list(range(torch.cuda.device_count()))
            if local >= len(ids):
                raise ValueError(f"torchrun started local rank {local} but --gpu names only {len(ids)} GPU(s): {ids}")
            device = cuda_devices([ids[local]])[0]
        else:
            device = torch.device("cpu")
        return _run_in_group(fn, DistContext(rank, world, local, device), args)
    if torch.cuda.is_available():
        devices = cuda_devices(gpu_ids or (0,))
    else:
        if gpu_ids and cpu_processes == 1:
            print(f">>> CUDA is not available: running on the CPU (--gpu {','.join(map(str, gpu_ids))} ignored)")
        devices = [torch.device("cpu")] * cpu_processes
    if len(devices) == 1:
        return fn(DistContext(0, 1, 0, devices[0]), *args)
    try:
        mp.spawn(_spawned, args=(fn, devices, free_port(), args), nprocs=len(devices), join=True)
    except mp.ProcessExitedException as exc:
        if exc.exit_code == USER_ERROR_EXIT:
            raise UserError(f"process {exc.error_index} of {len(devices)} stopped on the error printed above") from None
        raise
    return None


def all_reduce_sum(values: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Sum of ``values`` over the processes (``values`` itself in a single-process run)."""
    if not ctx.distributed:
        return values
    values = values.clone()
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def to_device(batch: Any, device: torch.device) -> Any:
    """Move the tensors of a (nested) dict/list batch to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch
