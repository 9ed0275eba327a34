"""Is an offline W&B run file complete? Read back from the bytes wandb-core wrote.

``run-<id>.wandb`` is a LevelDB-style log (``core/internal/transactionlog`` in wandb): a 7-byte
header (``:W&B``, uint16 0xBEE1, uint8 0), then 32 KiB blocks of chunks, each with a 7-byte header
(CRC-32 of type and payload, uint16 length, uint8 type: 1 full, 2 first, 3 middle, 4 last); the
payloads are ``wandb_internal_pb2.Record`` messages. wandb's Python package has no reader, so this
is one, just enough to answer: does the file end with the run's ``exit`` record?

wandb-core writes the exit record last, and buffers what it writes until the run's stream closes,
which happens after ``run.finish()`` returned; a file that reads back to its exit record with
every CRC right is the whole run (tests/wandb_file.py is the tests' own, fuller reader).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Optional

from .compat import record_kind

_FILE_HEADER = struct.Struct("<4sHB")
_CHUNK_HEADER = struct.Struct("<IHB")
_BLOCK = 32 * 1024
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def last_record(path: Path) -> Optional[str]:
    """The kind of the last whole record in the run file (``"exit"``, ``"artifact"``, ...), or
    None when the file is missing, has no whole record yet, or is damaged."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if len(data) < _FILE_HEADER.size or _FILE_HEADER.unpack_from(data) != (b":W&B", 0xBEE1, 0):
        return None
    last: Optional[bytes] = None
    pending: Optional[list[bytes]] = None
    pos = _FILE_HEADER.size
    while pos + _CHUNK_HEADER.size <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < _CHUNK_HEADER.size:  # zero padding at the end of a block
            pos += left
            continue
        crc, length, kind = _CHUNK_HEADER.unpack_from(data, pos)
        if (crc, length, kind) == (0, 0, 0):  # a zeroed block remainder
            pos += left
            continue
        start, end = pos + _CHUNK_HEADER.size, pos + _CHUNK_HEADER.size + length
        if end > len(data) or zlib.crc32(data[start - 1 : end]) != crc:
            break  # still being written (or damaged): what came before is what there is
        chunk = data[start:end]
        if kind == _FULL:
            last, pending = chunk, None
        elif kind == _FIRST:
            pending = [chunk]
        elif kind in (_MIDDLE, _LAST) and pending is not None:
            pending.append(chunk)
            if kind == _LAST:
                last, pending = b"".join(pending), None
        else:
            return None
        pos = end
    return record_kind(last) if last is not None else None


def complete(path: Path) -> bool:
    """The run file ends with the run's exit record."""
    return last_record(path) == "exit"
