"""Reader for the transaction log (``run-<id>.wandb``) that wandb writes.

With ``WANDB_MODE=offline`` wandb writes everything a run produced into
``<WANDB_DIR>/wandb/offline-run-*/run-<id>.wandb``. The file is written by the
Go ``wandb-core`` binary (``core/internal/transactionlog/writer.go`` and
``core/pkg/leveldb/record.go`` in the wandb repository); the Python package
has no reader, so this module parses it itself.

Format (LevelDB log format with a W&B file header):

* The file starts with a 7-byte header: ``b":W&B"``, uint16 little-endian
  magic ``0xBEE1``, uint8 version ``0``.
* The file (header included) is cut into 32 KiB blocks, counted from offset 0,
  so the first block holds 7 bytes less chunk data.
* A block holds tightly packed chunks: uint32 LE checksum, uint16 LE payload
  length, uint8 type (1 full, 2 first, 3 middle, 4 last), then the payload.
  The checksum is plain zlib/IEEE CRC-32 over the type byte and the payload
  (``leveldb.CRCAlgoIEEE``; not LevelDB's masked CRC-32C).
* If fewer than 7 bytes are left in a block they are zero padding and the next
  chunk starts at the next block.
* Reassembled payloads are serialized ``wandb_internal_pb2.Record`` messages.
"""

from __future__ import annotations

import gzip
import json
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from google.protobuf.message import DecodeError  # type: ignore[import-untyped,unused-ignore]

# The generated protobuf module has no type stubs, hence the ignore.
from wandb.proto.wandb_internal_pb2 import (  # type: ignore[attr-defined,unused-ignore]
    ConfigRecord,
    EnvironmentRecord,
    Record,
    SummaryRecord,
)

__all__ = [
    "ArtifactEntry",
    "EnvironmentRecord",
    "LoggedArtifact",
    "Record",
    "all_text",
    "artifacts",
    "find_run_files",
    "finished_run",
    "read_records",
    "record_kinds",
    "run_info",
    "write_run_file",
]

FILE_HEADER = struct.Struct("<4sHB")
FILE_IDENT = b":W&B"
FILE_MAGIC = 0xBEE1
FILE_VERSION = 0

BLOCK_SIZE = 32 * 1024
CHUNK_HEADER = struct.Struct("<IHB")

FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


@dataclass
class ArtifactEntry:
    """One file of an artifact manifest."""

    path: str
    digest: str
    size: int
    ref: str


@dataclass
class LoggedArtifact:
    """An artifact logged by the run (a ``Record.artifact`` in the file)."""

    name: str
    type: str
    description: str
    metadata: dict[str, Any]
    entries: list[ArtifactEntry]
    digest: str
    # As given to run.log_artifact (W&B adds "latest"); the TTL in seconds (None: none).
    aliases: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    ttl_seconds: Optional[int] = None


def _payloads(data: bytes, path: Path) -> list[bytes]:
    """Split the raw file into reassembled record payloads, checking CRCs."""
    if len(data) < FILE_HEADER.size:
        raise ValueError(f"{path}: too short for a W&B header ({len(data)} bytes)")
    ident, magic, version = FILE_HEADER.unpack_from(data, 0)
    if ident != FILE_IDENT or magic != FILE_MAGIC or version != FILE_VERSION:
        raise ValueError(
            f"{path}: bad W&B header (ident={ident!r}, magic={magic:#06x}, version={version})"
        )

    payloads: list[bytes] = []
    pending: list[bytes] | None = None  # parts of a FIRST..LAST record
    pos = FILE_HEADER.size
    while pos < len(data):
        left_in_block = BLOCK_SIZE - pos % BLOCK_SIZE
        if left_in_block < CHUNK_HEADER.size:
            pos += left_in_block  # block tail padding
            continue
        if pos + CHUNK_HEADER.size > len(data):
            raise ValueError(f"{path}: truncated chunk header at offset {pos}")
        crc, length, kind = CHUNK_HEADER.unpack_from(data, pos)
        if crc == 0 and length == 0 and kind == 0 and pending is None:
            # A zeroed block remainder (wandb's reader skips these too).
            pos += left_in_block
            continue
        start = pos + CHUNK_HEADER.size
        end = start + length
        if length > left_in_block - CHUNK_HEADER.size:
            raise ValueError(f"{path}: chunk at offset {pos} crosses a block")
        if end > len(data):
            raise ValueError(f"{path}: truncated chunk at offset {pos}")
        chunk = data[start:end]
        actual = zlib.crc32(data[start - 1 : end])  # type byte + payload
        if actual != crc:
            raise ValueError(
                f"{path}: crc mismatch at offset {pos} "
                f"(stored {crc:#010x}, computed {actual:#010x})"
            )
        if kind == FULL and pending is None:
            payloads.append(chunk)
        elif kind == FIRST and pending is None:
            pending = [chunk]
        elif kind == MIDDLE and pending is not None:
            pending.append(chunk)
        elif kind == LAST and pending is not None:
            pending.append(chunk)
            payloads.append(b"".join(pending))
            pending = None
        else:
            raise ValueError(f"{path}: unexpected chunk type {kind} at offset {pos}")
        pos = end
    if pending is not None:
        raise ValueError(f"{path}: file ends inside a multi-chunk record")
    return payloads


