"""The readers (in this process) on real files written by pyarrow, checked against pyarrow's own
reading of them. Containment (the child process) is tested in test_contained.py."""

from __future__ import annotations

import datetime as dt
import decimal
import gzip
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.ipc as ipc
import pyarrow.json as pajson
import pyarrow.parquet as pq
import pytest

from getdata.errors import IntegrityError
from getdata.formats import delimited, jsondoc, jsonlines
from getdata.formats.describe import Options, describe
from getdata.formats.stats import jsonable

ROWS = 1_000


def inspect_file(
    path: Path, name: str, check: bool = True, *, enabled: bool = True, max_columns: int = 100
) -> dict[str, Any]:
    """describe() in this process (so monkeypatches apply), as the old inspect_file was called."""
    return describe(path, name, Options(describe=enabled, check=check, max_columns=max_columns), [])


def patch_block(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    monkeypatch.setattr(delimited, "BLOCK_SIZE", size)
    monkeypatch.setattr(jsonlines, "BLOCK_SIZE", size)


def mixed_table(rows: int = ROWS) -> pa.Table:
    """Numbers, text, dates, timestamps, decimals, bytes and a list column, with nulls."""
    base = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    return pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "score": pa.array([None if i % 7 == 0 else i / 3 - 50 for i in range(rows)]),
            "name": pa.array([None if i % 5 == 0 else f"name {i:05d}" for i in range(rows)]),
            "day": pa.array([dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(rows)]),
            "at": pa.array(
                [None if i % 3 else base + dt.timedelta(hours=i) for i in range(rows)],
                pa.timestamp("us", tz="UTC"),
            ),
            "price": pa.array(
                [decimal.Decimal(i) / 100 for i in range(rows)], pa.decimal128(10, 2)
            ),
            "blob": pa.array([bytes([i % 256]) * 3 for i in range(rows)]),
            "tags": pa.array([[i, i + 1] if i % 2 else None for i in range(rows)]),
        }
    )


def expected_stats(
    table: pa.Table, name: str, *, min_max: bool = True, bounds: bool = False
) -> dict[str, Any]:
    """What the metadata must say about a column, from pyarrow's computation over all of it."""
    column = table.column(name)
    entry: dict[str, Any] = {"null_count": column.null_count}
    if min_max:
        result = pc.min_max(column)
        low, high = ("min_bound", "max_bound") if bounds else ("min", "max")
        entry[low] = jsonable(result["min"].as_py())
        entry[high] = jsonable(result["max"].as_py())
    return entry


def assert_schema(meta: dict[str, Any], schema: pa.Schema) -> None:
    assert meta["columns"] == len(schema)
    assert meta["schema"] == [{"name": f.name, "type": str(f.type)} for f in schema]


def assert_serialisable(meta: dict[str, Any]) -> None:
    # What W&B stores: plain JSON, no NaN/Infinity tokens.
    assert json.loads(json.dumps(meta, allow_nan=False)) == meta


# ---------------------------------------------------------------------------------------------
# Parquet: the footer
# ---------------------------------------------------------------------------------------------


def test_parquet_from_footer_statistics(tmp_path: Path) -> None:
    table = mixed_table()
    path = tmp_path / "data.parquet"
    pq.write_table(table, path, row_group_size=128)
    assert pq.read_metadata(path).num_row_groups == 8

    meta = inspect_file(path, "data.parquet")

    read = pq.read_table(path)
    assert meta["format"] == "parquet"
    assert meta["size"] == path.stat().st_size
    assert meta["rows"] == read.num_rows == ROWS
    assert_schema(meta, read.schema)
    for name in ("id", "score", "day", "at"):
        assert meta["column_stats"][name] == expected_stats(read, name), name
    # Writers may truncate string/binary statistics (pyarrow cannot tell us whether they did):
    # recorded as bounds, not as values.
    for name in ("name", "blob"):
        assert meta["column_stats"][name] == expected_stats(read, name, bounds=True), name
    # A nested column has no top-level null count in the footer: left out, not made up.
    assert "tags" not in meta["column_stats"]
    assert "columns_truncated" not in meta
    assert meta["column_stats"]["at"]["min"] == "2024-01-01T00:00:00+00:00"
    # Decimals stored as fixed-size bytes: writers disagree on their order, so no min/max.
    assert meta["column_stats"]["price"] == {"null_count": 0}
    assert_serialisable(meta)


