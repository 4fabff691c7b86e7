"""DistributedDataParallel for I2L-MeshNet: gradients of the current stage only, BatchNorm statistics from rank 0.

* No ``find_unused_parameters``: the model marks every parameter its stage never updates ``requires_grad=False``
  (:meth:`main.model.I2LMeshNet.set_trainable`), so DDP all-reduces exactly the parameters that get gradients.
  DDP records that set when it is built: set the stage first, and wrap again after a stage change.
* Buffer broadcast on (``broadcast_buffers=True``, named ``forward_sync_buffers`` from torch 2.14): at each
  training forward the BatchNorm running statistics of rank 0 overwrite the other ranks' (as GPU 0's replica won
  under the original's DataParallel).  Every other buffer is a constant copy of the model files (SMPL/MANO layer,
  mesh faces, joint regressor) and is excluded from all DDP synchronisation.
"""
from __future__ import annotations

import inspect

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

BATCH_NORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def constant_buffer_names(model: nn.Module) -> list[str]:
    """Fully qualified names of the buffers that are not BatchNorm statistics (``running_mean``, ``running_var``,
    ``num_batches_tracked`` of a BatchNorm module), in ``named_buffers`` order."""
    batch_norm_buffers = {f"{module_name}.{buffer_name}" if module_name else buffer_name
                          for module_name, module in model.named_modules() if isinstance(module, BATCH_NORM_TYPES)
                          for buffer_name, _ in module.named_buffers(recurse=False)}
    return [name for name, _ in model.named_buffers() if name not in batch_norm_buffers]


def wrap_ddp(model: nn.Module, device: torch.device | str) -> DistributedDataParallel:
    """Wrap ``model`` (already on ``device``, stage already set) in DDP for the current process group.

    ``device_ids=[device.index]`` for CUDA, none for CPU; ``broadcast_buffers=True`` with the constant buffers
    (:func:`constant_buffer_names`) ignored; no ``find_unused_parameters``.  Building the wrapper broadcasts rank 0's
    parameters and BatchNorm buffers.  Raises ``ValueError`` when a parameter or buffer is on another device.
    """
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    misplaced = [name for name, t in (*model.named_parameters(), *model.named_buffers()) if t.device != device]
    if misplaced:
        raise ValueError(f"wrap_ddp: {len(misplaced)} parameters/buffers are not on {device} (first: "
                         f"{misplaced[0]}); call model.to({str(device)!r}) before wrap_ddp and before building "
                         "the optimizer")
    DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(model, constant_buffer_names(model))
    device_ids = [device.index] if device.type == "cuda" else None
    # torch >= 2.14 renamed broadcast_buffers (deprecated) to forward_sync_buffers; both also sync at construction
    if "forward_sync_buffers" in inspect.signature(DistributedDataParallel.__init__).parameters:
        sync = {"forward_sync_buffers": True}
    else:
        sync = {"broadcast_buffers": True}
    return DistributedDataParallel(model, device_ids=device_ids, **sync)
