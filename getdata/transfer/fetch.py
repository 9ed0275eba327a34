"""Stream a source into a partial file, hashing the bytes as they pass, verify, then move it into
place.

Like pooch's ``stream_download``: the bytes go to a partial file in the destination's folder, are
verified and checked, and only then renamed to the final name, so a failure never leaves a half
file where a good one is expected. A partial that a killed run left behind (``kill -9``) is resumed
by the next run of the same source, when the source still has the same version; otherwise removed.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..errors import IntegrityError, explain, failed, is_transient
from ..sources import Opened, Source, SourceInfo
from .hashing import Progress
from .parts import Done, fetch_ranged
from .policy import Guard, Limits, Retry
from .progress import progress_callback
from .stream import stream, take_over

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
    many concurrent ranges (getdata/transfer/parts.py) where the server can serve them safely.
    """
    retry = retry or Retry()
    guard = Guard(source.display, partial.parent, limits or Limits())
    partial.parent.mkdir(parents=True, exist_ok=True)
    state = Progress()
    sidecar = partial.with_suffix(".json")
    take_over(partial, sidecar, source, state)
    started = time.monotonic()
    callback = progress_callback(source.basename, progress)
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
                    info = stream(source, out, state, chunk_size, callback, guard, sidecar, first)
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
