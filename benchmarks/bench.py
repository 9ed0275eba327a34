#!/usr/bin/env python
"""Benchmarks for the "Performance" issue: getdata against plain tools, end to end.

    python benchmarks/bench.py                 # full run (3 alternating rounds, ~10 min)
    python benchmarks/bench.py --quick         # smoke run: small sizes, 1 round, < 1 min
    python benchmarks/bench.py --only large,memory --reps 5
    python benchmarks/bench.py --snapshot      # benchmark the committed HEAD, not the work tree

Everything runs on this machine: the script starts its own HTTP and S3 (moto) servers on
127.0.0.1, makes its own data in a temporary folder and runs W&B offline with every W&B folder
in that temporary folder. Each getdata run is the whole `python -m getdata ...` process, timed
from spawn to exit, with the peak RSS of its whole process tree (wandb-core included) sampled
from /proc. getdata and its baseline run alternately (A B, then B A, ...) so drift in the
machine's speed hits both alike; the tables give medians and getdata/baseline ratios.

Cases (--only NAME[,NAME...]):
  large    1 GiB over loopback HTTP vs `curl -s URL | tee FILE | sha256sum` (target <= 1.25x)
  memory   peak RSS of the getdata process tree, 1 GiB vs 10 MiB (target <= 1.1x and < 250 MB)
  small    1 MiB end to end vs the original component (benchmarks/original_run.py) (target <= 1x)
  imports  -X importtime of `getdata --help` and of a small run, by package
  sweep    8 x 64 MiB as one multirun: basic launcher vs joblib n_jobs=2,4 (target >= 1.6x)
  s3       256 MiB from moto: getdata vs boto3 download_file (target >= 0.9x boto3 throughput)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MiB = 1024 * 1024
GiB = 1024 * MiB
CASES = ["large", "memory", "small", "imports", "sweep", "s3"]
SHARED_PARQUET = REPO.parent / "shared" / "data" / "genres_mod.parquet"
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


# ---------------------------------------------------------------------------------------------
# Sizes
# ---------------------------------------------------------------------------------------------


@dataclass
class Sizes:
    large: int = 1 * GiB
    memory_small: int = 10 * MiB
    small: int = 1 * MiB
    sweep_files: int = 8
    sweep_size: int = 64 * MiB
    sweep_jobs: tuple[int, ...] = (2, 4)
    s3: int = 256 * MiB
    probe_reps: int = 3


QUICK = Sizes(
    large=128 * MiB,
    memory_small=4 * MiB,
    small=1 * MiB,
    sweep_files=4,
    sweep_size=8 * MiB,
    sweep_jobs=(2,),
    s3=32 * MiB,
    probe_reps=1,
)


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
    procs: dict[str, dict[str, int]] = field(default_factory=dict)
    log: str = ""


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
        self.count += 1
        log = self.logs / f"{self.count:03d}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', label)}.log"
        shell = isinstance(cmd, str)
        full_env = {**self.env, **(env or {})}
        # Let the previous run's dirty pages reach the disk first, so it does not slow this one.
        os.sync()
        with open(log, "wb") as out:
            out.write(f"$ {cmd if shell else shlex.join(cmd)}\n".encode())
            out.flush()
            started = time.perf_counter()
            proc = subprocess.Popen(
                ["bash", "-o", "pipefail", "-c", cmd] if shell else cmd,
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
        result = Run(label=label, seconds=seconds, rc=rc, log=str(log))
        result.cpu_seconds = usage.ru_utime + usage.ru_stime
        if sampler:
            result.tree_peak = sampler.tree_peak
            result.anon_peak = sampler.anon_peak
            result.file_at_peak = sampler.file_at_peak
            result.hwm_sum = sum(p["hwm"] for p in sampler.procs.values())
            result.procs = sampler.by_name()
        status = "" if rc == 0 else f"  (exit {rc}, see {log})"
        cpu = result.cpu_seconds
        print(f"    {label:<34} {seconds:7.2f} s  (cpu {cpu:5.2f} s){status}", flush=True)
        if rc != 0 and check:
            tail = Path(log).read_text(errors="replace")[-3000:]
            raise SystemExit(f"{label} failed (exit {rc}):\n{tail}")
        return result


def alternate(
    rounds: int, variants: list[tuple[str, Callable[[int], Run]]]
) -> dict[str, list[Run]]:
    """Run each variant once per round; odd rounds in reverse order (A B C, C B A, ...)."""
    out: dict[str, list[Run]] = {name: [] for name, _ in variants}
    for r in range(rounds):
        order = variants if r % 2 == 0 else list(reversed(variants))
        print(f"  round {r + 1}/{rounds}", flush=True)
        for name, fn in order:
            out[name].append(fn(r))
    return out


def med(runs: list[Run], attr: str = "seconds") -> float:
    return statistics.median(getattr(r, attr) for r in runs)


def summary(runs: list[Run]) -> dict[str, Any]:
    secs = [r.seconds for r in runs]
    return {
        "median_s": statistics.median(secs),
        "min_s": min(secs),
        "max_s": max(secs),
        "runs_s": secs,
        "cpu_s": statistics.median(r.cpu_seconds for r in runs),
        "cores_used": statistics.median(r.cpu_seconds / r.seconds for r in runs if r.seconds),
        "tree_peak_rss_mb": statistics.median(r.tree_peak for r in runs) / 1e6,
        "anon_peak_rss_mb": statistics.median(r.anon_peak for r in runs) / 1e6,
        "file_rss_at_peak_mb": statistics.median(r.file_at_peak for r in runs) / 1e6,
        "hwm_sum_mb": statistics.median(r.hwm_sum for r in runs) / 1e6,
        "procs": runs[-1].procs,
        "logs": [r.log for r in runs],
    }


# ---------------------------------------------------------------------------------------------
# HTTP servers (each in its own process, so it never shares a GIL with what it serves)
# ---------------------------------------------------------------------------------------------


def serve(root: str, mode: str) -> None:
    """`bench.py --serve ROOT MODE`: serve ROOT on 127.0.0.1:<free port>, print the port."""
    root_path = Path(root)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_HEAD(self) -> None:
            self.do_GET(head=True)

        def do_GET(self, head: bool = False) -> None:
            rel = self.path.split("?", 1)[0].lstrip("/")
            path = root_path / rel
            if ".." in rel or not path.is_file():
                self.send_error(404)
                return
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(st.st_size))
                self.send_header("ETag", f'"{st.st_mtime_ns:x}-{st.st_size:x}"')
                self.end_headers()
                if head:
                    return
                self.wfile.flush()
                if mode == "sendfile":
                    self.connection.sendfile(f)
                else:
                    while block := f.read(MiB):
                        self.wfile.write(block)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128

    httpd = Server(("127.0.0.1", 0), Handler)
    print(httpd.server_address[1], flush=True)
    httpd.serve_forever()


def serve_testserver(root: str) -> None:
    """`bench.py --serve ROOT testserver`: tests.servers.FileServer (1 MiB chunks) over ROOT."""
    sys.path.insert(0, str(REPO))
    from tests.servers import FileServer

    srv = FileServer(chunk_size=MiB).start()
    for p in sorted(Path(root).rglob("*")):
        if p.is_file():
            srv.add_file("/" + p.relative_to(root).as_posix(), p)
    print(srv.port, flush=True)
    threading.Event().wait()


class HttpServer:
    """A file server subprocess over ``root``; ``mode``: stdlib | copy | sendfile | testserver."""

    def __init__(self, root: Path, mode: str):
        self.root = root
        self.mode = mode
        if mode == "stdlib":
            cmd = [
                sys.executable,
                "-u",
                "-m",
                "http.server",
                "0",
                "-b",
                "127.0.0.1",
                "-d",
                str(root),
            ]
        else:
            cmd = [sys.executable, "-u", str(Path(__file__).resolve()), "--serve", str(root), mode]
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        m = re.search(r"port (\d+)", line) if mode == "stdlib" else re.match(r"(\d+)", line)
        if not m:
            self.stop()
            raise RuntimeError(f"{mode} server did not start: {line!r}")
        self.port = int(m.group(1))
        _wait_port(self.port)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# The benchmark
# ---------------------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.sizes = QUICK if args.quick else Sizes()
        self.reps = args.reps or (1 if args.quick else 3)
        self.tmp = Path(tempfile.mkdtemp(prefix="getdata-bench-", dir=args.tmp))
        self.data = self.tmp / "data"
        self.out = self.tmp / "out"
        self.logs = self.tmp / "logs"
        for d in (self.data, self.out, self.logs):
            d.mkdir()
        self.tree = self._tree()
        wb = self.tmp / "wandb"
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("WANDB_", "AWS_", "HYDRA_")) and k != "PYTHONPATH"
        }
        env.update(
            WANDB_MODE="offline",
            WANDB_DIR=str(wb),
            WANDB_DATA_DIR=str(wb / "data"),
            WANDB_CACHE_DIR=str(wb / "cache"),
            WANDB_CONFIG_DIR=str(wb / "config"),
            WANDB_SILENT="true",
            HYDRA_FULL_ERROR="1",
            PYTHONPATH=str(self.tree),
        )
        # Let the tree keep its .pyc files, as an installed package does.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.runner = Runner(env, self.tree, self.logs, args.interval)
        self.results: dict[str, Any] = {"cases": {}}
        self.server_mode = args.server if args.server != "auto" else None
        self.servers: list[HttpServer] = []

    def _tree(self) -> Path:
        """The getdata tree to run: the work tree, or a snapshot of HEAD (--snapshot)."""
        if not self.args.snapshot:
            return Path(self.args.tree).resolve()
        snap = self.tmp / "tree"
        snap.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", "HEAD"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(snap)], input=archive, check=True)
        return snap

    # -- helpers -------------------------------------------------------------------------------

    def getdata_cmd(self, *overrides: str, py_flags: tuple[str, ...] = ()) -> list[str]:
        return [sys.executable, *py_flags, "-m", "getdata", *overrides]

    def rundir(self, label: str) -> Path:
        d = self.out / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', label)}-{time.monotonic_ns()}"
        return d

    def clean(self, *paths: Path) -> None:
        for p in paths:
            shutil.rmtree(p, ignore_errors=True)
            with contextlib.suppress(FileNotFoundError):
                if p.is_file():
                    p.unlink()

    def http(self, root: Path) -> HttpServer:
        srv = HttpServer(root, self.server_mode or "copy")
        self.servers.append(srv)
        return srv

    def run_getdata(self, label: str, *overrides: str, env: Optional[dict[str, str]] = None) -> Run:
        rd = self.rundir(label)
        try:
            return self.runner.run(
                label, self.getdata_cmd(*overrides, f"hydra.run.dir={rd}"), env=env
            )
        finally:
            self.clean(rd)

    def close(self) -> None:
        for srv in self.servers:
            srv.stop()
        if not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- environment ---------------------------------------------------------------------------

    def describe_machine(self) -> dict[str, Any]:
        def cmd(*c: str) -> str:
            try:
                return subprocess.run(c, capture_output=True, text=True, timeout=20).stdout.strip()
            except Exception as exc:  # noqa: BLE001 - a missing tool is just "unknown"
                return f"unknown ({exc})"

        cpu = "unknown"
        with contextlib.suppress(OSError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        flags = ""
        with contextlib.suppress(OSError):
            flags = Path("/proc/cpuinfo").read_text()
        versions = cmd(
            sys.executable,
            "-c",
            "import importlib.metadata as m;print(' '.join(f'{p}={m.version(p)}' for p in "
            "['wandb','fsspec','s3fs','aiohttp','hydra-core','hydra-joblib-launcher','joblib',"
            "'pyarrow','pandas','boto3','moto','requests']))",
        )
        return {
            "when": datetime.now().isoformat(timespec="seconds"),
            "cpu": cpu,
            "cores": os.cpu_count(),
            "sha_ni": " sha_ni " in flags,
            "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GiB, 1),
            "kernel": platform.release(),
            "python": platform.python_version(),
            "openssl": __import__("ssl").OPENSSL_VERSION,
            "packages": versions,
            "curl": cmd("curl", "--version").splitlines()[0] if shutil.which("curl") else None,
            "tree": str(self.tree),
            "commit": cmd("git", "-C", str(REPO), "rev-parse", "--short", "HEAD"),
            "work_tree_dirty": bool(cmd("git", "-C", str(REPO), "status", "--porcelain")),
            "snapshot": self.args.snapshot,
            "quick": self.args.quick,
            "reps": self.reps,
            "sampling_interval_s": self.args.interval,
        }

    # -- case 1: large file ------------------------------------------------------------------------

    def probe_servers(self, name: str, root: Path) -> dict[str, Any]:
        """Time `curl -o /dev/null` against each server kind; the fastest serves the benchmark."""
        found: dict[str, Any] = {}
        modes = ["stdlib", "testserver", "copy", "sendfile"]
        if self.server_mode:
            modes = [self.server_mode]
        print(f"  server probe: curl -s URL -o /dev/null for {', '.join(modes)}", flush=True)
        for mode in modes:
            srv = HttpServer(root, mode)
            try:
                runs = [
                    self.runner.run(
                        f"curl-devnull[{mode}]",
                        ["curl", "-sf", srv.url(name), "-o", "/dev/null"],
                        sample=False,
                    )
                    for _ in range(self.sizes.probe_reps)
                ]
            finally:
                srv.stop()
            found[mode] = statistics.median(r.seconds for r in runs)
        best = min(found, key=found.get)  # type: ignore[arg-type]
        self.server_mode = best
        return {"curl_devnull_median_s": found, "chosen": best}

    def case_large(self) -> None:
        size = self.sizes.large
        root = self.data / "large"
        f = make_file(root / "large.bin", size)
        res: dict[str, Any] = {"size_bytes": size}
        res["servers"] = self.probe_servers(f.name, root)
        srv = self.http(root)
        url = srv.url(f.name)
        out = self.out / "baseline.bin"
        print(f"  orientation ({srv.mode} server)", flush=True)
        orient = {
            "curl_devnull": ["curl", "-sf", url, "-o", "/dev/null"],
            "sha256sum_file": ["sha256sum", str(f)],
            "md5sum_file": ["md5sum", str(f)],
            "python_sha256+md5_file": [sys.executable, "-c", _HASH_FILE, str(f)],
        }
        res["orientation"] = {}
        for key, cmd in orient.items():
            runs = [self.runner.run(key, cmd, sample=False) for _ in range(self.reps)]
            res["orientation"][key] = statistics.median(r.seconds for r in runs)

        def baseline(_: int) -> Run:
            try:
                return self.runner.run(
                    "baseline curl|tee|sha256sum",
                    f"curl -sf {shlex.quote(url)} | tee {shlex.quote(str(out))} | sha256sum",
                )
            finally:
                self.clean(out)

        def getdata(_: int) -> Run:
            return self.run_getdata("getdata large", "source=http", f"source.url={url}")

        print("  alternating getdata / baseline", flush=True)
        runs = alternate(self.reps, [("getdata", getdata), ("baseline", baseline)])
        res["getdata"] = summary(runs["getdata"])
        res["baseline"] = summary(runs["baseline"])
        res["ratio"] = med(runs["getdata"]) / med(runs["baseline"])
        res["target"] = "getdata <= 1.25 x baseline"
        res["pass"] = res["ratio"] <= 1.25
        self.results["cases"]["large"] = res
        self._large_runs = runs["getdata"]

    # -- case 2: memory ------------------------------------------------------------------------

    def case_memory(self) -> None:
        root = self.data / "memory"
        small = make_file(root / "small.bin", self.sizes.memory_small)
        large_runs = getattr(self, "_large_runs", None)
        if large_runs is None:  # `--only memory`: run the large file here too
            make_file(root / "large.bin", self.sizes.large)
        srv = self.http(root)

        def small_run(_: int) -> Run:
            return self.run_getdata(
                "getdata memory-small", "source=http", f"source.url={srv.url(small.name)}"
            )

        variants = [("small", small_run)]
        if large_runs is None:
            variants.append(
                (
                    "large",
                    lambda _: self.run_getdata(
                        "getdata memory-large", "source=http", f"source.url={srv.url('large.bin')}"
                    ),
                )
            )
        runs = alternate(self.reps, variants)
        large = large_runs if large_runs is not None else runs["large"]
        res: dict[str, Any] = {
            "large_bytes": self.sizes.large,
            "small_bytes": self.sizes.memory_small,
            "large": summary(large),
            "small": summary(runs["small"]),
        }
        for key in ("tree_peak", "anon_peak", "hwm_sum"):
            res[f"ratio_{key}"] = med(large, key) / med(runs["small"], key)
        res["target"] = "tree peak RSS large <= 1.1 x small and < 250 MB"
        res["pass"] = res["ratio_tree_peak"] <= 1.1 and med(large, "tree_peak") < 250e6
        self.results["cases"]["memory"] = res

    # -- case 3: small file and start-up ---------------------------------------------------------

    def small_file(self) -> Path:
        root = self.data / "small"
        if SHARED_PARQUET.is_file() and not self.args.no_parquet:
            root.mkdir(parents=True, exist_ok=True)
            dst = root / SHARED_PARQUET.name
            if not dst.exists():
                shutil.copyfile(SHARED_PARQUET, dst)
            return dst
        return make_file(root / "small.bin", self.sizes.small)

    def case_small(self) -> None:
        f = self.small_file()
        srv = self.http(f.parent)
        url = srv.url(f.name)

        def getdata(_: int) -> Run:
            return self.run_getdata("getdata small", "source=http", f"source.url={url}")

        def original(_: int) -> Run:
            return self.runner.run(
                "original small",
                [
                    sys.executable,
                    str(HERE / "original_run.py"),
                    "--file_url",
                    url,
                    "--artifact_name",
                    re.sub(r"[^A-Za-z0-9._-]+", "_", f.name),
                    "--artifact_type",
                    "raw_data",
                    "--artifact_description",
                    "Data as downloaded",
                ],
            )

        def bare(_: int) -> Run:
            return self.runner.run("python -c pass", [sys.executable, "-c", "pass"], sample=False)

        def help_(_: int) -> Run:
            return self.runner.run("getdata --help", self.getdata_cmd("--help"), sample=False)

        runs = alternate(
            self.reps,
            [
                ("getdata", getdata),
                ("original", original),
                ("getdata --help", help_),
                ("python", bare),
            ],
        )
        res = {
            "file": f.name,
            "size_bytes": f.stat().st_size,
            "getdata": summary(runs["getdata"]),
            "original": summary(runs["original"]),
            "getdata_help_median_s": med(runs["getdata --help"]),
            "python_startup_median_s": med(runs["python"]),
            "ratio": med(runs["getdata"]) / med(runs["original"]),
            "target": "getdata <= original",
        }
        res["pass"] = res["ratio"] <= 1.0
        self.results["cases"]["small"] = res

    # -- imports ---------------------------------------------------------------------------------

    def case_imports(self) -> None:
        f = self.small_file()
        srv = self.http(f.parent)
        url = srv.url(f.name)
        packages = [
            "getdata",
            "hydra",
            "omegaconf",
            "wandb",
            "pyarrow",
            "pandas",
            "numpy",
            "s3fs",
            "aiobotocore",
            "botocore",
            "aiohttp",
            "fsspec",
            "requests",
            "yaml",
            "pydantic",
            "tqdm",
            "asyncio",
        ]
        res: dict[str, Any] = {}
        for what, overrides in (
            ("help", ("--help",)),
            ("run", ("source=http", f"source.url={url}")),
        ):
            parsed = []
            for _ in range(self.reps):
                rd = self.rundir("imports")
                extra = () if what == "help" else (f"hydra.run.dir={rd}",)
                r = self.runner.run(
                    f"importtime {what}",
                    self.getdata_cmd(*overrides, *extra, py_flags=("-X", "importtime")),
                    sample=False,
                )
                self.clean(rd)
                parsed.append(parse_importtime(Path(r.log).read_text(errors="replace"), packages))
            res[what] = {
                "total_import_s": statistics.median(p["total_s"] for p in parsed),
                "imports_during_run_s": statistics.median(p["at_run_time_s"] for p in parsed),
                "self_time_by_package_s": {
                    pkg: statistics.median(p["by_package"].get(pkg, 0.0) for p in parsed)
                    for pkg in packages
                },
                "cumulative_first_import_s": {
                    pkg: statistics.median(p["cumulative"].get(pkg, 0.0) for p in parsed)
                    for pkg in packages
                },
                "imported_by": parsed[-1]["imported_by"],
                "top_self": parsed[-1]["top_self"],
            }
        self.results["cases"]["imports"] = res

    # -- case 4: sweeps --------------------------------------------------------------------------

    def case_sweep(self) -> None:
        root = self.data / "sweep"
        n, size = self.sizes.sweep_files, self.sizes.sweep_size
        files = [make_file(root / f"part{i}.bin", size) for i in range(n)]
        srv = self.http(root)
        urls = ",".join(f"'{srv.url(p.name)}'" for p in files)

        def sweep(label: str, launcher: tuple[str, ...]) -> Callable[[int], Run]:
            def fn(_: int) -> Run:
                sd = self.rundir(label)
                started = time.time()
                try:
                    r = self.runner.run(
                        label,
                        self.getdata_cmd(
                            "-m",
                            "source=http",
                            f"source.url={urls}",
                            f"hydra.sweep.dir={sd}",
                            *launcher,
                        ),
                    )
                    r.procs["_jobs"] = job_times(sd, started)  # type: ignore[assignment]
                    return r
                finally:
                    self.clean(sd)

            return fn

        variants = [("basic", sweep("sweep basic", ()))]
        for j in self.sizes.sweep_jobs:
            variants.append(
                (
                    f"joblib{j}",
                    sweep(
                        f"sweep joblib n_jobs={j}",
                        ("hydra/launcher=joblib", f"hydra.launcher.n_jobs={j}"),
                    ),
                )
            )
        runs = alternate(self.reps, variants)
        res: dict[str, Any] = {"files": n, "size_bytes": size}
        for name, rs in runs.items():
            s = summary(rs)
            jobs = [r.procs.pop("_jobs") for r in rs]  # type: ignore[misc]
            s["jobs"] = jobs[-1]
            s["first_job_start_s"] = statistics.median(j["first_start_s"] for j in jobs)
            s["job_in_log_median_s"] = statistics.median(j["median_in_log_s"] for j in jobs)
            s["gap_between_jobs_median_s"] = statistics.median(j["median_gap_s"] for j in jobs)
            res[name] = s
        for j in self.sizes.sweep_jobs:
            res[f"speedup_joblib{j}"] = res["basic"]["median_s"] / res[f"joblib{j}"]["median_s"]
        best = max(res[f"speedup_joblib{j}"] for j in self.sizes.sweep_jobs)
        res["target"] = "joblib >= 1.6 x faster than sequential"
        res["pass"] = best >= 1.6
        self.results["cases"]["sweep"] = res

    # -- case 5: S3 ------------------------------------------------------------------------------

    def case_s3(self) -> None:
        import boto3

        size = self.sizes.s3
        f = make_file(self.data / "s3" / "big.bin", size)
        port = _free_port()
        moto = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from moto.server import main; main()",
                "-H",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **FAKE_AWS},
        )
        try:
            _wait_port(port)
            endpoint = f"http://127.0.0.1:{port}"
            with _env(FAKE_AWS):
                client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
                client.create_bucket(Bucket="bench")
                client.upload_file(str(f), "bench", "big.bin")
                presigned = client.generate_presigned_url(
                    "get_object", Params={"Bucket": "bench", "Key": "big.bin"}
                )
            dl = self.out / "boto3.bin"

            def getdata(_: int) -> Run:
                return self.run_getdata(
                    "getdata s3",
                    "source=s3",
                    "source.url=s3://bench/big.bin",
                    f"source.endpoint_url={endpoint}",
                    env=FAKE_AWS,
                )

            def boto3_sub(_: int) -> Run:
                try:
                    return self.runner.run(
                        "boto3 download_file (process)",
                        [
                            sys.executable,
                            str(Path(__file__).resolve()),
                            "--boto3-download",
                            endpoint,
                            str(dl),
                        ],
                        env=FAKE_AWS,
                    )
                finally:
                    self.clean(dl)

            def boto3_inproc(_: int) -> Run:
                os.sync()
                with _env(FAKE_AWS):
                    t = time.perf_counter()
                    client.download_file("bench", "big.bin", str(dl))
                    secs = time.perf_counter() - t
                self.clean(dl)
                print(f"    {'boto3 download_file (in-process)':<34} {secs:7.2f} s", flush=True)
                return Run(label="boto3 in-process", seconds=secs, rc=0)

            def curl(_: int) -> Run:
                return self.runner.run(
                    "curl whole GET (moto ceiling)",
                    ["curl", "-sf", presigned, "-o", "/dev/null"],
                    sample=False,
                )

            def ranged(_: int) -> Run:
                """One 8 MiB ranged GET: moto reads the whole object for each (its cost model)."""
                with _env(FAKE_AWS):
                    t = time.perf_counter()
                    client.get_object(
                        Bucket="bench", Key="big.bin", Range=f"bytes=0-{8 * MiB - 1}"
                    )["Body"].read()
                    secs = time.perf_counter() - t
                print(f"    {'one 8 MiB ranged GET':<34} {secs:7.2f} s", flush=True)
                return Run(label="ranged", seconds=secs, rc=0)

            runs = alternate(
                self.reps,
                [
                    ("getdata", getdata),
                    ("boto3_process", boto3_sub),
                    ("boto3_inprocess", boto3_inproc),
                    ("curl_whole_get", curl),
                    ("one_8MiB_range_get", ranged),
                ],
            )
        finally:
            moto.terminate()
            moto.wait()
        res: dict[str, Any] = {"size_bytes": size}
        for name, rs in runs.items():
            s = summary(rs)
            s["throughput_mib_s"] = size / MiB / s["median_s"]
            res[name] = s
        res["throughput_ratio_vs_boto3_process"] = (
            res["getdata"]["throughput_mib_s"] / res["boto3_process"]["throughput_mib_s"]
        )
        res["throughput_ratio_vs_boto3_inprocess"] = (
            res["getdata"]["throughput_mib_s"] / res["boto3_inprocess"]["throughput_mib_s"]
        )
        res["target"] = "getdata throughput >= 0.9 x boto3 (process)"
        res["pass"] = res["throughput_ratio_vs_boto3_process"] >= 0.9
        self.results["cases"]["s3"] = res


_HASH_FILE = """
import hashlib, sys
s, m = hashlib.sha256(), hashlib.md5()
with open(sys.argv[1], 'rb') as f:
    while b := f.read(4 << 20):
        s.update(b); m.update(b)
