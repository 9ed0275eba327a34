"""Ctrl-C, SIGTERM and a killed worker (issue 20, items 5 and 7), with a real getdata whose
downloads a local server keeps waiting: one line, exit 130/143 (1 for a dead worker), no
traceback or warning from any of getdata's processes (the readers' helper and joblib's workers
included), the partial downloads and unfinished W&B runs removed, summary.json for a sweep, and
no process left running.

Each test sets the signal disposition it needs itself (tests/procs.py): a suite started in the
background (`cmd &`) hands its programs SIGINT ignored.
"""

from __future__ import annotations

import json
import os
import signal
import uuid
from pathlib import Path

import pytest

from tests import procs
from tests.support import leftovers, logged, wandb_env

CSV = b"id,genre\n" + b"".join(b"%d,rock\n" % i for i in range(1000))


def stalled(server, count: int) -> list[str]:  # noqa: ANN001
    """``count`` CSV files whose first GET the server answers only after two minutes."""
    return [server.add(f"/d{i}.csv", CSV, stall=120) for i in range(count)]


def start(tmp_path: Path, args: list[str]) -> tuple[object, str]:
    marker = uuid.uuid4().hex
    env = {**wandb_env(tmp_path), "GETDATA_TEST_PROCS": marker}
    return procs.start_getdata([*args, "fetch.progress=false"], env, tmp_path), marker


def finish(proc, marker: str) -> str:  # noqa: ANN001
    """Wait for getdata and for every process it started; its stderr."""
    _, stderr = proc.communicate(timeout=300)
    assert procs.wait_for(lambda: procs.with_marker(marker) == [], 60), (
        f"left running: {[procs.cmdline(p) for p in procs.with_marker(marker)]}"
    )
    return stderr


def assert_one_line(stderr: str, words: str) -> None:
    """Only log lines (no traceback, no warning of Python's or joblib's), one of them saying
    ``words``."""
    lines = stderr.splitlines()
    strays = [line for line in lines if not line.startswith(("[", "getdata: "))]
    assert strays == [], stderr
    for noise in ("Traceback", "leaked", "resource_tracker", "Warning"):
        assert noise not in stderr, stderr
    said = [line for line in lines if "interrupted" in line or "stopped" in line]
    assert len(said) == 1 and words in said[0], stderr


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM"])
def test_a_single_run_interrupted_says_one_line(tmp_path: Path, http_server, how: str) -> None:
    (url,) = stalled(http_server, 1)
    data_dir = tmp_path / "data"
    proc, marker = start(
        tmp_path,
        [
            "source=http",
            f"source.url={url}",
            f"data_dir={data_dir}",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
    )
    with procs.reaped(f"GETDATA_TEST_PROCS={marker}"):
        assert procs.wait_for(lambda: len(http_server.requests) == 1)
        if how == "SIGINT":  # a terminal's Ctrl-C: the whole process group
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, signal.SIGTERM)
        stderr = finish(proc, marker)
    assert proc.returncode == (130 if how == "SIGINT" else 143), stderr
    name = "Ctrl-C" if how == "SIGINT" else "SIGTERM"
    assert_one_line(stderr, f"interrupted by {name}: the partial download and the unfinished W&B")
    assert leftovers(data_dir) == [] and logged(tmp_path) == []
    report = json.loads((tmp_path / "run" / "getdata-report.json").read_text())
    assert report["status"] == "failed" and report["interrupted"] == proc.returncode


def sweep_args(urls: list[str], sweep: Path) -> list[str]:
    return [
        "-m",
        "source=http",
        f"source.url={','.join(urls)}",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        f"hydra.sweep.dir={sweep}",
    ]


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM"])
def test_a_joblib_sweep_interrupted_says_one_line(tmp_path: Path, http_server, how: str) -> None:
    """Two jobs downloading in two workers, a third waiting: Ctrl-C reaches every process of
    the group (as in a terminal); SIGTERM only the parent (as from a scheduler)."""
    urls = stalled(http_server, 3)
    sweep = tmp_path / "sweep"
    proc, marker = start(tmp_path, sweep_args(urls, sweep))
    with procs.reaped(f"GETDATA_TEST_PROCS={marker}"):
        assert procs.wait_for(lambda: len(http_server.requests) == 2)
        if how == "SIGINT":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, signal.SIGTERM)
        stderr = finish(proc, marker)
    code, name = (130, "Ctrl-C") if how == "SIGINT" else (143, "SIGTERM")
    assert proc.returncode == code, stderr
    assert_one_line(stderr, f"interrupted by {name}: the sweep stopped (0 logged; 2 interrupted")
    summary = json.loads((sweep / "summary.json").read_text())
    assert summary["interrupted"] == name
    statuses = sorted((d["status"], d["interrupted"]) for d in summary["datasets"])
    assert statuses == [("failed", code), ("failed", code), ("skipped", code)]
    assert len(http_server.requests) == 2, "the third dataset was never asked for"
    assert logged(tmp_path) == [] and leftovers(sweep) == []
    # Each job's own line is in its log.
    logs = "".join(p.read_text() for p in sweep.glob("*/getdata.log"))
    assert logs.count(f"interrupted by {name}: the partial download") == 2


def test_a_killed_worker_leaves_the_summary_with_its_job_failed(
    tmp_path: Path, http_server
) -> None:
    urls = stalled(http_server, 3)
    sweep = tmp_path / "sweep"
    proc, marker = start(tmp_path, sweep_args(urls, sweep))
    with procs.reaped(f"GETDATA_TEST_PROCS={marker}"):
        assert procs.wait_for(lambda: len(http_server.requests) == 2)
        workers = [p for p in procs.children(proc.pid) if "loky" in procs.cmdline(p)]
        workers = [p for p in workers if "resource_tracker" not in procs.cmdline(p)]
        assert len(workers) == 2, [procs.cmdline(p) for p in procs.children(proc.pid)]
        os.kill(workers[0], signal.SIGKILL)
        stderr = finish(proc, marker)
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stderr
    (line,) = [line for line in stderr.splitlines() if line.startswith("getdata: ")]
    assert "the sweep stopped: a joblib worker process died (SIGKILL" in line
    assert str(sweep / "summary.json") in line
    summary = json.loads((sweep / "summary.json").read_text())
    assert summary["failed"] == summary["jobs"] >= 1
    assert "a joblib worker process died (SIGKILL" in summary["stopped"]
    for dataset in summary["datasets"]:
        assert dataset["status"] == "failed"
        assert "a joblib worker process died (SIGKILL" in dataset["error"]
    assert logged(tmp_path) == []
