"""Checkpoints in the official format (docs/network.md#checkpoint-format), plus what resume needs.

A snapshot ``snapshot_{epoch}.pth.tar`` is a dict ``{'epoch': int, 'network': state dict with 'module.' prefix,
'optimizer': Adam state dict}``.  Ours additionally carry the original's ``module.human_model_layer.th_*`` buffers so
the file has exactly the official key set and loads in the original code.  Extra top-level keys for resuming
(``stage``, iteration, gradient-scaler state, RNG states from :func:`capture_rng_state`, sampler position) may be
added (docs/training.md#resume): the original ignores them.  They must load with ``weights_only=True`` (tensors,
ints, floats, bools, strings, None, and dicts / lists / tuples of these), which :func:`save_checkpoint` checks.

The rolling mid-epoch file is :func:`mid_epoch_path` (``resume_mid_epoch.pth``): its name does not end in
``.pth.tar``, because the original's ``--continue`` parses the epoch out of every ``*.pth.tar`` in the folder.

Loading normalises keys (``module.`` stripped), drops ``human_model_layer.*`` buffers (they copy the licensed model
files, which we read ourselves), and loads strictly: any other missing or unexpected key is an error naming it.
Files are read with ``torch.load(weights_only=True)`` and written atomically (temporary file + rename, mode
``0o666 & ~umask``) from CPU copies taken when the payload is built (:func:`checkpoint_payload`), so the write may
run in another thread while training continues.
"""
from __future__ import annotations

import random
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from common.errors import UserError
from common.utils.human_models import MANO, SMPL
from common.utils.io import atomic_write

PREFIX = "module."
HUMAN_MODEL_PREFIX = "human_model_layer."
SNAPSHOT_RE = re.compile(r"^snapshot_(\d+)\.pth\.tar$")
OFFICIAL_KEYS = ("epoch", "network", "optimizer")
MID_EPOCH_NAME = "resume_mid_epoch.pth"  # must not end in .pth.tar (see the module docstring)
VARIANT_NAMES = {False: "body (SMPL)", True: "hand (MANO)"}
VARIANT_BY_VERTS = {SMPL.vertex_num: False, MANO.vertex_num: True}  # vertex count -> is_hand
MESH_NET_KEY = "mesh_net.conv_x.0.bias"  # (V,): one output per mesh vertex


class CheckpointError(UserError, RuntimeError):
    """A checkpoint file is missing, unreadable or does not match the network."""


def snapshot_path(model_dir: str | Path, epoch: int) -> Path:
    return Path(model_dir) / f"snapshot_{epoch}.pth.tar"


def mid_epoch_path(model_dir: str | Path) -> Path:
    """The rolling mid-epoch resume file ``<model_dir>/resume_mid_epoch.pth`` (ignored by the original's
    ``--continue`` and by :func:`find_latest_snapshot`)."""
    return Path(model_dir) / MID_EPOCH_NAME


def find_latest_snapshot(model_dir: str | Path) -> Path | None:
    """The ``snapshot_{N}.pth.tar`` with the largest N in ``model_dir`` (None if there is none)."""
    folder = Path(model_dir)
    if not folder.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := SNAPSHOT_RE.match(p.name))]
    return max(found)[1] if found else None


def unwrap(model: nn.Module) -> nn.Module:
    """The network inside any nesting of ``nn.DataParallel``, ``DistributedDataParallel`` and ``torch.compile``'s
    ``OptimizedModule`` (which holds it as ``_orig_mod``), or ``model`` itself."""
    while True:
        if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
            model = model.module
        elif isinstance(getattr(model, "_orig_mod", None), nn.Module):
            model = model._orig_mod
        else:
            return model


def network_state_dict(model: nn.Module) -> "OrderedDict[str, torch.Tensor]":
    """A CPU copy of the model's weights in the official layout: ``module.``-prefixed keys, human-model buffers
    last.  The tensors share no memory with the model (safe to write while training goes on)."""
    model = unwrap(model)
    state = OrderedDict((PREFIX + k, _cpu_clone(v)) for k, v in model.state_dict().items())
    human_model = getattr(model, "human_model", None)
    if human_model is not None:
        for name, buf in human_model.checkpoint_buffers().items():
            state[PREFIX + HUMAN_MODEL_PREFIX + name] = _cpu_clone(buf)
    return state


def optimizer_state_dict(optimizer: torch.optim.Optimizer | None) -> dict[str, Any]:
    """A CPU copy of ``optimizer.state_dict()`` (``{}`` for None); ``load_state_dict`` moves the state back to the
    parameters' device."""
    return _cpu_copy(optimizer.state_dict()) if optimizer is not None else {}


