"""The shared accumulator of column statistics: rows, types, null counts, min/max by batch."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    import pyarrow as pa

# Longer string min/max values are left out: free text makes useless, bulky metadata.
MAX_STAT_CHARS = 256

OMIT = object()


def table_meta(
    rows: int, columns: int, schema: list[dict[str, str]], stats: list[Optional[dict[str, Any]]]
) -> dict[str, Any]:
    """The "data" of a table. ``stats[i]`` belongs to ``schema[i]`` (None: nothing known).

    ``column_stats`` is keyed by column name; a name that appears more than once is keyed
    ``"<name> (column N)"`` (N counted from 1) for each of its columns, so none hides another.
    schema and stats list the first max_columns columns; ``columns`` counts them all.
    """
    names = [s["name"] for s in schema]
    repeated = {n for n in names if names.count(n) > 1}
    keyed: dict[str, dict[str, Any]] = {}
    for position, (name, entry) in enumerate(zip(names, stats, strict=True)):
        if entry is not None:
            keyed[f"{name} (column {position + 1})" if name in repeated else name] = entry
    meta: dict[str, Any] = {"rows": rows, "columns": columns, "schema": schema}
    meta["column_stats"] = keyed
    if columns > len(schema):
        meta["columns_truncated"] = True
    return meta


def jsonable(value: Any) -> Any:
    """A min/max value as JSON can hold it, or OMIT (long text; W&B metadata should stay small)."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if not math.isfinite(value):
            return "inf" if value > 0 else "-inf"
        # Parquet writers store a zero minimum as -0.0 (the spec asks them to); show 0.0.
        return value + 0.0
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    elif isinstance(value, (dt.datetime, dt.date, dt.time)):  # pandas.Timestamp included
        value = value.isoformat()
    elif not isinstance(value, str):  # Decimal, timedelta, ...
        value = str(value)
    return value if len(value) <= MAX_STAT_CHARS else OMIT


def min_max_entry(
    entry: dict[str, Any], lo: Any, hi: Any, *, bounds: bool = False
) -> dict[str, Any]:
    """Add min/max (or, when they may be truncated, ``min_bound``/``max_bound``) to ``entry``."""
    lo, hi = jsonable(lo), jsonable(hi)
    if lo is not OMIT and hi is not OMIT:
        low, high = ("min_bound", "max_bound") if bounds else ("min", "max")
        entry[low], entry[high] = lo, hi
    return entry


def is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


# Python values of a JSON document, as the Arrow type a reader would give them.
_JSON_TYPES = {bool: "bool", int: "int64", float: "double", str: "string", dict: "struct"}


@dataclass
class Column:
    """What we learn about one column, batch after batch."""

    name: str
    types: list[Any] = field(default_factory=list)  # distinct Arrow types (or names) seen
    non_null: int = 0
    lo: Any = None
    hi: Any = None
    ordered: bool = True  # False once min/max mean nothing (nested or mixed values)
    unknown: bool = False  # True when its values cannot be looked at: no null count either

    def add_type(self, type_: Any) -> None:
        if not any(type_ == seen for seen in self.types):
            self.types.append(type_)

    def include(self, lo: Any, hi: Any) -> None:
        if lo is None or hi is None or is_nan(lo) or is_nan(hi):
            return  # a batch of nulls (or of NaN only) has no min/max
        try:
            self.lo = lo if self.lo is None else min(self.lo, lo)
            self.hi = hi if self.hi is None else max(self.hi, hi)
        except TypeError:  # e.g. numbers in one chunk of JSON Lines, strings in another
            self.ordered = False

    def type_name(self) -> str:
        names = list(dict.fromkeys(str(t) for t in self.types if str(t) != "null"))
        if len(names) <= 1:
            return names[0] if names else "null"
        unified = _unify(self.types)
        if unified:
            return unified
        return "double" if set(names) == {"int64", "double"} else " | ".join(names)

    def entry(self, rows: int) -> Optional[dict[str, Any]]:
        if self.unknown:
            return None
        entry: dict[str, Any] = {"null_count": rows - self.non_null}
        type_name = self.type_name()
        if self.ordered and self.lo is not None and "|" not in type_name:
            if type_name == "double":  # ints from a chunk before the column turned to floats
                self.lo, self.hi = float(self.lo), float(self.hi)
            min_max_entry(entry, self.lo, self.hi)
        return entry