"""


@contextlib.contextmanager
def _env(values: dict[str, str]):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def boto3_download(endpoint: str, dest: str) -> None:
    """`bench.py --boto3-download ENDPOINT DEST`: the S3 baseline as its own process."""
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    t = time.perf_counter()
    client.download_file("bench", "big.bin", dest)
    print(f"download_file {time.perf_counter() - t:.3f} s", flush=True)


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------

_LOG_TIME = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]")


def job_times(sweep_dir: Path, started: float) -> dict[str, Any]:
    """From each job's getdata.log: when its first and last lines were written."""
    jobs = []
    for log in sorted(sweep_dir.glob("*/*.log")):
        stamps = []
        for line in log.read_text(errors="replace").splitlines():
            m = _LOG_TIME.match(line)
            if m:
                stamps.append(datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp())
        if stamps:
            jobs.append(
                {
                    "job": log.parent.name,
                    "start_s": stamps[0] - started,
                    "end_s": stamps[-1] - started,
                }
            )
    jobs.sort(key=lambda j: j["start_s"])
    in_log = [j["end_s"] - j["start_s"] for j in jobs]
    gaps = [b["start_s"] - a["end_s"] for a, b in zip(jobs, jobs[1:], strict=False)]
    return {
        "jobs": jobs,
        "first_start_s": jobs[0]["start_s"] if jobs else float("nan"),
        "median_in_log_s": statistics.median(in_log) if in_log else float("nan"),
        "median_gap_s": statistics.median(gaps) if gaps else float("nan"),
    }


