"""One stream, read in order from the first byte, for what cannot be fetched in pinned parts:

- :func:`plain_get`: a GET source whose answer names no version or size (no strong ETag and no
  Last-Modified, no Content-Length), or a server that cannot serve its ranges safely. Each try
  is one plain GET read whole from byte 0: nothing can be proven to continue, so nothing is.
- :func:`read_file`: a file-like source (a local path, any other fsspec URL), reopened at the
  byte it stopped at when the source still is the version first seen (same size and
  Last-Modified or ETag), else read again from 0; with a part map of one part, a run killed
  with -9 is resumed by the next one.

Both hash as they copy (sha256 inline, md5 on a thread of its own for large files).
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any, Optional

from fsspec.callbacks import Callback

from ..errors import TruncatedError
from ..sources import Source, SourceInfo
from ..sources.http import GetSource
from ..store.partmap import PartMap
from .hashing import Progress, md5_hasher
from .policy import Guard, Retry, retrying, retrying_sync
from .proof import Ask, Pin, Proven, prove
from .together import run_on

log = logging.getLogger(__name__)


def source_id(source: Source) -> str:
    """Who a partial belongs to, without writing the URL (it may hold credentials) to disk."""
    return hashlib.sha256(
        f"{source.kind}\0{source.url}\0{source.path}\0{source.basename}".encode()
    ).hexdigest()


def plain_get(
    source: GetSource,
    fd: int,
    retry: Retry,
    guard: Guard,
    callback: Callback,
    chunk_size: int,
    first: Optional[tuple[Any, Proven]] = None,
) -> tuple[Progress, SourceInfo, int]:
    """Fetch ``source`` with one plain GET per try into ``fd``, from byte 0 each time: the bytes
    and hashes, what the answer said, and the tries it took. ``first`` is a proven answer that
    holds the whole object from byte 0, read by the first try."""
    state = Progress()
    tries = [0]
    offered = [first]

    async def attempt(n: int) -> SourceInfo:
        tries[0] = n
        os.ftruncate(fd, 0)
        state.reset()
        callback.relative_update(-callback.value)
        answer, offered[0] = offered[0], None
        if answer is None:
            response = await source.request(dict(source.headers))
        else:
            response = answer[0]
        try:
            proven = answer[1] if answer else prove(source.display, response, Ask.whole())
            size = proven.info.size
            guard.before(size, 0)
        except BaseException:
            response.close()
            raise
        callback.set_size(size)
        async with response:
            with md5_hasher(state, size) as md5:
                while data := await response.content.read(chunk_size):
                    os.pwrite(fd, data, state.size)
                    md5.put(data)
                    state.sha256.update(data)
                    state.size += len(data)
                    callback.relative_update(len(data))
                    guard.written(state.size)
                    if guard.rate:  # fetch.max_rate
                        await guard.rate.take(len(data))
        _whole(source, state, size)
        return proven.info

    info = run_on(
        source.fs.loop,
        retrying(source.display, attempt, retry, guard, how=lambda: "retrying from byte 0"),
    )
    return state, info, tries[0]


def read_file(
    source: Source,
    fd: int,
    partial: Path,
    mapfile: Path,
    retry: Retry,
    guard: Guard,
    callback: Callback,
    chunk_size: int,
) -> tuple[Progress, SourceInfo, int]:
    """Copy a file-like ``source`` into ``fd`` (the file ``partial``), resuming a killed run's
    partial when ``mapfile`` says whose bytes it holds and the source is still that version."""
    state = Progress()
    me = source_id(source)
    pin = Pin.of(source.stat())
    pmap = PartMap.load(mapfile, me, partial) if pin else None
    if pmap is not None and (Pin(**pmap.pin) != pin or len(pmap.parts) != 1):
        pmap = None
    if pmap is not None and pmap.done[0]:
        _rehash(fd, pmap.done[0], state)
        log.info("%s: resuming the partial download left by an earlier run", source.display)
    tries = [0]

    def start_over(now: Optional[Pin]) -> None:
        """Read from byte 0 for the version ``now`` (a map records it, when it names one)."""
        nonlocal pin, pmap
        state.reset()
        pin = now
        if pmap is not None:
            pmap.close()
        mapfile.unlink(missing_ok=True)
        os.ftruncate(fd, 0)
        pmap = None
        if now is not None and now.size:
            os.ftruncate(fd, now.size)
            pmap = PartMap.create(mapfile, me, now.size, now.__dict__, [(0, now.size)])

    if pmap is None:
        start_over(pin)

    def attempt(n: int) -> SourceInfo:
        tries[0] = n
        opened = source.open(start=state.size, validator=pin.validator if pin else None)
        now = Pin.of(opened.info)
        if opened.start != state.size or now is None or now != pin:
            # Not the version the bytes so far are of, or no way to tell: never spliced.
            if opened.start:
                opened.stream.close()
                opened = source.open(start=0)
                now = Pin.of(opened.info)
            start_over(now)
        size = opened.info.size
        guard.before(size, state.size)
        callback.set_size(size)
        callback.relative_update(state.size - callback.value)
        with opened.stream as body, md5_hasher(state, size) as md5:
            while chunk := body.read(chunk_size):
                os.pwrite(fd, chunk, state.size)
                md5.put(chunk)
                state.sha256.update(chunk)
                state.size += len(chunk)
                if pmap is not None:
                    pmap.advance(0, state.size)
                callback.relative_update(len(chunk))
                guard.written(state.size)
                if guard.rate:  # fetch.max_rate
                    guard.rate.take_sync(len(chunk))
        _whole(source, state, size)
        return opened.info

    try:
        got = retrying_sync(
            source.display,
            attempt,
            retry,
            guard,
            how=lambda: f"resuming from byte {state.size}" if pin else "retrying",
        )
    finally:
        if pmap is not None:
            pmap.close()
    return state, got, tries[0]


def _whole(source: Source, state: Progress, size: Optional[int]) -> None:
    if size is not None and state.size != size:
        raise TruncatedError(
            f"{source.display}: the body ended after {state.size} of the {size} bytes "
            "the source announced"
        )


def _rehash(fd: int, size: int, state: Progress) -> None:
    """The hashes of the bytes a killed run left: they cover the whole file in the end."""
    pos = 0
    while pos < size:
        block = os.pread(fd, min(4 * 2**20, size - pos), pos)
        if not block:
            raise TruncatedError(f"the partial ended at byte {pos} of {size}")
        state.sha256.update(block)
        state.md5.update(block)
        pos += len(block)
    state.size = size
