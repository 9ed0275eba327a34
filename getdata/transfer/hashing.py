"""The two hashes of what is kept, computed as the bytes arrive: sha256 (the provenance) and
md5 (what W&B's manifest records), without holding a file in memory.

One stream hashes in order as it copies (:class:`Progress`; md5 on a thread of its own for large
files); several connections write out of order, so :class:`FileHasher` threads read the file
back behind the end of its complete prefix.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from pathlib import Path
from typing import Optional, Protocol

# How much the hash threads read at once.
HASH_BLOCK = 4 * 2**20
# Below this many bytes (known in advance) MD5 runs inline.
MD5_THREAD_MIN = 8 * 2**20


class Progress:
    """The bytes and hashes so far: what a resumed attempt continues from."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.size = 0
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5()


class Md5Thread:
    """MD5 (the slower of the two hashes here: 1.4 s/GiB against sha256's 0.6) on a thread of
    its own; hashlib releases the GIL on large buffers, so it overlaps the copy."""

    def __init__(self, state: Progress) -> None:
        self.md5 = state.md5
        self.chunks: queue.Queue[Optional[bytes]] = queue.Queue(maxsize=8)  # bounded memory
        self.thread = threading.Thread(target=self._run, name="getdata-md5", daemon=True)

    def _run(self) -> None:
        while (chunk := self.chunks.get()) is not None:
            self.md5.update(chunk)

    def put(self, chunk: bytes) -> None:
        self.chunks.put(chunk)

    def __enter__(self) -> Md5Thread:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.chunks.put(None)
        self.thread.join()


class Md5Inline:
    """MD5 on the copying thread: for a small object a thread of its own costs more than it
    saves (a prefix of 2,000 small files started 2,000 threads)."""

    def __init__(self, state: Progress) -> None:
        self.put = state.md5.update

    def __enter__(self) -> Md5Inline:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def md5_hasher(state: Progress, size: Optional[int]) -> Md5Thread | Md5Inline:
    return Md5Inline(state) if size is not None and size < MD5_THREAD_MIN else Md5Thread(state)


class Prefix(Protocol):
    """The end of the longest complete prefix of a file being written."""

    size: int

    def wait_past(self, pos: int) -> int:
        """Block until more than ``pos`` bytes are complete; the new end, or -1 if stopped."""
        ...


class FileHashes:
    """sha256 and md5 of a file being written out of order, in order: the file is read back
    once, behind the end of its complete prefix (page cache, not RAM), and each block is hashed
    by both side by side: md5 (the slower) on the reading thread, sha256 on a second one.
    hashlib releases the GIL on large buffers, so both run on the machine's cores while the
    event loop moves bytes."""

    def __init__(self, path: Path, mark: Prefix) -> None:
        self.path = path
        self.mark = mark
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5()
        self.error: Optional[BaseException] = None
        # A few blocks in flight between the two threads: bounded memory.
        self._blocks: queue.Queue[Optional[bytes]] = queue.Queue(maxsize=4)
        self._threads = [
            threading.Thread(target=self._read, name="getdata-md5", daemon=True),
            threading.Thread(target=self._sha256, name="getdata-sha256", daemon=True),
        ]

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def join(self) -> None:
        """Wait for both hashes; raise what went wrong reading the file back."""
        for t in self._threads:
            t.join()
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        """After the file's prefix was stopped (the fetch failed): wait for the threads to end."""
        for t in self._threads:
            t.join()

    def _read(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                pos = 0
                while pos < self.mark.size:
                    end = self.mark.wait_past(pos)
                    if end < 0:
                        return
                    while pos < end:
                        block = os.pread(fd, min(HASH_BLOCK, end - pos), pos)
                        if not block:
                            raise OSError(f"short read at {pos} while hashing")
                        self._blocks.put(block)
                        self.md5.update(block)
                        pos += len(block)
            finally:
                os.close(fd)
        except BaseException as exc:  # reported to the caller, which fails the fetch
            self.error = exc
        finally:
            self._blocks.put(None)

    def _sha256(self) -> None:
        while (block := self._blocks.get()) is not None:
            self.sha256.update(block)


def hash_file(path: Path, chunk_size: int = 4 * 2**20) -> tuple[str, str]:
    """sha256 and md5 of a file on disk (for files we wrote ourselves, e.g. unpacked ones)."""
    sha256, md5 = hashlib.sha256(), hashlib.md5()
    with path.open("rb") as f:
        while chunk := f.read(chunk_size):
            sha256.update(chunk)
            md5.update(chunk)
    return sha256.hexdigest(), md5.hexdigest()
