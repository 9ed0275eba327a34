"""Stream a source into a partial file, hashing the bytes as they pass, verify, then move it into
place.

Like pooch's ``stream_download``: the bytes go to a partial file in the destination's folder, are
verified and checked, and only then renamed to the final name, so a failure never leaves a half
file where a good one is expected. A partial that a killed run left behind (``kill -9``) is resumed
by the next run of the same source, when the source still has the same version; otherwise removed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import queue
import random
import shutil
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from fsspec.callbacks import Callback, TqdmCallback

from .errors import (
    GetDataError,
    IntegrityError,
    TruncatedError,
    explain,
    failed,
    is_transient,
    retry_after,
)
from .ranged import Done, fetch_ranged
from .sources import Opened, Source, SourceInfo

log = logging.getLogger(__name__)

# Names of getdata's own temporary files and folders (a reader can tell them from data).
TEMP_PREFIX = ".getdata-"
TEMP_SUFFIX = ".part"

# How often (in bytes written) the free space of the data folder's disk is checked.
_FREE_CHECK_EVERY = 64 * 2**20


class LimitError(GetDataError):
    """A file over fetch.max_bytes or fetch.deadline, or a disk about to go below
    fetch.min_free_bytes: never worth a retry."""


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


class _Progress:
    """The bytes and hashes so far: what a resumed attempt continues from."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.size = 0
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5()
        # What identifies the version of the object the bytes so far came from, and its size.
        self.validator: Optional[str] = None
        self.total: Optional[int] = None


class _Guard:
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
            self.next_free_check = total + _FREE_CHECK_EVERY
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


