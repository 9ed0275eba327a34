"""The small files getdata writes and reads back (state, schema, part maps, kept versions, owner
records): read only when they are regular files of a bounded size, checked against the shape
they must have, and written whole or not at all.

A record is data from disk, and disk is outside: a record that is a FIFO, a link, a device, too
large, not JSON or of the wrong shape is one warning naming the file and is treated as absent
(never a crash, never a hang). A record is written to a temporary file beside it and renamed
into place, so a reader (another job of a sweep, or the next run after ``kill -9``) sees the old
record or the new one, never half of one.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from ..names import printable

log = logging.getLogger(__name__)

# Records are small: a state or schema record is a few KiB; a folder's, one line per file.
MAX_RECORD_BYTES = 64 * 2**20


def read_bytes(path: Path, what: str, max_bytes: int = MAX_RECORD_BYTES) -> Optional[bytes]:
    """The bytes of the record at ``path``, or None when there is none or it cannot be one
    (not a regular file, a link, larger than ``max_bytes``, unreadable): then a warning names
    ``what`` and the file. Opening never blocks (a FIFO is refused, not waited on)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        problem = "a link" if exc.errno == errno.ELOOP else os.strerror(exc.errno or 0).lower()
        _ignored(path, what, problem)
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            _ignored(path, what, "not a regular file")
            return None
        if info.st_size > max_bytes:
            _ignored(path, what, f"{info.st_size} bytes, more than a record may be ({max_bytes})")
            return None
        chunks = []
        left = max_bytes + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > max_bytes:
            _ignored(path, what, f"it grew past {max_bytes} bytes while read")
            return None
        return data
    except OSError as exc:
        _ignored(path, what, os.strerror(exc.errno or 0).lower())
        return None
    finally:
        os.close(fd)


def read_json(
    path: Path,
    what: str,
    valid: Callable[[Any], bool],
    max_bytes: int = MAX_RECORD_BYTES,
) -> Optional[Any]:
    """The JSON record at ``path`` when it is one and ``valid(record)`` holds, else None (with a
    warning naming ``what`` and the file, unless there is no file at all)."""
    data = read_bytes(path, what, max_bytes)
    if data is None:
        return None
    try:
        record = json.loads(data)
    except (ValueError, RecursionError):
        _ignored(path, what, "not JSON")
        return None
    try:
        ok = bool(valid(record))
    except (TypeError, ValueError, KeyError, AttributeError):
        ok = False
    if not ok:
        _ignored(path, what, "not of the shape getdata writes")
        return None
    return record


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (temporary file beside it, then rename).
    Parallel writers each rename their own file: the last one wins, none is ever half read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp's 0600 would hide a summary or report from the user's group: the permissions
        # a plain open() gives (0644 with umask 022).
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, record: Any, indent: Optional[int] = 2) -> None:
    """:func:`write_bytes` of ``record`` as JSON, indented (``indent=None``: compact, for
    records of thousands of lines that people do not read)."""
    separators = (",", ":") if indent is None else None
    write_bytes(path, (json.dumps(record, indent=indent, separators=separators) + "\n").encode())


def _umask() -> int:
    """The process's umask, read without changing it (os.umask would, for every thread)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _ignored(path: Path, what: str, problem: str) -> None:
    log.warning(
        "%s %s is ignored (%s): getdata goes on as if there were none",
        what,
        printable(str(path)),
        problem,
    )
