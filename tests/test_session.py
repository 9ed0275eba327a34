"""One W&B service per process, shared by the jobs it runs (getdata/session.py): every job's run
file is complete when the job returns, a failed or interrupted job leaves no run behind and does
not break the next one, and a job whose W&B environment differs gets its own session."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import wandb

from getdata.config import WandbConfig, WandbMode
from getdata.errors import GetDataError
from getdata.tracking.run import log_artifact
from getdata.tracking.runfile import finished, read_run_file
from tests.session_probe import PROBE_FILE, wandb_core_children
from tests.support import REPO, data_dir, leftovers, logged, md5_b64, only, run_cli, wandb_env
from tests.wandb_file import (
    EnvironmentRecord,
    Record,
    artifacts,
    find_run_files,
    finished_run,
    read_records,
    record_kinds,
    write_run_file,
)

DATA = [b"id,value\n" + b"%d,%d\n" % (i, i * n) * 50 for n, i in enumerate(range(5), 1)]


def _probe_env(tmp_path: Path) -> dict[str, str]:
    # The probe callback lives in tests/: the sweep's process must be able to import it.
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    # Without WANDB_SILENT, as most users run it: getdata then sets it around wandb.init() only,
    # which must not look like a changed W&B environment (a new service for every job).
    env = {k: v for k, v in wandb_env(tmp_path).items() if k != "WANDB_SILENT"}
    assert "WANDB_SILENT" not in os.environ
    return {**env, "PYTHONPATH": path}


@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_sweep_shares_the_service_and_each_run_is_complete_when_its_job_returns(
    tmp_path: Path, http_server, launcher: str
) -> None:
    urls = [http_server.add(f"/part{i}.csv", data) for i, data in enumerate(DATA)]
    sweep = tmp_path / "sweep"
    proc = run_cli(
        [
            "-m",
            "source=http",
            f"source.url={','.join(urls)}",
            f"hydra/launcher={launcher}",
            *(["hydra.launcher.n_jobs=2"] if launcher == "joblib" else []),
            f"hydra.sweep.dir={sweep}",
            "+hydra.callbacks.probe._target_=tests.session_probe.ReadRunFileBack",
        ],
        _probe_env(tmp_path),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    probes = [json.loads((sweep / str(n) / PROBE_FILE).read_text()) for n in range(len(DATA))]
    for n, (probe, data) in enumerate(zip(probes, DATA, strict=True)):
        # Read back the moment the job returned: the whole run, to its exit record.
        assert probe["status"] == "ok"
        assert finished_run(probe["records"]), probe["records"]
        assert probe["artifacts"] == [{"name": f"part{n}.csv", "digests": [md5_b64(data)]}]
        assert f"wandb=={wandb.__version__}" in probe["requirements"]
        assert probe["requirements"] == probes[0]["requirements"]
    # Per process, one wandb-core for all its jobs (the basic launcher: one process).
    by_process: dict[int, set[tuple[int, ...]]] = {}
    for probe in probes:
        by_process.setdefault(probe["pid"], set()).add(tuple(probe["cores"]))
    if launcher == "basic":
        assert len(by_process) == 1
    for cores in by_process.values():
        assert len(cores) == 1 and len(only(list(cores))) == 1, by_process
    assert len(logged(tmp_path)) == len(DATA)


def _log(path: Path, name: str, md5: str) -> object:
    return log_artifact(
        WandbConfig(project="getdata-tests", mode=WandbMode.offline),
        run_config={"name": name},
        name=name,
        type="raw_data",
        description="d",
        metadata={"n": name},
        files=[(path, path.name, md5)],
    )


def _run_files(root: Path) -> set[Path]:
    return set(find_run_files(root / "wandb-dir"))


def test_a_failed_job_in_the_middle_leaves_no_run_and_the_next_one_is_complete(
    wb: Path, tmp_path: Path
) -> None:
    files = []
    for n, data in enumerate(DATA[:2]):
        path = tmp_path / f"d{n}.csv"
        path.write_bytes(data)
        files.append((path, hashlib.md5(data).hexdigest()))
    seen: set[Path] = set()
    cores = []
    for step in ("ok", "fail", "ok"):
        path, md5 = files[0] if step == "ok" and not seen else files[1]
        if step == "fail":
            path = tmp_path / "gone.csv"  # removed between the fetch and the log
        try:
            _log(path, f"{step}-{len(seen)}", md5)
        except GetDataError as exc:
            assert step == "fail" and "the data is kept in" in str(exc)
            assert _run_files(tmp_path) == seen, "the failed run's folder was removed"
            continue
        assert step == "ok"
        # When log_artifact returns, its run file reads back whole: nothing more to flush.
        new = only(list(_run_files(tmp_path) - seen))
        assert finished_run(record_kinds(new))
        assert only(artifacts(new)).entries[0].digest == md5_b64(path.read_bytes())
        seen.add(new)
        cores.append(wandb_core_children(os.getpid()))
    assert len(seen) == 2
    # The service lives on after a logged run (and was renewed after the failed one).
    assert all(len(c) == 1 for c in cores), cores


def test_jobs_in_one_process_share_the_service(wb: Path, tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(DATA[0])
    md5 = hashlib.md5(DATA[0]).hexdigest()
    cores = []
    for n in range(3):
        _log(path, f"same-{n}", md5)
        cores.append(wandb_core_children(os.getpid()))
    assert len(_run_files(tmp_path)) == 3
    assert cores[0] == cores[1] == cores[2] and len(cores[0]) == 1, cores
    assert "WANDB_SERVICE" not in os.environ, "child processes are not handed the service"


def test_a_changed_wandb_environment_gets_its_own_session(
    wb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """wandb reads WANDB_DIR (and its other variables) once per session: a job that sets another
    one must not write into the first job's folder."""
    path = tmp_path / "d.csv"
    path.write_bytes(DATA[0])
    md5 = hashlib.md5(DATA[0]).hexdigest()
    _log(path, "first", md5)
    first = only(list(_run_files(tmp_path)))
    other = tmp_path / "other-wandb"
    monkeypatch.setenv("WANDB_DIR", str(other))
    _log(path, "second", md5)
    assert _run_files(tmp_path) == {first}
    second = only(find_run_files(other))
    assert only(artifacts(second)).name == "second"


