"""Processes and devices (common/launch.py): torchrun detection, the single CPU process, the torchrun branch (in a
subprocess, so this process's environment and process-group state stay clean), batches moved to a device."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from common.launch import DistContext, free_port, launch, to_device, under_torchrun

ROOT = Path(__file__).resolve().parents[2]
TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@pytest.fixture
def no_torchrun(monkeypatch):
    for name in TORCHRUN_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("present, expected", [
    (("RANK", "WORLD_SIZE", "LOCAL_RANK"), True),
    (("WORLD_SIZE", "LOCAL_RANK"), False),
    (("RANK", "LOCAL_RANK"), False),
    (("RANK", "WORLD_SIZE"), False),
    ((), False),
])
def test_under_torchrun_needs_rank_world_size_and_local_rank(no_torchrun, monkeypatch, present, expected):
    for name in present:
        monkeypatch.setenv(name, "0")
    assert under_torchrun() is expected


def test_launch_on_cpu_runs_fn_once_in_this_process_and_returns_its_result(no_torchrun, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    calls = []

    def fn(ctx, a, b):
        calls.append((ctx, a, b, os.getpid()))
        return {"sum": a + b}

    assert launch(fn, (), 2, 3) == {"sum": 5}
    assert calls == [(DistContext(0, 1, 0, torch.device("cpu")), 2, 3, os.getpid())]
    ctx = calls[0][0]
    assert ctx.is_main and not ctx.distributed
    assert capsys.readouterr().out == ""  # no --gpu given: nothing to say
    calls.clear()
    assert launch(fn, (0, 1), 1, 1) == {"sum": 2}  # --gpu on a machine without CUDA: ignored, and said so
    assert len(calls) == 1 and calls[0][0] == DistContext(0, 1, 0, torch.device("cpu"))
    assert "CUDA is not available: running on the CPU (--gpu 0,1 ignored)" in capsys.readouterr().out


def test_to_device_moves_nested_tensors_and_keeps_everything_else():
    meta = torch.device("meta")
    batch = {
        "img": torch.ones(2, 3),
        "nested": {"ids": torch.arange(4), "name": "sample", "count": 3, "none": None},
        "list": [torch.zeros(1, dtype=torch.float64), "x", 1.5],
        "tuple": (torch.ones(1, dtype=torch.int64), ("deeper", torch.ones(2))),
    }
    moved = to_device(batch, meta)
    assert moved.keys() == batch.keys() and moved["nested"].keys() == batch["nested"].keys()
    assert moved["img"].device == meta and moved["img"].shape == (2, 3) and moved["img"].dtype == torch.float32
    assert moved["nested"]["ids"].device == meta and moved["nested"]["ids"].dtype == torch.int64
    assert moved["nested"]["name"] == "sample" and moved["nested"]["count"] == 3 and moved["nested"]["none"] is None
    assert type(moved["list"]) is list and moved["list"][0].device == meta and moved["list"][0].dtype == torch.float64
    assert moved["list"][1:] == ["x", 1.5]
    assert type(moved["tuple"]) is tuple and type(moved["tuple"][1]) is tuple
    assert moved["tuple"][0].device == meta and moved["tuple"][1][0] == "deeper" and moved["tuple"][1][1].device == meta
    assert batch["img"].device == torch.device("cpu")  # the input batch itself is left as it was
    assert to_device("plain", meta) == "plain" and to_device(None, meta) is None
    assert to_device(torch.ones(1), meta).device == meta


TORCHRUN_CHILD = textwrap.dedent("""
    import json
    import torch
    import torch.distributed as dist
    from common.launch import launch, under_torchrun

    def fn(ctx, tag):
        seen = torch.tensor([ctx.rank + 5.0])
        dist.all_reduce(seen)
        return {"initialised": dist.is_initialized(), "backend": dist.get_backend(), "rank": dist.get_rank(),
                "world_size": dist.get_world_size(), "ctx": [ctx.rank, ctx.world_size, ctx.local_rank, str(ctx.device)],
                "is_main": ctx.is_main, "all_reduce": seen.item(), "tag": tag}

    out = launch(fn, (0,), "from-parent")
    out["under_torchrun"] = under_torchrun()
    out["destroyed_after"] = not dist.is_initialized()
    print(json.dumps(out))
""")


def test_launch_under_torchrun_runs_fn_inside_a_gloo_process_group():
    """The environment torchrun gives a one-process run; CUDA hidden, so the group is gloo on the CPU."""
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_VARS}
    env.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()),
               CUDA_VISIBLE_DEVICES="", PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", TORCHRUN_CHILD], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out == {"initialised": True, "backend": "gloo", "rank": 0, "world_size": 1, "ctx": [0, 1, 0, "cpu"],
                   "is_main": True, "all_reduce": 5.0, "tag": "from-parent", "under_torchrun": True,
                   "destroyed_after": True}
    assert not torch.distributed.is_initialized()  # this process never joined a group


@pytest.mark.skipif(not torch.cuda.is_available(),
                    reason="needs CUDA: launch() checks LOCAL_RANK against the --gpu list only when "
                           "torch.cuda.is_available() is True, and it is False here")
def test_torchrun_local_rank_beyond_the_gpu_list_names_the_gpus(no_torchrun, monkeypatch):
    gpu_ids = (0,)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    called = []
    with pytest.raises(ValueError, match=r"local rank 1 but --gpu names only 1 GPU\(s\): \[0\]"):
        launch(lambda ctx: called.append(ctx), gpu_ids)
    assert called == [] and not torch.distributed.is_initialized()  # refused before any process group
    count = torch.cuda.device_count()  # without --gpu: every visible GPU, so LOCAL_RANK = count is one too many
    monkeypatch.setenv("LOCAL_RANK", str(count))
    monkeypatch.setenv("WORLD_SIZE", str(count + 1))
    with pytest.raises(ValueError, match=rf"local rank {count} but --gpu names only {count} GPU\(s\): "
                                         rf"\[{', '.join(map(str, range(count)))}\]"):
        launch(lambda ctx: called.append(ctx), ())
    assert called == []
