"""Many small objects at once: one coroutine per object on fsspec's event loop.

A prefix of thousands of small objects is bound by requests, not bytes. Through the one-file
path (fetch.py) each object took a worker thread, two hand-offs to the event loop, a partial, a
sidecar and a progress line: about 5 ms of CPU per object, and 16 at a time. Here each object
is one GET, read whole into memory (it is small), checked (status, Content-Length, the size
cap), hashed and written, all on the loop: ``requests`` of them at once. (Hashing and writing on
two threads of their own cost more than they saved: 1.4-1.6 ms of CPU per 64 KiB object against
1.0-1.1 ms inline, the hand-offs outweighing 0.3 ms of work.) A failure that is worth a retry
retries that object alone; any other failure stops the batch.

The files are written straight to their place in the tree being assembled: that folder is
getdata's own staging folder (getdata/store/workspace.py), removed whole if the batch fails.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Optional

from ..errors import GetDataError, failed
from ..sources import Source
from ..sources.http import GetSource
from .fetch import Fetched
from .policy import Guard, Limits, Retry, retrying
from .progress import files_line
from .proof import Ask, prove
from .together import together

log = logging.getLogger(__name__)

# Objects up to this size (as listed) are read whole; larger ones stream through fetch.py.
SMALL = 1024 * 1024


def suits(source: Source) -> bool:
    """A listed object of known, small size that is read with plain GETs."""
    listed = source.listed
    return (
        isinstance(source, GetSource)
        and listed is not None
        and listed.size is not None
        and listed.size <= SMALL
    )


class NotSmall(Exception):
    """The answer is not the small object the listing promised: fetch it the usual way."""


def fetch_many(
    items: list[tuple[Source, Path]],
    *,
    requests: int,
    retry: Retry,
    limits: Limits,
) -> list[Optional[Fetched]]:
    """Fetch each (source, target) of ``items``, ``requests`` at a time, into ``target`` in a
    staging folder; every source must :func:`suits`. Returns what was fetched, in order; None
    for an object that turned out not to be small (the caller fetches it through fetch.py)."""
    if not items:
        return []
    loop = items[0][0].fs.loop
    folder = items[0][1].parent
    folder.mkdir(parents=True, exist_ok=True)
    # One guard for the batch: the free-space floor (the sizes are listed); the size cap and
    # the deadline are per file, below.
    guard = Guard(f"{len(items)} files", folder, Limits(None, None, limits.min_free_bytes))
    guard.before(sum(s.listed.size for s, _ in items if s.listed and s.listed.size), 0)
    started = time.monotonic()
    batch = _Batch(items, requests, retry, limits, guard)
    future = asyncio.run_coroutine_threadsafe(batch.run(), loop)
    try:
        results = future.result()
    except BaseException:
        # Ctrl-C, SIGTERM, a failure: stop every request before the caller drops the tree.
        future.cancel()
        batch.finished.wait(10)
        raise
    done = [r for r in results if r is not None]
    size = sum(r.size for r in done)
    seconds = time.monotonic() - started
    # The pipeline says what was fetched (a line per file, or one for the folder): this is the
    # batch's part of it, for debugging.
    log.debug("%s", files_line(len(done), size, seconds, batch.retries))
    return results


class _Batch:
    def __init__(
        self,
        items: list[tuple[Source, Path]],
        requests: int,
        retry: Retry,
        limits: Limits,
        guard: Guard,
    ) -> None:
        self.items = items
        self.requests = requests
        self.retry = retry
        self.limits = limits
        self.guard = guard
        self.written = 0
        self.retries = 0
        self.finished = threading.Event()

    async def run(self) -> list[Optional[Fetched]]:
        try:
            gate = asyncio.Semaphore(self.requests)
            return await together(self._one(gate, *item) for item in self.items)
        finally:
            self.finished.set()

    async def _one(
        self, gate: asyncio.Semaphore, source: Source, target: Path
    ) -> Optional[Fetched]:
        assert isinstance(source, GetSource)
        async with gate:
            started = time.monotonic()
            # Each object has its own size cap and deadline (the batch's guard keeps the
            # free-space floor for all of them).
            guard = Guard(source.display, self.guard.folder, replace(self.limits, min_free_bytes=0))

            async def attempt(n: int) -> Fetched:
                if n > 1:
                    self.retries += 1
                return await self._get(source, target, guard, started, n)

            try:
                return await retrying(source.display, attempt, self.retry, guard)
            except NotSmall as exc:
                log.debug("%s: %s; fetched as one stream", source.display, exc)
                return None
            except (GetDataError, asyncio.CancelledError):
                raise
            except Exception as exc:
                raise failed(source.display, exc) from exc

    async def _get(
        self, source: GetSource, target: Path, guard: Guard, started: float, tries: int
    ) -> Fetched:
        listed = source.listed
        assert listed is not None and listed.size is not None
        response = await source.request(dict(source.headers))
        async with response:
            info = prove(source.display, response, Ask.whole()).info
            if info.size is None or info.size > SMALL:
                raise NotSmall(f"announced {info.size} bytes, listed {listed.size}")
            guard.before(info.size, 0)
            # Exactly the announced length (a shorter body raises, and is retried).
            data = await response.content.readexactly(info.size)
        if guard.rate:  # fetch.max_rate
            await guard.rate.take(len(data))
        sha256, md5 = _store(target, data)
        self.written += len(data)
        self.guard.written(self.written)
        return Fetched(
            path=target,
            size=len(data),
            sha256=sha256,
            md5=md5,
            seconds=time.monotonic() - started,
            info=info,
            attempts=tries,
        )


def _store(target: Path, data: bytes) -> tuple[str, str]:
    """Write ``data`` to ``target`` and hash it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # 0o666 less the umask, as fetch.py's partials: kept files get the user's permissions.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    return hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest()
