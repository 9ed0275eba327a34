"""What each corpus file is (valid or not), an independent whole-file reading of it, and the
comparison of a description with that reading. Used by tests/test_corpus.py and score.py.

The reading is independent of getdata's readers: whole files through pyarrow's non-streaming
readers (read_table, read_csv, read_json, ipc read_all) and Python's json; null counts from
``to_pylist()`` (a value is null when Python sees None, whatever the encoding), min/max from
``pyarrow.compute.min_max`` over the whole column.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Optional

CORPUS = Path(__file__).parent
SETS = ("parquet-testing", "arrow-testing", "csv-spectrum", "JSONTestSuite")

# parquet-testing's bad_data: corrupt schemas (caught by the footer) and corrupt data pages
# (not: getdata reads no data page, by design; counted as wrongly accepted, honestly).
_BAD_PARQUET = re.compile(r"^(PARQUET-1481|ARROW-GH-\d+|ARROW-RS-GH-\d+-\w+)\.parquet$")
# Files a whole-file reading would crash or cannot read at all: no reference numbers.
_NO_REFERENCE = {
    "encrypt_columns_plaintext_footer.parquet",
    "uniform_encryption.parquet",
    "encrypt_columns_and_footer.parquet",
    "incorrect_map_schema.parquet",
    "deep_nesting.jsonl",
    # 2 rows that decompress to about a gigabyte of text: too slow for a test.
    "large_string_map.brotli.parquet",
}


def corpus_files(generated: dict[str, bool], generated_dir: Path) -> list[tuple[Path, bool]]:
    """(path, valid) of every corpus file; JSONTestSuite's i_ files (either answer) left out."""
    files: list[tuple[Path, bool]] = []
    for name in SETS:
        for path in sorted((CORPUS / name).iterdir()):
            if path.name.startswith(("LICENSE", "README", "i_")):
                continue
            files.append((path, _valid(name, path.name)))
    files += [(generated_dir / n, ok) for n, ok in sorted(generated.items())]
    return files


def _valid(corpus: str, name: str) -> bool:
    if name == "schema_v6.arrow":
        return False  # arrow-testing's forward-compatibility file: today's readers must refuse it
    if corpus == "JSONTestSuite":
        return name.startswith("y_")
    if corpus == "parquet-testing":
        return not _BAD_PARQUET.match(name)
    return True


def reading(path: Path) -> Optional[list[dict[str, Any]]]:
    """Per column (in order): name, rows, nulls, min, max (None: not comparable); None: none."""
    if path.name in _NO_REFERENCE:
        return None
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.ipc as ipc
    import pyarrow.json as pajson
    import pyarrow.parquet as pq

    name = path.name.lower()
    try:
        if name.endswith(".parquet"):
            table = pq.read_table(path)
        elif name.endswith(".arrow"):
            try:
                table = ipc.open_file(path).read_all()
            except pa.ArrowInvalid:
                table = ipc.open_stream(path).read_all()
            return _columns(table, min_max=False)
        elif ".csv" in name or ".tsv" in name:
            delimiter = "\t" if ".tsv" in name else ","
            parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
            data = _decompressed(path)
            try:
                data.decode("utf-8")
                encoding = "utf8"
            except UnicodeDecodeError:
                encoding = "latin-1"
            if b"\n" not in data:
                data += b"\n"
            read = pacsv.ReadOptions(encoding=encoding)
            table = pacsv.read_csv(pa.BufferReader(data), read, parse)
        elif name.endswith(".jsonl"):
            table = pajson.read_json(path)
        elif name.endswith(".json"):
            document = json.loads(path.read_bytes())
            if not isinstance(document, list) or not all(isinstance(r, dict) for r in document):
                return []
            return _records(document)
        else:
            return None
    except Exception:
        return None
    return _columns(table, min_max=True)


def _decompressed(path: Path) -> bytes:
    import bz2
    import gzip
    import lzma

    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(path.suffix)
    return opener(path).read() if opener else path.read_bytes()  # type: ignore[operator]