def read_records(path: Path) -> list[Record]:
    """Return every record in a ``.wandb`` file, in file order.

    Raises ValueError on a bad file header, a CRC mismatch, a truncated or
    malformed chunk, or a payload that is not a ``Record``.
    """
    path = Path(path)
    records: list[Record] = []
    for index, payload in enumerate(_payloads(path.read_bytes(), path)):
        record = Record()
        try:
            record.ParseFromString(payload)
        except DecodeError as exc:
            raise ValueError(f"{path}: record {index} is not a Record: {exc}") from exc
        records.append(record)
    return records


def write_run_file(path: Path, records: list[Record]) -> list[int]:
    """Write ``records`` as wandb-core writes a run file (a header, then 32 KiB blocks of
    chunks); returns the offset at which each record ends. For tests that need a run file in a
    shape wandb-core produces only sometimes (a record after the exit, a record cut short)."""
    out = bytearray(FILE_HEADER.pack(FILE_IDENT, FILE_MAGIC, FILE_VERSION))
    ends = []
    for record in records:
        payload = record.SerializeToString()
        first = True
        while True:
            left = BLOCK_SIZE - len(out) % BLOCK_SIZE
            if left < CHUNK_HEADER.size:
                out += b"\0" * left
                continue
            part, payload = payload[: left - CHUNK_HEADER.size], payload[left - CHUNK_HEADER.size :]
            kind = (FULL if first else LAST) if not payload else (FIRST if first else MIDDLE)
            crc = zlib.crc32(bytes([kind]) + part)
            out += CHUNK_HEADER.pack(crc, len(part), kind) + part
            first = False
            if not payload:
                break
        ends.append(len(out))
    Path(path).write_bytes(bytes(out))
    return ends


def record_kinds(path: Path) -> list[str]:
    """The kind of every record in a ``.wandb`` file ("run", "artifact", "exit", ...)."""
    return [str(r.WhichOneof("record_type")) for r in read_records(path)]


def finished_run(kinds: list[str]) -> bool:
    """A finished run: its exit record is there, and what follows it is only what wandb-core's
    system probe may add late (``environment`` records; getdata/tracking/runfile.py)."""
    if "exit" not in kinds:
        return False
    return set(kinds[kinds.index("exit") + 1 :]) <= {"environment"}


def find_run_files(wandb_dir: Path) -> list[Path]:
    """Every ``run-*.wandb`` file under ``wandb_dir`` (recursive), sorted."""
    return sorted(p for p in Path(wandb_dir).rglob("run-*.wandb") if p.is_file())


def _json(text: str) -> Any:
    return json.loads(text) if text else None


def _entries_from_manifest_file(manifest_file: str) -> list[ArtifactEntry]:
    """Entries of a very large manifest that wandb spilled to a .jl.gz file."""
    entries: list[ArtifactEntry] = []
    with gzip.open(manifest_file, "rt") as handle:
        for line in handle:
            if line.strip():
                item = json.loads(line)
                entries.append(
                    ArtifactEntry(
                        path=str(item.get("path", "")),
                        digest=str(item.get("digest", "")),
                        size=int(item.get("size") or 0),
                        ref=str(item.get("ref") or ""),
                    )
                )
    return sorted(entries, key=lambda e: e.path)


def artifacts(path: Path) -> list[LoggedArtifact]:
    """Artifacts logged in the run file (offline ``run.log_artifact`` calls).

    Each logged artifact is one ``Record.artifact`` message. Online runs send
    artifacts as requests, which wandb never writes to the file. A manifest of
    more than 100,000 entries is not inline: wandb points at a gzipped JSON
    lines file in its staging dir, which is read here (it must still exist).
    """
    found: list[LoggedArtifact] = []
    for record in read_records(path):
        if record.WhichOneof("record_type") != "artifact":
            continue
        art = record.artifact
        manifest = art.manifest
        if manifest.manifest_file_path:
            entries = _entries_from_manifest_file(manifest.manifest_file_path)
        else:
            entries = [
                ArtifactEntry(path=e.path, digest=e.digest, size=e.size, ref=e.ref)
                for e in manifest.contents
            ]
        metadata = _json(art.metadata)
        found.append(
            LoggedArtifact(
                name=art.name,
                type=art.type,
                description=art.description,
                metadata=metadata if isinstance(metadata, dict) else {},
                entries=entries,
                digest=art.digest,
                aliases=list(art.aliases),
                tags=list(art.tags),
                # wandb writes -1 (or 0) for "no TTL".
                ttl_seconds=art.ttl_duration_seconds if art.ttl_duration_seconds > 0 else None,
            )
        )
    return found


