"""JSON (one document): a small array of objects is a table; anything else format and size only.

Parsing is the validity check: the whole document up to ``JSON_LOAD_LIMIT`` (``HEAD_BYTES``
for the check alone); a larger file must at least start like JSON.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from .source import Source
from .stats import Columns
from .text import HEAD_BYTES, MiB

# What a JSON text can start with (RFC 8259: any value, after optional whitespace).
_STARTS = set(b'{["-0123456789tfn')
# A JSON document up to this size is parsed whole (about 10x its size in memory), so kept small.
JSON_LOAD_LIMIT = 16 * MiB


def describe(source: Source, max_columns: int, check_only: bool) -> dict[str, Any]:
    limit = HEAD_BYTES if check_only else JSON_LOAD_LIMIT
    data = source.head(limit + 1)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    start = data.lstrip(b" \t\r\n")[:1]
    if not start or start[0] not in _STARTS:
        raise ValueError("does not start like JSON (an object, array, string, number...)")
    if len(data) > limit:
        return {}
    # Python's json takes NaN and Infinity, which JSON does not have.
    document = json.loads(data, parse_constant=_not_json)
    if check_only or not isinstance(document, list):
        return {}
    if not all(isinstance(item, dict) for item in document):
        return {}
    return _records_meta(document, max_columns)


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def _records_meta(records: list[dict[str, Any]], max_columns: int) -> dict[str, Any]:
    import pyarrow as pa

    columns = Columns(max_columns, by_name=True)
    if not records:  # [] is an empty table: pa.array([]) has no struct type to take fields from
        return columns.meta()
    try:
        # pa.array infers one struct type from all records (the union of their fields).
        batch = pa.RecordBatch.from_struct_array(pa.array(records))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        columns.add_records(records)  # a field whose values no one Arrow type holds
    else:
        columns.add_batch(batch)
    return columns.meta()


def head(path: Any, rows: int) -> Optional[Any]:
    return None  # a JSON document is previewed by nobody: it may be anything