def fetch(
    source: Source,
    partial: Path,
    place: Callable[[Fetched], Path],
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
    """Copy ``source`` into the file ``partial``, verify it, ``check`` it, then move it to the
    path ``place`` gives for it (made from its hashes) and return what was fetched.

    Transient failures (connection drops, timeouts, 5xx, 429, short bodies) are retried with
    backoff; where the source can serve a range of the same version, the retry resumes.
    ``connections`` above 1 (0: chosen by size) fetches a large http(s) or S3 object as that
    many concurrent ranges (getdata/ranged.py) where the server can serve them safely.
    """
    retry = retry or Retry()
    guard = _Guard(source.display, partial.parent, limits or Limits())
    partial.parent.mkdir(parents=True, exist_ok=True)
    state = _Progress()
    sidecar = partial.with_suffix(".json")
    _take_over(partial, sidecar, source, state)
    started = time.monotonic()
    callback = _progress_callback(source.basename, progress)
    try:
        # 0o666 less the umask: kept files get the permissions the user's umask gives them.
        fd = os.open(partial, os.O_RDWR | os.O_CREAT, 0o666)
        with os.fdopen(fd, "r+b") as out:
            out.seek(state.size)
            out.truncate()
            attempt = 1
            while True:
                try:
                    first: Optional[Opened] = None
                    if not state.size:
                        # Several connections at once (unless a killed run's partial is being
                        # resumed). A partial of parts has holes: never a prefix to resume.
                        sidecar.unlink(missing_ok=True)
                        ranged = fetch_ranged(
                            source,
                            out.fileno(),
                            partial,
                            connections=connections,
                            retry=retry,
                            callback=callback,
                            chunk_size=chunk_size,
                            guard=guard,
                        )
                        if isinstance(ranged, Done):
                            info, attempt = ranged.info, attempt + ranged.attempts - 1
                            state.size, state.sha256, state.md5 = (
                                ranged.size,
                                ranged.sha256,
                                ranged.md5,
                            )
                            break
                        # Its answer to the first GET, when that says one stream: carry on.
                        first = ranged
                    info = _stream(source, out, state, chunk_size, callback, guard, sidecar, first)
                    break
                except Exception as exc:
                    if attempt >= retry.attempts or not is_transient(exc):
                        if attempt > 1 and is_transient(exc):
                            raise failed(source.display, exc, attempt) from exc
                        raise
                    wait = retry.delay(attempt, exc)
                    if guard.until is not None:
                        wait = min(wait, max(0.0, guard.until - time.monotonic()))
                    log.warning(
                        "%s: %s; %s in %.1f s (attempt %d of %d)",
                        source.display,
                        explain(exc),
                        "resuming" if state.validator and state.size else "retrying",
                        wait,
                        attempt + 1,
                        retry.attempts,
                    )
                    time.sleep(wait)
                    guard.time()
                    attempt += 1
        callback.close()
        fetched = Fetched(
            path=partial,
            size=state.size,
            sha256=state.sha256.hexdigest(),
            md5=state.md5.hexdigest(),
            seconds=time.monotonic() - started,
            info=info,
            attempts=attempt,
        )
        _verify(source, fetched, sha256, md5)
        if check is not None:
            fetched.data = check(partial)
        target = place(fetched)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_file() and target.stat().st_size == fetched.size:
            # The same content is already kept there (its folder is named by its hash): keep
            # that file untouched, so a run that references it still finds the same bytes.
            partial.unlink()
        else:
            os.replace(partial, target)
        sidecar.unlink(missing_ok=True)
        fetched.path = target
    except BaseException:
        # Any failure, Ctrl-C and SIGTERM included: no half file stays behind.
        callback.close()
        partial.unlink(missing_ok=True)
        sidecar.unlink(missing_ok=True)
        raise
    return fetched


def source_id(source: Source) -> str:
    """Who a partial belongs to, without writing the URL (it may hold credentials) to disk."""
    return hashlib.sha256(
        f"{source.kind}\0{source.url}\0{source.path}\0{source.basename}".encode()
    ).hexdigest()


def _take_over(partial: Path, sidecar: Path, source: Source, state: _Progress) -> None:
    """Resume from a partial a killed run left, if it is this source's and names its version;
    remove it otherwise. Its bytes are hashed again: the hashes cover the whole file."""
    try:
        saved = json.loads(sidecar.read_text())
        ok = (
            isinstance(saved, dict)
            and saved.get("source") == source_id(source)
            and isinstance(saved.get("validator"), str)
            and partial.is_file()
            and not partial.is_symlink()
        )
    except (OSError, ValueError):
        ok = False
    if not ok:
        partial.unlink(missing_ok=True)
        sidecar.unlink(missing_ok=True)
        return
    with partial.open("rb") as f:
        while chunk := f.read(4 * 2**20):
            state.sha256.update(chunk)
            state.md5.update(chunk)
            state.size += len(chunk)
    state.validator = saved["validator"]
    total = saved.get("total")
    state.total = total if isinstance(total, int) else None
    log.info("%s: resuming the partial download left by an earlier run", source.display)


def _stream(
    source: Source,
    out: Any,
    state: _Progress,
    chunk_size: int,
    callback: Callback,
    guard: _Guard,
    sidecar: Path,
    first: Optional[Opened] = None,
) -> SourceInfo:
    """Read the source from where ``state`` left off (or from 0), writing and hashing; ``first``
    is the source already open at 0 (the answer the ranged path looked at)."""
    # Resume only when we can name the version the bytes so far came from.
    start = state.size if state.validator else 0
    opened = first or source.open(start=start, validator=state.validator)
    if opened.start and opened.info.size != state.total:
        # The object's size is not what it was when the first bytes came: never splice.
        opened.stream.close()
        opened = source.open(start=0)
    if opened.start != state.size:
        # The source could not resume (no Range support, or the object changed): start over.
        out.seek(0)
        out.truncate()
        state.reset()
        callback.relative_update(-callback.value)
    if opened.start == 0:
        state.validator = opened.info.validator()
        state.total = opened.info.size
        _save_sidecar(sidecar, source, state)
    callback.set_size(opened.info.size)
    guard.before(opened.info.size, state.size)
    left = None if opened.info.size is None else opened.info.size - opened.start
    with opened.stream as stream, _md5_hasher(state, left) as md5:

        def take(chunk: bytes) -> None:
            md5.put(chunk)
            out.write(chunk)
            state.sha256.update(chunk)
            state.size += len(chunk)
            callback.relative_update(len(chunk))
            guard.written(state.size)

        if opened.aread is not None:
            _copy_on_loop(opened.aread, opened.loop, take, chunk_size)
        else:
            while chunk := stream.read(chunk_size):
                take(chunk)
    expected = opened.info.size
    if expected is not None and state.size != expected:
        raise TruncatedError(
            f"{source.display}: the body ended after {state.size} of the {expected} bytes "
            "the source announced"
        )
    return opened.info


def _save_sidecar(sidecar: Path, source: Source, state: _Progress) -> None:
    """Record whose bytes the partial holds, so a run killed with -9 can be resumed."""
    if state.validator is None:
        sidecar.unlink(missing_ok=True)
        return
    record = {"source": source_id(source), "validator": state.validator, "total": state.total}
    tmp = sidecar.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, sidecar)


