"""Progress: a bar on a terminal, plain log lines (at most one every 10 s) otherwise."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from fsspec.callbacks import Callback, TqdmCallback

log = logging.getLogger(__name__)


class LogCallback(Callback):
    """Progress as plain log lines, at most one every ``every`` seconds (for logs and pipes)."""

    def __init__(self, name: str, every: float = 10.0) -> None:
        super().__init__()
        self.name = name
        self.every = every
        self.started = self.last = time.monotonic()

    def call(self, *args: Any, **kwargs: Any) -> None:
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        rate = self.value / max(now - self.started, 1e-9)
        if self.size:
            eta = (self.size - self.value) / rate if rate else float("inf")
            log.info(
                "%s: %s of %s (%.0f%%), %s/s, ETA %.0f s",
                self.name,
                human_bytes(self.value),
                human_bytes(self.size),
                100 * self.value / self.size,
                human_bytes(rate),
                eta,
            )
        else:
            log.info("%s: %s, %s/s", self.name, human_bytes(self.value), human_bytes(rate))


def progress_callback(name: str, progress: bool) -> Callback:
    if progress and sys.stderr.isatty():
        return TqdmCallback(
            tqdm_kwargs={
                "desc": name,
                "unit": "iB",
                "unit_scale": True,
                "unit_divisor": 1024,
                "leave": False,
            }
        )
    return LogCallback(name)


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def files_line(count: int, size: int, seconds: float, retries: int) -> str:
    """The one line that says what several files' fetch did (the pipeline's, for a folder of
    many files; the small-object batch's, at debug)."""
    rate = human_bytes(size / max(seconds, 1e-9))
    again = f", {retries} retries" if retries else ""
    return f"fetched {count} files: {human_bytes(size)} in {seconds:.1f} s ({rate}/s){again}"
