"""What the fetched bytes are: format, size and, for tables, rows, schema and column statistics.

``inspect_file`` describes a file for the artifact metadata ("data") and raises
:class:`IntegrityError` when it is not what its name says (an HTML error page saved as
``.parquet``, a truncated footer, a CSV that stops parsing halfway), so such a file is never logged.

What each format costs:

- Parquet and Arrow IPC are read from their footer/metadata only: no data pages are decoded.
  Parquet min/max come from the column chunk statistics the writer stored.
- CSV/TSV and JSON Lines (optionally gzip/bz2/zstd-compressed) are read once, start to end,
  with pyarrow's streaming readers: memory stays at a few blocks of ``BLOCK_SIZE`` whatever the
  file size (~300 MiB peak RSS for a 1 GB CSV, the same as for 250 MB). Null counts are free;
  ``pyarrow.compute.min_max`` per batch adds about a third to the parse (1 GB CSV, 2 cores:
  4.9 s instead of 3.7 s), cheap next to downloading the gigabyte.
- JSON (not lines) is loaded only when small (``JSON_LOAD_LIMIT``).

pyarrow is imported inside the functions that use it: ``getdata --help`` and non-table runs
should not pay for importing it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from .errors import IntegrityError

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

MiB = 1024 * 1024
# How much of a file the check reads when the description is switched off.
HEAD_BYTES = MiB
# The streaming readers' block: memory holds a few of these (parsed and being parsed).
BLOCK_SIZE = 4 * MiB
# A CSV row or JSON line longer than a block makes the block grow, up to this much; longer rows
# are refused rather than letting one line take the memory.
MAX_BLOCK_SIZE = 64 * MiB
# A JSON document (not lines) up to this size is parsed whole to count its records.
JSON_LOAD_LIMIT = 16 * MiB  # loaded whole (about 10x its size in memory), so kept small
# Longer string min/max values are left out: free text makes useless, bulky metadata.
MAX_STAT_CHARS = 256
# After this many CSV passes restarted for a column whose type changed late in the file, every
# column is read as text in one last pass instead of narrowing it down column by column.
MAX_CSV_PASSES = 8

_TABLES = {
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
# Binary containers, reported by name (anything else not a table is "binary").
_CONTAINERS = {
    ".zip": "zip",
    ".tar": "tar",
    ".7z": "7z",
    ".npy": "npy",
    ".npz": "npz",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".pkl": "pickle",
    ".pickle": "pickle",
    ".safetensors": "safetensors",
}
_COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".xz": "xz"}
_TEXT_TABLES = ("csv", "tsv", "jsonl", "json")
# Formats an HTML page can never be: such a page under one of these names is refused.
_NOT_HTML = {*_TABLES.values(), *_CONTAINERS.values(), *(s[1:] for s in _COMPRESSIONS)}


def detect_format(name: str) -> Optional[str]:
    """The table format a file name declares (by its last suffix), or None."""
    return _TABLES.get(Path(name).suffix.lower())


def inspect_file(
    path: Path,
    name: str,
    check: bool = True,
    *,
    enabled: bool = True,
    max_columns: int = 100,
) -> dict[str, Any]:
    """Metadata describing the file; raises IntegrityError if it is not the format it claims.

    ``enabled=False`` reports format and size only and reads no more than ``check`` needs (the
    footer of a parquet/Arrow file, about the first MiB of a text file). ``check=False`` never
    refuses a file: whatever cannot be described is left out of the metadata.
    """
    fmt, compression = _kind(name)
    meta: dict[str, Any] = {"format": fmt, "size": path.stat().st_size}
    if compression:
        meta["compression"] = compression
    if not (enabled or check):
        return meta
    if check and fmt in _NOT_HTML:
        _refuse_html(path, name, fmt)
    describe = _DESCRIBERS.get(fmt)
    if describe is None or not _readable(fmt, compression):
        return meta
    source = _Source(path, compression)
    try:
        found = describe(source, max(0, max_columns), not enabled)
    except Exception as exc:  # pyarrow, json and zlib raise many types for malformed input
        if check:
            raise IntegrityError(f"{name}: not a valid {fmt} file: {_first_line(exc)}") from exc
        log.warning("%s: not described as %s: %s", name, fmt, _first_line(exc))
        return meta
    if enabled:
        meta.update(found)
    return meta


# ---------------------------------------------------------------------------------------------
# Names, sources and the HTML check
# ---------------------------------------------------------------------------------------------


def _kind(name: str) -> tuple[str, Optional[str]]:
    """(format, compression) a file name declares: data.csv.gz -> ("csv", "gzip")."""
    suffix = Path(name).suffix.lower()
    if suffix == ".tgz":
        return "tar", "gzip"
    if suffix in _COMPRESSIONS:
        inner = Path(Path(name).stem).suffix.lower()
        fmt = _TABLES.get(inner) or _CONTAINERS.get(inner)
        return (fmt, _COMPRESSIONS[suffix]) if fmt else (suffix[1:], None)
    return _TABLES.get(suffix) or _CONTAINERS.get(suffix) or "binary", None


def _readable(fmt: str, compression: Optional[str]) -> bool:
    """Whether we can look inside: footers need the plain file, text needs a codec pyarrow has."""
    if compression is None:
        return True
    if fmt not in _TEXT_TABLES or compression == "xz":
        return False
    import pyarrow as pa

    return bool(pa.Codec.is_available(compression))


@dataclass(frozen=True)
class _Source:
    path: Path
    compression: Optional[str]

    def open(self) -> Any:
        """A fresh stream over the (decompressed) bytes; readers that restart open another."""
        import pyarrow as pa

        # compression=None, not "detect": the name on disk need not match the declared one.
        return pa.input_stream(str(self.path), compression=self.compression)


def _refuse_html(path: Path, name: str, fmt: str) -> None:
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    start = head.lstrip()[:256].lower()
    if start.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        raise IntegrityError(
            f"{name}: expected {fmt} but the bytes look like an HTML page "
            "(an error or login page?); nothing was logged"
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ---------------------------------------------------------------------------------------------
# The metadata of a table, and values fit for JSON
# ---------------------------------------------------------------------------------------------


def _table_meta(
    rows: int, columns: int, schema: list[dict[str, str]], stats: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """schema and stats list the first max_columns columns; ``columns`` counts them all."""
    meta: dict[str, Any] = {
        "rows": rows,
        "columns": columns,
        "schema": schema,
        "column_stats": stats,
    }
    if columns > len(schema):
        meta["columns_truncated"] = True
    return meta


_OMIT = object()


def _jsonable(value: Any) -> Any:
    """A min/max value as JSON can hold it, or _OMIT (long text; W&B metadata should stay small)."""
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
    return value if len(value) <= MAX_STAT_CHARS else _OMIT


def _min_max_entry(entry: dict[str, Any], lo: Any, hi: Any) -> dict[str, Any]:
    lo, hi = _jsonable(lo), _jsonable(hi)
    if lo is not _OMIT and hi is not _OMIT:
        entry["min"], entry["max"] = lo, hi
    return entry


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


# Python values of a JSON document, as the Arrow type a reader would give them.
_JSON_TYPES = {bool: "bool", int: "int64", float: "double", str: "string", dict: "struct"}


@dataclass
class _Column:
    """What we learn about one column, batch after batch."""

    name: str
    types: list[Any] = field(default_factory=list)  # distinct Arrow types (or names) seen
    non_null: int = 0
    lo: Any = None
    hi: Any = None
    ordered: bool = True  # False once min/max mean nothing (nested or mixed values)

    def add_type(self, type_: Any) -> None:
        if not any(type_ == seen for seen in self.types):
            self.types.append(type_)

    def include(self, lo: Any, hi: Any) -> None:
        if lo is None or hi is None or _is_nan(lo) or _is_nan(hi):
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

    def entry(self, rows: int) -> dict[str, Any]:
        entry: dict[str, Any] = {"null_count": rows - self.non_null}
        type_name = self.type_name()
        if self.ordered and self.lo is not None and "|" not in type_name:
            if type_name == "double":  # ints from a chunk before the column turned to floats
                self.lo, self.hi = float(self.lo), float(self.hi)
            _min_max_entry(entry, self.lo, self.hi)
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


class _Columns:
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
        self.listed: list[_Column] = []

    def _column(self, key: Any, name: str) -> Optional[_Column]:
        index = self.keys.setdefault(key, len(self.keys))
        if index >= self.max_columns:
            return None
        if index == len(self.listed):
            self.listed.append(_Column(name))
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
        for position, (f, array) in enumerate(zip(batch.schema, batch.columns, strict=True)):
            column = self._column(f.name if self.by_name else position, f.name)
            if column is None:
                continue
            column.non_null += len(array) - array.null_count
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
        stats = {c.name: c.entry(self.rows) for c in self.listed}
        return _table_meta(self.rows, len(self.keys), schema, stats)


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


# ---------------------------------------------------------------------------------------------
# Parquet: the footer
# ---------------------------------------------------------------------------------------------


def _parquet(source: _Source, max_columns: int, check_only: bool) -> dict[str, Any]:
    """Rows, schema and per-column null count and min/max from the footer; no data page read."""
    import pyarrow.parquet as pq

    md = pq.read_metadata(source.path)
    schema = md.schema.to_arrow_schema()
    if check_only:
        return {}
    # Column chunk statistics belong to leaf columns; a top-level primitive field is the leaf
    # whose path is its name. Nested fields have no top-level null count there: left out.
    paths = [md.schema.column(j).path for j in range(md.num_columns)]
    leaves = {p: j for j, p in enumerate(paths) if paths.count(p) == 1}
    listed = list(schema)[:max_columns]
    stats: dict[str, dict[str, Any]] = {}
    for f in listed:
        leaf = leaves.get(f.name)
        if leaf is not None and not _is_nested(f.type):
            stats[f.name] = _parquet_column(md, leaf, f.type)
    described = [{"name": f.name, "type": str(f.type)} for f in listed]
    return _table_meta(md.num_rows, len(schema), described, stats)


def _is_nested(type_: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_nested(type_))


def _parquet_column(md: Any, leaf: int, type_: pa.DataType) -> dict[str, Any]:
    """Null count and min/max of one column over all row groups.

    min/max are left out when a row group that has values lacks them (the writer did not store
    them, or pyarrow distrusts them, e.g. from old writers with a broken sort order).
    """
    entry: dict[str, Any] = {}
    null_count: Optional[int] = 0
    lows: list[Any] = []
    highs: list[Any] = []
    complete = True
    for group in range(md.num_row_groups):
        stats = md.row_group(group).column(leaf).statistics
        if stats is None or not stats.has_null_count:
            null_count = None
        elif null_count is not None:
            null_count += stats.null_count
        if stats is not None and stats.has_min_max:
            lows.append(stats.min)
            highs.append(stats.max)
        elif stats is None or not (stats.has_null_count and stats.num_values == 0):
            complete = False  # only an all-null chunk may lack min/max
    if null_count is not None:
        entry["null_count"] = null_count
    if complete and lows:
        bounds = _as_arrow_values(lows, highs, type_)
        if bounds is not None:
            _min_max_entry(entry, min(bounds[0]), max(bounds[1]))
    return entry


def _as_arrow_values(
    lows: list[Any], highs: list[Any], type_: pa.DataType
) -> Optional[tuple[list[Any], list[Any]]]:
    """Statistics as values of the column's Arrow type (a duration is stored as a plain int)."""
    import pyarrow as pa

    if pa.types.is_dictionary(type_):
        type_ = type_.value_type
    if any(_is_nan(v) for v in lows + highs):
        return None  # old writers stored NaN as a bound: meaningless
    if not pa.types.is_duration(type_):
        # pyarrow already gives the logical values (dates, timestamps, decimals, strings);
        # converting through pa.scalar would import pandas (0.2 s) for nothing.
        return lows, highs
    try:
        return (
            [pa.scalar(v, type=type_).as_py() for v in lows],
            [pa.scalar(v, type=type_).as_py() for v in highs],
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError):
        return None