def _item_path(key: str, nested_key: list[str]) -> list[str]:
    return list(nested_key) if nested_key else [key]


def _subtree(tree: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """Walk to ``keys``, making dicts (and replacing leaves) on the way."""
    for key in keys:
        child = tree.get(key)
        if not isinstance(child, dict):
            child = tree[key] = {}
        tree = child
    return tree


def _set_subtree(tree: dict[str, Any], keys: list[str], value: Any) -> None:
    """wandb-core's ``pathtree.SetSubtree``: dicts merge key by key."""
    if isinstance(value, dict):
        for key, child in value.items():
            _set_subtree(tree, [*keys, key], child)
    else:
        _subtree(tree, keys[:-1])[keys[-1]] = value


def _remove(tree: dict[str, Any], keys: list[str]) -> None:
    """wandb-core's ``PathTree.Remove``: delete, then prune emptied parents."""
    nodes = [tree]
    for key in keys[:-1]:
        child = nodes[-1].get(key)
        if not isinstance(child, dict):
            return
        nodes.append(child)
    nodes[-1].pop(keys[-1], None)
    for depth in range(len(nodes) - 1, 0, -1):
        if nodes[depth]:
            break
        nodes[depth - 1].pop(keys[depth - 1], None)


def _apply_config(config: dict[str, Any], record: ConfigRecord) -> None:
    """Apply a config record as wandb-core's ``RunConfig.ApplyChangeRecord`` does.

    A dict value is merged into what is already at its path (keys it lacks are
    kept, an empty dict changes nothing); any other value replaces the node.
    """
    for item in record.update:
        keys = _item_path(item.key, list(item.nested_key))
        _set_subtree(config, keys, _json(item.value_json))
    for item in record.remove:
        _remove(config, _item_path(item.key, list(item.nested_key)))


def _apply_summary(summary: dict[str, Any], record: SummaryRecord) -> None:
    """Apply a summary record: each update replaces the value at its path."""
    for item in record.update:
        keys = _item_path(item.key, list(item.nested_key))
        _subtree(summary, keys[:-1])[keys[-1]] = _json(item.value_json)
    for item in record.remove:
        _remove(summary, _item_path(item.key, list(item.nested_key)))


def run_info(path: Path) -> dict[str, Any]:
    """Summarize a run file.

    Keys: run_id, entity, project, job_type, group, tags, display_name, notes,
    host, config, summary, exit_code (None if the run never finished).

    ``config`` is the run config as a plain dict: the config carried by the
    run record, then every config record's updates/removals in file order,
    merged the way wandb-core merges them (see ``_apply_config``). Values are
    stored as bare JSON per top-level key: the ``{"value": ...}`` wrapper of
    ``config.yaml`` and of the server's run config is only added when wandb-core
    serializes the config (``runconfig.Serialize``), so there is nothing to
    unwrap. The internal ``_wandb`` key is dropped.
    """
    info: dict[str, Any] = {
        "run_id": "",
        "entity": "",
        "project": "",
        "job_type": "",
        "group": "",
        "tags": [],
        "display_name": "",
        "notes": "",
        "host": "",
        "exit_code": None,
    }
    config: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    for record in read_records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = record.run
            for key, value in (
                ("run_id", run.run_id),
                ("entity", run.entity),
                ("project", run.project),
                ("job_type", run.job_type),
                ("group", run.run_group),
                ("display_name", run.display_name),
                ("notes", run.notes),
                ("host", run.host),
            ):
                if value:
                    info[key] = value
            if run.tags:
                info["tags"] = list(run.tags)
            _apply_config(config, run.config)
            _apply_summary(summary, run.summary)
        elif kind == "config":
            _apply_config(config, record.config)
        elif kind == "summary":
            _apply_summary(summary, record.summary)
        elif kind == "exit":
            info["exit_code"] = record.exit.exit_code
    config.pop("_wandb", None)
    info["config"] = config
    info["summary"] = summary
    return info


def all_text(path: Path) -> str:
    """Every record payload of the file, joined by newlines, as latin-1 text.

    Chunk headers and block padding are removed first, so a string that the
    writer split across a 32 KiB block boundary still appears whole. Protobuf
    stores strings as raw UTF-8, so ASCII secrets can be searched for directly.
    """
    path = Path(path)
    return b"\n".join(_payloads(path.read_bytes(), path)).decode("latin-1")
