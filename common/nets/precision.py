"""Mixed precision helpers shared by the trainer, the tester, the demo and the benchmark.

* :func:`autocast_context`: the autocast region for ``--amp bf16`` / ``--amp fp16`` (a no-op for fp32).
  Inside it the network still runs in float32 (:func:`fp32_region`): the lixel heads after their deconvolutions
  (axis means, z branch, the last 1x1 convs that give the logits, soft-argmax), Pose2Feat's heat-map part, the joint
  regression, the whole param path (ParamRegressor, 6D -> axis-angle, SMPL/MANO) and the losses.  Every output and
  loss is float32 (float64 where the masks are float64, as in the original) whatever the autocast dtype.
* :func:`make_grad_scaler`: a ``torch.amp.GradScaler`` that is enabled for fp16 only (bf16 and fp32 need none).
"""
from __future__ import annotations

import contextlib

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

    Callers pass float32 inputs (:func:`widen`) so that the region computes in float32.
    """
    return torch.autocast(like.device.type, enabled=False)


def widen(t: torch.Tensor) -> torch.Tensor:
    """``t`` in float32 when it is in a half type (bf16 / fp16), else unchanged: the dtype of a float32 region.

    Float64 stays float64, so a network converted with ``.double()`` computes every region in float64 (that is how
    the fast path and the reference are compared: docs/network.md).
    """
    return t if t.dtype in (torch.float32, torch.float64) else t.float()


def make_grad_scaler(device: torch.device | str, amp: str | None) -> torch.amp.GradScaler:
    """Loss scaler for ``amp``: enabled for fp16 only (``scaler.scale(loss)`` is then the identity otherwise)."""
    device_type = torch.device(device).type
    return torch.amp.GradScaler(device_type, enabled=amp_dtype(amp) == torch.float16)


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool | None:
    """Whether the CPU has bf16 instructions (the ``avx512_bf16`` or ``amx_bf16`` flag of Linux's /proc/cpuinfo,
    or of ``cpuinfo`` text); None where that cannot be read (other systems)."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
                cpuinfo = f.read()
        except OSError:
            return None
    flags = set(cpuinfo.split())
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def slow_amp_warning(device: torch.device | str, amp: str | None, cpuinfo: str | None = None) -> str | None:
    """A warning line when ``--amp bf16`` runs on a CPU without bf16 instructions, where PyTorch emulates it and
    runs many times slower than fp32; None otherwise."""
    if amp != "bf16" or torch.device(device).type != "cpu" or cpu_has_native_bf16(cpuinfo) is not False:
        return None
    return ("--amp bf16 on a CPU without bf16 instructions (no AVX512-BF16 / AMX-BF16): PyTorch emulates it, many "
            "times slower than fp32; drop --amp (fp32) on this machine")