# ---------------------------------------------------------------------------------------------
# Arrow IPC (file or stream format; Feather v2 is the file format)
# ---------------------------------------------------------------------------------------------


def _arrow(source: _Source, max_columns: int, check_only: bool) -> dict[str, Any]:
    """Rows and null counts from the record batch metadata of a memory-mapped file.

    A batch read from a memory map points into the map and its null counts are stored in the
    batch's metadata, so this touches metadata pages only (compressed batches excepted, which
    are decompressed one at a time). No min/max: those would read every value.
    """
    import pyarrow as pa

    with source.path.open("rb") as f:
        if f.read(4) == b"FEA1":  # Feather v1, the pre-IPC format: no cheap footer to read
            return {}
    with pa.memory_map(str(source.path)) as mapped:
        batches, schema = _open_ipc(mapped)
        if check_only:
            return {}
        columns = _Columns(max_columns, min_max=False)
        columns.add_schema(schema)
        for batch in batches:
            columns.add_batch(batch)
        return columns.meta()


def _open_ipc(mapped: Any) -> tuple[Iterator[Any], pa.Schema]:
    """Batches and schema of the IPC file format, else of the stream format (HF datasets')."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    try:
        reader = ipc.open_file(mapped)
    except pa.ArrowInvalid as not_a_file:
        mapped.seek(0)
        try:
            stream = ipc.open_stream(mapped)
        except Exception:  # garbage: what open_file said is the better message
            raise not_a_file from None
        return iter(stream), stream.schema
    batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
    return batches, reader.schema


# ---------------------------------------------------------------------------------------------
# CSV and TSV: one streaming pass
# ---------------------------------------------------------------------------------------------

# "In CSV column #3: CSV conversion error to int64: invalid value 'x'"
_CONVERSION = re.compile(r"In CSV column #(\d+): .*CSV conversion error")


class _TypeChanged(Exception):
    """A column's type, inferred from the first block, does not fit a later value."""

    def __init__(self, name: str, type_: pa.DataType, schema: pa.Schema) -> None:
        super().__init__(f"column {name!r} is not all {type_}")
        self.name, self.type, self.schema = name, type_, schema


