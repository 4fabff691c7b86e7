"""Mixed precision and optimizer helpers shared by the trainer, the tester, the demo and the benchmark.

* :func:`autocast_context`: the autocast region for ``--amp bf16`` / ``--amp fp16`` (a no-op for fp32).
  Inside it the network still runs in float32 (:func:`fp32_region`): the lixel heads after their deconvolutions
  (axis means, z branch, the last 1x1 convs that give the logits, soft-argmax), Pose2Feat's heat-map part, the joint
  regression, the whole param path (ParamRegressor, 6D -> axis-angle, SMPL/MANO) and the losses.  Every output and
  loss is float32 (float64 where the masks are float64, as in the original) whatever the autocast dtype.
* :func:`make_grad_scaler`: a ``torch.amp.GradScaler`` that is enabled for fp16 only (bf16 and fp32 need none).
* :func:`make_optimizer`: the original's Adam (no weight decay) with the fused kernel where it is supported.
"""
from __future__ import annotations

import contextlib
from typing import Iterable

import torch

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def amp_dtype(amp: str | None) -> torch.dtype | None:
    """``None`` / ``'fp32'`` -> None, ``'bf16'`` -> torch.bfloat16, ``'fp16'`` -> torch.float16."""
    if amp is None or amp == "fp32":
        return None
    if amp not in AMP_DTYPES:
        raise ValueError(f"--amp {amp!r}: choose one of fp32, {', '.join(AMP_DTYPES)}")
    return AMP_DTYPES[amp]


def autocast_context(device: torch.device | str, amp: str | None) -> contextlib.AbstractContextManager:
    """``torch.autocast`` on ``device``'s type with the ``amp`` dtype; fp32 (``None``) disables autocast."""
    device_type = torch.device(device).type
    dtype = amp_dtype(amp)
    if dtype is None:
        return torch.autocast(device_type, enabled=False)
    return torch.autocast(device_type, dtype=dtype)


def fp32_region(like: torch.Tensor) -> contextlib.AbstractContextManager:
    """Autocast switched off on ``like``'s device type: ops inside run in the dtype of their inputs.

    Callers pass float32 inputs (``.float()``) so that the region computes in float32.
    """
    return torch.autocast(like.device.type, enabled=False)


def make_grad_scaler(device: torch.device | str, amp: str | None) -> torch.amp.GradScaler:
    """Loss scaler for ``amp``: enabled for fp16 only (``scaler.scale(loss)`` is then the identity otherwise)."""
    device_type = torch.device(device).type
    return torch.amp.GradScaler(device_type, enabled=amp_dtype(amp) == torch.float16)


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
