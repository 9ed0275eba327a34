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

# Past this many column chunks (row groups x described columns), per-chunk statistics are not
# read (see BENCHMARKS.md, "Describing a big Parquet footer"); rows and schema still are.
MAX_STAT_CHUNKS = 100_000
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
    chosen: list[tuple[int, int]] = []
    for i, f in enumerate(listed):
        leaf = leaves[i] if leaves is not None else None
        if leaf is not None and not _is_nested(f.type):
            chosen.append((i, leaf))
    stats: list[Optional[dict[str, Any]]] = [None] * len(listed)
    chunks = len(groups) * len(chosen)
    if chunks > MAX_STAT_CHUNKS:
        # pyarrow hands statistics out one Python object per column chunk (~3 us each): past
        # this many, reading them would cost several times the footer read itself.
        meta = table_meta(rows, len(schema), described, stats)
        meta["column_stats_skipped"] = (
            f"{len(groups)} row groups x {len(chosen)} columns: more than {MAX_STAT_CHUNKS} "
            "column chunk statistics, not read"
        )
        return meta
    for (i, _), entry in zip(
        chosen, _column_stats(md, groups, [j for _, j in chosen]), strict=True
    ):
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
        {
            "name": c.path,
            "type": str(c.logical_type)
            if str(c.logical_type) != "None"
            else c.physical_type.lower(),
        }
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

    A footer of 5,000 row groups x 100 columns is 500,000 statistics objects: each is read
    once, row group by row group (measured faster than column by column), into plain tuples;
    min/max are compared as raw (physical) values and only the winning chunk's statistics are
    turned into a logical value. They are left out when a chunk holding values lacks them (not
    stored, or distrusted by pyarrow).
    """
    modes = [_mode(md.schema.column(j)) for j in leaves]
    logical = [m == "logical" for m in modes]
    per_leaf: list[list[Optional[tuple[Any, ...]]]] = [[] for _ in leaves]
    for rg in groups:
        for k, st in enumerate([rg.column(j).statistics for j in leaves]):
            if st is None:
                per_leaf[k].append(None)
            elif st.has_min_max and (bounds := _bounds(st, logical[k])) is not None:
                per_leaf[k].append((st.has_null_count, st.null_count, True, *bounds))
            elif st.has_min_max:  # bounds pyarrow cannot convert: null count only
                per_leaf[k].append((st.has_null_count, st.null_count, False, False, None))
            else:
                empty = st.has_null_count and st.num_values == 0
                per_leaf[k].append((st.has_null_count, st.null_count, False, empty, None))
    return [
        _entry(chunks, mode, groups, j)
        for chunks, mode, j in zip(per_leaf, modes, leaves, strict=True)
    ]


def _bounds(st: Any, logical: bool) -> Optional[tuple[Any, Any]]:
    if not logical:
        return st.min_raw, st.max_raw
    try:
        return st.min, st.max
    except Exception:  # pyarrow < 26 cannot convert some (int32/int64 decimal: "Cannot
        return None  # extract statistics for type"); the file is still valid


def _entry(
    chunks: list[Optional[tuple[Any, ...]]], mode: Optional[str], groups: list[Any], leaf: int
) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if any([c is None for c in chunks]):
        return entry
    known = [c for c in chunks if c is not None]
    if all([c[0] for c in known]):
        entry["null_count"] = sum([c[1] for c in known])
    bounded = [g for g, c in enumerate(known) if c[2]]
    # Only all-null chunks may lack min/max.
    if mode is None or not bounded or not all([c[2] or c[3] for c in known]):
        return entry
    lows, highs = [known[g][3] for g in bounded], [known[g][4] for g in bounded]
    if any([v != v for v in lows]) or any([v != v for v in highs]):  # NaN bounds (old writers)
        return entry
    low_group = bounded[min(range(len(lows)), key=lows.__getitem__)]
    high_group = bounded[max(range(len(highs)), key=highs.__getitem__)]
    lo = groups[low_group].column(leaf).statistics.min
    hi = groups[high_group].column(leaf).statistics.max
    if not (is_nan(lo) or is_nan(hi)):
        min_max_entry(entry, lo, hi, bounds=mode == "bounds")
    return entry


def _mode(column: Any) -> Optional[str]:
    """How a leaf's statistics are compared and recorded: "raw", "logical", "bounds" or None."""
    physical = column.physical_type
    logical = str(column.logical_type.type)
    if physical in _EXACT:
        unsigned = (
            logical == "INT" and json.loads(column.logical_type.to_json())["isSigned"] is False
        )
        return "logical" if unsigned or logical == "DECIMAL" else "raw"
    if physical == "BYTE_ARRAY" and logical in ("STRING", "ENUM", "JSON", "NONE", "BSON"):
        return "bounds"
    return None


def head(path: Any, rows: int) -> Optional[pa.Table]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    batch = next(pq.ParquetFile(path).iter_batches(batch_size=rows), None)
    return None if batch is None else pa.Table.from_batches([batch])
