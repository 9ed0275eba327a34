"""Hand-made hostile and edge-case files, written on demand (nothing binary checked in).

``write_all(folder)`` writes them and returns {file name: whether it is a valid file of the
format its name says}. Each one reproduces a failure found on getdata 7b139f5 (issue 13, and
issue 9's crashing JSON Lines reader), or a family member of one.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

CSV = b"id,name,score\n1,Alice,3.5\n2,,1.25\n3,Bob,\n4,Carol,7.0\n" * 50


def _arrow(path: Path, table: pa.Table) -> None:
    with ipc.new_file(path, table.schema) as writer:
        writer.write_table(table)


def write_all(folder: Path) -> dict[str, bool]:
    folder.mkdir(parents=True, exist_ok=True)
    valid: dict[str, bool] = {}

    def put(name: str, body: bytes, ok: bool) -> None:
        (folder / name).write_bytes(body)
        valid[name] = ok

    # A crash in pyarrow's JSON reader (segfault: the parser's recursion overflows the stack).
    depth = 70_000
    put("deep_nesting.jsonl", b'{"a":' * depth + b"1" + b"}" * depth + b"\n", False)
    # Valid files refused by 7b139f5.
    put("empty_array.json", b"[]", True)
    put("latin1_header.csv", "caf\xe9,prix\nnoir,1.5\ncr\xe8me,2\n".encode("latin-1"), True)
    put("header_only_no_newline.csv", b"a,b,c", True)
    put("scalar.json", b"42", True)
    # Invalid files accepted by 7b139f5: web pages with something before the <html> tag.
    put("html_after_bom.csv", b"\xef\xbb\xbf<!DOCTYPE html><html><body>x</body></html>", False)
    put("html_after_comment.csv", b"<!-- generated -->\n<html><body>login</body></html>", False)
    put("html_after_xml_declaration.csv", b'<?xml version="1.0"?>\n<html><body/></html>', False)
    put("xml_error.json", b'<?xml version="1.0"?><Error><Code>NoSuchKey</Code></Error>', False)
    put("html_utf16.tsv", "\ufeff<html><body>x</body></html>".encode("utf-16-le"), False)
    put("nan_constant.json", b'[{"a": NaN}]', False)
    # Compressions: every one is checked, truncation included.
    put("good.csv.xz", lzma.compress(CSV), True)
    put("truncated.csv.xz", lzma.compress(CSV)[:-40], False)
    put("good.csv.bz2", bz2.compress(CSV), True)
    put("truncated.csv.gz", gzip.compress(CSV)[:-30], False)
    put("truncated.bin.gz", gzip.compress(bytes(range(256)) * 64)[:-30], False)
    # Numbers: duplicate column names, values that look like secrets or URLs.
    put("duplicate_names.csv", b"a,b,a\n1,x,\n2,y,10\n3,,20\n", True)
    put("secret_looking_values.csv", b"k,v\ntoken=abc,https://u:p@h/x?key=1\nz,y\n", True)
    table = pa.table([pa.array([1, None, 3]), pa.array([None, None, 30])], names=["a", "a"])
    pq.write_table(table, folder / "duplicate_names.parquet")
    valid["duplicate_names.parquet"] = True
    # Arrow: nulls that are not in a validity bitmap, and an interval column.
    dictionary = pa.DictionaryArray.from_arrays(
        pa.array([0, 1, 2, None, 1]), pa.array(["x", None, "z"])
    )
    ree = pa.RunEndEncodedArray.from_arrays(pa.array([2, 5, 6], pa.int32()), [1, None, 3])
    sparse = pa.UnionArray.from_sparse(
        pa.array([0, 1, 0, 1, 0, 1], pa.int8()),
        [pa.array([1, None, 3, 4, None, 6]), pa.array(["a", "b", None, "d", "e", None])],
    )
    dense = pa.UnionArray.from_dense(
        pa.array([0, 1, 0, 1, 0, 1], pa.int8()),
        pa.array([0, 0, 1, 1, 2, 2], pa.int32()),
        [pa.array([1, None, 3]), pa.array(["a", None, "c"])],
    )
    interval = pa.array(
        [pa.MonthDayNano([1, 2, 3]), None, pa.MonthDayNano([0, 0, 5]), None, None, None]
    )
    _arrow(folder / "dictionary_nulls.arrow", pa.table({"d": dictionary}))
    _arrow(folder / "run_end_encoded.arrow", pa.table({"r": ree}))
    _arrow(folder / "unions.arrow", pa.table({"sparse": sparse, "dense": dense}))
    _arrow(folder / "interval.arrow", pa.table({"i": interval}))
    for name in ("dictionary_nulls.arrow", "run_end_encoded.arrow", "unions.arrow"):
        valid[name] = True
    valid["interval.arrow"] = True
    return valid