def _cpu_clone(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to("cpu", copy=True)


def _cpu_copy(obj: Any) -> Any:
    """``obj`` with every tensor replaced by a CPU clone (dicts, lists and tuples are rebuilt)."""
    if isinstance(obj, torch.Tensor):
        return _cpu_clone(obj)
    if isinstance(obj, OrderedDict):
        return OrderedDict((k, _cpu_copy(v)) for k, v in obj.items())
    if isinstance(obj, dict):
        return {k: _cpu_copy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cpu_copy(v) for v in obj)
    return obj


def check_weights_only_safe(value: Any, where: str = "value") -> None:
    """Raise ``TypeError`` naming the entry (e.g. ``extra['rng']['numpy']``) when ``value`` holds anything that
    ``torch.load(weights_only=True)`` refuses or that is not plain data: allowed are tensors, ``int``, ``float``,
    ``bool``, ``str``, ``None`` (exact types: NumPy scalars are refused) and dicts (str / int keys), lists and
    tuples of these."""
    if isinstance(value, torch.Tensor) or value is None or type(value) in (int, float, bool, str):
        return
    if type(value) in (dict, OrderedDict):
        for key, item in value.items():
            if type(key) not in (str, int):
                raise TypeError(f"{where}: key {key!r} of type {type(key).__name__}; use str or int keys")
            check_weights_only_safe(item, f"{where}[{key!r}]")
        return
    if type(value) in (list, tuple):
        for i, item in enumerate(value):
            check_weights_only_safe(item, f"{where}[{i}]")
        return
    raise TypeError(f"{where}: {type(value).__module__}.{type(value).__qualname__} cannot be loaded with "
                    "weights_only=True; store it as a tensor (torch.as_tensor), int, float, bool or str")


def checkpoint_payload(model: nn.Module, optimizer: torch.optim.Optimizer | None, epoch: int,
                       extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``{'epoch', 'network', 'optimizer', **extra}`` built from CPU copies (see :func:`save_checkpoint`)."""
    payload: dict[str, Any] = {
        "epoch": int(epoch),
        "network": network_state_dict(model),
        "optimizer": optimizer_state_dict(optimizer),
    }
    check_weights_only_safe(payload["optimizer"], "optimizer state")  # e.g. a NumPy float set as lr
    for key, value in (extra or {}).items():
        if type(key) is not str:
            raise TypeError(f"extra: key {key!r} is not a str")
        if key in OFFICIAL_KEYS:
            raise ValueError(f"extra[{key!r}]: {list(OFFICIAL_KEYS)} are the official keys, written from the "
                             "model, optimizer and epoch arguments; choose another name")
        check_weights_only_safe(value, f"extra[{key!r}]")
        payload[key] = _cpu_copy(value)
    return payload


def save_checkpoint(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer | None, epoch: int,
                    extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``{'epoch', 'network', 'optimizer', **extra}`` atomically to ``path`` (``optimizer`` None stores
    ``{}``).  ``extra``: resume metadata with str keys other than the official ones, checked with
    :func:`check_weights_only_safe` (``TypeError`` / ``ValueError`` naming the entry)."""
    return write_checkpoint(path, checkpoint_payload(model, optimizer, epoch, extra))


def write_checkpoint(path: str | Path, payload: Mapping[str, Any]) -> Path:
    """Write a payload from :func:`checkpoint_payload` atomically (:func:`common.utils.io.atomic_write`: temporary
    file, fsync, rename, mode ``0o666 & ~umask``).  An interrupted write leaves the previous ``path`` intact."""
    return atomic_write(path, lambda f: torch.save(dict(payload), f))


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


# ----- what a snapshot holds ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckpointInfo:
    """What a snapshot says about itself: variant, ResNet depth, training stage (None: unknown) and its source."""

    is_hand: bool
    resnet_type: int
    stage: str | None
    stage_source: str
    has_param_regressor: bool


def _mesh_vertex_count(state: Mapping[str, torch.Tensor]) -> int:
    """Vertices of the network in a normalised state dict (-1 when it has no mesh_net)."""
    return int(state[MESH_NET_KEY].shape[0]) if MESH_NET_KEY in state else -1


def inspect_checkpoint(ckpt: dict, path: str | Path) -> CheckpointInfo:
    """What ``ckpt`` (a loaded snapshot dict) says about itself, for ``path`` in messages.

    Variant from the mesh_net output channels (6890 SMPL / 778 MANO), ResNet depth from the layer3 block count,
    stage from a ``stage`` entry or else from the optimizer state (a param-stage optimizer holds exactly the
    param_regressor parameters, docs/network.md#stages); an empty optimizer leaves the stage unknown."""
    state = normalize_state_dict(ckpt["network"])
    verts = _mesh_vertex_count(state)
    if verts not in VARIANT_BY_VERTS:
        raise CheckpointError(f"{path}: not an I2L-MeshNet body or hand snapshot ('{MESH_NET_KEY}' has {verts} "
                              f"entries, expected {SMPL.vertex_num} for SMPL or {MANO.vertex_num} for MANO)")
    blocks = {k.split(".")[2] for k in state if k.startswith("pose_backbone.layer3.")}
    resnet_type = {6: 50, 23: 101, 36: 152}.get(len(blocks), 50)
    reg_params = [k for k in state if k.startswith("param_regressor.")
                  and not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    stage, source = ckpt.get("stage"), "its 'stage' entry"
    if stage not in ("lixel", "param"):
        groups = (ckpt.get("optimizer") or {}).get("param_groups", [])
        count = sum(len(g.get("params", [])) for g in groups)
        stage, source = (None, "unknown") if count == 0 else \
            ("param" if count == len(reg_params) else "lixel", "its optimizer state")
    return CheckpointInfo(is_hand=verts == MANO.vertex_num, resnet_type=resnet_type, stage=stage, stage_source=source,
                          has_param_regressor=bool(reg_params))


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
        file_verts = _mesh_vertex_count(state)
        model_verts = _mesh_vertex_count(own)
        if file_verts in VARIANT_BY_VERTS and model_verts in VARIANT_BY_VERTS and file_verts != model_verts:
            file_hand = file_verts == MANO.vertex_num
            fix = ("--trainset_3d FreiHAND --trainset_2d --testset FreiHAND" if file_hand else
                   "body datasets (e.g. the defaults: no FreiHAND in --trainset_3d / --testset)")
            raise CheckpointError(f"{source} holds the {VARIANT_NAMES[file_hand]} network, but the config builds the "
                                  f"{VARIANT_NAMES[not file_hand]} one; run with {fix}")
        lines.append("  (a body checkpoint needs a body config and a hand checkpoint --trainset_3d FreiHAND "
                     "--trainset_2d --testset FreiHAND; check --resnet_type too)")
        raise CheckpointError("\n".join(lines))
    model.load_state_dict(state, strict=True)


# ----- random number generator states ---------------------------------------------------------------------------

def capture_rng_state() -> dict[str, Any]:
    """The global RNG states as weights_only-safe data: ``torch`` (CPU, uint8 tensor), ``cuda`` (one uint8 tensor per
    visible device; empty without CUDA), ``numpy`` (the legacy global MT19937: key int64 (624,), pos, has_gauss,
    gauss float64 scalar tensor) and ``python`` (``random``: version, state int64 (625,), has_gauss_next,
    gauss_next float64 scalar tensor)."""
    np_state = np.random.get_state(legacy=False)
    if np_state["bit_generator"] != "MT19937":
        raise RuntimeError(f"numpy's global generator is {np_state['bit_generator']}, expected MT19937")
    version, py_state, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": list(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else [],
        "numpy": {"key": torch.as_tensor(np_state["state"]["key"].astype(np.int64)),
                  "pos": int(np_state["state"]["pos"]), "has_gauss": int(np_state["has_gauss"]),
                  "gauss": torch.tensor(float(np_state["gauss"]), dtype=torch.float64)},
        "python": {"version": int(version), "state": torch.tensor(py_state, dtype=torch.int64),
                   "has_gauss_next": int(gauss_next is not None),
                   "gauss_next": torch.tensor(0.0 if gauss_next is None else gauss_next, dtype=torch.float64)},
    }


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`capture_rng_state` returned (also after a save / ``weights_only`` load).

    CUDA states are restored for the devices present both in ``state`` and on this machine.  Raises
    ``ValueError`` naming the missing key for an incomplete dict.
    """
    missing = [k for k in ("torch", "cuda", "numpy", "python") if k not in state]
    if missing:
        raise ValueError(f"RNG state: missing key(s) {missing}; expected the dict of capture_rng_state()")
    torch.set_rng_state(state["torch"].to("cpu", torch.uint8))
    if torch.cuda.is_available():
        for index, cuda_state in enumerate(list(state["cuda"])[:torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state.to("cpu", torch.uint8), index)
    np_state = state["numpy"]
    np.random.set_state({"bit_generator": "MT19937",
                         "state": {"key": np_state["key"].numpy().astype(np.uint32), "pos": int(np_state["pos"])},
                         "has_gauss": int(np_state["has_gauss"]), "gauss": float(np_state["gauss"])})
    py_state = state["python"]
    gauss_next = float(py_state["gauss_next"]) if py_state["has_gauss_next"] else None
    random.setstate((int(py_state["version"]), tuple(int(v) for v in py_state["state"].tolist()), gauss_next))
