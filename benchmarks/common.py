"""What the benchmark scripts share: running processes, timing, environment, results.

Not a benchmark of its own. bench.py, netbench.py and bench_footer.py import it as ``common``:
run as ``python benchmarks/<script>.py``, a script's own folder is ``sys.path[0]``. The helper
servers on 127.0.0.1 (free ports, the HTTP file server) are in servers.py.

- running a process tree: ``Runner.run`` times one command from spawn to exit, records the
  1-minute load average before it, the CPU time of the whole tree (wait4) and its peak RSS
  (sampled from /proc by ``TreeSampler``), and keeps its output in a numbered log file;
- timing: ``alternate`` (each variant once per round, every other round reversed), ``med``,
  ``timed``;
- the run's folder and environment: ``BenchBase`` (arguments, rounds, temporary folder,
  results), ``child_env`` (W&B offline inside the temporary folder), ``git_snapshot``,
  ``make_file``, ``remove``, ``output`` / ``version`` (what the machine's tools say);
- the getdata command, its log lines, the S3 baseline as its own process (``boto3_download``),
  and writing the results.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Optional, TypeVar

REPO = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024
GiB = 1024 * MiB
T = TypeVar("T")


def slug(text: str) -> str:
    """``text`` with every run of characters other than ``A-Za-z0-9_.-`` made one ``_``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


# ---------------------------------------------------------------------------------------------
# Running a process tree and sampling its memory
# ---------------------------------------------------------------------------------------------


def _read_status(pid: int) -> Optional[dict[str, int]]:
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
    except OSError:
        return None
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
            out[key] = int(value.split()[0]) * 1024
        elif key == "Name":
            out["_name"] = value.strip()  # type: ignore[assignment]
    return out


