"""CSV and TSV: one streaming pass in bounded memory (pyarrow's streaming CSV reader).

Memory stays at a few blocks of ``BLOCK_SIZE`` whatever the file size. Null counts are free;
``pyarrow.compute.min_max`` per batch adds about a third to the parse.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Optional

from .source import Source
from .stats import Columns
from .text import BLOCK_SIZE, HEAD_BYTES, MAX_BLOCK_SIZE, located, straddles

if TYPE_CHECKING:
    import pyarrow as pa

# After this many passes restarted for a column whose type changed late in the file, every
# column is read as text in one last pass instead of narrowing it down column by column.
MAX_CSV_PASSES = 8
# A header that is not UTF-8 is read as this (every byte is a character; Windows' and old
# spreadsheets' CSV exports are Latin-1/cp1252 far more often than anything else).
FALLBACK_ENCODING = "latin-1"

# "In CSV column #3: CSV conversion error to int64: invalid value 'x'"
_CONVERSION = re.compile(r"In CSV column #(\d+): .*CSV conversion error")


class _TypeChanged(Exception):
    """A column's type, inferred from the first block, does not fit a later value."""

    def __init__(self, name: str, type_: pa.DataType, schema: pa.Schema) -> None:
        super().__init__(f"column {name!r} is not all {type_}")
        self.name, self.type, self.schema = name, type_, schema


def describe(source: Source, max_columns: int, check_only: bool) -> dict[str, Any]:
    delimiter = "\t" if _is_tsv(source.name) else ","
    try:
        return _describe(source, max_columns, check_only, delimiter, quoted=True)
    except Exception as quoted:
        if delimiter != "\t":
            raise
        # Many TSV files (IMDb's, database dumps) do not quote at all: a value may start with a
        # lone `"`. Such a file is valid TSV; only when unquoted reading fails too is it refused.
        try:
            return _describe(source, max_columns, check_only, delimiter, quoted=False)
        except Exception:
            raise quoted from None


def _is_tsv(name: str) -> bool:
    from .registry import kind

    return kind(name)[0].name == "tsv"


def _describe(
    source: Source, max_columns: int, check_only: bool, delimiter: str, quoted: bool
) -> dict[str, Any]:
    """Rows, schema, null counts and min/max of every column, in one pass in bounded memory.

    The streaming reader fixes column types from the first block. When a later value does not
    fit (an int column with "1.5" on row 3 million), the pass restarts with that column read
    as the next wider type, much as ``pyarrow.csv.read_csv`` infers it from the whole file
    (null -> int64 -> double -> string -> binary). Restarts are rare and bounded.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    # newlines_in_values: a quoted value may span lines (valid CSV); it costs nothing measurable.
    parse = pacsv.ParseOptions(
        delimiter=delimiter, quote_char='"' if quoted else False, newlines_in_values=True
    )
    block = HEAD_BYTES if check_only else BLOCK_SIZE
    forced: dict[str, pa.DataType] = {}
    encoding: Optional[str] = None
    passes = 0
    while True:
        passes += 1
        try:
            meta = _pass(source, parse, forced, block, encoding, max_columns, check_only)
            if encoding is not None and meta:
                meta["encoding"] = encoding
            return meta
        except UnicodeDecodeError:  # a header (column name) that is not UTF-8
            if encoding is not None:
                raise
            encoding = FALLBACK_ENCODING
        except pa.ArrowInvalid as exc:
            if "Empty CSV file or block" in str(exc):
                return _single_line(source, parse, max_columns, check_only)
            if not straddles(exc) or block >= MAX_BLOCK_SIZE:
                raise
            block *= 4  # a row longer than a block
        except _TypeChanged as change:
            forced[change.name] = _wider(change.type)
            if passes >= MAX_CSV_PASSES:  # pathological: stop narrowing down, read all as text
                for f in change.schema:
                    forced.setdefault(f.name, _text(f.type))


def _single_line(source: Source, parse: Any, max_columns: int, check_only: bool) -> dict[str, Any]:
    """A file of one line without a line end (a header only): valid, though pyarrow balks."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    head = source.head(MAX_BLOCK_SIZE + 1)
    if not head.strip() or b"\n" in head or b"\r" in head or len(head) > MAX_BLOCK_SIZE:
        raise ValueError("the file is empty" if not head.strip() else "no rows could be parsed")
    with pacsv.open_csv(pa.BufferReader(head + b"\n"), parse_options=parse) as reader:
        columns = Columns(max_columns)
        columns.add_schema(reader.schema)
        for batch in reader:
            columns.add_batch(batch)
    return {} if check_only else columns.meta()


def _pass(
    source: Source,
    parse: Any,
    forced: dict[str, pa.DataType],
    block: int,
    encoding: Optional[str],
    max_columns: int,
    check_only: bool,
) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    read = pacsv.ReadOptions(block_size=block, encoding=encoding or "utf8")
    convert = pacsv.ConvertOptions(column_types=forced)
    columns = Columns(max_columns)
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
            if straddles(exc):
                raise
            raise located(exc, columns.rows) from exc
    return {} if check_only else columns.meta()


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


def head(path: Any, rows: int, name: str = "data.csv") -> Optional[pa.Table]:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    options = pacsv.ParseOptions(delimiter="\t" if _is_tsv(name) else ",")
    with pacsv.open_csv(path, parse_options=options) as reader:
        batch = reader.read_next_batch()
        return pa.Table.from_batches([batch]).slice(0, rows)
