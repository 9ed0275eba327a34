"""The part map beside a partial download: whose bytes the partial holds, of which version, and
how much of each part is on disk, so that a run killed at any moment (``kill -9``) is resumed by
the next one, which asks only for what is missing (aria2c's control file is the model).

Layout: an 8-byte magic, the header's length, the header (JSON: source id, size, the pin that
names the version, the parts as [start, end) pairs) and its CRC-32, then one 8-byte slot per part
holding how many bytes of that part, from its start, are written. The header is written once,
with the partial already at its full size, to a temporary file renamed into place. A slot is
rewritten in place (one 8-byte ``pwrite``, which a killed process either made or did not) only
after the bytes it counts were written to the partial, so the map never claims a byte that is
not in the file. (A power cut is another matter: the kernel may write the map before the data;
getdata does not fsync per part.)
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path
from typing import Any, Optional

from .records import read_bytes, write_bytes

MAGIC = b"GDPARTS1"
_HEAD = struct.Struct("<8sI")
_CRC = struct.Struct("<I")
_SLOT = struct.Struct("<Q")
# A slot is rewritten each time its part's progress crosses a boundary of this many bytes (or
# the part ends): a killed run costs the next at most this much per part it was writing.
PIECE = 2**20
# A map of 4,096 parts (the most a 256 GiB object gets at 64 MiB parts) is well under this.
MAX_MAP_BYTES = 1 << 20


class PartMap:
    """The map of one partial; slots are updated through :meth:`advance`."""

    def __init__(self, path: Path, header: dict[str, Any], done: list[int], slots_at: int) -> None:
        self.path = path
        self.header = header
        self.parts: list[tuple[int, int]] = [(int(a), int(b)) for a, b in header["parts"]]
        self.done = done
        self._slots_at = slots_at
        self._recorded = list(done)
        self._fd: Optional[int] = None

    @property
    def size(self) -> int:
        return int(self.header["size"])

    @property
    def pin(self) -> dict[str, Any]:
        return dict(self.header["pin"])

    def written(self) -> int:
        return sum(self.done)

    def missing(self) -> list[int]:
        """The parts not yet whole."""
        return [i for i, (a, b) in enumerate(self.parts) if self.done[i] < b - a]

    @classmethod
    def create(
        cls, path: Path, source: str, size: int, pin: dict[str, Any], parts: list[tuple[int, int]]
    ) -> PartMap:
        """Write a new map (every part at 0) in one piece, and open it for updates."""
        header = {"source": source, "size": size, "pin": pin, "parts": [list(p) for p in parts]}
        head = json.dumps(header, sort_keys=True).encode()
        blob = _HEAD.pack(MAGIC, len(head)) + head + _CRC.pack(zlib.crc32(head))
        slots_at = -(-len(blob) // 8) * 8
        blob = blob.ljust(slots_at, b"\0") + _SLOT.pack(0) * len(parts)
        write_bytes(path, blob)
        return cls(path, header, [0] * len(parts), slots_at)

    @classmethod
    def load(cls, path: Path, source: str, partial: Path) -> Optional[PartMap]:
        """The map of ``partial`` if it is one for ``source``, whole and consistent with the
        partial on disk (a regular file of the map's size); None otherwise."""
        blob = read_bytes(path, "the part map", MAX_MAP_BYTES)
        if blob is None or len(blob) < _HEAD.size:
            return None
        magic, length = _HEAD.unpack_from(blob)
        end = _HEAD.size + length
        if magic != MAGIC or len(blob) < end + _CRC.size:
            return None
        head = blob[_HEAD.size : end]
        if _CRC.unpack_from(blob, end)[0] != zlib.crc32(head):
            return None
        try:
            header = json.loads(head)
            ok = _valid(header, source)
        except (ValueError, TypeError, KeyError):
            return None
        if not ok:
            return None
        slots_at = -(-(end + _CRC.size) // 8) * 8
        count = len(header["parts"])
        if len(blob) != slots_at + count * _SLOT.size:
            return None
        done = [_SLOT.unpack_from(blob, slots_at + i * _SLOT.size)[0] for i in range(count)]
        if any(d > b - a for d, (a, b) in zip(done, header["parts"], strict=True)):
            return None
        try:
            st = os.stat(partial, follow_symlinks=False)
        except OSError:
            return None
        if not _regular(st.st_mode) or st.st_size != header["size"]:
            return None
        return cls(path, header, done, slots_at)

    def advance(self, index: int, done: int) -> None:
        """Part ``index`` has ``done`` bytes from its start on disk: record it when that crosses
        a :data:`PIECE` boundary or ends the part."""
        self.done[index] = done
        start, end = self.parts[index]
        if done // PIECE == self._recorded[index] // PIECE and done != end - start:
            return
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        os.pwrite(self._fd, _SLOT.pack(done), self._slots_at + index * _SLOT.size)
        self._recorded[index] = done

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _regular(mode: int) -> bool:
    import stat

    return stat.S_ISREG(mode)


def _valid(header: Any, source: str) -> bool:
    if not isinstance(header, dict) or header.get("source") != source:
        return False
    size, pin, parts = header.get("size"), header.get("pin"), header.get("parts")
    if not isinstance(size, int) or size < 0 or not isinstance(pin, dict):
        return False
    if not isinstance(parts, list) or not parts:
        return False
    at = 0
    for part in parts:
        if (
            not isinstance(part, list)
            or len(part) != 2
            or not all(isinstance(x, int) for x in part)
            or part[0] != at
            or part[1] <= part[0]
        ):
            return False
        at = part[1]
    return at == size
