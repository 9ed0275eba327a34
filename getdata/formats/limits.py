"""The readers' limits (``inspect.max_memory``, ``inspect.timeout``, ``inspect.max_ratio``): where
each is spent and how hitting one is told.

A file past a limit is not a bad file: its bytes may be fine, only their description costs too
much. It is kept with format and size, the limit named in its metadata (``limit``) and in one
warning line, unless ``inspect.on_limit=refuse``.

* memory: the contained child that reads a batch of files runs with ``RLIMIT_DATA`` (its heap
  and private mappings: what pyarrow's and Python's allocators take) set to ``max_memory`` (set
  in the helper, which forks the children: they inherit it); an
  allocation past it fails (MemoryError, pyarrow's ArrowMemoryError, or C++'s bad_alloc, which
  aborts the child);
* time: the child arms a real-time timer per file; SIGALRM, whose default action ends the
  process, stops a reader stuck anywhere, C++ included. getdata's side also stops waiting for
  the helper past the limit and a grace period (getdata/formats/contained.py);
* decompressed bytes: a compressed table is read through :class:`Budget`, which stops at
  ``max_ratio`` times the file's size (never below ``RATIO_FLOOR``), like ``extract.max_ratio``
  for archives.
"""

from __future__ import annotations

import resource
import signal
from typing import Any, Optional

# Below this many decompressed bytes max_ratio does not apply: a small file of blanks is
# "1000x compressed" and harmless (as for archives, getdata/store/unpack.py).
RATIO_FLOOR = 1 << 20
# getdata waits this long past inspect.timeout for a word from the helper before it gives up on
# it (the child's own timer should have fired long before).
GRACE_SECONDS = 60.0

_MEMORY_WORDS = ("bad_alloc", "MemoryError", "Cannot allocate memory", "out of memory")


class LimitError(Exception):
    """A reader went past one of the limits; ``str()`` names the setting and the value."""


def human_bytes(count: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if count < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.3g} {unit}"
        count /= 1024
    return f"{count} bytes"


def memory_limit(max_memory: Optional[int]) -> str:
    return f"inspect.max_memory={human_bytes(max_memory or 0)}: the reader needed more memory"


def time_limit(timeout: Optional[float]) -> str:
    return f"inspect.timeout={timeout:g} s: reading it took longer"


def ratio_limit(max_ratio: float, size: int, cap: int) -> str:
    return (
        f"inspect.max_ratio={max_ratio:g}: it decompresses to more than {human_bytes(cap)} "
        f"from {human_bytes(size)} (a decompression bomb?)"
    )


# ---------------------------------------------------------------------------------------------
# In the contained child
# ---------------------------------------------------------------------------------------------


def cap_memory(max_memory: Optional[int]) -> None:
    """Limit the data (heap and private writable mappings) of this process, and of the
    processes it forks from now on, to ``max_memory`` bytes (None: no limit). Only the soft
    limit: a later call may raise it again."""
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    soft = resource.RLIM_INFINITY if max_memory is None else max_memory
    if hard != resource.RLIM_INFINITY and (soft == resource.RLIM_INFINITY or soft > hard):
        soft = hard
    resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


def start_timer(timeout: Optional[float]) -> None:
    """End this process with SIGALRM (its default action) after ``timeout`` seconds, unless
    ``stop_timer`` comes first."""
    if timeout:
        signal.setitimer(signal.ITIMER_REAL, timeout)


def stop_timer() -> None:
    signal.setitimer(signal.ITIMER_REAL, 0)


def out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is an allocation that failed."""
    seen: set[int] = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, MemoryError) or type(current).__name__ == "ArrowMemoryError":
            return True
        if any(word in str(current) for word in _MEMORY_WORDS):
            return True
        current = current.__cause__ or current.__context__
    return False


def died_of_memory(stderr: str) -> bool:
    """Whether a child's last words say an allocation failed (C++'s bad_alloc aborts it)."""
    return any(word in stderr for word in _MEMORY_WORDS)


# ---------------------------------------------------------------------------------------------
# Decompressed bytes
# ---------------------------------------------------------------------------------------------


class Budget:
    """Decompressed bytes a reader may take from one compressed file: ``max_ratio`` times its
    size, never less than RATIO_FLOOR. Wraps a stream (:meth:`wrap`); reading past the budget
    raises :class:`LimitError`, and ``exceeded`` stays set for whoever catches what a library
    made of it."""

    def __init__(self, size: int, max_ratio: Optional[float]) -> None:
        self.size = size
        self.max_ratio = max_ratio
        self.cap = None if max_ratio is None else max(int(max_ratio * size), RATIO_FLOOR)
        self.used = 0
        self.exceeded = False

    def error(self) -> LimitError:
        assert self.max_ratio is not None and self.cap is not None
        return LimitError(ratio_limit(self.max_ratio, self.size, self.cap))

    def take(self, count: int) -> None:
        self.used += count
        if self.cap is not None and self.used > self.cap:
            self.exceeded = True
            raise self.error()

    def wrap(self, stream: Any) -> Any:
        """``stream`` (a pyarrow or Python file) counted against this budget, as a pyarrow
        file."""
        import pyarrow as pa

        return pa.PythonFile(_Counted(stream, self), mode="r")


class _Counted:
    """A readable file whose reads are taken from a budget (pyarrow reads it by blocks)."""

    def __init__(self, stream: Any, budget: Budget) -> None:
        self.stream = stream
        self.budget = budget
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:  # all of it: in steps, so the budget stops it in time
            parts = []
            while part := self.read(1 << 20):
                parts.append(part)
            return b"".join(parts)
        data = bytes(self.stream.read(size))
        self.budget.take(len(data))
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True
        self.stream.close()
