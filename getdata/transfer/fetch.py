"""Fetch one file: into a partial beside where it will be kept, hashed as it arrives, verified,
checked, then handed to ``keep`` (the workspace moves it into place), so a failure never leaves
a half file where a good one is expected (pooch's ``stream_download`` is the model).

A GET source (http(s), S3) whose first answer names a version (a strong ETag, else
Last-Modified) and a size is fetched in pinned parts (getdata/transfer/parts.py): over several
connections when the setting and the server allow, else one; a break resumes, and a partial a
killed run left is resumed by the next run. An object that names no version, or a server that
cannot serve its ranges safely, gets one plain stream (getdata/transfer/stream.py); so does a
file-like source. Whatever the path, every answer passes getdata/transfer/proof.py, and one
:class:`~getdata.transfer.policy.Guard` bounds the file's size, time and disk.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from fsspec.callbacks import Callback

from ..errors import IntegrityError, SourceError
from ..redact import redact_text
from ..sources import Source, SourceInfo
from ..sources.http import GetSource
from ..store.partmap import PartMap
from .parts import FIRST_PART, Done, connections_for, fetch_parts, layout
from .policy import Guard, Limits, Retry, retrying
from .progress import progress_callback
from .proof import Ask, Changed, Pin, Proven, RangeRefused, prove
from .stream import plain_get, read_file, source_id
from .together import run_on

log = logging.getLogger(__name__)


@dataclass
class Fetched:
    path: Path
    size: int
    sha256: str
    md5: str
    seconds: float
    # What the source said about the object while we read it (size, ETag, ...).
    info: SourceInfo
    attempts: int = 1
    # What the check (inspection) said about the bytes, before they were moved into place.
    data: Any = None


def fetch(
    source: Source,
    partial: Path,
    keep: Callable[[Fetched], Path],
    *,
    chunk_size: int,
    retry: Optional[Retry] = None,
    sha256: Optional[str] = None,
    md5: Optional[str] = None,
    progress: bool = True,
    limits: Optional[Limits] = None,
    check: Optional[Callable[[Path], Any]] = None,
    connections: int = 1,
) -> Fetched:
    """Copy ``source`` into the file ``partial``, verify it, ``check`` it, then ``keep`` it (a
    function that moves the partial into place and says where) and return what was fetched.

    Transient failures (connection drops, timeouts, 5xx, 429, short bodies) are retried with
    backoff, resuming where the version can be proven. ``connections`` above 1 (0: chosen by
    size) fetches a large http(s) or S3 object as that many concurrent ranges.
    """
    retry = retry or Retry()
    guard = Guard(source.display, partial.parent, limits or Limits())
    mapfile = partial.with_suffix(".map")
    started = time.monotonic()
    callback = progress_callback(source.basename, progress)
    try:
        # 0o666 less the umask: kept files get the permissions the user's umask gives them.
        fd = os.open(partial, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
        try:
            if isinstance(source, GetSource):
                done = _get(source, fd, partial, mapfile, connections, retry, guard, callback)
                size, hashes, info, attempts = (
                    done.size,
                    (done.sha256, done.md5),
                    done.info,
                    done.attempts,
                )
            else:
                state, info, attempts = read_file(
                    source, fd, partial, mapfile, retry, guard, callback, chunk_size
                )
                size, hashes = state.size, (state.sha256, state.md5)
        finally:
            os.close(fd)
        callback.close()
        fetched = Fetched(
            path=partial,
            size=size,
            sha256=hashes[0].hexdigest(),
            md5=hashes[1].hexdigest(),
            seconds=time.monotonic() - started,
            info=info,
            attempts=attempts,
        )
        _verify(source, fetched, sha256, md5)
        if check is not None:
            fetched.data = _checked(source, check, partial, info)
        fetched.path = keep(fetched)
        mapfile.unlink(missing_ok=True)
    except BaseException:
        # Any failure, Ctrl-C and SIGTERM included: no half file stays behind (only kill -9
        # leaves a partial, with its map, for the next run to resume).
        callback.close()
        partial.unlink(missing_ok=True)
        mapfile.unlink(missing_ok=True)
        raise
    return fetched


def _get(
    source: GetSource,
    fd: int,
    partial: Path,
    mapfile: Path,
    connections: int,
    retry: Retry,
    guard: Guard,
    callback: Callback,
) -> Done:
    """A GET source: in pinned parts; a changed object starts over, a server that cannot serve
    ranges safely gets one connection, then one plain stream."""
    chunk = 4 * 2**20
    # "parts" (as many connections as allowed) -> "single" (one, resumable) -> "plain".
    mode = "single" if connections == 1 else "parts"
    pmap = PartMap.load(mapfile, source_id(source), partial)
    if pmap is not None:
        log.info("%s: resuming the partial download left by an earlier run", source.display)
    restarts = 0
    while True:
        try:
            if mode == "plain":
                return _plain(source, fd, mapfile, retry, guard, callback, None, restarts)
            if pmap is not None:
                pin = Pin(**pmap.pin)
                n = connections if mode == "parts" else 1
                done = fetch_parts(
                    source,
                    fd,
                    partial,
                    pmap,
                    pin,
                    connections=n,
                    retry=retry,
                    guard=guard,
                    callback=callback,
                    chunk_size=chunk,
                )
            else:
                # After a change, what the listing said of the version is out of date too.
                said = source.listed if not restarts else None
                done = _fresh(
                    source, fd, partial, mapfile, said, mode, connections, retry, guard, callback
                )
            done.attempts += restarts
            return done
        except Changed as exc:
            restarts += 1
            pmap = None
            _wipe(fd, mapfile)
            callback.relative_update(-callback.value)
            if restarts >= retry.attempts:
                raise SourceError(
                    redact_text(
                        f"{source.display}: the object kept changing while it was fetched, or "
                        f"the server contradicts itself ({restarts} times; {exc}); try again "
                        "when it is stable"
                    )
                ) from exc
            log.warning("%s: %s; starting over", source.display, exc)
        except RangeRefused as exc:
            pmap = None
            _wipe(fd, mapfile)
            callback.relative_update(-callback.value)
            mode = "single" if mode == "parts" else "plain"
            log.warning("%s: %s; fetching it as one stream", source.display, exc)


def _fresh(
    source: GetSource,
    fd: int,
    partial: Path,
    mapfile: Path,
    said: Optional[SourceInfo],
    mode: str,
    connections: int,
    retry: Retry,
    guard: Guard,
    callback: Callback,
) -> Done:
    """From nothing: a listing that named the version (``said``), or the first answer, decides
    the parts."""
    _wipe(fd, mapfile)
    listed = Pin.of(said) if said is not None else None
    if mode == "parts" and listed is not None and listed.etag:
        n = connections_for(connections, listed.size)
        if n > 1:
            # The listing named the version and the size: no request needed to decide.
            return _parts(
                source,
                fd,
                partial,
                mapfile,
                listed,
                layout(listed.size, 0, n),
                n,
                retry,
                guard,
                callback,
                None,
            )
    small = listed is not None and listed.size <= FIRST_PART
    ask = Ask.span(0, FIRST_PART - 1) if mode == "parts" and not small else Ask.whole()
    response, proven = _first(source, ask, retry, guard)
    pin = Pin.of(proven.info)
    if pin is None or not pin.size:
        # Nothing names the version (or there is nothing to fetch): one plain stream, from this
        # answer when it holds the whole object.
        if proven.start == 0 and (response.status == 200 or proven.end == proven.info.size):
            return _plain(source, fd, mapfile, retry, guard, callback, (response, proven), 0)
        response.close()
        raise RangeRefused("its first answer names no version: parts cannot be pinned")
    n = 1
    if mode == "parts" and response.status == 206 and pin.etag and not pin.encoding:
        n = connections_for(connections, pin.size)
    first_end = proven.end if response.status == 206 and proven.end else pin.size
    return _parts(
        source,
        fd,
        partial,
        mapfile,
        pin,
        layout(pin.size, first_end, n),
        n,
        retry,
        guard,
        callback,
        (response, proven),
    )


def _parts(
    source: GetSource,
    fd: int,
    partial: Path,
    mapfile: Path,
    pin: Pin,
    parts: list[tuple[int, int]],
    connections: int,
    retry: Retry,
    guard: Guard,
    callback: Callback,
    first: Optional[tuple[Any, Proven]],
) -> Done:
    try:
        guard.before(pin.size, 0)
        os.ftruncate(fd, pin.size)  # one file of the final size; each part writes where it belongs
        pmap = PartMap.create(mapfile, source_id(source), pin.size, pin.__dict__, parts)
    except BaseException:
        if first is not None:
            first[0].close()
        raise
    return fetch_parts(
        source,
        fd,
        partial,
        pmap,
        pin,
        connections=connections,
        retry=retry,
        guard=guard,
        callback=callback,
        chunk_size=4 * 2**20,
        first=first,
    )


def _plain(
    source: GetSource,
    fd: int,
    mapfile: Path,
    retry: Retry,
    guard: Guard,
    callback: Callback,
    first: Optional[tuple[Any, Proven]],
    restarts: int,
) -> Done:
    mapfile.unlink(missing_ok=True)
    state, info, tries = plain_get(source, fd, retry, guard, callback, 4 * 2**20, first)
    return Done(state.size, state.sha256, state.md5, info, tries + restarts)


def _first(source: GetSource, ask: Ask, retry: Retry, guard: Guard) -> tuple[Any, Proven]:
    """The first request, retried as any other, its answer proven."""

    async def attempt(n: int) -> tuple[Any, Proven]:
        response = await source.request({**source.headers, **ask.headers(source.pin_header)})
        try:
            return response, prove(source.display, response, ask)
        except BaseException:
            response.close()
            raise

    return run_on(source.fs.loop, retrying(source.display, attempt, retry, guard))


def _wipe(fd: int, mapfile: Path) -> None:
    mapfile.unlink(missing_ok=True)
    os.ftruncate(fd, 0)


def _checked(source: Source, check: Callable[[Path], Any], partial: Path, info: SourceInfo) -> Any:
    """``check`` the bytes; when they fail it and the server encoded them against the request,
    say that: the bytes are kept as published, and encoded they are not what the name says."""
    try:
        return check(partial)
    except IntegrityError as exc:
        encoding = info.content_encoding
        if not encoding:
            raise
        raise IntegrityError(
            f"{source.display}: the server sent it {encoding}-encoded (Content-Encoding: "
            f"{encoding}), and getdata keeps the bytes as published; encoded, they are not "
            f"what the name says ({exc}). Ask for the bytes as they are (drop an "
            "Accept-Encoding header from source.headers), name the file as what it is "
            "(e.g. .csv.gz), or set inspect.check_format=false"
        ) from exc


def _verify(
    source: Source,
    fetched: Fetched,
    sha256: Optional[str],
    md5: Optional[str],
) -> None:
    for name, expected, got in (("sha256", sha256, fetched.sha256), ("md5", md5, fetched.md5)):
        if expected and expected.strip().lower() != got:
            raise IntegrityError(
                f"{source.display}: {name} mismatch: expected {expected.strip().lower()}, "
                f"got {got}; the file was removed. Check the source, or the expected hash"
            )
