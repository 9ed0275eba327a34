"""Is an offline W&B run file finished? Read back from the bytes wandb-core wrote.

``run-<id>.wandb`` is a LevelDB-style log (``core/internal/transactionlog`` in wandb): a 7-byte
header (``:W&B``, uint16 0xBEE1, uint8 0), then 32 KiB blocks of chunks, each with a 7-byte header
(CRC-32 of type and payload, uint16 length, uint8 type: 1 full, 2 first, 3 middle, 4 last); the
payloads are ``wandb_internal_pb2.Record`` messages. wandb's Python package has no reader, so this
is one, just enough to answer: is the run's ``exit`` record in the file, and does what is on disk
end on a whole record?

The exit record is not always the last one. ``wandb.init()`` asks wandb-core to probe the system
(``SystemMonitor.Probe``, core/internal/monitor/monitor.go); the probe runs on a goroutine of its
own and queues two ``environment`` records whenever it is done, which on a loaded machine is
after the client's ``exit`` (seen: ``run, files, telemetry, artifact, telemetry, summary, exit,
environment, environment``). The writer writes every record it is given, in the order queued. A
file with its exit record is a finished run: ``wandb sync`` (core/internal/runsync/runreader.go)
finishes the run at the exit record and then reads on to the end of the file. Records after the
exit are wandb-core's own best effort; its sender has finished the run's uploads by then, so it
does not upload them, online or on a sync (core/internal/stream/sender.go).

wandb-core buffers what it writes until the run's stream closes (after ``run.finish()``
returned) or for at most 15 s; getdata/tracking/service.py waits for the file to be finished.
"""

from __future__ import annotations

import gzip
import json
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from .compat import SYNCED_SUFFIX, RecordView, read_record

_FILE_HEADER = struct.Struct("<4sHB")
_CHUNK_HEADER = struct.Struct("<IHB")
_BLOCK = 32 * 1024
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4
# A manifest wandb spilled to a gzipped JSON-lines file (over 100,000 entries): read at most this.
_MAX_SPILLED_MANIFEST = 1 << 30


@dataclass
class RunFile:
    """What a run file holds so far: its whole records, in order, and whether the bytes on disk
    end where a record ends (False: the file stops inside a record, or a record is damaged)."""

    records: list[RecordView] = field(default_factory=list)
    clean_end: bool = False
    size: int = 0

    @property
    def kinds(self) -> list[str]:
        return [r.kind for r in self.records]

    @property
    def finished(self) -> bool:
        """The run's exit record is there and nothing on disk is torn or damaged."""
        return self.clean_end and "exit" in self.kinds


def read_run_file(path: Path) -> RunFile:
    """The records of the run file at ``path`` up to its end, or to the first chunk that is
    incomplete or damaged (``clean_end`` is then False); an empty RunFile when it is missing or
    not a run file."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return RunFile()
    found = RunFile(size=len(data))
    if len(data) < _FILE_HEADER.size or _FILE_HEADER.unpack_from(data) != (b":W&B", 0xBEE1, 0):
        return found
    pending: list[bytes] | None = None
    pos = _FILE_HEADER.size
    while pos < len(data):
        left = _BLOCK - pos % _BLOCK
        if left < _CHUNK_HEADER.size:  # zero padding at the end of a block
            pos += left
            continue
        if pos + _CHUNK_HEADER.size > len(data):
            return found  # a chunk header cut short: still being written
        crc, length, kind = _CHUNK_HEADER.unpack_from(data, pos)
        if (crc, length, kind) == (0, 0, 0):  # a zeroed block remainder
            pos += left
            continue
        start, end = pos + _CHUNK_HEADER.size, pos + _CHUNK_HEADER.size + length
        if end > len(data) or zlib.crc32(data[start - 1 : end]) != crc:
            return found  # still being written (or damaged): what came before is what there is
        chunk = data[start:end]
        pos = end
        payload = None
        if kind == _FULL and pending is None:
            payload = chunk
        elif kind == _FIRST and pending is None:
            pending = [chunk]
        elif kind == _MIDDLE and pending is not None:
            pending.append(chunk)
        elif kind == _LAST and pending is not None:
            payload, pending = b"".join([*pending, chunk]), None
        else:
            return found  # chunks out of order: damaged
        if payload is not None:
            record = read_record(payload)
            if record is None:
                return found
            found.records.append(record)
    found.clean_end = pending is None
    return found


def finished(path: Path) -> bool:
    """The run file holds the run's exit record, and ends on a whole record."""
    return read_run_file(path).finished


def synced(path: Path) -> bool:
    """`wandb sync` uploaded this run file (it leaves a marker beside it)."""
    return Path(f"{path}{SYNCED_SUFFIX}").exists()


def unsynced(run_folder: str, run_id: str) -> bool:
    """The offline run ``run_id`` is still in ``run_folder`` and not synced yet."""
    run_file = Path(run_folder) / f"run-{run_id}.wandb"
    return bool(run_folder and run_id) and run_file.is_file() and not synced(run_file)


def local_paths(path: Path) -> set[str]:
    """The local files the artifacts logged in this run file refer to (W&B reads them from
    there on `wandb sync`), including those of a manifest wandb spilled to a file."""
    found: set[str] = set()
    for record in read_run_file(path).records:
        found.update(record.local_paths)
        if record.manifest_file:
            found.update(_spilled_paths(Path(record.manifest_file)))
    return found


def _spilled_paths(manifest: Path) -> set[str]:
    found: set[str] = set()
    try:
        with gzip.open(manifest, "rt") as lines:
            read = 0
            for line in lines:
                read += len(line)
                if read > _MAX_SPILLED_MANIFEST:
                    break
                item = json.loads(line) if line.strip() else {}
                if isinstance(item, dict) and isinstance(item.get("local_path"), str):
                    found.add(item["local_path"])
    except (OSError, ValueError, EOFError):
        pass  # gone or damaged: that run cannot be synced anyway
    return found
