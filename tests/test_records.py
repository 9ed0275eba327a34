"""Records getdata reads back (getdata/store/records.py): anything but a regular file of the
right shape is one warning and treated as absent, never a crash or a hang."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from getdata.store.records import read_json, write_json


def is_state(record: object) -> bool:
    return isinstance(record, dict) and isinstance(record.get("source"), str)


def test_a_good_record_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "state" / "a.json"
    write_json(path, {"source": "s", "n": 1})
    assert read_json(path, "the state record", is_state) == {"source": "s", "n": 1}
    assert [p.name for p in path.parent.iterdir()] == ["a.json"], "no temporary file left"


def test_no_record_is_none_without_a_warning(tmp_path: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        assert read_json(tmp_path / "none.json", "the state record", is_state) is None
    assert caplog.text == ""


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda p: os.mkfifo(p), "not a regular file"),  # would hang a plain open()
        (lambda p: p.mkdir(), "not a regular file"),
        (lambda p: p.symlink_to(p.parent / "real.json"), "a link"),
        (lambda p: p.write_bytes(b"\xff\xfe not json"), "not JSON"),
        (lambda p: p.write_text("[]"), "not of the shape"),
        (lambda p: p.write_text('"a string"'), "not of the shape"),
        (lambda p: p.write_text('{"source": 3}'), "not of the shape"),
        (lambda p: p.write_bytes(b" " * 2048), "more than a record may be"),
    ],
)
def test_what_is_not_a_record_is_one_warning_and_absent(
    tmp_path: Path, caplog, make, says: str
) -> None:
    (tmp_path / "real.json").write_text(json.dumps({"source": "planted"}))
    path = tmp_path / "a.json"
    make(path)
    with caplog.at_level(logging.WARNING):
        assert read_json(path, "the state record", is_state, max_bytes=1024) is None
    (line,) = [r.getMessage() for r in caplog.records]
    assert f"the state record {path} is ignored" in line and says in line


def test_a_record_nested_too_deep_for_the_parser_is_absent(tmp_path: Path, caplog) -> None:
    path = tmp_path / "a.json"
    path.write_text("[" * 100_000 + "]" * 100_000)  # RecursionError in json.loads
    with caplog.at_level(logging.WARNING):
        assert read_json(path, "the state record", is_state) is None
    assert "not JSON" in caplog.text
