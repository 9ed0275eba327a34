#!/usr/bin/env python
"""What the readers' limits cost (issue 20): describing a normal 100 MB CSV and a 100 MB Parquet
file with the limits at their defaults (memory cap, timer per file, the time limit's watch on
getdata's side) against the code before them, in the same run.

    python benchmarks/bench_limits.py                    # before = main, after = this tree
    python benchmarks/bench_limits.py --before 9406ef3 --reps 5 --tmp /var/tmp

Each round runs, for each variant (alternating, every other round reversed), a fresh process
with that variant's getdata on PYTHONPATH; it starts the readers' helper (not timed), then times
``getdata.formats.describe_file`` (the contained child: fork, read, result piped back) on the CSV
(--csv-inner times) and on the Parquet file (--parquet-inner times). Printed: the median and the
best per variant and the ratio after/before; the results go to --json with the command.
The CSV is fully parsed (rows, types, nulls, min/max of 5 columns); the Parquet file's footer is
read (rows, schema, per-row-group statistics), so its time is mostly the per-file cost.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import REPO, MiB, alternate, git_snapshot, remove, write_results


def make_files(folder: Path, size: int) -> tuple[Path, Path]:
    """A CSV and a Parquet file of about ``size`` bytes each (seeded: the same every run)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    csv, parquet = folder / "songs.csv", folder / "songs.parquet"
    rng = np.random.default_rng(20)

    def table(rows: int) -> pa.Table:
        return pa.table(
            {
                "id": np.arange(rows, dtype=np.int64),
                "tempo": rng.normal(120, 20, rows).round(3),
                "genre": pa.array([f"genre {g}" for g in rng.integers(0, 40, rows)]),
                "explicit": rng.integers(0, 2, rows).astype(bool),
                "year": rng.integers(1950, 2025, rows),
            }
        )

    if not csv.exists():
        rows = size // 40
        pacsv.write_csv(table(rows), csv)
    if not parquet.exists():
        rows = size // 14
        pq.write_table(table(rows), parquet, compression="none")
    return csv, parquet


def probe(args: argparse.Namespace) -> None:
    """In the variant's process: the helper started, then the timed descriptions (JSON out)."""
    from getdata.formats import describe_file
    from getdata.formats.describe import Options

    opts = Options()
    warm = Path(tempfile.mkdtemp()) / "warm.csv"
    warm.write_text("a\n1\n")
    describe_file(warm, "warm.csv", opts)  # the helper starts (its imports) here, untimed
    out: dict[str, Any] = {}
    for key, path, inner in (
        ("csv", args.csv, args.csv_inner),
        ("parquet", args.parquet, args.parquet_inner),
    ):
        times = []
        for _ in range(inner):
            start = time.perf_counter()
            data = describe_file(path, path.name, opts)
            times.append(time.perf_counter() - start)
        assert data.get("rows"), data  # really described, not kept undescribed by a limit
        out[key] = times
    remove(warm.parent)
    print(json.dumps(out))


def run_variant(tree: Path, csv: Path, parquet: Path, args: argparse.Namespace) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--probe",
        "--csv",
        str(csv),
        "--parquet",
        str(parquet),
        "--csv-inner",
        str(args.csv_inner),
        "--parquet-inner",
        str(args.parquet_inner),
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=tree)
    result: dict = json.loads(done.stdout.strip().splitlines()[-1])
    result["load"] = os.getloadavg()[0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", default="main", help="git ref of the code before the limits")
    parser.add_argument("--reps", type=int, default=5, help="rounds (each runs both variants)")
    parser.add_argument("--csv-inner", type=int, default=3)
    parser.add_argument("--parquet-inner", type=int, default=20)
    parser.add_argument("--size", type=int, default=100, help="MB per file")
    parser.add_argument("--tmp", default=None, help="where the files and the snapshot go")
    parser.add_argument("--json", default=str(REPO / "benchmarks" / "limits-results.json"))
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--parquet", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        probe(args)
        return

    tmp = Path(tempfile.mkdtemp(prefix="bench-limits-", dir=args.tmp))
    try:
        before = git_snapshot(args.before, tmp / "before")
        csv, parquet = make_files(tmp, args.size * 10**6)
        print(
            f"files: {csv.name} {csv.stat().st_size / MiB:.0f} MiB, "
            f"{parquet.name} {parquet.stat().st_size / MiB:.0f} MiB; before = {args.before}, "
            f"after = {REPO}; {args.reps} rounds",
            flush=True,
        )
        variants = [
            ("before", lambda: run_variant(before, csv, parquet, args)),
            ("after", lambda: run_variant(REPO, csv, parquet, args)),
        ]
        runs = alternate(args.reps, variants)
    finally:
        remove(tmp)

    results: dict[str, Any] = {
        "command": "python benchmarks/bench_limits.py " + shlex.join(sys.argv[1:]),
        "before": args.before,
        "loads": {name: [r["load"] for r in rs] for name, rs in runs.items()},
        "cases": {},
    }
    lines = ["| file | before median (best) s | after median (best) s | after/before (median) |"]
    lines.append("| --- | --- | --- | --- |")
    for key in ("csv", "parquet"):
        times = {name: [t for r in rs for t in r[key]] for name, rs in runs.items()}
        med = {name: statistics.median(ts) for name, ts in times.items()}
        best = {name: min(ts) for name, ts in times.items()}
        ratio = med["after"] / med["before"]
        results["cases"][key] = {"times": times, "median": med, "best": best, "ratio": ratio}
        lines.append(
            f"| {key} | {med['before']:.4f} ({best['before']:.4f}) | "
            f"{med['after']:.4f} ({best['after']:.4f}) | {ratio:.3f}x |"
        )
    text = "\n".join(lines)
    print()
    print(text)
    write_results(args.json, results)
    print(f"\nresults: {args.json}")


if __name__ == "__main__":
    main()
