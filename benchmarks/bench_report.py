"""What benchmarks/bench.py's runs say: each variant's summary as the results record it, the
getdata logs read back (a sweep's jobs, `-X importtime`), and the tables printed at the end.
Not run on its own.
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path
from typing import Any

from common import MiB, Run, med, stamped_lines


def summary(runs: list[Run]) -> dict[str, Any]:
    """One variant's runs as the results record them: wall times, CPU, peak memory, logs."""
    secs = [r.seconds for r in runs]
    return {
        "median_s": statistics.median(secs),
        "min_s": min(secs),
        "max_s": max(secs),
        "runs_s": secs,
        "cpu_s": med(runs, "cpu_seconds"),
        "cores_used": statistics.median(r.cpu_seconds / r.seconds for r in runs if r.seconds),
        "tree_peak_rss_mb": med(runs, "tree_peak") / 1e6,
        "anon_peak_rss_mb": med(runs, "anon_peak") / 1e6,
        "file_rss_at_peak_mb": med(runs, "file_at_peak") / 1e6,
        "hwm_sum_mb": med(runs, "hwm_sum") / 1e6,
        "procs": runs[-1].procs,
        "logs": [r.log for r in runs],
    }


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------


def job_times(sweep_dir: Path, started: float) -> dict[str, Any]:
    """From each job's getdata.log: when its first and last lines were written."""
    jobs = []
    for log in sorted(sweep_dir.glob("*/*.log")):
        stamps = [t for t, _ in stamped_lines(log)]
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


# -X importtime: the time spent importing each of these
IMPORT_PACKAGES = [
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
_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def parse_importtime(text: str) -> dict[str, Any]:
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
        if name not in IMPORT_PACKAGES or name in cumulative:
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


def importtime_summary(parsed: list[dict[str, Any]]) -> dict[str, Any]:
    """The medians over several runs' parse_importtime(); who imported what: the last run's."""
    return {
        "total_import_s": statistics.median(p["total_s"] for p in parsed),
        "imports_during_run_s": statistics.median(p["at_run_time_s"] for p in parsed),
        "self_time_by_package_s": {
            pkg: statistics.median(p["by_package"].get(pkg, 0.0) for p in parsed)
            for pkg in IMPORT_PACKAGES
        },
        "cumulative_first_import_s": {
            pkg: statistics.median(p["cumulative"].get(pkg, 0.0) for p in parsed)
            for pkg in IMPORT_PACKAGES
        },
        "imported_by": parsed[-1]["imported_by"],
        "top_self": parsed[-1]["top_self"],
    }


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def report(results: dict[str, Any]) -> str:
    c = results["cases"]
    lines: list[str] = []
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
            f"{s(r['baseline']['median_s'])} (curl \\| tee >(md5sum) \\| sha256sum)",
            f"{r['ratio']:.2f}x",
            "<= 1.15x",
            "yes" if r["pass"] else "**no**",
        )
    if "memory" in c:
        r = c["memory"]
        row(
            f"memory: tree peak RSS, {r['large_bytes'] // MiB} vs {r['small_bytes'] // MiB} MiB",
            mb(r["large"]["tree_peak_rss_mb"]),
            mb(r["small"]["tree_peak_rss_mb"]),
            f"{r['ratio_tree_peak']:.2f}x",
            "<= 1.1x and <= 150 MB",
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
