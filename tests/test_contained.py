"""Containment: a reader that crashes (SIGSEGV, SIGABRT) costs one file a one-line refusal, never
the process; the format comes from the name, never from the path on disk; per-format switches
and the folder setting (mark or refuse)."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from getdata.errors import GetDataError, IntegrityError
from getdata.formats import describe_file, describe_files
from getdata.formats.describe import Options
from tests.support import logged, only, run_in_process

CORPUS = Path(__file__).parent / "corpus"
ENCRYPTED = CORPUS / "parquet-testing" / "encrypt_columns_plaintext_footer.parquet"
DEPTH = 70_000  # enough nesting to overflow pyarrow's JSON parser (400 KB, as in issue 9)


def deep_jsonl(path: Path) -> Path:
    path.write_bytes(b'{"a":' * DEPTH + b"1" + b"}" * DEPTH + b"\n")
    return path


def test_a_segfault_is_one_line(tmp_path: Path) -> None:
    path = deep_jsonl(tmp_path / "deep.jsonl")
    with pytest.raises(IntegrityError) as caught:
        describe_file(path, "deep.jsonl", Options())
    assert str(caught.value) == "deep.jsonl: the jsonl reader crashed (SIGSEGV) on this file"
    # This process is fine, and the next file is described as usual.
    ok = tmp_path / "ok.csv"
    ok.write_bytes(b"a\n1\n")
    assert describe_file(ok, "ok.csv", Options())["rows"] == 1


def test_a_crash_in_a_batch_costs_only_that_file(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_bytes(b"a,b\n1,2\n")
    bad = deep_jsonl(tmp_path / "deep.jsonl")
    items = [(good, "one.csv"), (bad, "deep.jsonl"), (good, "two.csv"), (ENCRYPTED, "e.parquet")]
    described = describe_files(items, Options(in_folder="mark"))
    assert [d.get("rows") for d in described] == [1, None, 1, None]
    assert described[1] == {
        "format": "jsonl",
        "size": bad.stat().st_size,
        "invalid": "deep.jsonl: the jsonl reader crashed (SIGSEGV) on this file",
    }
    # pyarrow aborts on the encrypted columns' metadata: the footer check alone passes.
    assert described[3] == {"format": "parquet", "size": 4795, "described": False}
    with pytest.raises(IntegrityError, match="^deep.jsonl: the jsonl reader crashed"):
        describe_files(items, Options(in_folder="refuse"))


def test_format_comes_from_the_name_not_the_path(tmp_path: Path) -> None:
    import gzip

    temp = tmp_path / ".getdata-songs.csv.gz.x1y2.part"  # what fetch checks before renaming
    temp.write_bytes(gzip.compress(b"a,b\n1,2\n3,4\n"))
    data = describe_file(temp, "songs.csv.gz", Options())
    assert (data["format"], data["compression"], data["rows"]) == ("csv", "gzip", 2)
    with pytest.raises(IntegrityError, match="^songs.parquet: not a valid parquet file"):
        describe_file(temp, "songs.parquet", Options())


def test_switches_per_format(tmp_path: Path) -> None:
    page = tmp_path / "page"
    page.write_bytes(b"<!doctype html><html>login</html>")
    table = tmp_path / "t.parquet"
    pq.write_table(pa.table({"x": [1, 2]}), table)
    unchecked = Options(unchecked=frozenset({"csv"}))
    assert describe_file(page, "a.csv", unchecked) == {"format": "csv", "size": 33}
    with pytest.raises(IntegrityError, match="look like an HTML page"):
        describe_file(page, "a.parquet", unchecked)  # parquet is still checked
    undescribed = Options(undescribed=frozenset({"parquet"}))
    assert describe_file(table, "t.parquet", undescribed) == {
        "format": "parquet",
        "size": table.stat().st_size,
    }
    with pytest.raises(IntegrityError):  # the check still runs when the description is off
        describe_file(page, "a.parquet", undescribed)


def test_unknown_format_names_in_the_switches_are_refused() -> None:
    from getdata.config import InspectConfig

    with pytest.raises(GetDataError, match="inspect.unchecked: unknown format 'cvs'"):
        Options.of(InspectConfig(unchecked=["cvs"]))


def test_app_refuses_a_crashing_file_and_keeps_nothing(wb: Path, tmp_path: Path) -> None:
    path = deep_jsonl(tmp_path / "deep.jsonl")
    data_dir = tmp_path / "data"
    with pytest.raises(GetDataError) as caught:
        run_in_process(wb / "run", "source=local", f"source.path={path}", f"data_dir={data_dir}")
    assert "the jsonl reader crashed (SIGSEGV)" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert not data_dir.exists() or os.listdir(data_dir) == []
    assert logged(wb) == []


@pytest.mark.parametrize("policy", ["mark", "refuse"])
def test_app_folder_with_one_bad_file(wb: Path, tmp_path: Path, policy: str) -> None:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "a.csv").write_bytes(b"x\n1\n")
    (folder / "b.csv").write_bytes(b"\xef\xbb\xbf<!DOCTYPE html><html>gone</html>")
    (folder / "c.csv").write_bytes(b"x\n2\n3\n")
    args = ["source=local", f"source.path={folder}", f"inspect.in_folder={policy}"]
    if policy == "refuse":
        with pytest.raises(IntegrityError, match="^b.csv: expected csv but the bytes look like"):
            run_in_process(wb / "run", *args)
        assert logged(wb) == []
        return
    run_in_process(wb / "run", *args)
    _, artifact = only(logged(wb))
    files = {f["path"]: f["data"] for f in artifact.metadata["files"]}
    assert files["a.csv"]["rows"] == 1 and files["c.csv"]["rows"] == 2
    assert files["b.csv"]["invalid"].startswith("b.csv: expected csv but the bytes look like an")
    assert len(artifact.entries) == 3


def test_the_helper_that_forks_is_single_threaded(tmp_path: Path) -> None:
    from getdata.formats.contained import _helper

    ok = tmp_path / "ok.csv"
    ok.write_bytes(b"a\n1\n")
    describe_file(ok, "ok.csv", Options())  # the helper is running, pyarrow imported
    pid = _helper().process.pid
    assert len(os.listdir(f"/proc/{pid}/task")) == 1


def test_preview_is_contained_too(tmp_path: Path) -> None:
    from getdata.formats import head_rows

    table = tmp_path / "t.parquet"
    pq.write_table(pa.table({"x": list(range(50))}), table)
    assert head_rows(table, "t.parquet", 5).column("x").to_pylist() == [0, 1, 2, 3, 4]
    # pyarrow aborts reading this file's encrypted column metadata: no preview, no crash.
    assert head_rows(ENCRYPTED, "e.parquet", 5) is None
    assert head_rows(table, "t.bin", 5) is None


def test_a_file_described_by_its_size_needs_no_helper(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain binary file is described by its size: no reader runs, so the readers' helper is
    neither started nor asked (a file that needs a reader still goes to it)."""
    from getdata.formats import contained

    def no_helper() -> None:
        raise AssertionError("the readers' helper was asked")

    monkeypatch.setattr(contained, "_helper", no_helper)
    blob = tmp_path / "weights.bin"
    blob.write_bytes(b"\x00\x01" * 1000)
    assert describe_file(blob, "weights.bin", Options()) == {"format": "binary", "size": 2000}
    table = tmp_path / "t.csv"
    table.write_bytes(b"a\n1\n")
    with pytest.raises(AssertionError, match="helper was asked"):
        describe_file(table, "t.csv", Options())
