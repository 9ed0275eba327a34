"""How hard to try and how far to go, for every path that moves bytes: the retry policy
(attempts, backoff with full jitter, a server's Retry-After) and the limits on one file (size
cap, deadline, free-space floor), enforced by a :class:`Guard` while the bytes arrive.

The whole fetch of a file has one Guard: its deadline bounds every request and every read of
every part, and every wait between tries (:meth:`Guard.within`, :meth:`Guard.pause`). The retry
loop is :func:`retrying` (on the event loop) or :func:`retrying_sync` (a thread); both ask
:meth:`Retry.after` what to do with a failure, so the policy is written once.

Why not tenacity: its stop and wait strategies fit, but a retry here must also resume from
state the attempt keeps (a part's bytes so far), be cut by a deadline shared with other
coroutines in the middle of an attempt, and end in getdata's one-line error; the loop that
remains around :meth:`Retry.after` is a dozen lines either way.
"""

from __future__ import annotations

import asyncio
import logging
import random
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, TypeVar

from ..errors import GetDataError, explain, failed, is_transient, retry_after
from .rate import Rate

log = logging.getLogger(__name__)

T = TypeVar("T")

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

    def after(self, where: str, attempt: int, exc: BaseException) -> Optional[float]:
        """What to do after try number ``attempt`` at ``where`` failed with ``exc``: the seconds
        to wait before the next try; None when it is not worth a retry (the caller raises it as
        it is); after the last try of a transient failure, the one line naming ``where`` and the
        tries is raised."""
        if not is_transient(exc):
            return None
        if attempt >= self.attempts:
            raise failed(where, exc, attempt) from exc
        return self.delay(attempt, exc)


@dataclass
class Limits:
    """Bounds on one file: its size, the time it may take, the free space it must leave; and
    the bytes per second of the whole fetch (``rate``: one bucket every file shares, or None)."""

    max_bytes: Optional[int] = None
    deadline: Optional[float] = None
    min_free_bytes: int = 0
    rate: Optional[Rate] = None


class Guard:
    """Enforces :class:`Limits` on one file while its bytes arrive, on every path and part."""

    def __init__(self, display: str, folder: Path, limits: Limits) -> None:
        self.display = display
        self.folder = folder
        self.limits = limits
        # fetch.max_rate (getdata/transfer/rate.py): every read site takes what it read from it.
        self.rate = limits.rate
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
            raise self._late()

    def left(self) -> Optional[float]:
        """Seconds left before the deadline (None: no deadline)."""
        return None if self.until is None else max(0.0, self.until - time.monotonic())

    async def within(self, step: Awaitable[T]) -> T:
        """``step`` (a request, a read), cut off at the deadline."""
        left = self.left()
        if left is None:
            return await step
        try:
            return await asyncio.wait_for(step, left + 0.001)
        except asyncio.TimeoutError:
            if self.left():
                raise  # a socket's own timeout, not the deadline: worth a retry
            raise self._late() from None

    async def pause(self, seconds: float) -> None:
        """Wait between tries, never past the deadline."""
        left = self.left()
        await asyncio.sleep(seconds if left is None else min(seconds, left))
        self.time()

    def pause_sync(self, seconds: float) -> None:
        left = self.left()
        time.sleep(seconds if left is None else min(seconds, left))
        self.time()

    def _late(self) -> LimitError:
        return LimitError(
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


def _said(where: str, exc: BaseException, wait: float, n: int, retry: Retry, how: str) -> None:
    log.warning(
        "%s: %s; %s in %.1f s (attempt %d of %d)",
        where,
        explain(exc),
        how,
        wait,
        n + 1,
        retry.attempts,
    )


async def retrying(
    where: str,
    attempt: Callable[[int], Awaitable[T]],
    retry: Retry,
    guard: Guard,
    how: Callable[[], str] = lambda: "retrying",
) -> T:
    """``attempt(n)`` for n = 1, 2, ... until it succeeds, on the event loop: each try within
    the deadline, transient failures retried as :meth:`Retry.after` says. ``how`` names what the
    next try does ("resuming from byte N") for the warning line."""
    n = 1
    while True:
        try:
            return await guard.within(attempt(n))
        except (asyncio.CancelledError, GeneratorExit):
            raise
        except Exception as exc:
            wait = retry.after(where, n, exc)
            if wait is None:
                raise
            _said(where, exc, wait, n, retry, how())
            await guard.pause(wait)
            n += 1


def retrying_sync(
    where: str,
    attempt: Callable[[int], T],
    retry: Retry,
    guard: Guard,
    how: Callable[[], str] = lambda: "retrying",
) -> T:
    """:func:`retrying` for an attempt that runs in this thread (a file-like source)."""
    n = 1
    while True:
        try:
            return attempt(n)
        except Exception as exc:
            wait = retry.after(where, n, exc)
            if wait is None:
                raise
            _said(where, exc, wait, n, retry, how())
            guard.pause_sync(wait)
            n += 1
