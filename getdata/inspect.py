"""What the fetched bytes are: format, and for tables rows, columns and schema.

Cheap by design: parquet and Arrow files are read from their footer, text formats from their head.
``inspect_file`` raises :class:`IntegrityError` when a file is not what its name says (an HTML error
page saved as ``.parquet``, a truncated footer), so such a file is never logged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from .errors import IntegrityError

HEAD_BYTES = 1024 * 1024

_EXTENSIONS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
}


def detect_format(name: str) -> Optional[str]:
    """The format a file name declares, or None for anything we do not check."""
    return _EXTENSIONS.get(Path(name).suffix.lower())


def inspect_file(path: Path, name: str, check: bool = True) -> dict[str, Any]:
    """Metadata describing the file; raises IntegrityError if it is not the format it claims."""
    fmt = detect_format(name)
    meta: dict[str, Any] = {"format": fmt or "binary", "size": path.stat().st_size}
    if fmt is None or not check:
        return meta
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    if _looks_like_html(head) and fmt != "html":
        raise IntegrityError(
            f"{name}: expected {fmt} but the bytes look like an HTML page "
            "(an error or login page?); nothing was logged"
        )
    try:
        meta.update(_READERS[fmt](path, head))
    except IntegrityError:
        raise
    except Exception as exc:  # pyarrow raises several types for malformed input
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise IntegrityError(f"{name}: not a valid {fmt} file: {first_line}") from exc
    return meta


def _looks_like_html(head: bytes) -> bool:
    start = head.lstrip()[:256].lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))


def _schema(schema: Any) -> list[dict[str, str]]:
    return [{"name": f.name, "type": str(f.type)} for f in schema]


def _parquet(path: Path, head: bytes) -> dict[str, Any]:
    import pyarrow.parquet as pq

    md = pq.read_metadata(path)
    return {
        "rows": md.num_rows,
        "columns": md.num_columns,
        "schema": _schema(md.schema.to_arrow_schema()),
    }


def _arrow(path: Path, head: bytes) -> dict[str, Any]:
    import pyarrow.ipc as ipc

    with ipc.open_file(path) as reader:
        rows = sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
        return {"rows": rows, "columns": len(reader.schema), "schema": _schema(reader.schema)}


def _text_table(head: bytes, fmt: str) -> dict[str, Any]:
    """Parse the head of a CSV/TSV/JSON Lines file; the last, possibly cut, line is dropped."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.json as pajson

    sample = head if len(head) < HEAD_BYTES else head[: head.rfind(b"\n") + 1]
    if not sample.strip():
        raise IntegrityError("the file is empty")
    buf = pa.BufferReader(sample)
    if fmt == "jsonl":
        table = pajson.read_json(buf)
    else:
        delimiter = "\t" if fmt == "tsv" else ","
        table = pacsv.read_csv(buf, parse_options=pacsv.ParseOptions(delimiter=delimiter))
    return {"columns": table.num_columns, "schema": _schema(table.schema)}


def _json(path: Path, head: bytes) -> dict[str, Any]:
    import json

    stripped = head.lstrip()
    if stripped[:1] not in (b"{", b"["):
        raise IntegrityError(f"{path.name}: not a valid json file: does not start with {{ or [")
    if path.stat().st_size <= HEAD_BYTES:
        json.loads(head)
    return {}


_READERS = {
    "parquet": _parquet,
    "arrow": _arrow,
    "csv": lambda path, head: _text_table(head, "csv"),
    "tsv": lambda path, head: _text_table(head, "tsv"),
    "jsonl": lambda path, head: _text_table(head, "jsonl"),
    "json": _json,
}