def test_sigterm_in_the_second_job_keeps_the_first_run_whole(tmp_path: Path, http_server) -> None:
    """A sweep stopped in its second job: the first job's run is complete (it was when that job
    returned), the second leaves no run, no partial file, and the process exits 143."""
    good = http_server.add("/good.csv", DATA[0])
    slow = http_server.add("/slow.csv", DATA[1], stall=30)
    proc = subprocess.Popen(
        [sys.executable, "-m", "getdata", "-m", "source=http", f"source.url={good},{slow}",
         f"hydra.sweep.dir={tmp_path / 'sweep'}", "source.timeout=60"],
        cwd=tmp_path, env={**os.environ, **wandb_env(tmp_path)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        slow_data = data_dir(tmp_path) / "slow.csv"
        while not leftovers(slow_data) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert leftovers(slow_data), "the second download started"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    run_file, artifact = only(logged(tmp_path))
    assert artifact.name == "good.csv" and only(artifact.entries).digest == md5_b64(DATA[0])
    assert finished_run(record_kinds(run_file))
    assert leftovers(tmp_path) == []


def test_a_run_file_is_finished_with_its_exit_record_and_nothing_torn(
    wb: Path, tmp_path: Path
) -> None:
    """getdata's reader against a real run file rewritten in the order wandb-core writes it on
    a loaded machine (its system probe's environment records after the exit record), and every
    shorter version of it (what a reader sees while wandb-core is still writing): finished
    exactly when the whole exit record is there and the file ends on a whole record."""
    path = tmp_path / "d.csv"
    path.write_bytes(DATA[0])
    _log(path, "whole", hashlib.md5(DATA[0]).hexdigest())
    run_file = only(list(_run_files(tmp_path)))
    assert finished(run_file) and finished_run(record_kinds(run_file))
    records = read_records(run_file)
    late = [r for r in records if r.WhichOneof("record_type") == "environment"]
    late = late or [Record(environment=EnvironmentRecord(os="Linux", python="3.11"))]
    # Large enough to span blocks, so FIRST/MIDDLE/LAST chunks are cut too.
    late.append(Record(environment=EnvironmentRecord(os="x" * 70_000)))
    order = [r for r in records if r.WhichOneof("record_type") != "environment"] + late
    late_file = tmp_path / "late.wandb"
    ends = write_run_file(late_file, order)
    kinds = record_kinds(late_file)
    assert kinds.index("exit") < kinds.index("environment")
    assert finished(late_file) and read_run_file(late_file).kinds == kinds
    exit_end = ends[kinds.index("exit")]
    data = late_file.read_bytes()
    cut = tmp_path / "cut.wandb"
    for size in sorted({*range(0, len(data), 97), *ends, *(e - 1 for e in ends)}):
        cut.write_bytes(data[:size])
        expected = size >= exit_end and size in ends
        assert finished(cut) == expected, f"cut at {size} of {len(data)} bytes"
    cut.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # a damaged last record
    assert not finished(cut)
    no_exit = [r for r in order if r.WhichOneof("record_type") != "exit"]
    write_run_file(cut, no_exit)
    assert not finished(cut) and read_run_file(cut).clean_end
    assert not finished(tmp_path / "missing.wandb")