def test_parquet_reads_no_data_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "data.parquet"
    pq.write_table(mixed_table(), path, row_group_size=100)

    def no_data(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("data pages were read")

    monkeypatch.setattr(pq, "read_table", no_data)
    monkeypatch.setattr(pq.ParquetFile, "read", no_data)
    monkeypatch.setattr(pq.ParquetFile, "iter_batches", no_data)
    monkeypatch.setattr(pq.ParquetFile, "read_row_group", no_data)
    assert inspect_file(path, "data.parquet")["rows"] == ROWS


def test_parquet_row_group_of_nulls_keeps_min_max(tmp_path: Path) -> None:
    # The first row group is all null: it has no min/max, and need not have.
    table = pa.table({"x": pa.array([None] * 10 + list(range(10)), pa.int64())})
    path = tmp_path / "nulls.parquet"
    pq.write_table(table, path, row_group_size=10)
    meta = inspect_file(path, "nulls.parquet")
    assert meta["column_stats"]["x"] == {"null_count": 10, "min": 0, "max": 9}


def test_parquet_without_statistics(tmp_path: Path) -> None:
    path = tmp_path / "nostats.parquet"
    pq.write_table(mixed_table(), path, write_statistics=False)
    meta = inspect_file(path, "nostats.parquet")
    assert meta["rows"] == ROWS
    assert all("min" not in s for s in meta["column_stats"].values())


def test_parquet_nan_and_infinity_are_json(tmp_path: Path) -> None:
    table = pa.table({"x": [float("-inf"), 1.0, float("nan"), None]})
    path = tmp_path / "inf.parquet"
    pq.write_table(table, path)
    meta = inspect_file(path, "inf.parquet")
    # Parquet writers leave NaN out of the bounds; infinities become strings.
    assert meta["column_stats"]["x"] == {"null_count": 1, "min": "-inf", "max": 1.0}
    assert_serialisable(meta)


# ---------------------------------------------------------------------------------------------
# CSV, TSV and JSON Lines: one streaming pass
# ---------------------------------------------------------------------------------------------


def write_csv(table: pa.Table, path: Path, delimiter: str = ",") -> None:
    pacsv.write_csv(table, path, pacsv.WriteOptions(delimiter=delimiter))


CSV_COLUMNS = ["id", "score", "name", "day", "at", "price"]


def assert_like_pyarrow(meta: dict[str, Any], read: pa.Table) -> None:
    """rows, schema, null counts and min/max equal what pyarrow computes over the whole file."""
    assert meta["rows"] == read.num_rows
    assert_schema(meta, read.schema)
    for f in read.schema:
        orderable = not pa.types.is_nested(f.type) and not pa.types.is_null(f.type)
        assert meta["column_stats"][f.name] == expected_stats(read, f.name, min_max=orderable)
    assert_serialisable(meta)


def test_csv(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    write_csv(mixed_table().select(CSV_COLUMNS), path)
    meta = inspect_file(path, "data.csv")
    assert meta["format"] == "csv" and "compression" not in meta
    assert_like_pyarrow(meta, pacsv.read_csv(path))
    assert meta["schema"][0] == {"name": "id", "type": "int64"}


def test_tsv(tmp_path: Path) -> None:
    path = tmp_path / "data.tsv"
    write_csv(mixed_table().select(CSV_COLUMNS), path, delimiter="\t")
    meta = inspect_file(path, "data.tsv")
    assert meta["format"] == "tsv"
    read = pacsv.read_csv(path, parse_options=pacsv.ParseOptions(delimiter="\t"))
    assert_like_pyarrow(meta, read)


def test_tsv_without_quoting(tmp_path: Path) -> None:
    # IMDb-style TSV: no quoting at all, so a value may start with a lone quote. Read as quoted,
    # the rest of the file becomes one value and the row has too few columns: read unquoted.
    # (pyarrow reads such a file as quoted, as long as that parses: so does inspect_file.)
    rows = b"".join(b"%d\tt\t2000\n" % i for i in range(100))
    body = b'id\ttitle\tyear\n1\t"Weird Al\t1990\n' + rows
    path = tmp_path / "titles.tsv"
    path.write_bytes(body)
    with pytest.raises(pa.ArrowInvalid):
        pacsv.read_csv(path, parse_options=pacsv.ParseOptions(delimiter="\t"))
    meta = inspect_file(path, "titles.tsv")
    unquoted = pacsv.ParseOptions(delimiter="\t", quote_char=False)
    assert_like_pyarrow(meta, pacsv.read_csv(path, parse_options=unquoted))
    assert meta["rows"] == 101


def test_csv_gz(tmp_path: Path) -> None:
    plain = tmp_path / "plain.csv"
    write_csv(mixed_table().select(CSV_COLUMNS), plain)
    path = tmp_path / "data.csv.gz"
    path.write_bytes(gzip.compress(plain.read_bytes()))
    meta = inspect_file(path, "data.csv.gz")
    assert meta["format"] == "csv"
    assert meta["compression"] == "gzip"
    assert meta["size"] == path.stat().st_size
    assert_like_pyarrow(meta, pacsv.read_csv(plain))


def test_large_csv_is_streamed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Small blocks: ~200k rows cross a hundred block boundaries, as a multi-GB file would.
    patch_block(monkeypatch, 64 * 1024)
    rows = 200_000
    path = tmp_path / "big.csv"
    with path.open("wb") as f:
        f.write(b"id,name,value\n")
        f.writelines(
            b"%d,item %d,%s\n" % (i, i, b"" if i % 10 == 0 else b"%d" % i) for i in range(rows)
        )
    meta = inspect_file(path, "big.csv")
    read = pacsv.read_csv(path)
    assert meta["rows"] == read.num_rows == rows
    assert_like_pyarrow(meta, read)
    assert meta["column_stats"]["value"]["null_count"] == rows // 10


def test_csv_column_that_changes_type_late(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The streaming reader infers int64 from the first block; "1.5" and "abc" come much later.
    patch_block(monkeypatch, 64 * 1024)
    body = b"a,b,c\n" + b"".join(b"%d,%d,x\n" % (i, i) for i in range(50_000))
    path = tmp_path / "late.csv"
    path.write_bytes(body + b"1.5,abc,y\n")
    meta = inspect_file(path, "late.csv")
    read = pacsv.read_csv(path)
    assert [f.type for f in read.schema] == [pa.float64(), pa.string(), pa.string()]
    assert_like_pyarrow(meta, read)


def test_csv_that_is_not_utf8_is_still_a_csv(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"id,city\n1,Z\xfcrich\n2,Paris\n")
    meta = inspect_file(path, "latin1.csv")
    assert meta["schema"][1] == {"name": "city", "type": "binary"}
    assert meta["column_stats"]["city"]["min"] == "Paris"
    assert_serialisable(meta)


def test_csv_with_header_only(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"a,b\n")
    meta = inspect_file(path, "empty.csv")
    assert meta["rows"] == 0 and meta["columns"] == 2


def test_jsonl(tmp_path: Path) -> None:
    table = mixed_table().select(["id", "score", "name", "tags"])
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in table.to_pylist()))
    meta = inspect_file(path, "data.jsonl")
    assert meta["format"] == "jsonl"
    assert_like_pyarrow(meta, pajson.read_json(path))
    assert meta["column_stats"]["tags"] == {"null_count": ROWS // 2}


def test_jsonl_gz(tmp_path: Path) -> None:
    lines = "".join(json.dumps({"a": i, "b": f"x{i}"}) + "\n" for i in range(ROWS))
    path = tmp_path / "data.jsonl.gz"
    path.write_bytes(gzip.compress(lines.encode()))
    meta = inspect_file(path, "data.jsonl.gz")
    assert meta["format"] == "jsonl" and meta["compression"] == "gzip"
    assert meta["rows"] == ROWS
    assert meta["column_stats"]["a"] == {"null_count": 0, "min": 0, "max": ROWS - 1}


def test_jsonl_whose_fields_change_late(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # open_json fixes the schema from the first block: a field that appears later, or ints that
    # turn to floats, make it stop. The file is valid; read in chunks it matches read_json.
    patch_block(monkeypatch, 64 * 1024)
    lines = [json.dumps({"a": i, "b": "x"}) for i in range(20_000)]
    lines += [json.dumps({"a": 0.5, "b": "y", "c": True})]
    path = tmp_path / "late.jsonl"
    path.write_text("\n".join(lines) + "\n")
    meta = inspect_file(path, "late.jsonl")
    read = pajson.read_json(path)
    assert [f.name for f in read.schema] == ["a", "b", "c"]
    assert_like_pyarrow(meta, read)


def test_jsonl_with_mixed_types_is_valid(tmp_path: Path) -> None:
    # pyarrow cannot make a table of this (it refuses it), but it is valid JSON Lines.
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"a": 1, "b": 2}\n{"a": "one", "b": 3}\n')
    with pytest.raises(pa.ArrowInvalid):
        pajson.read_json(path)
    meta = inspect_file(path, "mixed.jsonl")
    assert meta["rows"] == 2
    assert meta["schema"] == [
        {"name": "a", "type": "int64 | string"},
        {"name": "b", "type": "int64"},
    ]
    assert meta["column_stats"] == {
        "a": {"null_count": 0},
        "b": {"null_count": 0, "min": 2, "max": 3},
    }


# ---------------------------------------------------------------------------------------------
# JSON, Arrow IPC, wide tables, other files
# ---------------------------------------------------------------------------------------------


def test_json_array_of_objects(tmp_path: Path) -> None:
    records = [{"a": i, "b": None if i % 2 else f"s{i}"} for i in range(100)] + [{"c": 1.5}]
    path = tmp_path / "data.json"
    path.write_text(json.dumps(records))
    meta = inspect_file(path, "data.json")
    read = pa.Table.from_struct_array(pa.array(records))
    assert meta["format"] == "json"
    assert_like_pyarrow(meta, read)


def test_json_that_is_no_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"a": [1, 2, 3]}))
    assert inspect_file(path, "config.json") == {"format": "json", "size": path.stat().st_size}
    # Too large to load: format and size only (its start still checked).
    path.write_text(json.dumps([{"a": i} for i in range(1000)]))
    monkeypatch.setattr(jsondoc, "JSON_LOAD_LIMIT", 1000)
    assert inspect_file(path, "config.json") == {"format": "json", "size": path.stat().st_size}


