"""``fetch.max_rate``: one token bucket for every byte a fetch reads, over all its connections,
parts, files and small objects (rclone's ``--bwlimit``, aria2c's
``--max-overall-download-limit``, curl's ``--limit-rate``).

Each place that reads bytes from a source (a ranged part, the plain stream, a small object of a
batch, a file-like source) takes what it read from the one :class:`Rate` of the fetch, after the
read: ``await rate.take(n)`` on the event loop, ``rate.take_sync(n)`` in a thread. A read that
overdraws the bucket waits until the bytes are paid for, so the reader stops reading, the socket's
buffer fills, and TCP slows the sender: the total stays at the rate, whatever the number of
connections. The bucket holds at most ``BURST`` seconds of credit, so a pause is not made up by
a burst. With no limit there is no bucket: the read sites test for None and pay nothing.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

# Seconds of credit the bucket may hold: what an idle moment lets through at once.
BURST = 0.05


class Rate:
    """A token bucket shared by threads and the event loop: ``bytes_per_second`` at most."""

    def __init__(
        self, bytes_per_second: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = float(bytes_per_second)
        self.clock = clock
        # The time at which every byte taken so far is paid for (virtual scheduling, as in
        # GCRA): taking n bytes moves it n / rate later; the caller waits until then. It starts
        # now: the first bytes are paid for like any others.
        self.paid_until = clock()
        self.lock = threading.Lock()

    def debt(self, n: int) -> float:
        """Take ``n`` bytes; the seconds the caller must wait for them to be paid."""
        with self.lock:
            now = self.clock()
            self.paid_until = max(self.paid_until, now - BURST) + n / self.rate
            return self.paid_until - now

    async def take(self, n: int) -> None:
        """``n`` bytes were read on the event loop: wait until they are paid for."""
        wait = self.debt(n)
        if wait > 0:
            await asyncio.sleep(wait)

    def take_sync(self, n: int) -> None:
        """``n`` bytes were read in this thread: wait until they are paid for."""
        wait = self.debt(n)
        if wait > 0:
            time.sleep(wait)
