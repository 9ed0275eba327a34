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
  large    512 MiB over loopback HTTP vs `curl -s URL | tee FILE >(md5sum) | sha256sum` (<= 1.15x)
  memory   peak RSS of the getdata process tree, 512 MiB vs 10 MiB (<= 1.1x and <= 150 MB)
  small    1 MiB end to end vs the original component (benchmarks/original_run.py) (target <= 1x)
  imports  -X importtime of `getdata --help` and of a small run, by package
  sweep    8 x 64 MiB as one multirun: basic launcher vs joblib n_jobs=2,4 (target >= 1.6x)
  s3       256 MiB from moto: getdata vs boto3 download_file (target >= 0.9x boto3 throughput)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

from bench_cases import CASES
from bench_report import report
from common import (
    REPO,
    BenchBase,
    GiB,
    MiB,
    Run,
    Runner,
    boto3_download,
    child_env,
    getdata_cmd,
    git_snapshot,
    med,
    output,
    print_report,
    remove,
    slug,
    version,
    write_results,
)
from servers import Helper, serve_files

HERE = Path(__file__).resolve().parent


# ---------------------------------------------------------------------------------------------
# Sizes
# ---------------------------------------------------------------------------------------------


@dataclass
class Sizes:
    large: int = 512 * MiB
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
# HTTP servers (each in its own process, so it never shares a GIL with what it serves)
# ---------------------------------------------------------------------------------------------


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


class HttpServer(Helper):
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
        super().__init__(cmd, port_pattern=r"port (\d+)" if mode == "stdlib" else r"^(\d+)")


# ---------------------------------------------------------------------------------------------
# The benchmark: its folder, environment, servers and getdata runs (the cases: bench_cases.py)
# ---------------------------------------------------------------------------------------------


class Bench(BenchBase):
    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args, "getdata-bench-")
        self.sizes = QUICK if args.quick else Sizes()
        self.tree = self._tree()
        env = child_env(self.tmp)
        env["PYTHONPATH"] = str(self.tree)
        self.runner = Runner(env, self.tree, self.logs, args.interval)
        self.server_mode = args.server if args.server != "auto" else None
        # the large case's getdata runs, which the memory case reuses
        self.large_runs: Optional[list[Run]] = None

    def _tree(self) -> Path:
        """The getdata tree to run: the work tree, or a snapshot of HEAD (--snapshot)."""
        if not self.args.snapshot:
            return Path(self.args.tree).resolve()
        return git_snapshot("HEAD", self.tmp / "tree")

    def rundir(self, label: str) -> Path:
        return self.out / f"{slug(label)}-{time.monotonic_ns()}"

    def http(self, root: Path, mode: Optional[str] = None) -> HttpServer:
        """A file server over ``root`` (``mode``: the chosen one), stopped by close()."""
        srv = HttpServer(root, mode or self.server_mode or "copy")
        self.helpers.append(srv)
        return srv

    def probe_servers(self, name: str, root: Path) -> dict[str, Any]:
        """Time `curl -o /dev/null` against each server kind; the fastest serves the benchmark."""
        found: dict[str, Any] = {}
        modes = ["stdlib", "testserver", "copy", "sendfile"]
        if self.server_mode:
            modes = [self.server_mode]
        print(f"  server probe: curl -s URL -o /dev/null for {', '.join(modes)}", flush=True)
        for mode in modes:
            srv = self.http(root, mode)
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
            found[mode] = med(runs)
        best = min(found, key=found.get)  # type: ignore[arg-type]
        self.server_mode = best
        return {"curl_devnull_median_s": found, "chosen": best}

    def run_getdata(self, label: str, *overrides: str, env: Optional[dict[str, str]] = None) -> Run:
        rd = self.rundir(label)
        try:
            return self.runner.run(label, getdata_cmd(*overrides, f"hydra.run.dir={rd}"), env=env)
        finally:
            remove(rd)

    def describe_machine(self) -> dict[str, Any]:
        cpu = "unknown"
        flags = ""
        with contextlib.suppress(OSError):
            flags = Path("/proc/cpuinfo").read_text()
        for line in flags.splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        versions = output(
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
            "curl": version("curl", "--version") if shutil.which("curl") else None,
            "tree": str(self.tree),
            "commit": output("git", "-C", str(REPO), "rev-parse", "--short", "HEAD"),
            "work_tree_dirty": bool(output("git", "-C", str(REPO), "status", "--porcelain")),
            "snapshot": self.args.snapshot,
            "quick": self.args.quick,
            "reps": self.reps,
            "sampling_interval_s": self.args.interval,
        }


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
        serve_testserver(root) if mode == "testserver" else serve_files(root, mode)
        return
    if args.boto3_download:
        endpoint, dest = args.boto3_download
        boto3_download(endpoint, "bench", "big.bin", dest)
        return

    only = [x for x in args.only.split(",") if x] or list(CASES)
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
                bench.results["cases"][case] = CASES[case](bench)
                print(f"   ({time.perf_counter() - t:.0f} s)", flush=True)
    finally:
        bench.results["total_s"] = time.perf_counter() - started
        bench.results["server_mode"] = bench.server_mode
        write_results(args.json, bench.results)
        bench.close()
    print_report(report(bench.results), args.json, bench.results["total_s"], args.md)


if __name__ == "__main__":
    main()
