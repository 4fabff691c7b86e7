"""Run logs as the original writes them (docs/training.md), plus the running-average timers of its speed line.

Every line is ``%m-%d %H:%M:%S <message>``.  On a terminal the time stamp is green (``ESC[92m`` ... ``ESC[0m``), as
the original's; the log file never gets colour codes.  Console lines go through ``tqdm.write`` so that they appear
above a progress bar instead of breaking it.
"""
from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from common.utils.io import remove_stale_temporaries

GREEN = "\033[92m"
END = "\033[0m"
DATE_FORMAT = "%m-%d %H:%M:%S"


class _TqdmConsoleHandler(logging.StreamHandler):
    """Console handler that writes through ``tqdm.write`` (keeps an active progress bar intact)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=self.stream)
        except Exception:  # logging's own contract: report, never raise from a handler
            self.handleError(record)


def make_logger(name: str, log_file: str | Path | None, console: bool = True) -> logging.Logger:
    """A logger writing INFO lines to ``log_file`` (append mode, no colour) and to stdout (colour on a terminal).

    ``log_file`` None: console only.  Calling it again with the same ``name`` replaces the handlers, so a process
    that trains then tests does not duplicate lines.
    """
    logger = logging.getLogger(f"i2l.{name}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_file, mode="a", encoding="utf-8")
        file_handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", DATE_FORMAT))
        logger.addHandler(file_handler)
    if console:
        console_handler = _TqdmConsoleHandler(sys.stdout)
        colour = sys.stdout.isatty()
        fmt = f"{GREEN}%(asctime)s{END} %(message)s" if colour else "%(asctime)s %(message)s"
        console_handler.setFormatter(logging.Formatter(fmt, DATE_FORMAT))
        logger.addHandler(console_handler)
    return logger


def report_removed_temporaries(folder: str | Path, report: Callable[[str], object]) -> list[Path]:
    """Remove the temporaries of killed writers on this host in ``folder`` (:func:`remove_stale_temporaries`) and
    say so, one line each, through ``report`` (a logger's ``info``, or ``print``)."""
    removed = remove_stale_temporaries(folder)
    for path in removed:
        report(f"Removed {path}: the temporary of a write whose process is gone")
    return removed


class Timer:
    """Running average of durations, ignoring the first ``warmup`` measurements (the original ignores 10).

    ``tic()`` starts, ``toc()`` stops and records; ``average`` is 0 until more than ``warmup`` were taken.
    """

    def __init__(self, warmup: int = 10) -> None:
        self.warmup = warmup
        self.calls = 0
        self.total = 0.0
        self._start = 0.0

    def tic(self) -> None:
        self._start = time.perf_counter()

    def toc(self) -> float:
        elapsed = time.perf_counter() - self._start
        self.calls += 1
        if self.calls > self.warmup:
            self.total += elapsed
        return elapsed

    @property
    def average(self) -> float:
        counted = self.calls - self.warmup
        return self.total / counted if counted > 0 else 0.0


def format_train_line(epoch: int, end_epoch: int, itr: int, itr_per_epoch: int, lr: float, tot: float, gpu: float,
                      read: float, losses: dict[str, float]) -> str:
    """The original's per-iteration line (docs/training.md#logging; times in seconds, losses already floats)."""
    pieces = [
        f"Epoch {epoch}/{end_epoch} itr {itr}/{itr_per_epoch}:",
        f"lr: {lr:g}",
        f"speed: {tot:.2f}({gpu:.2f}s r{read:.2f})s/itr",
        f"{tot / 3600.0 * itr_per_epoch:.2f}h/epoch",
    ]
    pieces += [f"loss_{key}: {value:.4f}" for key, value in losses.items()]
    return " ".join(pieces)


def progress_bar(enabled: bool, total: int, initial: int = 0, desc: str | None = None, leave: bool = True):
    """A tqdm bar when ``enabled`` (rank 0) and stdout is a terminal; None otherwise."""
    if not (enabled and sys.stdout.isatty()):
        return None
    return tqdm(total=total, initial=initial, desc=desc, dynamic_ncols=True, leave=leave)
