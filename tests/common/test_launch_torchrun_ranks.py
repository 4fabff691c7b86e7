"""The torchrun branch of common/launch.py in a process other than the first: tests/common/test_launch.py runs it as
the only process (rank 0, local rank 0, world size 1), where RANK and LOCAL_RANK cannot be told apart and no GPU is
picked.  Here the process group is stubbed and CUDA faked, so the DistContext that launch() builds is checked on any
machine."""
import pytest
import torch

import common.launch as launch_module
from common.launch import DistContext, launch

TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@pytest.fixture
def torchrun_process(monkeypatch):
    """Sets the environment of one torchrun process; fn runs without a process group and returns its DistContext."""
    for name in TORCHRUN_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(launch_module, "_run_in_group", lambda fn, ctx, args: fn(ctx, *args))

    def run(rank: int, world_size: int, local_rank: int, gpu_ids=(), cuda_count: int | None = None) -> DistContext:
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", str(world_size))
        monkeypatch.setenv("LOCAL_RANK", str(local_rank))
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda_count is not None)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda_count or 0)
        ctx, tag = launch(lambda ctx, tag: (ctx, tag), gpu_ids, "from-parent")
        assert tag == "from-parent"
        return ctx

    return run


def test_the_second_node_takes_its_global_rank_from_rank_and_its_gpu_from_local_rank(torchrun_process):
    # 2 nodes x 4 GPUs, this is the second process of the second node: global rank 5, GPU ids[1]
    ctx = torchrun_process(rank=5, world_size=8, local_rank=1, gpu_ids=(2, 3, 0, 1), cuda_count=4)
    assert ctx == DistContext(5, 8, 1, torch.device("cuda", 3))
    assert ctx.distributed and not ctx.is_main
    # without --gpu: the LOCAL_RANK-th visible GPU
    assert torchrun_process(rank=5, world_size=8, local_rank=1, cuda_count=4).device == torch.device("cuda", 1)
    assert launch_module._backend(ctx.device) == "nccl"


def test_cpu_processes_of_a_torchrun_job_keep_their_ranks(torchrun_process):
    ctx = torchrun_process(rank=3, world_size=4, local_rank=1, gpu_ids=(0, 1))  # --gpu ignored without CUDA
    assert ctx == DistContext(3, 4, 1, torch.device("cpu"))
    assert launch_module._backend(ctx.device) == "gloo"