def _tsv(source: _Source, max_columns: int, check_only: bool) -> dict[str, Any]:
    try:
        return _csv(source, max_columns, check_only, delimiter="\t", quoted=True)
    except Exception as quoted:
        # Many TSV files (IMDb's, database dumps) do not quote at all: a value may start with a
        # lone `"`. Such a file is valid TSV; only when unquoted reading fails too is it refused.
        try:
            return _csv(source, max_columns, check_only, delimiter="\t", quoted=False)
        except Exception:
            raise quoted from None


def _csv(
    source: _Source,
    max_columns: int,
    check_only: bool,
    delimiter: str = ",",
    quoted: bool = True,
) -> dict[str, Any]:
    """Rows, schema, null counts and min/max of every column, in one pass in bounded memory.

    The streaming reader fixes column types from the first block. When a later value does not
    fit (an int column with "1.5" on row 3 million), the pass restarts with that column read
    as the next wider type, much as ``pyarrow.csv.read_csv`` infers it from the whole file
    (null -> int64 -> double -> string -> binary). Restarts are rare and bounded
    (``MAX_CSV_PASSES``).
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    # newlines_in_values: a quoted value may span lines (valid CSV); it costs nothing measurable.
    parse = pacsv.ParseOptions(
        delimiter=delimiter, quote_char='"' if quoted else False, newlines_in_values=True
    )
    block = HEAD_BYTES if check_only else BLOCK_SIZE
    forced: dict[str, pa.DataType] = {}
    passes = 0
    while True:
        passes += 1
        try:
            return _csv_pass(source, parse, forced, block, max_columns, check_only)
        except pa.ArrowInvalid as exc:
            if not _straddles(exc) or block >= MAX_BLOCK_SIZE:
                raise
            block *= 4  # a row longer than a block
        except _TypeChanged as change:
            forced[change.name] = _wider(change.type)
            if passes >= MAX_CSV_PASSES:  # pathological: stop narrowing down, read all as text
                for f in change.schema:
                    forced.setdefault(f.name, _text(f.type))


def _csv_pass(
    source: _Source,
    parse: Any,
    forced: dict[str, pa.DataType],
    block: int,
    max_columns: int,
    check_only: bool,
) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    read = pacsv.ReadOptions(block_size=block)
    convert = pacsv.ConvertOptions(column_types=forced)
    columns = _Columns(max_columns)
    with source.open() as stream, pacsv.open_csv(stream, read, parse, convert) as reader:
        columns.add_schema(reader.schema)
        try:
            for batch in reader:
                columns.add_batch(batch)
                if check_only:
                    break
        except pa.ArrowInvalid as exc:
            match = _CONVERSION.match(str(exc))
            if match is not None:
                f = reader.schema.field(int(match.group(1)))
                raise _TypeChanged(f.name, f.type, reader.schema) from exc
            if _straddles(exc):
                raise
            raise _located(exc, columns.rows) from exc
    return columns.meta()


def _wider(type_: pa.DataType) -> pa.DataType:
    """The next type to try for a CSV column: null -> int64 -> double -> string -> binary."""
    import pyarrow as pa

    if pa.types.is_null(type_):
        return pa.int64()
    if pa.types.is_integer(type_):
        return pa.float64()
    if pa.types.is_string(type_):
        return pa.binary()  # not valid UTF-8 (latin-1 text): still a valid CSV
    return pa.string()


def _text(type_: pa.DataType) -> pa.DataType:
    import pyarrow as pa

    return type_ if pa.types.is_binary(type_) else pa.string()


def _straddles(exc: BaseException) -> bool:
    return "straddl" in str(exc)  # "straddling object straddles two block boundaries"


# pyarrow's JSON errors count rows from the start of the block: "... Invalid value. in row 8337"
_IN_ROW = re.compile(r" in row (\d+)$")


def _located(exc: BaseException, rows_before: int) -> Exception:
    """pyarrow's error, saying where in the file: its block starts after ``rows_before`` rows.

    Approximate for JSON Lines with blank lines; a CSV error already quotes the row it hit.
    """
    import pyarrow as pa

    message = _first_line(exc)
    found = _IN_ROW.search(message)
    if found:
        message = f"{message[: found.start()]} near line {rows_before + int(found.group(1)) + 1}"
    elif rows_before:
        message = f"{message} (after row {rows_before})"
    return pa.ArrowInvalid(message)


def _shape_error(exc: BaseException) -> bool:
    return any(marker in str(exc) for marker in _SHAPE_ERRORS)


# ---------------------------------------------------------------------------------------------
# JSON Lines: one streaming pass, in chunks of lines when the types change along the way
# ---------------------------------------------------------------------------------------------

# Errors about the table's shape, not the JSON syntax: a field first seen after the first block,
# a column that was numbers and turns to text, a line that is an array.
_SHAPE_ERRORS = ("unexpected field", "changed from", "Failed to convert JSON")


def _jsonl(source: _Source, max_columns: int, check_only: bool) -> dict[str, Any]:
    """Rows, schema, null counts and min/max with ``pyarrow.json.open_json`` (pyarrow >= 19)."""
    import pyarrow as pa

    block = HEAD_BYTES if check_only else BLOCK_SIZE
    while True:
        try:
            return _jsonl_pass(source, block, max_columns, check_only)
        except pa.ArrowInvalid as exc:
            if _straddles(exc) and block < MAX_BLOCK_SIZE:
                block *= 4  # a line longer than a block
                continue
            if not _shape_error(exc):
                raise
            break
    # open_json fixes the schema from the first block and stops at the first change; a JSON
    # Lines file whose records vary is valid all the same: read it again in chunks of lines.
    return _jsonl_chunks(source, block, max_columns, check_only)


def _jsonl_pass(source: _Source, block: int, max_columns: int, check_only: bool) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.json as pajson

    read = pajson.ReadOptions(block_size=block)
    columns = _Columns(max_columns)
    try:
        with source.open() as stream, pajson.open_json(stream, read_options=read) as reader:
            columns.add_schema(reader.schema)
            for batch in reader:
                columns.add_batch(batch)
                if check_only:
                    break
    except pa.ArrowInvalid as exc:
        if _straddles(exc) or _shape_error(exc):
            raise
        raise _located(exc, columns.rows) from exc
    return columns.meta()


def _jsonl_chunks(source: _Source, size: int, max_columns: int, check_only: bool) -> dict[str, Any]:
    """Each chunk of whole lines gets its own schema; columns are merged by name.

    A chunk whose own lines disagree (a field that is a number on one line and text on another)
    is no Arrow table at all: its lines are parsed by Python's json, slower but still valid.
    """
    import pyarrow as pa
    import pyarrow.json as pajson

    columns = _Columns(max_columns, by_name=True)
    first_line = 1
    for chunk in _line_chunks(source, size):
        # One block per chunk: a chunk holds whole lines, so none straddles a block boundary.
        read = pajson.ReadOptions(block_size=len(chunk) + 1)
        try:
            table = pajson.read_json(pa.BufferReader(chunk), read_options=read)
        except pa.ArrowInvalid as exc:
            if not _shape_error(exc):
                raise _located(exc, first_line - 1) from exc
            columns.add_records(_json_records(chunk, first_line))
        else:
            columns.add_schema(table.schema)
            for batch in table.to_batches():
                columns.add_batch(batch)
        if check_only:
            break
        first_line += chunk.count(b"\n")
    if not columns.keys and columns.rows == 0:
        raise ValueError("the file is empty")
    return columns.meta()


def _line_chunks(source: _Source, size: int) -> Iterator[bytes]:
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


def _json_records(chunk: bytes, first_line: int) -> list[dict[str, Any]]:
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


# ---------------------------------------------------------------------------------------------
# JSON: one document
# ---------------------------------------------------------------------------------------------


def _json(source: _Source, max_columns: int, check_only: bool) -> dict[str, Any]:
    """A small array of objects is a table (rows, columns...); anything else format and size only.

    Parsing is the validity check: the whole document up to ``JSON_LOAD_LIMIT`` (``HEAD_BYTES``
    for the check alone); a larger file must at least start like JSON.
    """
    limit = HEAD_BYTES if check_only else JSON_LOAD_LIMIT
    with source.open() as stream:
        data = stream.read(limit + 1)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if data.lstrip()[:1] not in (b"{", b"["):
        raise ValueError("does not start with { or [")
    if len(data) > limit:
        return {}
    document = json.loads(data)
    if check_only or not isinstance(document, list):
        return {}
    if not all(isinstance(item, dict) for item in document):
        return {}
    return _records_meta(document, max_columns)


def _records_meta(records: list[dict[str, Any]], max_columns: int) -> dict[str, Any]:
    import pyarrow as pa

    columns = _Columns(max_columns, by_name=True)
    try:
        # pa.array infers one struct type from all records (the union of their fields).
        batch = pa.RecordBatch.from_struct_array(pa.array(records))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        columns.add_records(records)  # a field whose values no one Arrow type holds
    else:
        columns.add_batch(batch)
    return columns.meta()


_DESCRIBERS: dict[str, Callable[[_Source, int, bool], dict[str, Any]]] = {
    "parquet": _parquet,
    "arrow": _arrow,
    "csv": _csv,
    "tsv": _tsv,
    "jsonl": _jsonl,
    "json": _json,
}