def _columns(table: Any, *, min_max: bool) -> list[dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.compute as pc

    found = []
    for f, column in zip(table.schema, table.columns, strict=True):
        try:
            values = column.to_pylist()
            nulls: Optional[int] = sum(v is None for v in values)
        except Exception:
            nulls = None
        lo = hi = None
        if min_max and not pa.types.is_nested(f.type):
            try:
                result = pc.min_max(column)
                lo, hi = result["min"].as_py(), result["max"].as_py()
            except Exception:
                pass
        found.append({"name": f.name, "rows": table.num_rows, "nulls": nulls, "min": lo, "max": hi})
    return found


def _records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = list(dict.fromkeys(k for r in records for k in r))
    found = []
    for name in names:
        values = [r.get(name) for r in records]
        present = [v for v in values if v is not None]
        scalar = all(isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in present)
        same = len({type(v) for v in present}) == 1
        lo = min(present) if present and scalar and same else None
        hi = max(present) if present and scalar and same else None
        found.append(
            {"name": name, "rows": len(records), "nulls": values.count(None), "min": lo, "max": hi}
        )
    return found


def _same(described: Any, true: Any) -> bool:
    """A recorded value against the true one (as the metadata writes values: JSON-safe text)."""
    if true is None:
        return True  # nothing to compare with
    if isinstance(true, float) and isinstance(described, (int, float)):
        return math.isclose(described, true, rel_tol=1e-9) or described == true
    if isinstance(true, bytes):
        true = true.decode("utf-8", "backslashreplace")
    elif not isinstance(true, (bool, int, float, str)):
        true = true.isoformat() if hasattr(true, "isoformat") else str(true)
    return bool(described == true)


def _bound_ok(bound: Any, true: Any, low: bool) -> bool:
    if true is None:
        return True
    if isinstance(true, bytes):
        true = true.decode("utf-8", "backslashreplace")
    try:
        return bool(bound <= true) if low else bool(bound >= true)
    except TypeError:
        return False


def wrong_numbers(data: dict[str, Any], truth: list[dict[str, Any]]) -> list[str]:
    """What the description states that the whole-file reading contradicts."""
    wrong = []
    if "rows" in data and truth and data["rows"] != truth[0]["rows"]:
        wrong.append(f"rows {data['rows']} != {truth[0]['rows']}")
    if "columns" in data and truth and data["columns"] != len(truth):
        wrong.append(f"columns {data['columns']} != {len(truth)}")
    for key, entry in (data.get("column_stats") or {}).items():
        column = _column(key, truth)
        if column is None:
            continue
        nulls = column["nulls"]
        if "null_count" in entry and nulls is not None and entry["null_count"] != nulls:
            wrong.append(f"{key}: null_count {entry['null_count']} != {column['nulls']}")
        if "min" in entry and not _same(entry["min"], column["min"]):
            wrong.append(f"{key}: min {entry['min']!r} != {column['min']!r}")
        if "max" in entry and not _same(entry["max"], column["max"]):
            wrong.append(f"{key}: max {entry['max']!r} != {column['max']!r}")
        if "min_bound" in entry and not _bound_ok(entry["min_bound"], column["min"], True):
            wrong.append(f"{key}: min_bound {entry['min_bound']!r} > {column['min']!r}")
        if "max_bound" in entry and not _bound_ok(entry["max_bound"], column["max"], False):
            wrong.append(f"{key}: max_bound {entry['max_bound']!r} < {column['max']!r}")
    return wrong


_POSITIONED = re.compile(r"^(.*) \(column (\d+)\)$")


def _column(key: str, truth: list[dict[str, Any]]) -> Optional[dict[str, Any]]:
    """The column a column_stats key names: "<name> (column N)", else the first of that name."""
    found = _POSITIONED.match(key)
    if found and int(found.group(2)) <= len(truth):
        return truth[int(found.group(2)) - 1]
    return next((c for c in truth if c["name"] == key), None)