@pytest.mark.parametrize("kind", ["file", "feather", "stream"])
def test_arrow(tmp_path: Path, kind: str) -> None:
    table = mixed_table()
    path = tmp_path / "data.arrow"
    if kind == "feather":
        feather.write_feather(table, path, chunksize=300)
    else:
        with pa.OSFile(str(path), "wb") as sink:
            new = ipc.new_file if kind == "file" else ipc.new_stream
            with new(sink, table.schema) as writer:
                writer.write_table(table, max_chunksize=300)
    meta = inspect_file(path, "data.arrow")
    read = feather.read_table(path) if kind != "stream" else ipc.open_stream(path).read_all()
    assert meta["format"] == "arrow"
    assert meta["rows"] == read.num_rows == ROWS
    assert_schema(meta, read.schema)
    # Null counts from the batch metadata; min/max would mean reading every value.
    assert meta["column_stats"] == {
        f.name: expected_stats(read, f.name, min_max=False) for f in read.schema
    }


@pytest.mark.parametrize("name", ["wide.parquet", "wide.csv", "wide.arrow", "wide.jsonl"])
def test_wide_table_is_truncated(tmp_path: Path, name: str) -> None:
    table = pa.table({f"c{i:03d}": pa.array(range(10)) for i in range(300)})
    path = tmp_path / name
    if name.endswith(".parquet"):
        pq.write_table(table, path)
    elif name.endswith(".csv"):
        write_csv(table, path)
    elif name.endswith(".arrow"):
        feather.write_feather(table, path)
    else:
        path.write_text("".join(json.dumps(row) + "\n" for row in table.to_pylist()))
    meta = inspect_file(path, name, max_columns=100)
    assert meta["rows"] == 10
    assert meta["columns"] == 300
    assert meta["columns_truncated"] is True
    assert [c["name"] for c in meta["schema"]] == [f"c{i:03d}" for i in range(100)]
    assert list(meta["column_stats"]) == [f"c{i:03d}" for i in range(100)]


