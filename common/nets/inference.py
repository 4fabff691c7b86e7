"""Turn a network into a test-only network: BatchNorm folded into the convolutions, conv weights stored in the
autocast dtype.

In eval mode a BatchNorm is the affine map y = (x - mean) * s + beta with s = gamma / sqrt(var + eps), so it can be
merged into the convolution before it (weight * s per output channel, bias * s + beta - mean * s), which removes one
pass over every activation.  Storing the 2D conv weights in the autocast dtype removes the per-forward weight casts.
The results equal the unfolded network's to float rounding (tested).  The folded network has no BatchNorm keys
and cannot be trained or saved as a checkpoint: load the weights first, then call :func:`prepare_inference`.
"""
from __future__ import annotations

import torch
from torch import nn

from common.nets.precision import amp_dtype

_CONVS = (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d)
_BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


def _fold_pair(conv: nn.Module, bn: nn.modules.batchnorm._BatchNorm) -> None:
    """Merge eval-mode ``bn`` into ``conv`` in place (computed in float64)."""
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError(f"{bn}: a BatchNorm without running statistics cannot be folded")
    if conv.groups != 1:
        raise ValueError(f"{conv}: grouped convolutions are not folded")
    with torch.no_grad():
        scale = bn.running_var.double().add(bn.eps).rsqrt()
        if bn.weight is not None:
            scale = scale * bn.weight.double()
        shift = -bn.running_mean.double() * scale
        if bn.bias is not None:
            shift = shift + bn.bias.double()
        weight = conv.weight.double()
        if isinstance(conv, nn.ConvTranspose2d):  # weight (in, out, kh, kw)
            weight = weight * scale[None, :, None, None]
        else:  # weight (out, in, ...)
            weight = weight * scale.reshape(-1, *([1] * (weight.dim() - 1)))
        bias = shift if conv.bias is None else conv.bias.double() * scale + shift
        dtype = conv.weight.dtype
        conv.weight = nn.Parameter(weight.to(dtype), requires_grad=False)
        conv.bias = nn.Parameter(bias.to(dtype), requires_grad=False)


def fold_batchnorm(module: nn.Module) -> int:
    """Fold every (convolution, BatchNorm) pair of ``module`` in place; the BatchNorms become ``nn.Identity``.

    Pairs: consecutive children of an ``nn.Sequential`` (the layer stacks of :mod:`common.nets.layer`, ResNet
    ``downsample``) and children named ``convN`` / ``bnN`` (ResNet stem and Bottleneck).  Returns the number of
    folded pairs.
    """
    folded = 0
    for parent in list(module.modules()):
        children = dict(parent.named_children())
        pairs: list[tuple[str, str]] = []
        if isinstance(parent, nn.Sequential):
            names = list(children)
            pairs = [(a, b) for a, b in zip(names, names[1:])
                     if isinstance(children[a], _CONVS) and isinstance(children[b], _BATCHNORMS)]
        else:
            pairs = [(name, "bn" + name[4:]) for name in children
                     if name.startswith("conv") and name[4:].isdigit() and isinstance(children[name], _CONVS)
                     and isinstance(children.get("bn" + name[4:]), _BATCHNORMS)]
        for conv_name, bn_name in pairs:
            _fold_pair(children[conv_name], children[bn_name])
            setattr(parent, bn_name, nn.Identity())
            folded += 1
    return folded


def prepare_inference(model: nn.Module, amp: str | None = None) -> nn.Module:
    """Make ``model`` test-only, in place: eval mode, no gradients, every BatchNorm that follows a convolution folded
    into it, and, for ``amp`` 'bf16' / 'fp16', the 2D conv weights stored in that dtype.  Returns ``model``.

    Only the lixel part has convolutions; the param path (ParamRegressor's Linear + BatchNorm1d, SMPL/MANO) is left as
    it is and runs in float32 under autocast.  Run the model under :func:`common.nets.precision.autocast_context`
    with the same ``amp`` and ``torch.inference_mode``.
    """
    model.eval()
    model.requires_grad_(False)
    fold_batchnorm(model)
    dtype = amp_dtype(amp)
    if dtype is not None:
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                m.weight.data = m.weight.data.to(dtype)
                if m.bias is not None:
                    m.bias.data = m.bias.data.to(dtype)
    return model
