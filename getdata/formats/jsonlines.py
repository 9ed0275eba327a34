"""JSON Lines: one streaming pass, in chunks of lines when the types change along the way."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Optional

from .source import Source
from .stats import Columns
from .text import BLOCK_SIZE, HEAD_BYTES, MAX_BLOCK_SIZE, located, straddles

if TYPE_CHECKING:
    import pyarrow as pa

# Errors about the table's shape, not the JSON syntax: a field first seen after the first block,
# a column that was numbers and turns to text, a line that is an array.
_SHAPE_ERRORS = ("unexpected field", "changed from", "Failed to convert JSON")


def _shape_error(exc: BaseException) -> bool:
    return any(marker in str(exc) for marker in _SHAPE_ERRORS)


def describe(source: Source, max_columns: int, check_only: bool) -> dict[str, Any]:
    """Rows, schema, null counts and min/max with ``pyarrow.json.open_json`` (pyarrow >= 19)."""
    import pyarrow as pa

    block = HEAD_BYTES if check_only else BLOCK_SIZE
    while True:
        try:
            return _pass(source, block, max_columns, check_only)
        except pa.ArrowInvalid as exc:
            if straddles(exc) and block < MAX_BLOCK_SIZE:
                block *= 4  # a line longer than a block
                continue
            if not _shape_error(exc):
                raise
            break
    # open_json fixes the schema from the first block and stops at the first change; a JSON
    # Lines file whose records vary is valid all the same: read it again in chunks of lines.
    return _chunks(source, block, max_columns, check_only)


def _pass(source: Source, block: int, max_columns: int, check_only: bool) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.json as pajson

    read = pajson.ReadOptions(block_size=block)
    columns = Columns(max_columns)
    try:
        with source.open() as stream, pajson.open_json(stream, read_options=read) as reader:
            columns.add_schema(reader.schema)
            for batch in reader:
                columns.add_batch(batch)
                if check_only:
                    break
    except pa.ArrowInvalid as exc:
        if straddles(exc) or _shape_error(exc):
            raise
        raise located(exc, columns.rows) from exc
    return {} if check_only else columns.meta()


def _chunks(source: Source, size: int, max_columns: int, check_only: bool) -> dict[str, Any]:
    """Each chunk of whole lines gets its own schema; columns are merged by name.

    A chunk whose own lines disagree (a field that is a number on one line and text on another)
    is no Arrow table at all: its lines are parsed by Python's json, slower but still valid.
    """
    import pyarrow as pa
    import pyarrow.json as pajson

    columns = Columns(max_columns, by_name=True)
    first_line = 1
    for chunk in _line_chunks(source, size):
        # One block per chunk: a chunk holds whole lines, so none straddles a block boundary.
        read = pajson.ReadOptions(block_size=len(chunk) + 1)
        try:
            table = pajson.read_json(pa.BufferReader(chunk), read_options=read)
        except pa.ArrowInvalid as exc:
            if not _shape_error(exc):
                raise located(exc, first_line - 1) from exc
            columns.add_records(_records(chunk, first_line))
        else:
            columns.add_schema(table.schema)
            for batch in table.to_batches():
                columns.add_batch(batch)
        if check_only:
            break
        first_line += chunk.count(b"\n")
    if not columns.keys and columns.rows == 0:
        raise ValueError("the file is empty")
    return {} if check_only else columns.meta()


def _line_chunks(source: Source, size: int) -> Iterator[bytes]:
    """The stream in chunks of about ``size`` bytes that end at a line end."""
    rest = b""
    with source.open() as stream:
        while data := stream.read(size):
            data = rest + data
            end = data.rfind(b"\n") + 1
            if end == 0:
                rest = data  # one line longer than a chunk: read on
                continue
            rest = data[end:]
            yield data[:end]
    if rest.strip():
        yield rest


def _records(chunk: bytes, first_line: int) -> list[dict[str, Any]]:
    records = []
    for number, line in enumerate(chunk.splitlines(), start=first_line):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}") from exc
        if not isinstance(record, dict):
            raise ValueError(f"line {number} is not a JSON object")
        records.append(record)
    return records


def head(path: Any, rows: int) -> Optional[pa.Table]:
    import pyarrow as pa
    import pyarrow.json as pajson

    # Only the head: whole lines from the first MiB (enough for any sensible preview).
    with open(path, "rb") as f:
        data = f.read(HEAD_BYTES)
    data = data[: data.rfind(b"\n") + 1] or data
    return pajson.read_json(pa.BufferReader(data)).slice(0, rows)