@pytest.mark.parametrize(
    ("name", "fmt", "compression"),
    [
        ("dump.gz", "binary", "gzip"),
        ("bundle.tar.gz", "tar", "gzip"),
        ("bundle.tgz", "tar", "gzip"),
        ("blob.xz", "binary", "xz"),
        ("weights.bin", "binary", None),
    ],
)
def test_other_files_are_format_and_size(
    tmp_path: Path, name: str, fmt: str, compression: str | None
) -> None:
    body = b"\x00\x01 opaque bytes"
    path = tmp_path / name
    path.write_bytes(_compress(body, compression))
    expected: dict[str, Any] = {"format": fmt, "size": path.stat().st_size}
    if compression:
        expected["compression"] = compression
    assert inspect_file(path, name) == expected


def _compress(body: bytes, compression: str | None) -> bytes:
    import lzma

    if compression == "gzip":
        return gzip.compress(body)
    return lzma.compress(body) if compression == "xz" else body


def test_truncated_compressed_files_are_refused(tmp_path: Path) -> None:
    import bz2
    import lzma

    body = b"a,b\n" + b"".join(b"%d,%d\n" % (i, i) for i in range(20_000))
    for name, packed in [
        ("t.csv.gz", gzip.compress(body)),
        ("t.csv.bz2", bz2.compress(body)),
        ("t.csv.xz", lzma.compress(body)),
        ("t.tar.gz", gzip.compress(body)),
        ("t.bin.xz", lzma.compress(body)),
    ]:
        path = tmp_path / name
        path.write_bytes(packed)
        assert inspect_file(path, name)["size"] == len(packed), name
        path.write_bytes(packed[: len(packed) * 2 // 3])
        with pytest.raises(IntegrityError, match=f"^{name}: not a valid"):
            inspect_file(path, name)


# ---------------------------------------------------------------------------------------------
# enabled=False: format and size, and only what the check needs
# ---------------------------------------------------------------------------------------------


def test_disabled_reports_format_and_size_only(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    write_csv(mixed_table().select(CSV_COLUMNS), path)
    size = path.stat().st_size
    assert inspect_file(path, "data.csv", enabled=False) == {"format": "csv", "size": size}


def test_disabled_and_unchecked_reads_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "data.parquet"
    path.write_bytes(b"<html>not parquet at all</html>")

    def no_reading(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the file was read")

    monkeypatch.setattr(Path, "open", no_reading)
    monkeypatch.setattr(pa, "input_stream", no_reading)
    monkeypatch.setattr(pa, "memory_map", no_reading)
    monkeypatch.setattr(pq, "read_metadata", no_reading)
    meta = inspect_file(path, "data.parquet", check=False, enabled=False)
    assert meta == {"format": "parquet", "size": 31}


def test_disabled_check_reads_the_head_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A CSV broken 2 MiB in: the check alone reads the first MiB and passes it.
    body = b"a,b\n" + b"1,2\n" * (512 * 1024) + b"1,2,3\n"
    path = tmp_path / "data.csv"
    path.write_bytes(body)
    assert inspect_file(path, "data.csv", enabled=False) == {"format": "csv", "size": len(body)}
    with pytest.raises(IntegrityError, match="not a valid csv file"):
        inspect_file(path, "data.csv")


# ---------------------------------------------------------------------------------------------
# Refusals: one line, naming the file
# ---------------------------------------------------------------------------------------------


def _parquet_bytes() -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(mixed_table(), sink)
    return sink.getvalue().to_pybytes()


BAD_FILES = [
    ("data.parquet", b"<!DOCTYPE html><html><body>404</body></html>", "look like an HTML page"),
    ("data.csv", b"<html><head></head><body>login</body></html>", "look like an HTML page"),
    ("data.csv.gz", b"<html><body>gone</body></html>", "look like an HTML page"),
    ("bundle.zip", b"<!doctype html><html>", "look like an HTML page"),
    ("data.parquet", _parquet_bytes()[:-100], "not a valid parquet file"),
    ("data.arrow", b"ARROW1\x00\x00garbage", "not a valid arrow file"),
    ("data.json", b"this is not json", "not a valid json file: Expecting value"),
    ("data.json", b"# comment", "not a valid json file: does not start like JSON"),
    ("data.json", b'[{"a": 1}, {"a": ]', "not a valid json file: Expecting value"),
    ("data.jsonl", b'{"a": 1}\n{"a": \n', "not a valid jsonl file: JSON parse error"),
    ("data.jsonl", b"[1, 2]\n[3]\n", "not a valid jsonl file: line 1 is not a JSON object"),
    ("data.csv", b"", "not a valid csv file: Empty CSV file"),
    ("data.csv", b"a,b\n1,2\n3,4,5\n", "not a valid csv file: CSV parse error: Expected 2"),
    ("data.csv.gz", b"a,b\n1,2\n", "not a valid gzip-compressed csv: zlib inflate failed"),
    # Every compression getdata names is checked, whatever is inside.
    ("dump.gz", b"\x00\x01 opaque bytes", "not a valid gzip-compressed binary: zlib inflate"),
    ("bundle.tgz", b"\x00\x01 opaque bytes", "not a valid gzip-compressed tar: zlib inflate"),
    ("bundle.zip", b"\x00\x01 opaque bytes", "not a valid zip file: File is not a zip file"),
    ("data.csv.xz", b"a,b\n1,2\n", "not a valid xz-compressed csv"),
    ("data.csv.bz2", b"a,b\n1,2\n", "not a valid bz2-compressed csv"),
    ("data.csv.zst", b"a,b\n1,2\n", "not a valid zstd-compressed csv"),
    # HTML after a BOM, whitespace, a comment or an XML declaration.
    ("data.csv", b"\xef\xbb\xbf<!DOCTYPE html><html>", "look like an HTML page"),
    ("data.csv", b"\n  <!-- served by nginx -->\n<html>", "look like an HTML page"),
    ("data.csv", b'<?xml version="1.0"?>\n<!DOCTYPE html><html>', "look like an HTML page"),
    ("data.json", b'<?xml version="1.0"?><Error>AccessDenied</Error>', "XML/HTML document"),
    ("data.csv", "\ufeff<html>".encode("utf-16-le"), "look like an HTML page"),
]


@pytest.mark.parametrize(("name", "body", "phrase"), BAD_FILES)
def test_refused(tmp_path: Path, name: str, body: bytes, phrase: str) -> None:
    path = tmp_path / name
    path.write_bytes(body)
    with pytest.raises(IntegrityError) as caught:
        inspect_file(path, name)
    message = str(caught.value)
    assert message.startswith(f"{name}: ") and phrase in message
    assert "\n" not in message
    # With the check off the same file is not refused: it is described as far as possible.
    meta = inspect_file(path, name, check=False)
    assert meta["size"] == len(body) and "rows" not in meta


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_refused_when_broken_far_from_the_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    patch_block(monkeypatch, 64 * 1024)
    if suffix == "csv":
        body = b"a,b\n" + b"".join(b"%d,x\n" % i for i in range(100_000)) + b"1,2,3\n"
        phrase = "CSV parse error: Expected 2 columns, got 3: 1,2,3 (after row"
    else:
        body = b"".join(b'{"a": %d}\n' % i for i in range(100_000)) + b'{"a": \n'
        phrase = "JSON parse error: Invalid value. near line 100001"
    path = tmp_path / f"data.{suffix}"
    path.write_bytes(body)
    with pytest.raises(IntegrityError, match=f"^data.{suffix}: not a valid {suffix} file: ") as e:
        inspect_file(path, path.name)
    assert phrase in str(e.value)


def test_parquet_huge_footer_skips_statistics_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from getdata.formats import parquet

    path = tmp_path / "groups.parquet"
    pq.write_table(pa.table({"x": list(range(30)), "y": ["a"] * 30}), path, row_group_size=1)
    monkeypatch.setattr(parquet, "MAX_STAT_CHUNKS", 59)
    meta = inspect_file(path, "groups.parquet")
    assert meta["rows"] == 30 and meta["column_stats"] == {}
    assert meta["column_stats_skipped"] == (
        "30 row groups x 2 columns: more than 59 column chunk statistics, not read"
    )
    monkeypatch.setattr(parquet, "MAX_STAT_CHUNKS", 60)
    assert inspect_file(path, "groups.parquet")["column_stats"]["x"]["max"] == 29
