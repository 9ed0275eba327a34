"""The W&B phase under load: many small fetches and sweeps with busy loops beside them, every
outcome read back from what wandb wrote.

    python benchmarks/stress_wandb.py                      # 500 runs, 2 sweeps of 20, 2 busy loops
    python benchmarks/stress_wandb.py --runs 50 --sweep 5  # a quick look
    python benchmarks/stress_wandb.py --repo ../other      # the same load on another checkout

What it does, all on this machine (an HTTP file server on 127.0.0.1, W&B offline in a temporary
folder):

* starts ``--busy`` busy loops (``python -c 'while True: pass'``) and stops them at the end;
* runs ``--runs`` times ``python -m getdata source=http …`` (a small CSV, a new content each time,
  ``--parallel`` at once, each lane its own artifact name), then a sweep of ``--sweep`` catalog
  entries with ``hydra/launcher=joblib n_jobs=2`` and the same sweep with the basic launcher;
* checks each dataset: exit code 0, report ``ok``, its offline run file finished (the exit record
  there, nothing torn: getdata/tracking/runfile.py) and holding the artifact with the file's MD5
  (tests/wandb_file.py, the tests' own reader), and the kept file's bytes;
* counts what getdata's log says about W&B: a run logged again in a new run, a service torn down
  after waiting, and the run files in which wandb-core's ``environment`` records came after the
  exit record (the writer race getdata used to fail on).

A failure is printed with its log's tail; the exit code is the number of failed datasets (0: all
good).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from common import REPO, child_env
from servers import Helper, serve_files

sys.path.insert(0, str(REPO))
from tests.wandb_file import artifacts, record_kinds  # noqa: E402


@dataclass
class Outcome:
    label: str
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    log: str = ""
    retried: bool = False
    torn_down: bool = False
    env_after_exit: bool = False


def md5_b64(data: bytes) -> str:
    """The digest W&B records for a file entry: base64 of the raw MD5."""
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def busy_loops(n: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def csv(n: int) -> bytes:
    return b"id,value\n" + b"".join(b"%d,%d\n" % (i, i * n) for i in range(200 + n % 50))


def check(label: str, job_dir: Path, data: bytes, rc: int, log_text: str) -> Outcome:
    """One dataset's outcome, read back from its report, its run file and the kept file."""
    out = Outcome(label, log=str(job_dir / "getdata.log"))
    if rc != 0:
        out.problems.append(f"exit code {rc}")
    report_file = job_dir / "getdata-report.json"
    if not report_file.is_file():
        out.problems.append("no getdata-report.json")
        return out
    report = json.loads(report_file.read_text())
    if report["status"] != "ok":
        out.problems.append(f"status {report['status']}: {report.get('error')}")
        return out
    run_files = list(Path(report["wandb"]).glob("run-*.wandb"))
    if len(run_files) != 1:
        out.problems.append(f"{len(run_files)} run files in {report['wandb']}")
        return out
    kinds = record_kinds(run_files[0])
    if "exit" not in kinds:
        out.problems.append(f"run file without its exit record: {kinds}")
    elif set(kinds[kinds.index("exit") + 1 :]) - {"environment"}:
        out.problems.append(f"records after the exit: {kinds}")
    after = kinds[kinds.index("exit") + 1 :] if "exit" in kinds else []
    out.env_after_exit = "environment" in after
    logged = artifacts(run_files[0])
    if [[e.digest for e in a.entries] for a in logged] != [[md5_b64(data)]]:
        out.problems.append("the artifact in the run file is not the file fetched")
    if [Path(p).read_bytes() for p in report["paths"]] != [data]:
        out.problems.append("the kept file is not the file fetched")
    out.retried = "again in a new run" in log_text
    out.torn_down = "stopping the W&B service" in log_text
    return out


def run_one(args: argparse.Namespace, env: dict[str, str], tmp: Path, url: str, i: int) -> Outcome:
    lane = i % args.parallel
    job_dir = tmp / "runs" / f"{i:04d}"
    cmd = [
        sys.executable, "-m", "getdata", "source=http", f"source.url={url}",
        f"artifact.name=stress{lane}.csv", f"hydra.run.dir={job_dir}", "fetch.progress=false",
    ]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=tmp, env=env, capture_output=True, text=True, start_new_session=True, timeout=900
    )
    seconds = time.perf_counter() - started
    log = job_dir / "getdata.log"
    log_text = log.read_text(errors="replace") if log.is_file() else ""
    out = check(f"run {i}", job_dir, csv(i), proc.returncode, log_text + proc.stderr)
    out.seconds = seconds
    if out.problems:
        out.problems.append("stderr: " + proc.stderr[-1500:])
    return out


