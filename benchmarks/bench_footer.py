#!/usr/bin/env python
"""Describing a big Parquet footer vs pyarrow's own footer read (issue 13, target <= ~1.5x).

    PYTHONPATH=$PWD python benchmarks/bench_footer.py              # 5,000 row groups x 100 columns
    PYTHONPATH=$PWD python benchmarks/bench_footer.py --groups 500 --reps 3

The file: 100 columns (40 int64, 20 double, 20 string, 10 timestamp, 10 date), one row per row
group, written with statistics (the footer is what costs, not the data). Timed, alternating, best
and median of --reps:

  baseline   pyarrow.parquet.read_metadata(path): parse the footer
  describe   getdata.formats.parquet.describe in this process (over MAX_STAT_CHUNKS column
             chunks, per-chunk statistics are skipped and the metadata says so)
  contained  getdata.formats.describe_file: the same in the forked child, result sent back
  all_stats  describe with the MAX_STAT_CHUNKS cap lifted: all 500,000 chunks' statistics read

Also prints the cost per file of containment: describe_file on a tiny CSV (helper already
running), the helper's start, and an in-process describe of the same file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import alternate, timed


def make(path: Path, groups: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = range(groups)
    columns: dict[str, Any] = {}
    for i in range(40):
        columns[f"i{i}"] = pa.array([g * 7 + i for g in rows], pa.int64())
    for i in range(20):
        columns[f"f{i}"] = pa.array([g / 3 + i for g in rows])
    for i in range(20):
        columns[f"s{i}"] = pa.array([f"value {g:06d} {i}" for g in rows])
    start = dt.datetime(2024, 1, 1)
    for i in range(10):
        columns[f"t{i}"] = pa.array([start + dt.timedelta(seconds=g) for g in rows])
    for i in range(10):
        columns[f"d{i}"] = pa.array(
            [dt.date(2000, 1, 1) + dt.timedelta(days=g % 9000) for g in rows]
        )
    pq.write_table(pa.table(columns), path, row_group_size=1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=5000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--path", type=Path, help="an existing file to use instead of making one")
    args = parser.parse_args()

    import pyarrow.parquet as pq

    from getdata.formats import describe_file
    from getdata.formats import parquet as reader
    from getdata.formats.describe import Options, describe
    from getdata.formats.source import Source

    with tempfile.TemporaryDirectory() as tmp:
        path = args.path or Path(tmp) / "wide.parquet"
        start = time.perf_counter()
        if args.path is None:
            make(path, args.groups)
        md = pq.read_metadata(path)
        print(
            f"file: {md.num_row_groups} row groups x {md.num_columns} columns, "
            f"{path.stat().st_size / 1e6:.1f} MB (made in {time.perf_counter() - start:.1f} s)"
        )
        source = Source(path, path.name)
        opts = Options()
        helper_start = timed(lambda: describe_file(_tiny(Path(tmp)), "tiny.csv", opts))

        def with_stats() -> None:
            cap = reader.MAX_STAT_CHUNKS
            reader.MAX_STAT_CHUNKS = 10**12  # read every chunk's statistics anyway
            try:
                reader.describe(source, 100, False)
            finally:
                reader.MAX_STAT_CHUNKS = cap

        cases = {
            "baseline": lambda: pq.read_metadata(path),
            "describe": lambda: reader.describe(source, 100, False),
            "contained": lambda: describe_file(path, path.name, opts),
            "all_stats": with_stats,
        }
        variants = [(name, lambda fn=fn: timed(fn)) for name, fn in cases.items()]
        times = alternate(args.reps, variants, title=None)
        base = min(times["baseline"])
        print(f"{'case':<10} {'best s':>8} {'median s':>9} {'best/baseline':>14}")
        for name, values in times.items():
            best = min(values)
            print(f"{name:<10} {best:8.3f} {statistics.median(values):9.3f} {best / base:14.2f}x")

        tiny = _tiny(Path(tmp))
        per_file = [timed(lambda: describe_file(tiny, "tiny.csv", opts)) for _ in range(20)]
        inline = [timed(lambda: describe(tiny, "tiny.csv", opts, [])) for _ in range(20)]
        batch = [(tiny, "tiny.csv")] * 200
        from getdata.formats import describe_files

        batched = timed(lambda: describe_files(batch, opts)) / len(batch)
        print(
            f"containment: helper start (first call) {helper_start * 1000:.0f} ms; "
            f"describe_file on a tiny CSV {statistics.median(per_file) * 1000:.1f} ms "
            f"vs {statistics.median(inline) * 1000:.1f} ms in process; "
            f"describe_files, 200 files in one child: {batched * 1000:.2f} ms per file"
        )


def _tiny(folder: Path) -> Path:
    path = folder / "tiny.csv"
    if not path.exists():
        path.write_text("a,b\n1,x\n2,y\n")
    return path


if __name__ == "__main__":
    sys.exit(main())