_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def parse_importtime(text: str, packages: list[str]) -> dict[str, Any]:
    """Sum `-X importtime` lines by top-level package; imports after getdata's first log line
    happened lazily during the run (stderr keeps the order of both)."""
    rows = []
    lazy = False
    for line in text.splitlines():
        if not lazy and "][getdata" in line:
            lazy = True
        m = _IMPORT_LINE.match(line)
        if m:
            rows.append(
                (int(m.group(1)) / 1e6, int(m.group(2)) / 1e6, len(m.group(3)), m.group(4), lazy)
            )
    total = sum(cum for _, cum, depth, _, _ in rows if depth == 1)
    at_run_time = sum(cum for _, cum, depth, _, lz in rows if depth == 1 and lz)
    by_package: dict[str, float] = {}
    for self_s, _, _, name, _ in rows:
        top = name.split(".")[0]
        by_package[top] = by_package.get(top, 0.0) + self_s
    cumulative: dict[str, float] = {}
    imported_by: dict[str, str] = {}
    for i, (_, cum, depth, name, lz) in enumerate(rows):
        if name not in packages or name in cumulative:
            continue
        cumulative[name] = cum
        when = "after first log line" if lz else "before first log line"
        if depth <= 1:
            imported_by[name] = f"{when}: top level"
            continue
        # importtime prints children before their parent, one level deeper: the parent is the
        # next line with a smaller indent.
        chain, d = [], depth
        for _, _, d2, n2, _ in rows[i + 1 :]:
            if d2 < d:
                chain.append(n2)
                d = d2
                if d2 <= 1:
                    break
        if len(chain) > 4:
            chain = [*chain[:3], "...", chain[-1]]
        imported_by[name] = f"{when}: " + " <- ".join(chain)
    top_self = sorted(by_package.items(), key=lambda kv: -kv[1])[:15]
    return {
        "total_s": total,
        "at_run_time_s": at_run_time,
        "by_package": by_package,
        "cumulative": cumulative,
        "imported_by": imported_by,
        "top_self": top_self,
    }


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def report(results: dict[str, Any]) -> str:
    c = results["cases"]
    lines = []
    add = lines.append

    def row(*cells: Any) -> None:
        add("| " + " | ".join(str(x) for x in cells) + " |")

    def s(x: float) -> str:
        return f"{x:.2f} s"

    def mb(x: float) -> str:
        return f"{x:.0f} MB"

    add("| case | getdata (median) | baseline (median) | ratio | target | pass |")
    add("| --- | --- | --- | --- | --- | --- |")
    if "large" in c:
        r = c["large"]
        row(
            f"large: {r['size_bytes'] // MiB} MiB over loopback HTTP",
            s(r["getdata"]["median_s"]),
            f"{s(r['baseline']['median_s'])} (curl \\| tee \\| sha256sum)",
            f"{r['ratio']:.2f}x",
            "<= 1.25x",
            "yes" if r["pass"] else "**no**",
        )
    if "memory" in c:
        r = c["memory"]
        row(
            f"memory: tree peak RSS, {r['large_bytes'] // MiB} vs {r['small_bytes'] // MiB} MiB",
            mb(r["large"]["tree_peak_rss_mb"]),
            mb(r["small"]["tree_peak_rss_mb"]),
            f"{r['ratio_tree_peak']:.2f}x",
            "<= 1.1x and < 250 MB",
            "yes" if r["pass"] else "**no**",
        )
        row(
            "memory: the same, RssAnon only (no mmap'd file pages)",
            mb(r["large"]["anon_peak_rss_mb"]),
            mb(r["small"]["anon_peak_rss_mb"]),
            f"{r['ratio_anon_peak']:.2f}x",
            "(orientation)",
            "",
        )
    if "small" in c:
        r = c["small"]
        row(
            f"small: {r['file']} ({r['size_bytes'] / MiB:.1f} MiB) end to end",
            s(r["getdata"]["median_s"]),
            f"{s(r['original']['median_s'])} (original component)",
            f"{r['ratio']:.2f}x",
            "<= 1x",
            "yes" if r["pass"] else "**no**",
        )
    if "sweep" in c:
        r = c["sweep"]
        for key in (k for k in r if k.startswith("speedup_joblib")):
            j = key.removeprefix("speedup_joblib")
            row(
                f"sweep: {r['files']} x {r['size_bytes'] // MiB} MiB, joblib n_jobs={j}",
                s(r[f"joblib{j}"]["median_s"]),
                f"{s(r['basic']['median_s'])} (basic launcher)",
                f"{r[key]:.2f}x faster",
                ">= 1.6x faster",
                "yes" if r[key] >= 1.6 else "**no**",
            )
    if "s3" in c:
        r = c["s3"]
        row(
            f"s3: {r['size_bytes'] // MiB} MiB from moto (throughput)",
            f"{r['getdata']['throughput_mib_s']:.0f} MiB/s ({s(r['getdata']['median_s'])})",
            f"{r['boto3_process']['throughput_mib_s']:.0f} MiB/s "
            f"({s(r['boto3_process']['median_s'])}, boto3 process)",
            f"{r['throughput_ratio_vs_boto3_process']:.2f}x",
            ">= 0.9x",
            "yes" if r["pass"] else "**no**",
        )
    add("")

    if "large" in c:
        r = c["large"]
        add(
            f"Large file, orientation ({r['size_bytes'] // MiB} MiB; "
            f"server: {r['servers']['chosen']}):"
        )
        add("")
        add("| what | median |")
        add("| --- | --- |")
        for k, v in r["servers"]["curl_devnull_median_s"].items():
            row(f"curl -o /dev/null, {k} server", s(v))
        for k, v in r["orientation"].items():
            row(k, s(v))
        for label, key in (
            ("baseline curl \\| tee \\| sha256sum", "baseline"),
            ("getdata", "getdata"),
        ):
            x = r[key]
            row(
                f"{label} (CPU {x['cpu_s']:.1f} s, {x['cores_used']:.2f} cores)",
                s(x["median_s"]),
            )
        add("")
    if "memory" in c or "large" in c:
        add(
            "Peak RSS of the whole process tree (sampled from /proc; anon = RssAnon, i.e. "
            "without file pages mapped by mmap):"
        )
        add("")
        add("| run | tree peak | anon peak | file pages at peak | per process VmHWM (max) |")
        add("| --- | --- | --- | --- | --- |")
        items = []
        if "large" in c:
            items += [
                ("large: getdata", c["large"]["getdata"]),
                ("large: baseline", c["large"]["baseline"]),
            ]
        if "memory" in c:
            items += [("memory: getdata small", c["memory"]["small"])]
            if "large" not in c:
                items += [("memory: getdata large", c["memory"]["large"])]
        if "small" in c:
            items += [
                ("small: getdata", c["small"]["getdata"]),
                ("small: original", c["small"]["original"]),
            ]
        for label, sm in items:
            procs = ", ".join(
                f"{name} {p['hwm'] / 1e6:.0f}"
                for name, p in sorted(sm["procs"].items(), key=lambda kv: -kv[1]["hwm"])[:4]
            )
            row(
                label,
                mb(sm["tree_peak_rss_mb"]),
                mb(sm["anon_peak_rss_mb"]),
                mb(sm["file_rss_at_peak_mb"]),
                procs,
            )
        add("")
    if "small" in c:
        r = c["small"]
        add(
            f"Start-up: `python -c pass` {s(r['python_startup_median_s'])}, "
            f"`python -m getdata --help` {s(r['getdata_help_median_s'])}."
        )
        add("")
    if "imports" in c:
        r = c["imports"]
        add(
            "Import time (`-X importtime`, median, seconds; self time summed per top-level "
            "package, and the cumulative time of the package's first import):"
        )
        add("")
        add(
            "| package | --help: self | --help: cumulative | run: self | run: cumulative "
            "| imported (run) |"
        )
        add("| --- | --- | --- | --- | --- | --- |")
        h, rn = r["help"], r["run"]
        pk = sorted(rn["self_time_by_package_s"], key=lambda k: -rn["self_time_by_package_s"][k])
        for p in pk:
            if rn["self_time_by_package_s"][p] < 0.002 and h["self_time_by_package_s"][p] < 0.002:
                continue
            row(
                p,
                f"{h['self_time_by_package_s'][p]:.3f}",
                f"{h['cumulative_first_import_s'][p]:.3f}",
                f"{rn['self_time_by_package_s'][p]:.3f}",
                f"{rn['cumulative_first_import_s'][p]:.3f}",
                rn["imported_by"].get(p, ""),
            )
        row(
            "**all imports**",
            f"{h['total_import_s']:.3f}",
            "",
            f"{rn['total_import_s']:.3f}",
            f"{rn['imports_during_run_s']:.3f} of it during the run",
            "",
        )
        add("")
    if "sweep" in c:
        r = c["sweep"]
        add(f"Sweep ({r['files']} x {r['size_bytes'] // MiB} MiB):")
        add("")
        add(
            "| launcher | wall (median) | first job's first log line after spawn "
            "| job, first to last log line (median) | gap between jobs (median) | tree peak RSS "
            "| CPU (tree) / cores used |"
        )
        add("| --- | --- | --- | --- | --- | --- | --- |")
        for key in [
            k for k in r if k == "basic" or (k.startswith("joblib") and isinstance(r[k], dict))
        ]:
            x = r[key]
            row(
                key,
                s(x["median_s"]),
                s(x["first_job_start_s"]),
                s(x["job_in_log_median_s"]),
                s(x["gap_between_jobs_median_s"]),
                mb(x["tree_peak_rss_mb"]),
                f"{x['cpu_s']:.1f} s / {x['cores_used']:.2f}",
            )
        add("")
    if "s3" in c:
        r = c["s3"]
        add(f"S3 ({r['size_bytes'] // MiB} MiB object on moto):")
        add("")
        add("| what | median | MiB/s |")
        add("| --- | --- | --- |")
        for key in (
            "getdata",
            "boto3_process",
            "boto3_inprocess",
            "curl_whole_get",
            "one_8MiB_range_get",
        ):
            row(key, s(r[key]["median_s"]), f"{r[key]['throughput_mib_s']:.0f}")
        add("")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="small sizes, 1 round (< 1 min)")
    p.add_argument("--only", default="", help=f"comma-separated cases: {','.join(CASES)}")
    p.add_argument("--reps", type=int, default=0, help="alternating rounds (default 3, --quick 1)")
    p.add_argument("--json", default=str(HERE / "results.json"), help="where to write the results")
    p.add_argument("--md", default="", help="also write the tables (Markdown) to this file")
    p.add_argument("--tmp", default=None, help="parent folder for the temporary data")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, runs)")
    p.add_argument("--tree", default=str(REPO), help="the getdata source tree to run")
    p.add_argument(
        "--snapshot", action="store_true", help="run a `git archive HEAD` copy of the tree"
    )
    p.add_argument(
        "--server", default="auto", choices=["auto", "stdlib", "testserver", "copy", "sendfile"]
    )
    p.add_argument("--interval", type=float, default=0.05, help="RSS sampling interval (s)")
    p.add_argument(
        "--no-parquet", action="store_true", help="small case: random bytes, not the shared parquet"
    )
    p.add_argument("--serve", nargs=2, metavar=("ROOT", "MODE"), help=argparse.SUPPRESS)
    p.add_argument(
        "--boto3-download", nargs=2, metavar=("ENDPOINT", "DEST"), help=argparse.SUPPRESS
    )
    args = p.parse_args()
    if args.serve:
        root, mode = args.serve
        serve_testserver(root) if mode == "testserver" else serve(root, mode)
        return
    if args.boto3_download:
        boto3_download(*args.boto3_download)
        return

    only = [x for x in args.only.split(",") if x] or CASES
    unknown = set(only) - set(CASES)
    if unknown:
        p.error(f"unknown case(s): {', '.join(sorted(unknown))}; choose from {', '.join(CASES)}")
    bench = Bench(args)
    started = time.perf_counter()
    try:
        bench.results["machine"] = bench.describe_machine()
        print(
            f"getdata benchmark: tree {bench.tree}, temp {bench.tmp}, {bench.reps} round(s)",
            flush=True,
        )
        for case in CASES:
            if case in only:
                print(f"== {case}", flush=True)
                t = time.perf_counter()
                getattr(bench, f"case_{case}")()
                print(f"   ({time.perf_counter() - t:.0f} s)", flush=True)
    finally:
        bench.results["total_s"] = time.perf_counter() - started
        bench.results["server_mode"] = bench.server_mode
        Path(args.json).write_text(json.dumps(bench.results, indent=2, default=str))
        bench.close()
    text = report(bench.results)
    print()
    print(text)
    print(f"\nresults: {args.json}; total {bench.results['total_s']:.0f} s")
    if args.md:
        Path(args.md).write_text(text + "\n")


if __name__ == "__main__":
    main()
