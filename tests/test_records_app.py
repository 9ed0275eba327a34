"""Every file getdata reads back, through the app (issue 20, item 2): the state record, the schema
record, a job's report in a sweep, the fail_fast marker. One that is a FIFO, of the wrong shape,
or not text is one warning naming it and treated as absent: never a crash, never a hang."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from getdata.cli.callbacks import FailFast, SweepSummary
from getdata.cli.report import run_job
from tests.support import compose_cfg, logged, only, run_in_process, wandb_env

CSV = b"id,genre\n1,rock\n2,jazz\n"


def local(tmp_path: Path, name: str = "songs.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(CSV)
    return path


def test_a_state_record_that_is_a_fifo_does_not_hang_the_run(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    os.mkfifo(state / "songs.csv.json")  # a plain open() of it waits for a writer forever
    args = [
        "source=local",
        f"source.path={local(tmp_path)}",
        "skip_unchanged=true",
        f"state_dir={state}",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    env = {**os.environ, **wandb_env(tmp_path)}
    env.pop("HYDRA_FULL_ERROR", None)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "getdata", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=150,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the run hung on a state record that is a FIFO")
    assert done.returncode == 0, done.stderr
    warning = [line for line in done.stderr.splitlines() if "the state record" in line]
    assert len(warning) == 1 and "not a regular file" in warning[0]
    assert str(state / "songs.csv.json") in warning[0]
    # The record is left as it was (a FIFO is not getdata's to replace): the run just fetched.
    assert [a.name for _, a in logged(tmp_path)] == ["songs.csv"]


@pytest.mark.parametrize("record", ["[]", '"a string"', '{"source": 3}', "{not json"])
def test_a_state_record_of_the_wrong_shape_is_absent(
    wb: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, record: str
) -> None:
    (wb / "state").mkdir()
    (wb / "state" / "songs.csv.json").write_text(record)
    caplog.set_level(logging.WARNING)
    args = ["source=local", f"source.path={local(tmp_path)}", "skip_unchanged=true"]
    assert run_in_process(wb / "run", *args).status == "ok"
    warnings = [r.getMessage() for r in caplog.records if "the state record" in r.getMessage()]
    assert len(warnings) == 1 and "is ignored" in warnings[0]
    # The fetch wrote a good record over it: the next run is unchanged.
    saved = json.loads((wb / "state" / "songs.csv.json").read_text())
    assert saved["source"].endswith("songs.csv") and saved["artifact"] == "songs.csv"
    assert run_in_process(wb / "run2", *args).status == "unchanged"


def test_check_only_with_a_hostile_state_record_says_new(wb: Path, tmp_path: Path) -> None:
    path = local(tmp_path)
    (wb / "state").mkdir()
    hostile = {"source": str(path), "fingerprint": {"files": [1, 2]}}
    (wb / "state" / "songs.csv.json").write_text(json.dumps(hostile))
    report = run_job(
        compose_cfg("source=local", f"source.path={path}", "check_only=true"), wb / "c", None
    )
    assert (report.status, report.error) == ("new", None)


@pytest.mark.parametrize(
    "files",
    [
        {"songs.csv": {"columns": [1, 2], "rows": 3, "truncated": False}},
        {"songs.csv": {"columns": {"id": "int64"}, "rows": "many", "truncated": False}},
        {"songs.csv": []},
        ["songs.csv"],
    ],
)
def test_a_schema_record_of_a_hostile_shape_is_absent(
    wb: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, files: object
) -> None:
    (wb / "state" / "schema").mkdir(parents=True)
    (wb / "state" / "schema" / "songs.csv.json").write_text(json.dumps({"files": files}))
    caplog.set_level(logging.WARNING)
    result = run_in_process(wb / "run", "source=local", f"source.path={local(tmp_path)}")
    assert result.status == "ok" and result.drift is None
    _, artifact = only(logged(wb))
    assert "drift" not in artifact.metadata
    assert any("the schema record" in r.getMessage() for r in caplog.records)
    # The run recorded this version's shape in its place.
    saved = json.loads((wb / "state" / "schema" / "songs.csv.json").read_text())
    assert saved["files"]["songs.csv"]["columns"] == {"id": "int64", "genre": "string"}


def sweep_config(sweep_dir: Path, **more: object) -> object:
    return OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep_dir)}}, **more})


def test_the_sweep_summary_survives_reports_that_are_not_reports(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    good = {"dataset": "a", "status": "ok", "artifact": "a", "size": 1, "sha256": "s"}
    for job, content in (("0", json.dumps(good)), ("1", "[]"), ("2", '{"status": 7}')):
        (sweep / job).mkdir(parents=True)
        (sweep / job / "getdata-report.json").write_text(content)
    (sweep / "3" / "getdata-report.json").mkdir(parents=True)  # a folder where the file goes
    with pytest.raises(SystemExit) as stopped:
        SweepSummary().on_multirun_end(sweep_config(sweep))
    assert stopped.value.code == 1
    summary = json.loads((sweep / "summary.json").read_text())
    assert (summary["jobs"], summary["ok"], summary["failed"]) == (4, 1, 3)
    by_job = {d["job"]: d for d in summary["datasets"]}
    for job in ("1", "2", "3"):
        assert by_job[job]["status"] == "failed"
        assert "getdata-report.json could not be read as a report" in by_job[job]["error"]


def test_fail_fast_reads_a_report_that_is_not_one_as_a_failure(tmp_path: Path) -> None:
    sweep, job = tmp_path / "sweep", tmp_path / "sweep" / "0"
    job.mkdir(parents=True)
    (job / "getdata-report.json").write_text("[]")
    config = OmegaConf.create(
        {
            "fail_fast": True,
            "hydra": {
                "mode": "MULTIRUN",
                "sweep": {"dir": str(sweep)},
                "runtime": {"output_dir": str(job)},
                "job": {"num": 0},
            },
        }
    )
    from hydra.types import RunMode

    config.hydra.mode = RunMode.MULTIRUN
    FailFast().on_job_end(config, None)
    assert (sweep / ".getdata-failed").read_text() == "0\n"


def test_a_fail_fast_marker_that_is_not_text_skips_the_sweep_in_one_line(tmp_path: Path) -> None:
    one, two = local(tmp_path, "one.csv"), local(tmp_path, "two.csv")
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / ".getdata-failed").write_bytes(b"\xff\xfe7\n[fake] log line\n")
    args = ["-m", "source=local", f"source.path={one},{two}", "fail_fast=true"]
    env = {**os.environ, **wandb_env(tmp_path)}
    env.pop("HYDRA_FULL_ERROR", None)
    done = subprocess.run(
        [sys.executable, "-m", "getdata", *args, f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "Traceback" not in done.stderr and "unexpected error" not in done.stderr
    summary = json.loads((sweep / "summary.json").read_text())
    assert (summary["jobs"], summary["skipped"]) == (2, 2)
    assert all("\\n[fake] log line" in d["error"] for d in summary["datasets"])
    assert logged(tmp_path) == []
