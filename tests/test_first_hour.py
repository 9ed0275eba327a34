"""The first hour of a new user (issue 24): what a run prints and leaves behind, as a user runs
it (``python -m getdata`` in a subprocess), and what the records compare."""

from __future__ import annotations

import io
import json
import logging
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import wandb

from getdata.transfer.progress import progress_callback
from tests.support import run_cli, run_in_process, wandb_env


def test_a_source_key_of_another_kind_names_the_kinds_that_have_it(tmp_path: Path) -> None:
    # The default source is the bundled sample (a local file): it has no url.
    proc = run_cli(["source.url=http://127.0.0.1:9/x.csv"], wandb_env(tmp_path), cwd=tmp_path)
    assert proc.returncode == 1
    (line,) = [x for x in proc.stderr.splitlines() if "source.url" in x]
    assert "unknown key source.url" in line
    assert "http, s3" in line and "source=http source.url=..." in line
    assert "Traceback" not in proc.stderr


def test_a_failed_run_keeps_its_log_and_report_and_no_empty_folder(tmp_path: Path) -> None:
    # The default data folder (.getdata/data below the working directory) is made for a run and
    # removed again when the run kept nothing in it.
    bad = tmp_path / "x.parquet"
    bad.write_bytes(b"not parquet at all")
    env = {**wandb_env(tmp_path), "GETDATA_STATE_DIR": str(tmp_path / "state")}
    del env["GETDATA_DATA_DIR"]
    proc = run_cli(["source=local", f"source.path={bad}", "hydra.run.dir=run"], env, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "not a valid parquet file" in proc.stderr
    run = tmp_path / "run"
    assert sorted(p.name for p in run.iterdir()) == [".hydra", "getdata-report.json", "getdata.log"]
    assert json.loads((run / "getdata-report.json").read_text())["status"] == "failed"
    assert not (tmp_path / ".getdata").exists()


def test_an_s3_prefix_says_one_line_per_file_and_no_library_chatter(
    tmp_path: Path, s3, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f"part-{i}.csv" for i in range(3)]
    for name in names:
        s3.put("lake", f"songs/{name}", b"a,b\n1,2\n")
    proc = run_cli(
        [
            "source=s3",
            "source.url=s3://lake/songs/",
            f"source.endpoint_url={s3.endpoint_url}",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        wandb_env(tmp_path),  # the fake credentials are in os.environ (the s3 fixture)
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    for name in names:
        assert len([x for x in proc.stderr.splitlines() if name in x]) == 1, proc.stderr
    # aiobotocore's "Found credentials in environment variables." is INFO: not shown by default.
    assert "credentials" not in proc.stderr.lower(), proc.stderr
    assert all("[getdata" in x for x in proc.stderr.splitlines() if x.startswith("[")), proc.stderr


def test_the_progress_bar_counts_in_binary_units(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr("sys.stderr", screen)
    bar = progress_callback("songs.csv", progress=True)
    bar.set_size(10 * 2**20)
    bar.relative_update(3 * 2**20)
    bar.tqdm.refresh()  # type: ignore[attr-defined]
    drawn = screen.getvalue()
    bar.close()
    # Like the log lines (human_bytes): counted in 1024s, the rate in MiB/s, never MB.
    assert "3.00M/10.0M" in drawn and "iB/s" in drawn, drawn
    assert "B/s" not in drawn.replace("iB/s", ""), drawn


def test_help_says_what_the_config_is_before_it(tmp_path: Path) -> None:
    proc = run_cli(["--help"], wandb_env(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert text.index("Every key below can be overridden") < text.index("\nsource:\n")
    assert text.rstrip().splitlines()[-1].startswith("Full docs: README.md")


def write_parquet(path: Path, columns: dict[str, list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)


def test_drift_compares_a_name_only_with_the_same_source(
    wb: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Two unrelated files called songs.parquet: by default both are the artifact songs.parquet.
    mine, theirs = tmp_path / "mine" / "songs.parquet", tmp_path / "theirs" / "songs.parquet"
    write_parquet(mine, {"key": [1, 2], "tempo": [1.0, 2.0]})
    write_parquet(theirs, {"title": ["a"], "year": [1999]})
    caplog.set_level(logging.INFO)
    run_in_process(wb / "r1", "source=local", f"source.path={mine}")
    wandb.teardown()
    other = run_in_process(wb / "r2", "source=local", f"source.path={theirs}")
    wandb.teardown()
    assert other.drift is None, "a different source is not compared"
    # One warning line says it, for the drift check and the refresh alike.
    (warning,) = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and str(mine) in r.getMessage()
    ]
    assert "nothing reused or compared" in warning
    assert str(mine) in warning and str(theirs) in warning and "artifact.name" in warning
    # The record now describes the last source; the same one again is compared with it.
    record = json.loads((wb / "state" / "schema" / "songs.parquet.json").read_text())
    assert record["source"] == str(theirs)
    write_parquet(theirs, {"title": ["a", "b"], "year": [1999, 2000]})
    again = run_in_process(wb / "r3", "source=local", f"source.path={theirs}")
    assert again.drift is not None and again.drift["changed"] is False
    assert again.drift["rows"] == {"before": 1, "after": 2, "delta": 1}
    # A record written before sources were recorded compares with nothing, once.
    del record["source"]
    (wb / "state" / "schema" / "songs.parquet.json").write_text(json.dumps(record))
    wandb.teardown()
    old = run_in_process(wb / "r4", "source=local", f"source.path={theirs}")
    assert old.drift is None
    assert os.path.exists(wb / "state" / "schema" / "songs.parquet.json")
