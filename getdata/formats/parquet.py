"""Parquet: rows, schema, null counts and min/max from the footer; no data page is read.

What the footer's statistics are worth, by physical type:

- BOOLEAN, INT32, INT64, FLOAT, DOUBLE: exact (writers store the true min/max of the values).
- BYTE_ARRAY strings and binary: writers may truncate them (parquet-mr, Impala: ``Al`` for
  ``Alice Johnson``) and pyarrow does not tell whether they did: recorded as ``min_bound`` /
  ``max_bound``, true bounds but perhaps not values of the column.
- FIXED_LEN_BYTE_ARRAY (decimals, float16, UUIDs), BYTE_ARRAY decimals and INT96: left out;
  writers disagree on their sort order (parquet-testing's fixed_length_decimal.parquet says min
  2.00 for a column whose min is 1.00).

Rows are the sum of the row groups' rows (the file-level count is 0 in some writers' files).
"""

from __future__ import annotations

import json

from typing import TYPE_CHECKING, Any, Optional

from .source import Source
from .stats import is_nan, min_max_entry, table_meta

if TYPE_CHECKING:
    import pyarrow as pa

_EXACT = ("BOOLEAN", "INT32", "INT64", "FLOAT", "DOUBLE")


def describe(source: Source, max_columns: int, check_only: bool) -> dict[str, Any]:
    import pyarrow.parquet as pq

    if _encrypted_footer(source):  # valid, but nothing can be read without its keys
        return {"encrypted": True}
    md = pq.read_metadata(source.path)
    groups = [md.row_group(g) for g in range(md.num_row_groups)]
    rows = sum(rg.num_rows for rg in groups)
    try:
        schema = md.schema.to_arrow_schema()
    except Exception:  # a valid file pyarrow has no Arrow type for (Presto's maps without keys)
        return _leaves_only(md, rows, max_columns)
    if check_only:
        return {}
    listed = list(schema)[:max_columns]
    leaves = _top_level_leaves(md, len(schema))
    described = [{"name": f.name, "type": str(f.type)} for f in listed]
    chosen = [
        (i, leaves[i])
        for i, f in enumerate(listed)
        if leaves is not None and leaves[i] is not None and not _is_nested(f.type)
    ]
    stats: list[Optional[dict[str, Any]]] = [None] * len(listed)
    for (i, _), entry in zip(chosen, _column_stats(md, groups, [j for _, j in chosen]), strict=True):
        stats[i] = entry
    return table_meta(rows, len(schema), described, stats)


def _encrypted_footer(source: Source) -> bool:
    """Whether the file is Parquet with an encrypted footer ("PARE" at both ends, sane length)."""
    size = source.path.stat().st_size
    with source.path.open("rb") as f:
        start = f.read(4)
        f.seek(max(0, size - 8))
        tail = f.read(8)
    length = int.from_bytes(tail[:4], "little")
    return start == b"PARE" and tail[4:] == b"PARE" and 0 < length <= size - 12


def _leaves_only(md: Any, rows: int, max_columns: int) -> dict[str, Any]:
    """Rows and the leaf columns with their Parquet types, when there is no Arrow schema."""
    leaves = [md.schema.column(j) for j in range(md.num_columns)]
    described = [
        {"name": c.path, "type": str(c.logical_type) if str(c.logical_type) != "None"
         else c.physical_type.lower()}
        for c in leaves[:max_columns]
    ]
    meta = table_meta(rows, len(leaves), described, [None] * len(described))
    meta["schema_note"] = "no Arrow schema for this file: its Parquet leaf columns are listed"
    return meta


def _top_level_leaves(md: Any, fields: int) -> Optional[list[Optional[int]]]:
    """For each top-level field, the index of its leaf column if it is a primitive, else None.

    Leaves come in schema order; a top-level primitive has a one-part path. Matched by position,
    so two columns with the same name keep their own statistics.
    """
    found: list[Optional[int]] = []
    previous: Optional[str] = None
    for j in range(md.num_columns):
        path = md.schema.column(j).path.split(".")
        if len(path) == 1:
            found.append(j)
            previous = None
        elif path[0] != previous:
            found.append(None)
            previous = path[0]
    return found if len(found) == fields else None


def _is_nested(type_: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_nested(type_))


def _column_stats(md: Any, groups: list[Any], leaves: list[int]) -> list[dict[str, Any]]:
    """Null count and min/max of each leaf over all row groups.

    min/max are compared as raw (physical) values and only the winning chunk's statistics are
    turned into a logical value: a footer of 5,000 row groups x 100 columns stays cheap. They
    are left out when a chunk holding values lacks them (not stored, or distrusted by pyarrow).
    """
    n = len(leaves)
    modes = [_mode(md.schema.column(j)) for j in leaves]
    nulls: list[Optional[int]] = [0] * n
    low: list[Any] = [None] * n
    high: list[Any] = [None] * n
    low_at: list[Any] = [None] * n
    high_at: list[Any] = [None] * n
    usable = [m is not None for m in modes]
    logical = [m == "logical" for m in modes]
    for rg in groups:
        for k, s in enumerate([rg.column(j).statistics for j in leaves]):
            if s is None:
                nulls[k] = None
                usable[k] = False
                continue
            if s.has_null_count:
                if nulls[k] is not None:
                    nulls[k] += s.null_count
            else:
                nulls[k] = None
            if not usable[k]:
                continue
            if not s.has_min_max:
                usable[k] = s.has_null_count and s.num_values == 0  # only all-null chunks may
                continue
            lo, hi = (s.min, s.max) if logical[k] else (s.min_raw, s.max_raw)
            if lo != lo or hi != hi:  # NaN bounds (old writers): meaningless
                usable[k] = False
            elif low[k] is None or lo < low[k]:
                low[k], low_at[k] = lo, s
            if hi == hi and (high[k] is None or hi > high[k]):
                high[k], high_at[k] = hi, s
    entries = []
    for k in range(n):
        entry: dict[str, Any] = {}
        if nulls[k] is not None:
            entry["null_count"] = nulls[k]
        if usable[k] and low_at[k] is not None and high_at[k] is not None:
            lo, hi = low_at[k].min, high_at[k].max
            if not (is_nan(lo) or is_nan(hi)):
                min_max_entry(entry, lo, hi, bounds=modes[k] == "bounds")
        entries.append(entry)
    return entries


def _mode(column: Any) -> Optional[str]:
    """How a leaf's statistics are compared and recorded: "raw", "logical", "bounds" or None."""
    physical = column.physical_type
    logical = str(column.logical_type.type)
    if physical in _EXACT:
        unsigned = logical == "INT" and json.loads(column.logical_type.to_json())["isSigned"] is False
        return "logical" if unsigned or logical == "DECIMAL" else "raw"
    if physical == "BYTE_ARRAY" and logical in ("STRING", "ENUM", "JSON", "NONE", "BSON"):
        return "bounds"
    return None


def head(path: Any, rows: int) -> Optional[pa.Table]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    batch = next(pq.ParquetFile(path).iter_batches(batch_size=rows), None)
    return None if batch is None else pa.Table.from_batches([batch])