def sweep(
    args: argparse.Namespace, env: dict[str, str], tmp: Path, server: Helper, launcher: str
) -> tuple[list[Outcome], float, int]:
    catalog = tmp / f"catalog-{launcher}"
    (catalog / "dataset").mkdir(parents=True)
    base = 100_000 if launcher == "joblib" else 200_000
    names = [f"d{k:02d}" for k in range(args.sweep)]
    for k in range(args.sweep):
        (tmp / "files" / f"{launcher}{k}.csv").write_bytes(csv(base + k))
        (catalog / "dataset" / f"d{k:02d}.yaml").write_text(
            "# @package _global_\ndefaults:\n  - override /source: http\n"
            f"source:\n  url: {server.url(f'{launcher}{k}.csv')}\n"
            f"artifact:\n  name: {launcher}{k}.csv\n"
        )
    sweep_dir = tmp / f"sweep-{launcher}"
    extra = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"] if launcher == "joblib" else []
    cmd = [
        # The entries by name: glob(*) would also run the bundled `genres` (on the internet).
        sys.executable, "-m", "getdata", "-m", "dataset=" + ",".join(names), *extra,
        f"hydra.sweep.dir={sweep_dir}", "fetch.progress=false",
    ]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.run(
        cmd,
        cwd=tmp,
        env={**env, "GETDATA_CATALOG": str(catalog)},
        capture_output=True,
        text=True,
        start_new_session=True,
        timeout=3600,
    )
    seconds = time.perf_counter() - started
    outcomes = []
    summary_file = sweep_dir / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.is_file() else {"datasets": []}
    by_dataset = {d["dataset"]: n for n, d in enumerate(summary["datasets"])}
    for k in range(args.sweep):
        n = by_dataset.get(f"d{k:02d}")
        job_dir = sweep_dir / str(n)
        log = job_dir / "getdata.log"
        text = log.read_text(errors="replace") if n is not None and log.is_file() else ""
        out = check(f"{launcher} sweep d{k:02d}", job_dir, csv(base + k), 0, text)
        if n is None:
            out.problems.append("not in the sweep's summary")
        outcomes.append(out)
    if proc.returncode != 0:
        outcomes[0].problems.append(f"sweep exit code {proc.returncode}: {proc.stderr[-1500:]}")
    return outcomes, seconds, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--sweep", type=int, default=20, help="datasets per sweep")
    parser.add_argument("--parallel", type=int, default=2, help="runs at once")
    parser.add_argument("--busy", type=int, default=2, help="busy loops beside them")
    parser.add_argument("--repo", type=Path, default=REPO, help="the getdata checkout to run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_files(args.serve, "range")
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="stress-wandb-"))
    (tmp / "files").mkdir()
    for i in range(args.runs):
        (tmp / "files" / f"run{i}.csv").write_bytes(csv(i))
    env = child_env(tmp)
    env.update(
        PYTHONPATH=str(args.repo.resolve()),
        GETDATA_DATA_DIR=str(tmp / "data"),
        GETDATA_STATE_DIR=str(tmp / "state"),
        WANDB_DISABLE_GIT="true",
    )
    env.pop("HYDRA_FULL_ERROR", None)  # the one-line errors a user sees
    commit = subprocess.run(
        ["git", "-C", str(args.repo), "log", "-1", "--format=%h %s"], capture_output=True, text=True
    ).stdout.strip()
    print(f"getdata at {args.repo} ({commit[:70]}); {os.cpu_count()} cores; tmp {tmp}", flush=True)
    server = Helper([sys.executable, "-u", __file__, "--serve", str(tmp / "files")])
    loops = busy_loops(args.busy)
    outcomes: list[Outcome] = []
    started = time.perf_counter()
    loads: list[float] = []
    sweeps: dict[str, tuple[float, int]] = {}
    try:
        print(f"{args.runs} runs, {args.parallel} at a time, {args.busy} busy loops", flush=True)
        with ThreadPoolExecutor(args.parallel) as pool:
            futures = [
                pool.submit(run_one, args, env, tmp, server.url(f"run{i}.csv"), i)
                for i in range(args.runs)
            ]
            for n, future in enumerate(futures, 1):
                out = future.result()
                outcomes.append(out)
                if out.problems:
                    print(f"  FAILED {out.label}: {'; '.join(out.problems)}", flush=True)
                if n % 50 == 0:
                    loads.append(os.getloadavg()[0])
                    print(f"  {n} runs, {sum(bool(o.problems) for o in outcomes)} failed, "
                          f"load {loads[-1]:.1f}", flush=True)  # fmt: skip
        runs_s = time.perf_counter() - started
        for launcher in ("joblib", "basic"):
            done, seconds, rc = sweep(args, env, tmp, server, launcher)
            sweeps[launcher] = (seconds, rc)
            loads.append(os.getloadavg()[0])
            for out in done:
                if out.problems:
                    print(f"  FAILED {out.label}: {'; '.join(out.problems)}", flush=True)
            print(f"  {launcher} sweep of {args.sweep}: exit {rc}, {seconds:.0f} s, "
                  f"{sum(bool(o.problems) for o in done)} failed", flush=True)  # fmt: skip
            outcomes += done
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()
        server.stop()
    runs = [o for o in outcomes if o.label.startswith("run ")]
    failed = [o for o in outcomes if o.problems]
    seconds = sorted(o.seconds for o in runs)
    print()
    print(f"datasets: {len(outcomes)} ({len(runs)} runs + {len(outcomes) - len(runs)} in sweeps)")
    print(f"failed: {len(failed)}")
    print(f"logged again in a new run (W&B retry): {sum(o.retried for o in outcomes)}")
    print(f"W&B service torn down after waiting: {sum(o.torn_down for o in outcomes)}")
    print(
        "run files with environment records after the exit record: "
        f"{sum(o.env_after_exit for o in outcomes)}"
    )
    if seconds:
        p95 = seconds[int(0.95 * (len(seconds) - 1))]
        print(
            f"run wall time: median {statistics.median(seconds):.2f} s, p95 {p95:.2f} s, "
            f"max {seconds[-1]:.2f} s; runs phase {runs_s:.0f} s"
        )
    for launcher, (s, rc) in sweeps.items():
        print(f"{launcher} sweep: {s:.0f} s, exit {rc}")
    if loads:
        print(f"load average (1 min) during the runs: {min(loads):.1f} to {max(loads):.1f}")
    print(f"total {time.perf_counter() - started:.0f} s")
    if args.keep or failed:
        print(f"kept: {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return min(len(failed), 100)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    sys.exit(main())
