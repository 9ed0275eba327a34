"""Stream a source into a file, hashing the bytes as they pass, then move it into place.

Like pooch's ``stream_download``: the bytes go to a temporary file in the destination folder, are
verified, and only then renamed to the final name, so a failure never leaves a half file where a
good one is expected.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from fsspec.callbacks import Callback, TqdmCallback

from .errors import IntegrityError
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


def fetch(
    source: Source,
    dest_dir: Path,
    *,
    chunk_size: int,
    sha256: Optional[str] = None,
    md5: Optional[str] = None,
    progress: bool = True,
) -> Fetched:
    """Copy ``source`` to ``dest_dir/<basename>`` and return its size and hashes."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / source.basename
    fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=dest_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            fetched = _stream(source, out, chunk_size, progress)
        fetched.path = target
        _verify(source, fetched, sha256, md5)
        os.replace(tmp, target)
    except BaseException:
        # Any failure, Ctrl-C included: no half file stays behind.
        tmp.unlink(missing_ok=True)
        raise
    return fetched


def _stream(source: Source, out: Any, chunk_size: int, progress: bool) -> Fetched:
    sha256, md5 = hashlib.sha256(), hashlib.md5()
    size = 0
    started = time.monotonic()
    opened = source.open()
    callback = _progress_callback(source.basename, progress)
    callback.set_size(opened.info.size)
    with opened.stream as stream:
        while chunk := stream.read(chunk_size):
            out.write(chunk)
            sha256.update(chunk)
            md5.update(chunk)
            size += len(chunk)
            callback.relative_update(len(chunk))
    callback.close()
    return Fetched(
        path=Path(),
        size=size,
        sha256=sha256.hexdigest(),
        md5=md5.hexdigest(),
        seconds=time.monotonic() - started,
        info=opened.info,
    )


def _verify(
    source: Source,
    fetched: Fetched,
    sha256: Optional[str],
    md5: Optional[str],
) -> None:
    expected_size = fetched.info.size
    if expected_size is not None and fetched.size != expected_size:
        raise IntegrityError(
            f"{source.display}: truncated or overlong body: the source announced "
            f"{expected_size} bytes, {fetched.size} arrived; nothing was kept"
        )
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
