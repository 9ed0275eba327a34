"""The readers' limits (issue 20, item 1): memory per reader process, time per file, decompressed
bytes per byte of a compressed table, and JSON records in memory linear in the file. A file past
a limit is kept undescribed (its data names the limit, one warning) unless
inspect.on_limit=refuse; the readers' helper and its children die with getdata, kill -9
included."""

from __future__ import annotations

import json
import logging
import os
import signal
import uuid
from pathlib import Path

import pyarrow as pa
import pytest

from getdata.errors import ConfigError, IntegrityError
from getdata.formats import describe_file
from getdata.formats.describe import Options
from tests import procs
from tests.support import logged, only, run_in_process, wandb_env

MiB = 2**20


def zstd_bomb(path: Path, frames: int = 64) -> Path:
    """A .csv.zst of ``frames`` x 4 MiB of "1\\n" (50 KB for 64 frames: 10,000x)."""
    frame = pa.compress(b"1\n" * (2 * MiB), codec="zstd", asbytes=True)
    header = pa.compress(b"n\n", codec="zstd", asbytes=True)
    path.write_bytes(header + frame * frames)
    return path


def distinct_keys(path: Path, records: int = 15_000) -> Path:
    """A JSON array of records, each with a key of its own (the issue's 164 KB, 1.28 GB file)."""
    path.write_text(json.dumps([{f"k{i}": i} for i in range(records)]))
    return path


def empty_lists(path: Path) -> Path:
    """16 MiB of `[[],[],...]`: Python's json makes a list object of each (~360 MB)."""
    count = (16 * MiB - 2) // 3
    path.write_bytes(b"[" + b"[]," * (count - 1) + b"[]]")
    return path


def test_json_records_with_distinct_keys_need_memory_linear_in_the_file(tmp_path: Path) -> None:
    path = distinct_keys(tmp_path / "sparse.json")
    # 256 MiB is the least max_memory allowed: pyarrow's table of these records took 1.28 GB.
    data = describe_file(path, "sparse.json", Options(max_memory=256 * MiB))
    assert "limit" not in data
    assert (data["rows"], data["columns"]) == (15_000, 15_000)
    assert data["column_stats"]["k7"] == {"null_count": 14_999, "min": 7, "max": 7}


def test_a_decompression_bomb_is_kept_undescribed(
    wb: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bomb = zstd_bomb(tmp_path / "ones.csv.zst")
    caplog.set_level(logging.WARNING)
    result = run_in_process(wb / "run", "source=local", f"source.path={bomb}")  # defaults
    assert result.status == "ok"
    _, artifact = only(logged(wb))
    data = artifact.metadata["data"]
    assert data["described"] is False and "rows" not in data
    assert data["limit"].startswith("inspect.max_ratio=1000: it decompresses to more than")
    assert (data["format"], data["compression"], data["size"]) == (
        "csv",
        "zstd",
        len(bomb.read_bytes()),
    )
    (line,) = [r.getMessage() for r in caplog.records if "kept undescribed" in r.getMessage()]
    assert line.startswith("ones.csv.zst: kept undescribed: inspect.max_ratio=1000")


def test_on_limit_refuse_refuses_the_file(wb: Path, tmp_path: Path) -> None:
    bomb = zstd_bomb(tmp_path / "ones.csv.zst")
    args = ["source=local", f"source.path={bomb}", "inspect.on_limit=refuse"]
    with pytest.raises(IntegrityError, match=r"^ones.csv.zst: refused: inspect.max_ratio=1000"):
        run_in_process(wb / "run", *args)
    assert logged(wb) == []


def test_the_time_limit_stops_a_reader_anywhere(tmp_path: Path) -> None:
    bomb = zstd_bomb(tmp_path / "ones.csv.zst", frames=512)  # 2 GiB of rows to parse
    data = describe_file(bomb, "ones.csv.zst", Options(max_ratio=None, timeout=1.0))
    assert data["described"] is False
    assert data["limit"] == "inspect.timeout=1 s: reading it took longer"


def test_the_memory_cap_stops_a_reader_that_needs_more(tmp_path: Path) -> None:
    path = empty_lists(tmp_path / "lists.json")
    data = describe_file(path, "lists.json", Options(max_memory=256 * MiB))
    assert data == {
        "format": "json",
        "size": path.stat().st_size,
        "described": False,
        "limit": "inspect.max_memory=256 MiB: the reader needed more memory",
    }
    # Without the cap the same file is read (and checked) as before.
    assert "limit" not in describe_file(path, "lists.json", Options(max_memory=None))


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("inspect.max_memory=1000", "inspect.max_memory=1000 is out of range"),
        ("inspect.timeout=0", "inspect.timeout=0.0 is out of range"),
        ("inspect.max_ratio=0.5", "inspect.max_ratio=0.5 is out of range"),
    ],
)
def test_limits_are_checked_before_anything_runs(wb: Path, setting: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        run_in_process(wb / "run", setting)


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "SIGINT"])
def test_the_helper_and_its_child_die_with_getdata(tmp_path: Path, how: str) -> None:
    """A real getdata reading a file that keeps its reader busy for minutes; getdata is killed
    (kill -9), terminated or interrupted (Ctrl-C to its whole group, as from a terminal): no
    helper or reader process of its survives it."""
    bomb = zstd_bomb(tmp_path / "ones.csv.zst", frames=4096)  # 16 GiB of rows
    marker = uuid.uuid4().hex
    env = {**wandb_env(tmp_path), "GETDATA_TEST_PROCS": marker}
    # The defaults: the reader would take minutes even stopped at inspect.max_ratio.
    args = ["source=local", f"source.path={bomb}", f"hydra.run.dir={tmp_path / 'run'}"]
    with procs.reaped(f"GETDATA_TEST_PROCS={marker}"):
        proc = procs.start_getdata(args, env, tmp_path)
        readers: list[int] = []

        def reading() -> bool:
            readers[:] = [c for h in procs.helpers_of(proc.pid) for c in procs.children(h)]
            return bool(readers)

        assert procs.wait_for(reading), "the reader never started"
        helpers = procs.helpers_of(proc.pid)
        if how == "SIGINT":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, getattr(signal, how))
        _, stderr = proc.communicate(timeout=300)
        gone = procs.wait_for(lambda: not any(procs.alive(p) for p in helpers + readers), 60)
        assert gone, f"still running after getdata ended: {procs.with_marker(marker)}"
    assert "Traceback" not in stderr
    if how != "SIGKILL":
        assert proc.returncode == {"SIGTERM": 143, "SIGINT": 130}[how], stderr
        lines = [line for line in stderr.splitlines() if "interrupted" in line]
        assert len(lines) == 1 and "nothing was logged" in lines[0], stderr