def _unify(types: list[Any]) -> Optional[str]:
    """The type Arrow would widen these to (null -> int64 -> double, structs merged), if any."""
    import pyarrow as pa

    if not all(isinstance(t, pa.DataType) for t in types):
        return None
    try:
        schemas = [pa.schema([pa.field("c", t)]) for t in types]
        return str(pa.unify_schemas(schemas, promote_options="permissive").field("c").type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None


class Columns:
    """Rows, and per column type, null count and min/max, fed one record batch at a time.

    Only the first ``max_columns`` columns are measured; the others are only counted. Columns are
    matched by position when every batch has the same schema (a CSV may repeat a header name)
    and by name otherwise (JSON Lines read in chunks, where a field may appear late).
    """

    def __init__(self, max_columns: int, *, by_name: bool = False, min_max: bool = True) -> None:
        self.rows = 0
        self.max_columns = max_columns
        self.by_name = by_name
        self.min_max = min_max
        self.keys: dict[Any, int] = {}  # every column seen -> its position
        self.listed: list[Column] = []

    def _column(self, key: Any, name: str) -> Optional[Column]:
        index = self.keys.setdefault(key, len(self.keys))
        if index >= self.max_columns:
            return None
        if index == len(self.listed):
            self.listed.append(Column(name))
        return self.listed[index]

    def add_schema(self, schema: pa.Schema) -> None:
        """Columns (and types) even when no batch follows: a CSV with a header and no rows."""
        for position, f in enumerate(schema):
            column = self._column(f.name if self.by_name else position, f.name)
            if column is not None:
                column.add_type(f.type)

    def add_batch(self, batch: pa.RecordBatch) -> None:
        self.add_schema(batch.schema)
        self.rows += batch.num_rows
        for position, f in enumerate(batch.schema):
            column = self._column(f.name if self.by_name else position, f.name)
            if column is None or column.unknown:
                continue
            try:
                array = batch.column(position)
            except KeyError:  # a type pyarrow reads but has no Python class for (intervals)
                column.unknown = True
                continue
            column.non_null += len(array) - logical_nulls(array)
            if not self.min_max:
                continue
            if _orderable(f.type):
                column.include(*_array_min_max(array))
            else:
                column.ordered = False

    def add_records(self, records: list[dict[str, Any]]) -> None:
        """JSON objects that no Arrow type fits (a field that is a number here, text there)."""
        self.rows += len(records)
        for record in records:
            for key, value in record.items():
                column = self._column(key, key)
                if column is None or value is None:
                    continue
                column.non_null += 1
                column.add_type(_JSON_TYPES.get(type(value), "list"))
                if isinstance(value, (dict, list)):
                    column.ordered = False
                else:
                    column.include(value, value)

    def meta(self) -> dict[str, Any]:
        schema = [{"name": c.name, "type": c.type_name()} for c in self.listed]
        stats = [c.entry(self.rows) for c in self.listed]
        return table_meta(self.rows, len(self.keys), schema, stats)


def logical_nulls(array: pa.Array) -> int:
    """Null values, not unset validity bits.

    A dictionary column's nulls may be in its dictionary; run-end encoded and union columns have
    no validity bitmap of their own (``null_count`` is 0 for them whatever they hold).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    t = array.type
    if len(array) == 0:
        return 0  # (pyarrow 26 segfaults reading the type codes of an empty union)
    if pa.types.is_dictionary(t) and array.dictionary.null_count:
        return int(pc.sum(pc.is_null(array.dictionary_decode())).as_py() or 0)
    if pa.types.is_run_end_encoded(t):
        return logical_nulls(pc.run_end_decode(array))
    if pa.types.is_union(t):
        return _union_nulls(array)
    return int(array.null_count)


def _union_nulls(array: Any) -> int:
    """A union value is null when the child value it points at is null."""
    import numpy as np
    import pyarrow as pa

    codes = np.asarray(array.type_codes)
    nulls = 0
    for index, code in enumerate(array.type.type_codes):
        child = array.field(index)
        if array.type.mode == "dense":
            offsets = np.asarray(array.offsets)[codes == code]
            if len(offsets):
                nulls += logical_nulls(child.take(pa.array(offsets)))
        else:
            picked = child.filter(pa.array(codes == code))
            nulls += logical_nulls(picked)
    return nulls


def _orderable(type_: pa.DataType) -> bool:
    import pyarrow as pa

    t = pa.types
    return bool(
        t.is_integer(type_)
        or t.is_floating(type_)
        or t.is_decimal(type_)
        or t.is_temporal(type_)
        or t.is_string(type_)
        or t.is_large_string(type_)
        or t.is_binary(type_)
        or t.is_large_binary(type_)
        or t.is_boolean(type_)
    )


def _array_min_max(array: pa.Array) -> tuple[Any, Any]:
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        result = pc.min_max(array)
    except pa.ArrowNotImplementedError:  # e.g. intervals, half floats
        return None, None
    return result["min"].as_py(), result["max"].as_py()
