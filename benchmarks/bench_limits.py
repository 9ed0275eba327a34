#!/usr/bin/env python
"""What the readers' limits cost (issue 20): describing a normal 100 MB CSV and a 100 MB Parquet
file with the limits at their defaults (memory cap, timer per file, the time limit's watch on
getdata's side) against the code before them, measured in the same run.

    python benchmarks/bench_limits.py                    # before = main, after = this tree
    python benchmarks/bench_limits.py --before 9406ef3 --pairs 60 --tmp /var/tmp

Two probe processes stay up, one per variant, each with its getdata on PYTHONPATH and its
readers' helper started (not timed). The driver asks them in turn, A B B A ..., to time one
``getdata.formats.describe_file`` (the contained child: fork, read, result piped back) of the CSV
or the Parquet file: pairs measured a moment apart see the same load (the machine is shared).
Half the pairs are measured with the probes started before-then-after, half after-then-before
(an A/A run of this showed the probe started second 2-3 % faster on the shared machine).
Printed per file: the median and the 10th percentile of each variant and the median of the
per-pair ratios after/before; the results go to --json with the command. The CSV is fully parsed
(rows, types, nulls, min/max of 5 columns); the Parquet file's footer is read (rows, schema,
per-row-group statistics), so its time is mostly the per-file cost of containment.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import REPO, git_snapshot, remove, write_results


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
        pacsv.write_csv(table(size // 36), csv)  # ~36.5 bytes a row
    if not parquet.exists():
        # ~12.9 bytes a row, uncompressed
        pq.write_table(table(size * 10 // 129), parquet, compression="none")
    return csv, parquet


def probe() -> None:
    """A variant's process: the helper started, then one timed description per request
    ("<path>\\n" on stdin -> seconds on stdout)."""
    from getdata.formats import describe_file
    from getdata.formats.describe import Options

    opts = Options()
    warm = Path(tempfile.mkdtemp()) / "warm.csv"
    warm.write_text("a\n1\n")
    describe_file(warm, "warm.csv", opts)  # the helper starts (its imports) here, untimed
    remove(warm.parent)
    print("ready", flush=True)
    for line in sys.stdin:
        path = Path(line.strip())
        start = time.perf_counter()
        data = describe_file(path, path.name, opts)
        elapsed = time.perf_counter() - start
        assert data.get("rows"), data  # really described, not kept undescribed by a limit
        print(elapsed, flush=True)


class Variant:
    """A probe process running one variant's getdata."""

    def __init__(self, name: str, tree: Path) -> None:
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--probe"],
            env={**os.environ, "PYTHONPATH": str(tree)},
            cwd=tree,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if self._read() != "ready":
            raise SystemExit(f"the {name} probe did not start")

    def _read(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def describe(self, path: Path) -> float:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{path}\n")
        self.process.stdin.flush()
        return float(self._read())

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", default="main", help="git ref of the code before the limits")
    parser.add_argument("--pairs", type=int, default=60, help="CSV descriptions per variant")
    parser.add_argument("--parquet-pairs", type=int, default=2000)
    parser.add_argument("--size", type=int, default=100, help="MB per file")
    parser.add_argument("--tmp", default=None, help="where the files and the snapshot go")
    parser.add_argument("--json", default=str(REPO / "benchmarks" / "limits-results.json"))
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        probe()
        return

    tmp = Path(tempfile.mkdtemp(prefix="bench-limits-", dir=args.tmp))
    variants: list[Variant] = []
    times: dict[str, dict[str, list[float]]] = {"csv": {}, "parquet": {}}
    try:
        trees = {"before": git_snapshot(args.before, tmp / "before"), "after": REPO}
        csv, parquet = make_files(tmp, args.size * 10**6)
        print(
            f"files: {csv.name} {csv.stat().st_size / 1e6:.0f} MB, "
            f"{parquet.name} {parquet.stat().st_size / 1e6:.0f} MB; before = {args.before}, "
            f"after = {REPO}; load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        for by in times.values():
            by.update(before=[], after=[])
        for order in (("before", "after"), ("after", "before")):
            variants = [Variant(name, trees[name]) for name in order]
            cases = (("csv", csv, args.pairs), ("parquet", parquet, args.parquet_pairs))
            for key, path, pairs in cases:
                for i in range(pairs // 2):
                    for v in variants if i % 2 == 0 else variants[::-1]:
                        times[key][v.name].append(v.describe(path))
            for v in variants:
                v.close()
            variants = []
    finally:
        for v in variants:
            v.close()
        remove(tmp)

    results: dict[str, Any] = {
        "command": "python benchmarks/bench_limits.py " + shlex.join(sys.argv[1:]),
        "before": args.before,
        "load_at_end": os.getloadavg()[0],
        "cases": {},
    }
    lines = [
        "| file | before: median (p10) | after: median (p10) | after/before, median of pairs |",
        "| --- | --- | --- | --- |",
    ]
    for key, by in times.items():
        med = {name: statistics.median(ts) for name, ts in by.items()}
        p10 = {name: sorted(ts)[len(ts) // 10] for name, ts in by.items()}
        ratios = [a / b for a, b in zip(by["after"], by["before"], strict=True)]
        ratio = statistics.median(ratios)
        results["cases"][key] = {"times": by, "median": med, "p10": p10, "ratio": ratio}
        unit, scale = ("s", 1) if med["before"] > 0.1 else ("ms", 1000)
        lines.append(
            f"| {key} | {med['before'] * scale:.3g} {unit} ({p10['before'] * scale:.3g}) | "
            f"{med['after'] * scale:.3g} {unit} ({p10['after'] * scale:.3g}) | {ratio:.3f}x |"
        )
    text = "\n".join(lines)
    print()
    print(text)
    write_results(args.json, results)
    print(f"\nresults: {args.json}")


if __name__ == "__main__":
    main()
