"""Several connections per large object: concurrent ranged GETs into one pre-allocated file.

One connection is capped on real networks (tens of MB/s per connection to a CDN or S3, one round
trip per request), so a large http(s) or S3 object is fetched as parts, several at once, each
written where it belongs (``os.pwrite``). The guarantees of the one-stream path stay:

- sha256 and md5 are computed over the bytes in order: two threads read the file back behind a
  watermark (the end of the longest complete prefix), so memory stays flat whatever the size;
- the object's validator (a strong ETag; S3's ETag) is pinned on every part (``If-Range`` for
  http, ``IfMatch`` for S3), so a part of a changed object is never spliced in: the fetch
  starts over;
- every answer is checked: 206 with a Content-Range that names exactly the start, end and total
  asked for, no Content-Encoding, the same ETag; a part that breaks off resumes on its own from
  the last byte written, with backoff, up to ``Retry.attempts`` tries per part;
- a server that cannot serve ranges safely (no Range support, no strong ETag, an answer that
  does not match the question) gets the one-stream path instead: ``fetch_ranged`` returns None
  with nothing kept.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from ..errors import SourceError, TruncatedError, explain, failed, is_transient
from ..redact import redact_text
from ..sources import Opened, Source, SourceInfo
from ..sources.http import GetSource
from .hashing import FileHasher
from .policy import Guard, Retry
from .proof import Changed, RangeRefused, check_part
from .stream import open_at
from .together import together

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


@dataclass
class Done:
    size: int
    sha256: Any  # hashlib objects, as fetch's one-stream path keeps them
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
    return max(1, min(setting, MAX_CONNECTIONS, size // MiB))


class _Part:
    __slots__ = ("start", "end", "done")

    def __init__(self, start: int, end: int) -> None:
        self.start = start
        self.end = end  # exclusive
        self.done = 0  # bytes written from start, in order

    @property
    def length(self) -> int:
        return self.end - self.start


def _parts(size: int, connections: int) -> list[_Part]:
    # About four parts per connection, so the fast ones take over the slow ones' share at the end.
    part = min(MAX_PART, max(MIN_PART, -(-size // (connections * 4))))
    return [_Part(a, min(size, a + part)) for a in range(0, size, part)]


class _Watermark:
    """The end of the longest prefix of the file that is complete, for the hash threads."""

    def __init__(self, parts: list[_Part], size: int) -> None:
        self.parts = parts
        self.size = size
        self.frontier = 0
        self.cond = threading.Condition()
        self.stopped = False

    def value(self) -> int:
        while self.frontier < len(self.parts):
            p = self.parts[self.frontier]
            if p.done < p.length:
                return p.start + p.done
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


def fetch_ranged(
    source: Source,
    fd: int,
    path: Path,
    *,
    connections: int,
    retry: Retry,
    callback: Callback,
    chunk_size: int,
    guard: Guard,
) -> Done | Opened | None:
    """Fetch ``source`` into ``fd`` (the empty partial file at ``path``) as concurrent ranges.

    No request is added for this: the first GET is the one-stream path's own (no Range), and
    what it says decides. A large object with a strong ETag, no Content-Encoding and (http)
    ``Accept-Ranges: bytes`` is fetched in parts, the first from that response. Otherwise that
    response is returned (an :class:`Opened`) for the one-stream path to carry on with, or None
    (the file empty again) when that path should open the source itself: the setting is 1, the
    source is neither http nor S3, or the parts found the server cannot serve ranges safely.
    Raises what the one-stream path would (a failed first GET included), the file empty again,
    for the caller's retries. ``guard`` enforces the size cap,
    the deadline and the free-space floor, as on the one-stream path.
    """
    if connections == 1 or not isinstance(source, GetSource):
        return None
    restarts = 0
    listed = source.listed
    while True:
        first: Optional[Opened] = None
        if listed and listed.size and listed.etag:
            info = listed  # a listing said it already: no request needed to decide
            if connections_for(connections, info.size) < 2:
                return None
        else:
            # A failure here is the one-stream path's first attempt failing: retried, explained.
            first = open_at(source, 0)
            info = first.info
            if not _rangeable(source, first, connections):
                return first
        listed = None  # after a change, ask again
        n = connections_for(connections, info.size)
        try:
            guard.before(info.size, 0)
            done = _run(source, fd, path, info, n, retry, callback, chunk_size, guard, first)
            done.attempts += restarts
            return done
        except RangeRefused as exc:
            log.warning("%s: %s; fetching it as one stream", source.display, exc)
            _reset(fd, callback)
            return None
        except Changed as exc:
            _reset(fd, callback)
            restarts += 1
            if restarts >= retry.attempts:
                raise SourceError(
                    redact_text(
                        f"{source.display}: the object kept changing while it was fetched "
                        f"({restarts} times; {exc}); try again when it is stable"
                    )
                ) from exc
            log.warning("%s: %s; starting over", source.display, exc)
        except BaseException:
            # Whatever the one-stream path does next, it must not find these parts in the file.
            _reset(fd, callback)
            raise
        finally:
            if first is not None:
                first.stream.close()


def _rangeable(source: Source, first: Opened, connections: int) -> bool:
    """Whether the answer to the first GET allows parts: big enough, pinned, not encoded."""
    info = first.info
    if first.start != 0 or connections_for(connections, info.size) < 2:
        return False
    if not info.etag or info.etag.startswith("W/") or info.content_encoding:
        return False  # nothing to pin the parts to, or bytes that ranges would count otherwise
    return first.ranges


def _reset(fd: int, callback: Callback) -> None:
    os.ftruncate(fd, 0)
    callback.relative_update(-callback.value)


def _run(
    source: Source,
    fd: int,
    path: Path,
    info: SourceInfo,
    connections: int,
    retry: Retry,
    callback: Callback,
    chunk_size: int,
    guard: Guard,
    first: Optional[Opened],
) -> Done:
    size = info.size
    assert size is not None
    os.ftruncate(fd, size)  # one file of the final size; each part writes where it belongs
    parts = _parts(size, connections)
    mark = _Watermark(parts, size)
    hashers = [FileHasher("sha256", path, mark), FileHasher("md5", path, mark)]
    for h in hashers:
        h.start()
    callback.set_size(size)
    log.debug("%s: %d parts over %d connections", source.display, len(parts), connections)
    assert isinstance(source, GetSource)
    job = _Job(
        _Getter(source), fd, parts, mark, info, retry, callback, min(chunk_size, 4 * MiB), guard
    )
    loop = source.fs.loop
    future = asyncio.run_coroutine_threadsafe(job.run(min(connections, len(parts)), first), loop)
    try:
        future.result()
    except BaseException:
        # Ctrl-C, SIGTERM, a failure: no write may happen after the caller removes the file.
        future.cancel()
        job.finished.wait(timeout=10)
        mark.stop()
        for h in hashers:
            h.join()
        raise
    for h in hashers:
        h.join()
        if h.error is not None:
            raise h.error
    sha256, md5 = hashers[0].hash, hashers[1].hash
    return Done(size=size, sha256=sha256, md5=md5, info=info, attempts=1 + job.retries)


class _Job:
    """The parts, shared by ``connections`` coroutines on the filesystem's event loop."""

    def __init__(
        self,
        getter: Any,
        fd: int,
        parts: list[_Part],
        mark: _Watermark,
        info: SourceInfo,
        retry: Retry,
        callback: Callback,
        chunk_size: int,
        guard: Guard,
    ) -> None:
        self.getter = getter
        self.guard = guard
        self.written = 0
        self.fd = fd
        self.todo = list(reversed(parts))
        self.mark = mark
        self.info = info
        self.retry = retry
        self.callback = callback
        self.chunk_size = chunk_size
        self.retries = 0
        self.finished = threading.Event()

    async def run(self, connections: int, first: Optional[Opened]) -> None:
        try:
            # The first GET's answer (the whole object asked for) serves the first part.
            lead = self.todo.pop() if first is not None else None
            await together(
                [self.worker(lead, first), *(self.worker() for _ in range(connections - 1))]
            )
        finally:
            self.finished.set()

    async def worker(self, lead: Optional[_Part] = None, first: Optional[Opened] = None) -> None:
        if lead is not None:
            await self.part(lead, first)
        while self.todo:
            await self.part(self.todo.pop())

    async def part(self, p: _Part, first: Optional[Opened] = None) -> None:
        tries = 1
        while p.done < p.length:
            try:
                if first is not None:
                    aread, first = first.aread, None
                    assert aread is not None
                    # Only this part's bytes: the rest of that answer is left unread.
                    while p.done < p.length and (
                        data := await aread(min(self.chunk_size, p.length - p.done))
                    ):
                        self.write(p, data)
                else:
                    await self.getter.get(self, p)
                if p.done < p.length:
                    raise TruncatedError(
                        f"bytes {p.start}-{p.end - 1}: the answer ended after {p.done} of "
                        f"{p.length} bytes"
                    )
            except (Changed, RangeRefused, asyncio.CancelledError):
                raise
            except Exception as exc:
                if not is_transient(exc):
                    raise
                if tries >= self.retry.attempts:
                    where = f"{self.getter.display}: bytes {p.start}-{p.end - 1}"
                    raise failed(where, exc, tries) from exc
                wait = self.retry.delay(tries, exc)
                log.warning(
                    "%s: bytes %d-%d: %s; resuming from byte %d in %.1f s (try %d of %d)",
                    self.getter.display,
                    p.start,
                    p.end - 1,
                    explain(exc),
                    p.start + p.done,
                    wait,
                    tries + 1,
                    self.retry.attempts,
                )
                self.retries += 1
                tries += 1
                await asyncio.sleep(wait)

    def write(self, p: _Part, data: bytes) -> None:
        if len(data) > p.length - p.done:
            raise RangeRefused(
                f"the server sent more than the {p.length} bytes of range {p.start}-{p.end - 1}"
            )
        os.pwrite(self.fd, data, p.start + p.done)
        p.done += len(data)
        self.written += len(data)
        self.callback.relative_update(len(data))
        self.mark.moved()
        # The deadline and the free-space floor (the size was checked against the cap before).
        self.guard.written(self.written)


class _Getter:
    """One part: a GET of its range, pinned to the ETag, through the source's own GET (http:
    redirects that keep credentials to their origin; S3: a presigned URL)."""

    def __init__(self, source: GetSource) -> None:
        self.source = source
        self.display = source.display

    async def get(self, job: _Job, p: _Part) -> None:
        etag = str(job.info.etag)
        first, last = p.start + p.done, p.end - 1
        r = await self.source.request(self.source.part_headers(first, last, etag))
        async with r:
            check_part(r, first, last, int(job.info.size or 0), job.info.etag)
            while data := await r.content.read(job.chunk_size):
                job.write(p, data)