class _Md5Thread:
    """MD5 (the slower of the two hashes here: 1.4 s/GiB against sha256's 0.6) on a thread of
    its own; hashlib releases the GIL on large buffers, so it overlaps the copy."""

    def __init__(self, state: _Progress) -> None:
        self.md5 = state.md5
        self.chunks: queue.Queue[Optional[bytes]] = queue.Queue(maxsize=8)  # bounded memory
        self.thread = threading.Thread(target=self._run, name="getdata-md5", daemon=True)

    def _run(self) -> None:
        while (chunk := self.chunks.get()) is not None:
            self.md5.update(chunk)

    def put(self, chunk: bytes) -> None:
        self.chunks.put(chunk)

    def __enter__(self) -> _Md5Thread:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.chunks.put(None)
        self.thread.join()


class _Md5Inline:
    """MD5 on the copying thread: for a small object a thread of its own costs more than it
    saves (a prefix of 2,000 small files started 2,000 threads)."""

    def __init__(self, state: _Progress) -> None:
        self.put = state.md5.update

    def __enter__(self) -> _Md5Inline:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


# Below this many bytes (known in advance) MD5 runs inline.
MD5_THREAD_MIN = 8 * 2**20


def _md5_hasher(state: _Progress, size: Optional[int]) -> _Md5Thread | _Md5Inline:
    return _Md5Inline(state) if size is not None and size < MD5_THREAD_MIN else _Md5Thread(state)


def _copy_on_loop(
    aread: Callable[[int], Awaitable[bytes]], loop: Any, take: Callable[[bytes], None], size: int
) -> None:
    """The copy loop as one coroutine on fsspec's event loop. A blocking read() per chunk is a
    round trip to that loop's thread (thousands per GiB, each fighting for the GIL); this cut a
    1 GiB fetch from about 3.4 s to 2.1 s (BENCHMARKS.md)."""
    stop = threading.Event()
    finished = threading.Event()

    async def copy() -> None:
        try:
            while not stop.is_set() and (chunk := await aread(size)):
                take(chunk)
        finally:
            finished.set()

    future = asyncio.run_coroutine_threadsafe(copy(), loop)
    try:
        future.result()
    except BaseException:
        # Ctrl-C, SIGTERM or a failure: stop the coroutine before the caller removes the file.
        stop.set()
        future.cancel()
        finished.wait(timeout=10)
        raise


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


class _LogCallback(Callback):
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


def _progress_callback(name: str, progress: bool) -> Callback:
    if progress and sys.stderr.isatty():
        return TqdmCallback(
            tqdm_kwargs={
                "desc": name,
                "unit": "B",
                "unit_scale": True,
                "unit_divisor": 1024,
                "leave": False,
            }
        )
    return _LogCallback(name)


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def hash_file(path: Path, chunk_size: int = 4 * 2**20) -> tuple[str, str]:
    """sha256 and md5 of a file on disk (for files we wrote ourselves, e.g. unpacked ones)."""
    sha256, md5 = hashlib.sha256(), hashlib.md5()
    with path.open("rb") as f:
        while chunk := f.read(chunk_size):
            sha256.update(chunk)
            md5.update(chunk)
    return sha256.hexdigest(), md5.hexdigest()
