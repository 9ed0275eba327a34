"""Stream a source into a file, hashing the bytes as they pass, then move it into place.

Like pooch's ``stream_download``: the bytes go to a temporary file in the destination folder, are
verified, and only then renamed to the final name, so a failure never leaves a half file where a
good one is expected.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import queue
import random
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from fsspec.callbacks import Callback, TqdmCallback

from .errors import IntegrityError, SourceError, TruncatedError, explain, is_transient, retry_after
from .redact import redact_text
from .sources import Source, SourceInfo

log = logging.getLogger(__name__)

TEMP_PREFIX = ".getdata-"
TEMP_SUFFIX = ".part"


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


class _Progress:
    """The bytes and hashes so far: what a resumed attempt continues from."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.size = 0
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5()
        # What identifies the version of the object the bytes so far came from.
        self.validator: Optional[str] = None


def fetch(
    source: Source,
    dest_dir: Path,
    *,
    chunk_size: int,
    retry: Optional[Retry] = None,
    sha256: Optional[str] = None,
    md5: Optional[str] = None,
    progress: bool = True,
) -> Fetched:
    """Copy ``source`` to ``dest_dir/<basename>`` and return its size and hashes.

    Transient failures (connection drops, timeouts, 5xx, 429, short bodies) are retried with
    backoff; where the source can serve a range of the same version, the retry resumes.
    """
    retry = retry or Retry()
    target = dest_dir / source.basename
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=target.parent)
    tmp = Path(tmp_name)
    started = time.monotonic()
    state = _Progress()
    callback = _progress_callback(source.basename, progress)
    try:
        with os.fdopen(fd, "wb") as out:
            attempt = 1
            while True:
                try:
                    info = _stream(source, out, state, chunk_size, callback)
                    break
                except Exception as exc:
                    if attempt >= retry.attempts or not is_transient(exc):
                        if attempt > 1 and is_transient(exc):
                            raise SourceError(
                                redact_text(
                                    f"{source.display}: {explain(exc)} "
                                    f"(gave up after {attempt} attempts)"
                                )
                            ) from exc
                        raise
                    wait = retry.delay(attempt, exc)
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
                    attempt += 1
        callback.close()
        fetched = Fetched(
            path=target,
            size=state.size,
            sha256=state.sha256.hexdigest(),
            md5=state.md5.hexdigest(),
            seconds=time.monotonic() - started,
            info=info,
            attempts=attempt,
        )
        _verify(source, fetched, sha256, md5)
        os.replace(tmp, target)
    except BaseException:
        # Any failure, Ctrl-C and SIGTERM included: no half file stays behind.
        callback.close()
        tmp.unlink(missing_ok=True)
        raise
    return fetched


def _stream(
    source: Source, out: Any, state: _Progress, chunk_size: int, callback: Callback
) -> SourceInfo:
    """Read the source from where ``state`` left off (or from 0), writing and hashing."""
    # Resume only when we can name the version the bytes so far came from.
    start = state.size if state.validator else 0
    opened = source.open(start=start, validator=state.validator)
    if opened.start != state.size:
        # The source could not resume (no Range support, or the object changed): start over.
        out.seek(0)
        out.truncate()
        state.reset()
        callback.relative_update(-callback.value)
    if opened.start == 0:
        state.validator = opened.info.validator()
    callback.set_size(opened.info.size)
    with opened.stream as stream, _Md5Thread(state) as md5:

        def take(chunk: bytes) -> None:
            md5.put(chunk)
            out.write(chunk)
            state.sha256.update(chunk)
            state.size += len(chunk)
            callback.relative_update(len(chunk))

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
