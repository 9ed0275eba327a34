"""How hard to try and how far to go: the retry policy (attempts, backoff with jitter,
Retry-After) and the limits on one file (size cap, deadline, free-space floor), enforced by a
:class:`Guard` while the bytes arrive. Every path of getdata/transfer/ uses these."""

from __future__ import annotations

import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import GetDataError, retry_after

# How often (in bytes written) the free space of the data folder's disk is checked.
FREE_CHECK_EVERY = 64 * 2**20


class LimitError(GetDataError):
    """A file over fetch.max_bytes or fetch.deadline, or a disk about to go below
    fetch.min_free_bytes: never worth a retry."""


@dataclass
class Retry:
    """How hard to try: ``attempts`` in all, waiting ``backoff`` × 2ⁿ (with jitter) in between."""

    attempts: int = 5
    backoff: float = 0.5
    backoff_max: float = 30.0

    def delay(self, attempt: int, exc: BaseException) -> float:
        asked = retry_after(exc)
        if asked is not None:
            return min(asked, self.backoff_max)
        # Full jitter: parallel jobs that failed together do not retry together.
        return random.uniform(0, min(self.backoff_max, self.backoff * 2 ** (attempt - 1)))


@dataclass
class Limits:
    """Bounds on one file: its size, the time it may take, the free space it must leave."""

    max_bytes: Optional[int] = None
    deadline: Optional[float] = None
    min_free_bytes: int = 0


class Guard:
    """Enforces :class:`Limits` while the bytes arrive."""

    def __init__(self, display: str, folder: Path, limits: Limits) -> None:
        self.display = display
        self.folder = folder
        self.limits = limits
        self.until = time.monotonic() + limits.deadline if limits.deadline else None
        self.next_free_check = 0

    def before(self, size: Optional[int], have: int) -> None:
        """What can be refused before reading: an announced size too large for the cap or disk."""
        cap = self.limits.max_bytes
        if size is not None and cap is not None and size > cap:
            raise LimitError(
                f"{self.display}: is {size} bytes, more than fetch.max_bytes={cap}; nothing kept"
            )
        if size is not None:
            self._free(size - have)
        self.time()

    def written(self, total: int) -> None:
        cap = self.limits.max_bytes
        if cap is not None and total > cap:
            raise LimitError(
                f"{self.display}: the body went past fetch.max_bytes={cap}; stopped, nothing kept"
            )
        if total >= self.next_free_check:
            self.next_free_check = total + FREE_CHECK_EVERY
            self._free(0)
        self.time()

    def time(self) -> None:
        if self.until is not None and time.monotonic() > self.until:
            raise LimitError(
                f"{self.display}: not done after fetch.deadline={self.limits.deadline:g} s; "
                "stopped, nothing kept"
            )

    def _free(self, more: int) -> None:
        floor = self.limits.min_free_bytes
        if not floor and more <= 0:
            return
        free = shutil.disk_usage(self.folder).free
        if free - more < floor:
            raise LimitError(
                f"{self.display}: {self.folder} has {free} bytes free; "
                f"{max(more, 0)} more would leave less than fetch.min_free_bytes={floor}; "
                "nothing kept"
            )
