"""Checkpoints in the official format (architecture.md §3.6-§3.8, training.md §6).

A snapshot ``snapshot_{epoch}.pth.tar`` is a dict ``{'epoch': int, 'network': state dict with 'module.' prefix,
'optimizer': Adam state dict}``.  Ours additionally carry the original's ``module.human_model_layer.th_*`` buffers so
the file has exactly the official key set and loads in the original code.

Loading normalises keys (``module.`` stripped), drops ``human_model_layer.*`` buffers (they copy the licensed model
files, which we read ourselves), and loads strictly: any other missing or unexpected key is an error naming it.
Files are read with ``torch.load(weights_only=True)`` and written atomically (temporary file + rename).
"""
from __future__ import annotations

import os
import re
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

PREFIX = "module."
HUMAN_MODEL_PREFIX = "human_model_layer."
SNAPSHOT_RE = re.compile(r"^snapshot_(\d+)\.pth\.tar$")


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, unreadable or does not match the network."""


def snapshot_path(model_dir: str | Path, epoch: int) -> Path:
    return Path(model_dir) / f"snapshot_{epoch}.pth.tar"


def find_latest_snapshot(model_dir: str | Path) -> Path | None:
    """The ``snapshot_{N}.pth.tar`` with the largest N in ``model_dir`` (None if there is none)."""
    folder = Path(model_dir)
    if not folder.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := SNAPSHOT_RE.match(p.name))]
    return max(found)[1] if found else None


def unwrap(model: nn.Module) -> nn.Module:
    """The network inside ``nn.DataParallel`` / ``DistributedDataParallel`` (or ``model`` itself)."""
    while isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        model = model.module
    return model


def network_state_dict(model: nn.Module) -> "OrderedDict[str, torch.Tensor]":
    """The model's weights in the official layout: ``module.``-prefixed keys, human-model buffers last."""
    model = unwrap(model)
    state = OrderedDict((PREFIX + k, v.detach().cpu()) for k, v in model.state_dict().items())
    human_model = getattr(model, "human_model", None)
    if human_model is not None:
        for name, buf in human_model.checkpoint_buffers().items():
            state[PREFIX + HUMAN_MODEL_PREFIX + name] = buf
    return state


def save_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None, epoch: int) -> Path:
    """Write ``{'epoch', 'network', 'optimizer'}`` atomically to ``path`` (``optimizer`` None stores ``{}``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {
        "epoch": int(epoch),
        "network": network_state_dict(model),
        "optimizer": optimizer.state_dict() if optimizer is not None else {},
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_checkpoint_file(path: str | Path) -> dict[str, Any]:
    """Read a snapshot with ``weights_only=True`` onto the CPU; raises :class:`CheckpointError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Cannot find model at {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or unsafe files
        raise CheckpointError(f"{path}: cannot be read as a PyTorch checkpoint with weights_only=True ({exc})") \
            from exc
    if not isinstance(ckpt, dict) or "network" not in ckpt:
        raise CheckpointError(f"{path}: not an I2L-MeshNet snapshot (expected a dict with key 'network')")
    return ckpt


def normalize_state_dict(state: Mapping[str, torch.Tensor]) -> "OrderedDict[str, torch.Tensor]":
    """Strip ``module.`` and drop ``human_model_layer.*`` buffers (copies of the SMPL/MANO model files)."""
    out: "OrderedDict[str, torch.Tensor]" = OrderedDict()
    for key, value in state.items():
        key = key[len(PREFIX):] if key.startswith(PREFIX) else key
        if key.startswith(HUMAN_MODEL_PREFIX):
            continue
        out[key] = value
    return out


def load_network(model: nn.Module, state: Mapping[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Load an official or own network state dict strictly after :func:`normalize_state_dict`.

    Raises :class:`CheckpointError` listing missing / unexpected keys and shape mismatches.
    """
    model = unwrap(model)
    state = normalize_state_dict(state)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    mismatched = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
                  for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or mismatched:
        lines = [f"{source} does not match the network:"]
        if missing:
            lines.append(f"  missing keys ({len(missing)}): {missing}")
        if unexpected:
            lines.append(f"  unexpected keys ({len(unexpected)}): {unexpected}")
        if mismatched:
            lines.append(f"  shape mismatches ({len(mismatched)}): {mismatched}")
        lines.append("  (a body checkpoint needs a body config and a hand checkpoint --trainset_3d FreiHAND "
                     "--trainset_2d --testset FreiHAND; check --resnet_type too)")
        raise CheckpointError("\n".join(lines))
    model.load_state_dict(state, strict=True)
