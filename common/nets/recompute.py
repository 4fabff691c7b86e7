"""Activation recomputation (gradient checkpointing) that keeps BatchNorm running statistics exact.

A checkpointed segment stores only its input; its activations are computed again in the backward pass.  The second
forward of a segment in train mode would update the BatchNorm running statistics a second time (momentum applied
twice), so the statistics are saved before the recomputation and restored after it: the result equals an ordinary
training step (same batch statistics in both passes, one running-statistics update).
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


@contextlib.contextmanager
def _preserve_batchnorm_stats(module: nn.Module) -> Iterator[None]:
    batchnorms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone())
             for m in batchnorms if m.track_running_stats]
    try:
        yield
    finally:
        with torch.no_grad():
            for m, (mean, var, count) in zip([m for m in batchnorms if m.track_running_stats], saved):
                m.running_mean.copy_(mean)
                m.running_var.copy_(var)
                m.num_batches_tracked.copy_(count)


def run_checkpointed(module: nn.Module, fn: Callable[..., torch.Tensor], *args) -> torch.Tensor:
    """``fn(*args)`` (which runs ``module``), recomputed in the backward pass instead of storing its activations.

    Plain ``fn(*args)`` when no gradient is being recorded.
    """
    if not torch.is_grad_enabled():
        return fn(*args)
    return checkpoint(fn, *args, use_reentrant=False,
                      context_fn=lambda: (contextlib.nullcontext(), _preserve_batchnorm_stats(module)))


def run_trunk(trunk: nn.Module, x: torch.Tensor, skip_early: bool,
              recompute: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``trunk(x, skip_early)`` of a torchvision-layout ResNet trunk, each stage block (and the stem) checkpointed
    when ``recompute``; returns ``(early, final)`` like the trunk's own forward."""
    if not recompute:
        return trunk(x, skip_early=skip_early)
    if not skip_early:
        x = run_checkpointed(trunk.bn1, lambda t: trunk.maxpool(trunk.relu(trunk.bn1(trunk.conv1(t)))), x)
    early = x
    for layer in (trunk.layer1, trunk.layer2, trunk.layer3, trunk.layer4):
        for block in layer:
            x = run_checkpointed(block, block, x)
    return early, x
