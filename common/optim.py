"""The original's optimizer, Adam (no weight decay), with the fastest kernel the parameters allow."""
from __future__ import annotations

from typing import Iterable

import torch


def fused_adam_supported(params: list[torch.Tensor]) -> bool:
    """True when ``torch.optim.Adam(fused=True)`` accepts these parameters (floating, on CPU or CUDA, one type)."""
    if not params:
        return False
    types = {p.device.type for p in params}
    return len(types) == 1 and types <= {"cpu", "cuda"} and all(p.is_floating_point() for p in params)


def make_optimizer(params: Iterable[torch.nn.Parameter], lr: float, fused: bool | None = None) -> torch.optim.Adam:
    """Adam(lr) as in the original (betas (0.9, 0.999), eps 1e-8, no weight decay).

    ``fused=None`` picks the fused kernel (one pass over each tensor instead of about ten elementwise ops) when
    supported and the for-each kernel otherwise; the update equals the reference loop to float rounding.  The
    state-dict keys are the same as the plain Adam's (``param_groups`` carry ``fused`` / ``foreach`` flags).
    """
    params = list(params)
    if fused is None:
        fused = fused_adam_supported(params)
    if fused:
        return torch.optim.Adam(params, lr=lr, fused=True)
    return torch.optim.Adam(params, lr=lr, foreach=True)
