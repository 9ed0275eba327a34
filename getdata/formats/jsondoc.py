"""JSON (one document): a small array of objects is a table; anything else format and size only.

Parsing is the validity check: the whole document up to ``JSON_LOAD_LIMIT`` (``HEAD_BYTES``
for the check alone); a larger file must at least start like JSON.

Memory stays linear in the file: ``pa.array`` gives every record a slot for every field any
record has (records with distinct keys: n records x n fields, 1.28 GB for a 164 KB file), so
records that would make a table much larger than the text are described record by record.
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
# Arrow's table of the records may hold at most this many values per byte of the document
# (a dense table holds fewer values than its text has bytes).
CELLS_PER_BYTE = 8


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
    return _records_meta(document, max_columns, CELLS_PER_BYTE * len(data) + 4096)


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def _records_meta(records: list[dict[str, Any]], max_columns: int, budget: int) -> dict[str, Any]:
    import pyarrow as pa

    columns = Columns(max_columns, by_name=True)
    if not records:  # [] is an empty table: pa.array([]) has no struct type to take fields from
        return columns.meta()
    try:
        sparse = arrow_cells(records, len(records), budget) > budget
    except RecursionError:  # nested deeper than Python's stack: no Arrow type either
        sparse = True
    if sparse:
        columns.add_records(records)  # one by one, in memory linear in them
        return columns.meta()
    try:
        # pa.array infers one struct type from all records (the union of their fields).
        batch = pa.RecordBatch.from_struct_array(pa.array(records))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        columns.add_records(records)  # a field whose values no one Arrow type holds
    else:
        columns.add_batch(batch)
    return columns.meta()


def arrow_cells(values: list[Any], length: int, budget: int) -> int:
    """About how many values ``pa.array(values)`` holds (each struct with a field for every key
    seen at its place, each list's items), when ``length`` is the array's length; counting
    stops once it is past ``budget``."""
    total = length
    fields: dict[str, list[Any]] = {}
    items: list[Any] = []
    for value in values:
        if isinstance(value, dict):
            for key, child in value.items():
                fields.setdefault(key, []).append(child)
        elif isinstance(value, list):
            items.extend(value)
    for children in fields.values():
        total += arrow_cells(children, length, budget - total)  # a field has a slot per row
        if total > budget:
            return total
    if items:
        total += arrow_cells(items, len(items), budget - total)
    return total


def head(path: Any, rows: int) -> Optional[Any]:
    return None  # a JSON document is previewed by nobody: it may be anything
