"""Seconds per named stage of a run, summed over calls (the demo's per-stage timings and the benchmark)."""
from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator


class StageTimes:
    """``with times("network"): ...`` adds the block's wall-clock seconds to ``times.seconds["network"]``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
        self.calls[name] = self.calls.get(name, 0) + 1

    def line(self) -> str:
        """``"a 1.23, b 0.45"``: every stage in the order first timed, seconds."""
        return ", ".join(f"{k} {v:.2f}" for k, v in self.seconds.items())