def _descendants(root: int) -> list[int]:
    """root and every process below it (from /proc/*/stat: no psutil needed)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and ')', so split after the last ')'
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


class TreeSampler(threading.Thread):
    """Samples the RSS of a process tree every ``interval`` seconds until stopped.

    tree_peak: the largest sum of VmRSS over the tree at one instant (what the machine had to
    hold); anon_peak: the same for RssAnon only (memory that is really the process's, as opposed
    to file pages it maps, e.g. wandb's mmap of the whole file for its md5); per-process VmHWM
    (the kernel's own high-water mark, so a peak between two samples is not missed there).
    """

    def __init__(self, root: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.root = root
        self.interval = interval
        self.stop_event = threading.Event()
        self.tree_peak = 0
        self.anon_peak = 0
        self.file_at_peak = 0
        self.procs: dict[int, dict[str, Any]] = {}
        self.samples = 0

    def run(self) -> None:
        while not self.stop_event.is_set():
            self.sample()
            self.stop_event.wait(self.interval)

    def sample(self) -> None:
        total = anon = file = 0
        for pid in _descendants(self.root):
            st = _read_status(pid)
            if not st or "VmRSS" not in st:
                continue
            total += st["VmRSS"]
            anon += st.get("RssAnon", 0)
            file += st.get("RssFile", 0)
            p = self.procs.setdefault(pid, {"name": st.get("_name", "?"), "hwm": 0, "anon": 0})
            p["hwm"] = max(p["hwm"], st.get("VmHWM", 0))
            p["anon"] = max(p["anon"], st.get("RssAnon", 0))
        self.samples += 1
        if total > self.tree_peak:
            self.tree_peak, self.file_at_peak = total, file
        self.anon_peak = max(self.anon_peak, anon)

    def by_name(self) -> dict[str, dict[str, int]]:
        """Per process name: the largest VmHWM and RssAnon of any process of that name."""
        out: dict[str, dict[str, int]] = {}
        for p in self.procs.values():
            d = out.setdefault(p["name"], {"hwm": 0, "anon": 0, "count": 0})
            d["hwm"] = max(d["hwm"], p["hwm"])
            d["anon"] = max(d["anon"], p["anon"])
            d["count"] += 1
        return out


@dataclass
class Run:
    label: str
    seconds: float
    rc: int
    tree_peak: int = 0
    anon_peak: int = 0
    file_at_peak: int = 0
    hwm_sum: int = 0
    cpu_seconds: float = 0.0
    # the 1-minute load average just before the run (other work on the machine shows up here)
    load: float = 0.0
    procs: dict[str, dict[str, int]] = field(default_factory=dict)
    log: str = ""
    # what a script read from the run's own logs afterwards (bench: a sweep's jobs; netbench:
    # where the time went)
    notes: dict[str, Any] = field(default_factory=dict)


class Runner:
    def __init__(self, env: dict[str, str], cwd: Path, logs: Path, interval: float):
        self.env = env
        self.cwd = cwd
        self.logs = logs
        self.interval = interval
        self.count = 0

    def run(
        self,
        label: str,
        cmd: list[str] | str,
        *,
        env: Optional[dict[str, str]] = None,
        sample: bool = True,
        check: bool = True,
    ) -> Run:
        """Run ``cmd`` (a string: through ``bash -o pipefail -c``) to its end; a failure raises
        SystemExit with the log's tail unless ``check`` is false."""
        self.count += 1
        log = self.logs / f"{self.count:03d}-{slug(label)}.log"
        shell = isinstance(cmd, str)
        full_env = {**self.env, **(env or {})}
        load = os.getloadavg()[0]
        # Let the previous run's dirty pages reach the disk first, so it does not slow this one.
        os.sync()
        with open(log, "wb") as out:
            out.write(f"$ {cmd if shell else shlex.join(cmd)}\n".encode())
            out.flush()
            started = time.perf_counter()
            proc = subprocess.Popen(
                ["bash", "-o", "pipefail", "-c", cmd] if isinstance(cmd, str) else cmd,
                cwd=self.cwd,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            sampler = TreeSampler(proc.pid, self.interval) if sample else None
            if sampler:
                sampler.start()
            # wait4: the CPU time of the whole tree (every descendant that was waited for).
            _, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - started
            rc = proc.returncode = os.waitstatus_to_exitcode(status)
            if sampler:
                sampler.stop_event.set()
                sampler.join()
        # wandb-core may outlive its parent by a moment: leave nothing of ours running.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        result = Run(label=label, seconds=seconds, rc=rc, load=load, log=str(log))
        result.cpu_seconds = usage.ru_utime + usage.ru_stime
        if sampler:
            result.tree_peak = sampler.tree_peak
            result.anon_peak = sampler.anon_peak
            result.file_at_peak = sampler.file_at_peak
            result.hwm_sum = sum(p["hwm"] for p in sampler.procs.values())
            result.procs = sampler.by_name()
        status_note = "" if rc == 0 else f"  (exit {rc}, see {log})"
        cpu = result.cpu_seconds
        print(f"    {label:<34} {seconds:7.2f} s  (cpu {cpu:5.2f} s){status_note}", flush=True)
        if rc != 0 and check:
            tail = Path(log).read_text(errors="replace")[-3000:]
            raise SystemExit(f"{label} failed (exit {rc}):\n{tail}")
        return result


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------


def alternate(
    rounds: int, variants: Sequence[tuple[str, Callable[[], T]]], title: Optional[str] = ""
) -> dict[str, list[T]]:
    """Run each variant once per round; odd rounds in reverse order (A B C, C B A, ...), so
    drift in the machine's speed hits every variant alike. Prints "  <title>round i/n" at the
    start of each round, nothing with ``title=None``."""
    out: dict[str, list[T]] = {name: [] for name, _ in variants}
    for r in range(rounds):
        order = variants if r % 2 == 0 else list(reversed(variants))
        if title is not None:
            print(f"  {title}round {r + 1}/{rounds}", flush=True)
        for name, fn in order:
            out[name].append(fn())
    return out


def med(runs: list[Run], attr: str = "seconds") -> float:
    return statistics.median(getattr(r, attr) for r in runs)


def timed(fn: Callable[[], Any]) -> float:
    """Seconds ``fn()`` took (in this process)."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------------
# The run's folder, environment and data
# ---------------------------------------------------------------------------------------------


class BenchBase:
    """What each script's Bench starts from: the parsed arguments, the rounds (--reps; else 3,
    1 with --quick), a new temporary folder (in --tmp, else the system's) holding data/, out/
    and logs/, the results, whose "cases" the script fills in, and the helper processes that
    close() stops before it removes the folder (unless --keep)."""

    def __init__(self, args: argparse.Namespace, prefix: str) -> None:
        self.args = args
        self.reps: int = args.reps or (1 if args.quick else 3)
        self.tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=args.tmp))
        self.data, self.out, self.logs = (self.tmp / d for d in ("data", "out", "logs"))
        for d in (self.data, self.out, self.logs):
            d.mkdir()
        self.results: dict[str, Any] = {"cases": {}}
        # what close() stops: the servers and proxies the run started (anything with stop())
        self.helpers: list[Any] = []

    def close(self) -> None:
        for helper in self.helpers:
            helper.stop()
        if not self.args.keep:
            remove(self.tmp)


def child_env(tmp: Path, drop: tuple[str, ...] = ("WANDB_", "AWS_", "HYDRA_")) -> dict[str, str]:
    """The environment of the runs: this one without PYTHONPATH and the variables starting with
    ``drop``, W&B offline with all its folders in ``tmp/wandb``, Hydra's full errors, and .pyc
    files kept (as an installed package keeps them)."""
    wb = tmp / "wandb"
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop) and k != "PYTHONPATH"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        WANDB_MODE="offline",
        WANDB_DIR=str(wb),
        WANDB_DATA_DIR=str(wb / "data"),
        WANDB_CACHE_DIR=str(wb / "cache"),
        WANDB_CONFIG_DIR=str(wb / "config"),
        WANDB_SILENT="true",
        HYDRA_FULL_ERROR="1",
    )
    return env


def git_snapshot(ref: str, dest: Path) -> Path:
    """``git archive REF`` of this repository, unpacked into the new folder ``dest``."""
    dest.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def make_file(path: Path, size: int) -> Path:
    """``size`` random bytes (incompressible, no sparse pages), written once and reused."""
    if path.exists() and path.stat().st_size == size:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        left = size
        block = os.urandom(min(16 * MiB, size))
        n = 0
        while left:
            # Vary each block a little so no two blocks are identical.
            chunk = n.to_bytes(8, "little") + block[8 : min(len(block), left)]
            f.write(chunk[:left])
            left -= min(len(chunk), left)
            n += 1
    return path


def remove(*paths: Path) -> None:
    """Remove each path (a folder with all it holds, or a file); missing ones are fine."""
    for p in paths:
        shutil.rmtree(p, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            if p.is_file():
                p.unlink()


def output(*cmd: str, stderr: bool = False, timeout: float = 30.0) -> str:
    """What a short command prints on stdout, stripped (``stderr``: its stderr when stdout is
    empty); "unknown (why)" when it cannot run."""
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - a missing tool is just "unknown"
        return f"unknown ({exc})"
    return ((done.stdout or done.stderr) if stderr else done.stdout).strip()


def version(*cmd: str) -> str:
    """The first line a tool prints about itself (some print it on stderr: `aws --version`)."""
    text = output(*cmd, stderr=True)
    return text.splitlines()[0] if text else ""


# ---------------------------------------------------------------------------------------------
# getdata runs and their logs; the boto3 baseline
# ---------------------------------------------------------------------------------------------


def getdata_cmd(*overrides: str, multirun: bool = False, py_flags: Sequence[str] = ()) -> list[str]:
    """``python [py_flags] -m getdata [-m] overrides...`` with this interpreter. The data goes
    to the job's own folder (removed after the run), not the shared default data folder, so
    that no run finds what an earlier one kept."""
    own = "data_dir=${hydra:runtime.output_dir}/data"
    flags = ["-m"] if multirun else []
    return [sys.executable, *py_flags, "-m", "getdata", *flags, own, *overrides]


_STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\](.*)")


def stamped_lines(log: Path) -> list[tuple[float, str]]:
    """The lines of a Hydra job log that start with a ``[time]`` stamp: (epoch seconds, the rest
    of the line: ``[logger][LEVEL] - message``)."""
    out = []
    for line in log.read_text(errors="replace").splitlines():
        m = _STAMP.match(line)
        if m:
            out.append((datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S,%f").timestamp(), m[2]))
    return out


def boto3_download(endpoint: str, bucket: str, key: str, dest: str) -> None:
    """The boto3 baseline: ``download_file`` of one object, meant to run as its own process."""
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    t = time.perf_counter()
    client.download_file(bucket, key, dest)
    print(f"download_file {time.perf_counter() - t:.3f} s", flush=True)


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


def write_results(path: str, results: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(results, indent=2, default=str))


def print_report(text: str, json_path: str, total_s: float, md_path: str = "") -> None:
    """The tables on stdout, where the results are, and the tables as Markdown in ``md_path``."""
    print()
    print(text)
    print(f"\nresults: {json_path}; total {total_s:.0f} s")
    if md_path:
        Path(md_path).write_text(text + "\n")
