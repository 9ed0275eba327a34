#!/usr/bin/env python
"""Incremental refresh and fetch.max_rate (issue 23), measured.

    python benchmarks/refresh.py                              # both cases, 3 rounds
    python benchmarks/refresh.py --only refresh --reps 1 --count 2000
    python benchmarks/refresh.py --only rate

refresh -- SeaweedFS behind benchmarks/netproxy.py with network profile A (20 MiB/s per
connection, 50 ms round trip), a prefix of 10,000 x 64 KiB objects. Each round, in a data
folder and a state folder of its own:

  first    the first fetch of the prefix: lists it and GETs every object;
           (then 1 % of the objects, every 100th key, is uploaded again with other bytes)
  refresh  the second fetch, as a daily run does it: lists the prefix, GETs the 100 changed
           objects, takes the 9,900 others from the first version (their bytes proven by the
           kept version's record), logs the new version whole;
  alone    the baseline, what the listing and those 100 objects cost on their own: a glob that
           matches exactly them (s3fs lists the whole prefix to match it), into a new data
           folder: the same listing, the same 100 GETs, 100 entries logged.

  Targets: refresh <= 1.2 x alone, and refresh <= 10 % of first. "refresh" and "alone" run
  one after the other in each round, their order reversed every other round.

rate -- fetch.max_rate=8M on a 64 MiB file over loopback http (the benchmarks' file server,
Range and a strong ETag, so getdata uses 8 connections by default), with the default
connections and with fetch.connections=1; and an S3 prefix of 2,000 x 64 KiB (125 MiB, the
small-object batch) with fetch.max_rate=25M, straight to SeaweedFS. The time that counts is the
fetch's own ("fetched ... in N s" in the log: 8 s and 5 s are the targets, +- 10 %); the whole
process (start-up, W&B) is given beside it.

Each getdata run is the whole `python -m getdata ...` process, W&B offline in the temporary
folder, timed from spawn to exit (benchmarks/common.py's Runner).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from common import (
    REPO,
    BenchBase,
    MiB,
    Run,
    Runner,
    child_env,
    make_file,
    output,
    print_report,
    remove,
    stamped_lines,
    write_results,
)
from seaweed import ACCESS_KEY, SECRET_KEY, SeaweedFS
from servers import Helper, netproxy, serve_files

HERE = Path(__file__).resolve().parent
BUCKET = "lake"
# Network profile A of benchmarks/netbench.py: MiB/s per connection, round trip in ms.
PROFILE_A = (20.0, 50.0)
NICE = -5
_MESSAGE = re.compile(r"^\[getdata(?:\.[\w.]+)?\]\[\w+\] - (.*)")
_FETCHED = re.compile(r"^fetched (?:.*?: )?.*? in ([\d.]+) s")


class Bench(BenchBase):
    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args, "getdata-refresh-")
        env = child_env(self.tmp)
        env.update(
            PYTHONPATH=str(REPO),
            AWS_ACCESS_KEY_ID=ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=SECRET_KEY,
            AWS_DEFAULT_REGION="us-east-1",
            AWS_EC2_METADATA_DISABLED="true",
        )
        self.runner = Runner(env, self.tmp, self.logs, args.interval)
        self.s3: SeaweedFS | None = None
        self.client: Any = None

    def start_s3(self) -> None:
        print("  starting SeaweedFS", flush=True)
        self.s3 = SeaweedFS(self.tmp / "seaweedfs", nice=NICE)
        self.helpers.append(self.s3)
        self.client = self.s3.client()
        self.client.create_bucket(Bucket=BUCKET)

    def put(self, keys: list[str], size: int, salt: int = 0) -> None:
        """Upload ``keys`` with random bytes of ``size`` each (16 at a time)."""

        def one(key: str) -> None:
            body = salt.to_bytes(4, "little") + os.urandom(size - 4)
            self.client.put_object(Bucket=BUCKET, Key=key, Body=body)

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(one, keys))

    def proxy(self, port: int, profile: tuple[float, float]) -> str:
        rate, rtt = profile
        proxy = netproxy(port, rate, rtt, NICE)
        self.helpers.append(proxy)
        return f"http://127.0.0.1:{proxy.port}"

    def getdata(self, label: str, folder: Path, *overrides: str) -> Run:
        """One `python -m getdata` whose data and state folders are ``folder``'s (kept across
        runs that share it); its log is read into ``notes``."""
        run_dir = self.out / f"run-{time.monotonic_ns()}"
        cmd = [
            sys.executable,
            "-m",
            "getdata",
            f"hydra.run.dir={run_dir}",
            f"data_dir={folder / 'data'}",
            f"state_dir={folder / 'state'}",
            *overrides,
        ]
        started = time.time()
        try:
            run = self.runner.run(label, cmd)
            run.notes = notes(run_dir / "getdata.log", started)
            return run
        finally:
            remove(run_dir)


def notes(log: Path, started: float) -> dict[str, Any]:
    """What a run's log says: when each step began (seconds after spawn), what the refresh and
    the fetch reported."""
    out: dict[str, Any] = {}
    for stamp, rest in stamped_lines(log) if log.exists() else []:
        m = _MESSAGE.match(rest)
        if not m:
            continue
        message, at = m[1], round(stamp - started, 3)
        out.setdefault("first_line_s", at)
        if message.startswith("fetching "):
            out["fetching_s"] = at
        elif message.startswith("refresh: ") and "unchanged since" in message:
            out["compared_s"] = at
            out["refresh"] = message
        elif message.startswith("fetched "):
            out["last_fetched_s"] = at
            out["fetched"] = message
            if found := _FETCHED.match(message):
                out.setdefault("fetch_s", float(found[1]))
        elif message.startswith("logged artifact"):
            out["logged_s"] = at
    return out


def med(runs: list[Run], attr: str = "seconds") -> float:
    return statistics.median(getattr(r, attr) for r in runs)


# ---------------------------------------------------------------------------------------------
# The cases
# ---------------------------------------------------------------------------------------------


def refresh_case(b: Bench) -> dict[str, Any]:
    count, size = b.args.count, 64 * 1024
    keys = [f"small/f{i:05d}.bin" for i in range(count)]
    changed = keys[::100]
    print(f"  uploading {count:,} x 64 KiB", flush=True)
    t = time.perf_counter()
    b.put(keys, size)
    print(f"  ({time.perf_counter() - t:.1f} s)", flush=True)
    assert b.s3 is not None
    endpoint = b.proxy(b.s3.port, PROFILE_A)
    source = ["source=s3", f"source.endpoint_url={endpoint}", "artifact.name=lake"]
    prefix = f"source.url=s3://{BUCKET}/small/"
    # Exactly the changed keys (f00000, f00100, ...: the keys ending in 00), which s3fs matches
    # by listing the whole prefix. (Not `f???00.bin`: getdata reads an S3 URL's `?` as the start
    # of a query.)
    glob = f"source.url='s3://{BUCKET}/small/f*00.bin'"
    runs: dict[str, list[Run]] = {"first": [], "refresh": [], "alone": []}
    for r in range(b.reps):
        print(f"  round {r + 1}/{b.reps}", flush=True)
        folder, alone = b.data / f"round{r}", b.data / f"round{r}-alone"
        runs["first"].append(b.getdata("first fetch", folder, *source, prefix))
        b.put(changed, size, salt=r + 1)
        pair = [
            ("refresh", lambda f=folder: b.getdata("refresh (1 % changed)", f, *source, prefix)),
            ("alone", lambda f=alone: b.getdata("listing + the 100 alone", f, *source, glob)),
        ]
        for name, fn in pair if r % 2 == 0 else reversed(pair):
            runs[name].append(fn())
        remove(folder, alone)
    out: dict[str, Any] = {"count": count, "size_bytes": size, "changed": len(changed)}
    for name, rs in runs.items():
        out[name] = {
            "median_s": med(rs),
            "runs_s": [round(x.seconds, 3) for x in rs],
            "cpu_s": med(rs, "cpu_seconds"),
            "load_1min": [round(x.load, 2) for x in rs],
            "notes": [x.notes for x in rs],
        }
    out["refresh_over_alone"] = out["refresh"]["median_s"] / out["alone"]["median_s"]
    out["refresh_over_first"] = out["refresh"]["median_s"] / out["first"]["median_s"]
    print(
        f"    -> refresh {out['refresh']['median_s']:.2f} s = "
        f"{out['refresh_over_alone']:.2f}x alone ({out['alone']['median_s']:.2f} s), "
        f"{100 * out['refresh_over_first']:.1f} % of first ({out['first']['median_s']:.2f} s)",
        flush=True,
    )
    return out


def rate_case(b: Bench) -> dict[str, Any]:
    size = 64 * MiB
    make_file(b.data / "http" / "large.bin", size)
    http = Helper([sys.executable, "-u", __file__, "--serve-range", str(b.data / "http")])
    b.helpers.append(http)
    url = f"source.url=http://127.0.0.1:{http.port}/large.bin"
    assert b.s3 is not None
    small = [f"rate/f{i:05d}.bin" for i in range(2000)]
    b.put(small, 64 * 1024)
    s3 = ["source=s3", f"source.url=s3://{BUCKET}/rate/", f"source.endpoint_url={b.s3.endpoint}"]
    variants = {
        "64 MiB http, 8M, connections 0 (8)": ["source=http", url, "fetch.max_rate=8M"],
        "64 MiB http, 8M, connections 1": [
            "source=http",
            url,
            "fetch.max_rate=8M",
            "fetch.connections=1",
        ],
        "64 MiB http, no limit": ["source=http", url],
        "2,000 x 64 KiB S3 prefix, 25M": [*s3, "fetch.max_rate=25M"],
    }
    targets = {
        "64 MiB http, 8M, connections 0 (8)": 8.0,
        "64 MiB http, 8M, connections 1": 8.0,
        "2,000 x 64 KiB S3 prefix, 25M": 5.0,
    }
    out: dict[str, Any] = {}
    for name, overrides in variants.items():
        rs = []
        for r in range(b.reps):
            folder = b.data / f"rate-{r}"
            rs.append(b.getdata(name, folder, *overrides))
            remove(folder)
        fetch = [x.notes.get("fetch_s", float("nan")) for x in rs]
        out[name] = {
            "fetch_s": fetch,
            "fetch_median_s": statistics.median(fetch),
            "process_s": [round(x.seconds, 3) for x in rs],
            "target_s": targets.get(name),
            "load_1min": [round(x.load, 2) for x in rs],
        }
        print(f"    -> {name}: fetch {statistics.median(fetch):.2f} s", flush=True)
    return out


def report(results: dict[str, Any]) -> str:
    lines = []
    ref = results["cases"].get("refresh")
    if ref:
        lines += [
            f"refresh: prefix of {ref['count']:,} x {ref['size_bytes'] // 1024} KiB, profile A, "
            f"{ref['changed']} changed",
            "",
            "| run | median | runs | cpu (median) | load (1 min) |",
            "| --- | --- | --- | --- | --- |",
        ]
        for name in ("first", "refresh", "alone"):
            r = ref[name]
            lines.append(
                f"| {name} | {r['median_s']:.2f} s | "
                f"{', '.join(f'{x:.2f}' for x in r['runs_s'])} | {r['cpu_s']:.2f} s | "
                f"{', '.join(f'{x:.1f}' for x in r['load_1min'])} |"
            )
        over_alone, over_first = ref["refresh_over_alone"], ref["refresh_over_first"]
        lines += [
            "",
            f"refresh / alone = {over_alone:.2f}x (target <= 1.2x: "
            f"{'met' if over_alone <= 1.2 else 'NOT met'}); refresh / first = "
            f"{100 * over_first:.1f} % (target <= 10 %: "
            f"{'met' if over_first <= 0.10 else 'NOT met'})",
            "",
        ]
    rate = results["cases"].get("rate")
    if rate:
        lines += [
            "| fetch.max_rate | fetch (median) | fetch runs | process runs | target | met |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for name, r in rate.items():
            target = r["target_s"]
            met = (
                ""
                if target is None
                else ("yes" if abs(r["fetch_median_s"] / target - 1) <= 0.1 else "no")
            )
            lines.append(
                f"| {name} | {r['fetch_median_s']:.2f} s | "
                f"{', '.join(f'{x:.2f}' for x in r['fetch_s'])} | "
                f"{', '.join(f'{x:.2f}' for x in r['process_s'])} | "
                f"{'' if target is None else f'{target:.0f} s +- 10 %'} | {met} |"
            )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--only", default="", help="comma-separated cases: refresh,rate")
    p.add_argument("--reps", type=int, default=0, help="rounds (default 3)")
    p.add_argument("--count", type=int, default=10_000, help="refresh: objects in the prefix")
    p.add_argument("--quick", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--json", default=str(HERE / "refresh-results.json"), help="results file")
    p.add_argument("--md", default="", help="also write the tables (Markdown) here")
    p.add_argument("--tmp", default=None, help="parent folder for the temporary data")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    p.add_argument("--interval", type=float, default=0.25, help="RSS sampling interval (s)")
    p.add_argument("--serve-range", metavar="ROOT", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve_range:
        serve_files(args.serve_range, "range")
        return
    cases = [c for c in args.only.split(",") if c] or ["refresh", "rate"]
    bench = Bench(args)
    started = time.perf_counter()
    bench.results["machine"] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "cores": os.cpu_count(),
        "uptime": output("uptime"),
        "commit": output("git", "-C", str(REPO), "rev-parse", "--short", "HEAD"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
    }
    print(f"refresh bench: temp {bench.tmp}, {bench.reps} round(s)", flush=True)
    try:
        bench.start_s3()
        if "refresh" in cases:
            bench.results["cases"]["refresh"] = refresh_case(bench)
        if "rate" in cases:
            bench.results["cases"]["rate"] = rate_case(bench)
    finally:
        bench.results["total_s"] = time.perf_counter() - started
        bench.results["machine"]["uptime_end"] = output("uptime")
        write_results(args.json, bench.results)
        bench.close()
    print_report(report(bench.results), args.json, bench.results["total_s"], args.md)


if __name__ == "__main__":
    main()
