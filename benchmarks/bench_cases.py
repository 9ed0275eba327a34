"""The cases of benchmarks/bench.py, one function each: ``CASES[name](bench)`` runs the case
and returns its results. Not run on its own: ``python benchmarks/bench.py --only NAME``.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench_report import importtime_summary, job_times, parse_importtime, summary
from common import (
    REPO,
    MiB,
    Run,
    alternate,
    getdata_cmd,
    make_file,
    med,
    remove,
    slug,
    timed,
)
from servers import free_port, wait_port

# The script's Bench (bench.py), which imports this module: named here, not imported.
Bench = Any

HERE = Path(__file__).resolve().parent
SHARED_PARQUET = REPO.parent / "shared" / "data" / "genres_mod.parquet"
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


# -- case 1: large file ------------------------------------------------------------------------


def large(b: Bench) -> dict[str, Any]:
    size = b.sizes.large
    root = b.data / "large"
    f = make_file(root / "large.bin", size)
    res: dict[str, Any] = {"size_bytes": size}
    res["servers"] = b.probe_servers(f.name, root)
    srv = b.http(root)
    url = srv.url(f.name)
    out = b.out / "baseline.bin"
    print(f"  orientation ({srv.mode} server)", flush=True)
    orient = {
        "curl_devnull": ["curl", "-sf", url, "-o", "/dev/null"],
        "sha256sum_file": ["sha256sum", str(f)],
        "md5sum_file": ["md5sum", str(f)],
        "python_sha256+md5_file": [sys.executable, "-c", _HASH_FILE, str(f)],
    }
    res["orientation"] = {}
    for key, cmd in orient.items():
        timings = [b.runner.run(key, cmd, sample=False) for _ in range(b.reps)]
        res["orientation"][key] = med(timings)

    def baseline() -> Run:
        try:
            # The same two hashes getdata computes (md5 for W&B's manifest, sha256), side by side.
            return b.runner.run(
                "baseline curl|tee >(md5sum)|sha256sum",
                f"curl -sf {shlex.quote(url)} | tee {shlex.quote(str(out))} >(md5sum >/dev/null)"
                " | sha256sum",
            )
        finally:
            remove(out)

    def getdata() -> Run:
        return b.run_getdata("getdata large", "source=http", f"source.url={url}")

    print("  alternating getdata / baseline", flush=True)
    runs = alternate(b.reps, [("getdata", getdata), ("baseline", baseline)])
    res["getdata"] = summary(runs["getdata"])
    res["baseline"] = summary(runs["baseline"])
    res["ratio"] = med(runs["getdata"]) / med(runs["baseline"])
    res["target"] = "getdata <= 1.15 x baseline"
    res["pass"] = res["ratio"] <= 1.15
    b.large_runs = runs["getdata"]
    return res


# -- case 2: memory ------------------------------------------------------------------------


def memory(b: Bench) -> dict[str, Any]:
    root = b.data / "memory"
    small = make_file(root / "small.bin", b.sizes.memory_small)
    large_runs = b.large_runs
    if large_runs is None:  # `--only memory`: run the large file here too
        make_file(root / "large.bin", b.sizes.large)
    srv = b.http(root)

    def small_run() -> Run:
        return b.run_getdata(
            "getdata memory-small", "source=http", f"source.url={srv.url(small.name)}"
        )

    variants = [("small", small_run)]
    if large_runs is None:
        variants.append(
            (
                "large",
                lambda: b.run_getdata(
                    "getdata memory-large", "source=http", f"source.url={srv.url('large.bin')}"
                ),
            )
        )
    runs = alternate(b.reps, variants)
    large = large_runs if large_runs is not None else runs["large"]
    res: dict[str, Any] = {
        "large_bytes": b.sizes.large,
        "small_bytes": b.sizes.memory_small,
        "large": summary(large),
        "small": summary(runs["small"]),
    }
    for key in ("tree_peak", "anon_peak", "hwm_sum"):
        res[f"ratio_{key}"] = med(large, key) / med(runs["small"], key)
    res["target"] = "tree peak RSS <= 150 MB at any size (and large <= 1.1 x small)"
    res["pass"] = res["ratio_tree_peak"] <= 1.1 and med(large, "tree_peak") <= 150e6
    return res


# -- case 3: small file and start-up ---------------------------------------------------------


def small_file(b: Bench) -> Path:
    root = b.data / "small"
    if SHARED_PARQUET.is_file() and not b.args.no_parquet:
        root.mkdir(parents=True, exist_ok=True)
        dst = root / SHARED_PARQUET.name
        if not dst.exists():
            shutil.copyfile(SHARED_PARQUET, dst)
        return dst
    return make_file(root / "small.bin", b.sizes.small)


def small(b: Bench) -> dict[str, Any]:
    f = small_file(b)
    srv = b.http(f.parent)
    url = srv.url(f.name)

    def getdata() -> Run:
        return b.run_getdata("getdata small", "source=http", f"source.url={url}")

    def original() -> Run:
        return b.runner.run(
            "original small",
            [
                sys.executable,
                str(HERE / "original_run.py"),
                "--file_url",
                url,
                "--artifact_name",
                slug(f.name),
                "--artifact_type",
                "raw_data",
                "--artifact_description",
                "Data as downloaded",
            ],
        )

    def bare() -> Run:
        return b.runner.run("python -c pass", [sys.executable, "-c", "pass"], sample=False)

    def help_() -> Run:
        return b.runner.run("getdata --help", getdata_cmd("--help"), sample=False)

    runs = alternate(
        b.reps,
        [
            ("getdata", getdata),
            ("original", original),
            ("getdata --help", help_),
            ("python", bare),
        ],
    )
    res: dict[str, Any] = {
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
    return res


# -- imports ---------------------------------------------------------------------------------


def imports(b: Bench) -> dict[str, Any]:
    f = small_file(b)
    srv = b.http(f.parent)
    url = srv.url(f.name)
    res: dict[str, Any] = {}
    for what, overrides in (
        ("help", ("--help",)),
        ("run", ("source=http", f"source.url={url}")),
    ):
        parsed = []
        for _ in range(b.reps):
            rd = b.rundir("imports")
            extra = () if what == "help" else (f"hydra.run.dir={rd}",)
            r = b.runner.run(
                f"importtime {what}",
                getdata_cmd(*overrides, *extra, py_flags=("-X", "importtime")),
                sample=False,
            )
            remove(rd)
            parsed.append(parse_importtime(Path(r.log).read_text(errors="replace")))
        res[what] = importtime_summary(parsed)
    return res


# -- case 4: sweeps --------------------------------------------------------------------------


def sweep(b: Bench) -> dict[str, Any]:
    root = b.data / "sweep"
    n, size = b.sizes.sweep_files, b.sizes.sweep_size
    files = [make_file(root / f"part{i}.bin", size) for i in range(n)]
    srv = b.http(root)
    urls = ",".join(f"'{srv.url(p.name)}'" for p in files)

    def variant(label: str, launcher: tuple[str, ...]) -> Callable[[], Run]:
        def fn() -> Run:
            sd = b.rundir(label)
            started = time.time()
            try:
                r = b.runner.run(
                    label,
                    getdata_cmd(
                        "source=http",
                        f"source.url={urls}",
                        f"hydra.sweep.dir={sd}",
                        *launcher,
                        multirun=True,
                    ),
                )
                r.notes["jobs"] = job_times(sd, started)
                return r
            finally:
                remove(sd)

        return fn

    variants = [("basic", variant("sweep basic", ()))]
    for j in b.sizes.sweep_jobs:
        variants.append(
            (
                f"joblib{j}",
                variant(
                    f"sweep joblib n_jobs={j}",
                    ("hydra/launcher=joblib", f"hydra.launcher.n_jobs={j}"),
                ),
            )
        )
    runs = alternate(b.reps, variants)
    res: dict[str, Any] = {"files": n, "size_bytes": size}
    for name, rs in runs.items():
        s = summary(rs)
        jobs = [r.notes["jobs"] for r in rs]
        s["jobs"] = jobs[-1]
        s["first_job_start_s"] = statistics.median(j["first_start_s"] for j in jobs)
        s["job_in_log_median_s"] = statistics.median(j["median_in_log_s"] for j in jobs)
        s["gap_between_jobs_median_s"] = statistics.median(j["median_gap_s"] for j in jobs)
        res[name] = s
    for j in b.sizes.sweep_jobs:
        res[f"speedup_joblib{j}"] = res["basic"]["median_s"] / res[f"joblib{j}"]["median_s"]
    best = max(res[f"speedup_joblib{j}"] for j in b.sizes.sweep_jobs)
    res["target"] = "joblib >= 1.6 x faster than sequential"
    res["pass"] = best >= 1.6
    return res


# -- case 5: S3 ------------------------------------------------------------------------------


def s3(b: Bench) -> dict[str, Any]:
    import boto3

    size = b.sizes.s3
    f = make_file(b.data / "s3" / "big.bin", size)
    port = free_port()
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
        wait_port(port)
        endpoint = f"http://127.0.0.1:{port}"
        with _env(FAKE_AWS):
            client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
            client.create_bucket(Bucket="bench")
            client.upload_file(str(f), "bench", "big.bin")
            presigned = client.generate_presigned_url(
                "get_object", Params={"Bucket": "bench", "Key": "big.bin"}
            )
        dl = b.out / "boto3.bin"

        def getdata() -> Run:
            return b.run_getdata(
                "getdata s3",
                "source=s3",
                "source.url=s3://bench/big.bin",
                f"source.endpoint_url={endpoint}",
                env=FAKE_AWS,
            )

        def boto3_sub() -> Run:
            try:
                return b.runner.run(
                    "boto3 download_file (process)",
                    [
                        sys.executable,
                        str(HERE / "bench.py"),
                        "--boto3-download",
                        endpoint,
                        str(dl),
                    ],
                    env=FAKE_AWS,
                )
            finally:
                remove(dl)

        def boto3_inproc() -> Run:
            os.sync()
            with _env(FAKE_AWS):
                secs = timed(lambda: client.download_file("bench", "big.bin", str(dl)))
            remove(dl)
            print(f"    {'boto3 download_file (in-process)':<34} {secs:7.2f} s", flush=True)
            return Run(label="boto3 in-process", seconds=secs, rc=0)

        def curl() -> Run:
            return b.runner.run(
                "curl whole GET (moto ceiling)",
                ["curl", "-sf", presigned, "-o", "/dev/null"],
                sample=False,
            )

        def ranged() -> Run:
            """One 8 MiB ranged GET: moto reads the whole object for each (its cost model)."""
            with _env(FAKE_AWS):
                secs = timed(
                    lambda: client.get_object(
                        Bucket="bench", Key="big.bin", Range=f"bytes=0-{8 * MiB - 1}"
                    )["Body"].read()
                )
            print(f"    {'one 8 MiB ranged GET':<34} {secs:7.2f} s", flush=True)
            return Run(label="ranged", seconds=secs, rc=0)

        runs = alternate(
            b.reps,
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
    return res


_HASH_FILE = """
import hashlib, sys
s, m = hashlib.sha256(), hashlib.md5()
with open(sys.argv[1], 'rb') as f:
    while b := f.read(4 << 20):
        s.update(b); m.update(b)
"""


@contextlib.contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
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


CASES: dict[str, Callable[[Bench], dict[str, Any]]] = {
    "large": large,
    "memory": memory,
    "small": small,
    "imports": imports,
    "sweep": sweep,
    "s3": s3,
}
