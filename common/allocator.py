"""Process-level CPU memory setting: large tensors on transparent huge pages (Linux).

On the CPU every tensor above glibc's mmap threshold (at most 32 MiB, which the batch-16 activations of the 64x64
stages exceed) is a fresh mapping that the kernel fills one 4 KiB page fault at a time, on every step, so memory-bound
layers such as ReLU and BatchNorm spend much of their time in page faults (measurements: README.md).  PyTorch's CPU
allocator can instead align tensors of 2 MiB and more to 2 MiB and ask the kernel for transparent huge pages on them
(``madvise(MADV_HUGEPAGE)``), which cuts the faults 512-fold; freed memory still goes back to the system, so the peak
memory stays that of the step (within 2 MiB per live tensor).

PyTorch reads the switch, the environment variable ``THP_MEM_ALLOC_ENABLE``, once, at its first allocation, so
:func:`enable_huge_pages` must run before ``import torch``: the entry scripts (``main/train.py``, ``main/test.py``,
``demo/demo.py``, the benchmark's measuring processes) call it first.  ``THP_MEM_ALLOC_ENABLE=0`` in the
environment turns it off.  Child processes (DataLoader workers, spawned ranks) inherit the setting.  Nothing changes
where the kernel's transparent huge pages are ``never`` (``/sys/kernel/mm/transparent_hugepage/enabled``) and off
Linux.  This module must not import torch.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

THP_ENV = "THP_MEM_ALLOC_ENABLE"
THP_SYSFS = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def kernel_thp_mode(path: Path = THP_SYSFS) -> str | None:
    """The kernel's transparent huge page mode ('always', 'madvise' or 'never'); None where it cannot be read."""
    try:
        text = path.read_text()
    except OSError:
        return None
    for word in text.split():
        if word.startswith("[") and word.endswith("]"):
            return word[1:-1]
    return None


def enable_huge_pages() -> bool:
    """Ask PyTorch's CPU allocator for transparent huge pages on tensors of 2 MiB and more (sets ``THP_ENV`` unless
    the environment already sets it).  Call before ``import torch``.

    Returns True when the setting will take effect in this process: Linux, the kernel mode is not ``never``, the
    variable is (now) ``1`` and torch has not been imported yet.
    """
    if not sys.platform.startswith("linux"):
        return False
    os.environ.setdefault(THP_ENV, "1")
    return huge_pages_requested() and "torch" not in sys.modules


def huge_pages_requested() -> bool:
    """True when this process asks PyTorch for huge pages (``THP_ENV`` is ``1``) and the kernel can give them."""
    return os.environ.get(THP_ENV) == "1" and kernel_thp_mode() not in (None, "never")
