"""A large object over one or several connections: ranged GETs into one pre-allocated partial,
each part pinned to the version first seen, resumable after a broken connection and after a
killed run.

One connection is capped on real networks (tens of MB/s per connection to a CDN or S3, one round
trip per request), so an object is cut into parts, several fetched at once, each written where it
belongs (``os.pwrite``). The guarantees of one stream stay:

- every answer goes through :func:`getdata.transfer.proof.prove`: exactly the range asked for,
  of the pinned version (``If-Range`` for http, ``If-Match`` for S3), or the fetch starts over;
- sha256 and md5 are computed over the bytes in order: two threads read the file back behind the
  end of its complete prefix, so memory stays flat whatever the size;
- the part map (getdata/store/partmap.py) records how much of each part is on disk, so a run
  killed at any moment is resumed by the next, which asks only for what is missing;
- one :class:`~getdata.transfer.policy.Guard` for the whole object: the size cap, the free-space
  floor and the deadline, which cuts off a stalled part too.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from ..errors import TruncatedError
from ..sources import SourceInfo
from ..sources.http import GetSource
from ..store.partmap import PartMap
from .hashing import FileHashes
from .policy import Guard, Retry, retrying
from .proof import Ask, Pin, Proven, RangeRefused, prove
from .together import run_on, together

if TYPE_CHECKING:
    from fsspec.callbacks import Callback

log = logging.getLogger(__name__)

MiB = 1024 * 1024
# Below this size one stream is as fast: a part costs a round trip and a request.
AUTO_MIN_SIZE = 16 * MiB
# The automatic number of connections: one per AUTO_PART, at most this many (aria2c allows 16).
# boto3 splits at 8 MiB too (TransferConfig: 8 MiB parts, 10 at once); one per 16 MiB left a
# 64 MiB file at 4 connections, 0.8 s on a 20 MiB/s link where 8 take 0.4 s (netbench, sweep).
AUTO_PART = 8 * MiB
AUTO_MAX_CONNECTIONS = 16
# The most a setting may ask for: beyond this a server is more likely to refuse than to help.
MAX_CONNECTIONS = 64
MIN_PART = 8 * MiB
MAX_PART = 64 * MiB
# The first request asks for this much (the size is not known yet): a small object comes whole
# in that one answer, a large one gets its first part, and nothing is read twice.
FIRST_PART = MIN_PART
# A setting asks for N connections, but no part below this.
MIN_CONNECTION_BYTES = MiB


@dataclass
class Done:
    size: int
    sha256: Any  # hashlib objects, as the one-stream path keeps them
    md5: Any
    info: SourceInfo
    attempts: int


def connections_for(setting: int, size: Optional[int]) -> int:
    """How many connections for an object of ``size`` bytes; ``setting`` 0 means automatic."""
    if setting == 1 or not size:
        return 1
    if setting == 0:
        if size < AUTO_MIN_SIZE:
            return 1
        return max(2, min(AUTO_MAX_CONNECTIONS, size // AUTO_PART))
    # As many as asked, but no part below 1 MiB.
    return max(1, min(setting, MAX_CONNECTIONS, size // MIN_CONNECTION_BYTES))


def layout(size: int, first_end: int, connections: int) -> list[tuple[int, int]]:
    """The parts of an object of ``size`` bytes: [0, ``first_end``) (what the first answer
    serves), then the rest in about four parts per connection, so the fast connections take
    over the slow ones' share at the end (one part when there is one connection)."""
    parts = [(0, first_end)] if first_end else []
    rest = size - first_end
    if rest <= 0:
        return parts
    about = -(-rest // (connections * 4))
    step = rest if connections <= 1 else min(MAX_PART, max(MIN_PART, about))
    return parts + [(a, min(size, a + step)) for a in range(first_end, size, step)]


class _Watermark:
    """The end of the longest prefix of the file that is complete, for the hash threads."""

    def __init__(self, pmap: PartMap) -> None:
        self.pmap = pmap
        self.size = pmap.size
        self.frontier = 0
        self.cond = threading.Condition()
        self.stopped = False

    def value(self) -> int:
        parts, done = self.pmap.parts, self.pmap.done
        while self.frontier < len(parts):
            start, end = parts[self.frontier]
            if done[self.frontier] < end - start:
                return start + done[self.frontier]
            self.frontier += 1
        return self.size

    def moved(self) -> None:
        with self.cond:
            self.cond.notify_all()

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()

    def wait_past(self, pos: int) -> int:
        """Block until more than ``pos`` bytes are complete; the new end (or -1 if stopped)."""
        with self.cond:
            while True:
                if self.stopped:
                    return -1
                end = self.value()
                if end > pos:
                    return end
                self.cond.wait(0.5)


def fetch_parts(
    source: GetSource,
    fd: int,
    path: Path,
    pmap: PartMap,
    pin: Pin,
    *,
    connections: int,
    retry: Retry,
    guard: Guard,
    callback: Callback,
    chunk_size: int,
    first: Optional[tuple[Any, Proven]] = None,
) -> Done:
    """Fetch what ``pmap`` says is missing of ``source`` into ``fd`` (the partial at ``path``,
    already at its full size), ``connections`` parts at once; ``first`` is the proven first
    answer, which serves the first part. Raises :class:`~getdata.transfer.proof.Changed` or
    :class:`~getdata.transfer.proof.RangeRefused` for the caller to start over, with no write
    left running."""
    mark = _Watermark(pmap)
    hashes = FileHashes(path, mark)
    hashes.start()
    callback.set_size(pmap.size)
    callback.relative_update(pmap.written() - callback.value)
    job = _Job(source, fd, pmap, pin, mark, retry, guard, callback, min(chunk_size, 4 * MiB))
    todo = len(pmap.missing())
    log.debug("%s: %d parts to fetch over %d connections", source.display, todo, connections)
    try:
        # Ctrl-C, SIGTERM, a failure: run_on stops every part before the caller removes the file.
        run_on(source.fs.loop, job.run(max(1, min(connections, todo)), first))
    except BaseException:
        mark.stop()
        hashes.stop()
        raise
    finally:
        pmap.close()
    hashes.join()
    info = job.info or SourceInfo(size=pmap.size)
    return Done(pmap.size, hashes.sha256, hashes.md5, info, attempts=1 + job.retries)


class _Job:
    """The parts, shared by ``connections`` coroutines on the filesystem's event loop."""

    def __init__(
        self,
        source: GetSource,
        fd: int,
        pmap: PartMap,
        pin: Pin,
        mark: _Watermark,
        retry: Retry,
        guard: Guard,
        callback: Callback,
        chunk_size: int,
    ) -> None:
        self.source = source
        self.fd = fd
        self.pmap = pmap
        self.pin = pin
        self.mark = mark
        self.retry = retry
        self.guard = guard
        self.callback = callback
        self.chunk_size = chunk_size
        self.written = pmap.written()
        self.todo = list(reversed(pmap.missing()))
        self.retries = 0
        # What the first proven answer said about the object (for the metadata).
        self.info: Optional[SourceInfo] = None

    async def run(self, connections: int, first: Optional[tuple[Any, Proven]]) -> None:
        lead = self.todo.pop() if first is not None else None
        await together([self.worker(lead, first), *(self.worker() for _ in range(connections - 1))])

    async def worker(
        self, lead: Optional[int] = None, first: Optional[tuple[Any, Proven]] = None
    ) -> None:
        if lead is not None:
            await self.part(lead, first)
        while self.todo:
            await self.part(self.todo.pop())

    async def part(self, i: int, first: Optional[tuple[Any, Proven]] = None) -> None:
        start, end = self.pmap.parts[i]
        offered = [first]

        async def attempt(n: int) -> None:
            if n > 1:
                self.retries += 1
            answer, offered[0] = offered[0], None
            await self._fill(i, start, end, answer)

        await retrying(
            f"{self.source.display}: bytes {start}-{end - 1}",
            attempt,
            self.retry,
            self.guard,
            how=lambda: f"resuming from byte {start + self.pmap.done[i]}",
        )

    async def _fill(
        self, i: int, start: int, end: int, answer: Optional[tuple[Any, Proven]]
    ) -> None:
        """One try at part ``i``: from the first answer when it is offered, else one GET of
        what is missing of the part, pinned and proven."""
        if answer is None:
            ask = Ask.span(start + self.pmap.done[i], end - 1, self.pin)
            response = await self.source.request(
                {**self.source.headers, **ask.headers(self.source.pin_header)}
            )
            try:
                proven = prove(self.source.display, response, ask)
            except BaseException:
                response.close()
                raise
        else:
            response, proven = answer
        if self.info is None:
            self.info = replace(proven.info, size=self.pmap.size)
        async with response:
            if proven.start < start + self.pmap.done[i]:
                # The whole object (of the pinned version) for a range of it: it can serve only
                # the one part left that runs to the end, the bytes already kept read past.
                if end != self.pmap.size or len(self.pmap.missing()) > 1:
                    raise RangeRefused("the server ignored Range (200, the whole object)")
                await _skip(response, start + self.pmap.done[i] - proven.start, self.guard)
            while self.pmap.done[i] < end - start:
                want = min(self.chunk_size, end - start - self.pmap.done[i])
                data = await response.content.read(want)
                if not data:
                    break
                self._write(i, start, end, data)
                if self.guard.rate:  # fetch.max_rate
                    await self.guard.rate.take(len(data))
        if self.pmap.done[i] < end - start:
            raise TruncatedError(
                f"the answer ended after {self.pmap.done[i]} of the part's {end - start} bytes"
            )

    def _write(self, i: int, start: int, end: int, data: bytes) -> None:
        done = self.pmap.done[i]
        if len(data) > end - start - done:
            raise RangeRefused(f"the server sent more than the bytes {start}-{end - 1}")
        os.pwrite(self.fd, data, start + done)
        # Only after the bytes are in the file: the map never claims what is not there.
        self.pmap.advance(i, done + len(data))
        self.written += len(data)
        self.callback.relative_update(len(data))
        self.mark.moved()
        # The deadline and the free-space floor (the size was checked against the cap before).
        self.guard.written(self.written)


async def _skip(response: Any, count: int, guard: Guard) -> None:
    """Read past ``count`` bytes of an answer (bytes already in the file)."""
    while count > 0:
        data = await response.content.read(min(count, 4 * MiB))
        if not data:
            raise TruncatedError(f"the answer ended {count} bytes before the bytes still missing")
        count -= len(data)
        if guard.rate:  # fetch.max_rate
            await guard.rate.take(len(data))
