"""The cases of benchmarks/netbench.py, one function each: ``CASES[name](bench, profile)``
measures getdata and the tools it is compared with on one network profile and returns the
results. Not run on its own: ``python benchmarks/netbench.py --only NAME``.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import Run
from seaweed import ACCESS_KEY, SECRET_KEY

# The script's Bench (netbench.py), which imports this module: named here, not imported.
Bench = Any

NETBENCH = str(Path(__file__).resolve().parent / "netbench.py")
BUCKET = "bench"


def http(b: Bench, profile: str) -> dict[str, Any]:
    base = b.endpoints["http", profile]
    url = f"{base}/large.bin"
    dest = b.out / "tool"
    variants: list[tuple[str, str, Callable[[], Run]]] = [
        (t, "getdata", lambda t=t: b.getdata(t, "http", "source=http", f"source.url={url}"))
        for t in b.trees
    ]
    variants += [
        ("curl", "tool", lambda: b.tool("curl", ["curl", "-sf", url, "-o", f"{dest}/x"])),
        (
            "aria2c -x8",
            "tool",
            lambda: b.tool(
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
            lambda: b.tool(
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
    res = b.measure("http", profile, variants)
    res["size_bytes"] = b.sizes.large
    return res


def _rclone_env(b: Bench, profile: str) -> dict[str, str]:
    return {
        "RCLONE_CONFIG_SW_TYPE": "s3",
        "RCLONE_CONFIG_SW_PROVIDER": "SeaweedFS",
        "RCLONE_CONFIG_SW_ACCESS_KEY_ID": ACCESS_KEY,
        "RCLONE_CONFIG_SW_SECRET_ACCESS_KEY": SECRET_KEY,
        "RCLONE_CONFIG_SW_ENDPOINT": b.endpoints["s3", profile],
        "RCLONE_CONFIG_SW_REGION": "us-east-1",
    }


def s3(b: Bench, profile: str) -> dict[str, Any]:
    ep = b.endpoints["s3", profile]
    dest = b.out / "tool"
    variants: list[tuple[str, str, Callable[[], Run]]] = [
        (
            t,
            "getdata",
            lambda t=t: b.getdata(
                t,
                "s3",
                "source=s3",
                f"source.url=s3://{BUCKET}/large.bin",
                f"source.endpoint_url={ep}",
            ),
        )
        for t in b.trees
    ]
    variants += [
        (
            "boto3 download_file",
            "tool",
            lambda: b.tool(
                "boto3 download_file",
                [sys.executable, NETBENCH, "--boto3-download", ep, "large.bin", f"{dest}/x"],
            ),
        ),
        (
            "rclone",
            "tool",
            lambda: b.tool(
                "rclone s3",
                ["rclone", "copy", f"sw:{BUCKET}/large.bin", str(dest), "--s3-no-check-bucket"],
                env=_rclone_env(b, profile),
            ),
        ),
    ]
    if shutil.which("aws"):
        variants.append(
            (
                "aws s3 cp",
                "tool",
                lambda: b.tool(
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
    res = b.measure("s3", profile, variants)
    res["size_bytes"] = b.sizes.large
    return res


def prefix(b: Bench, profile: str) -> dict[str, Any]:
    ep = b.endpoints["s3", profile]
    dest = b.out / "tool"
    variants: list[tuple[str, str, Callable[[], Run]]] = []
    for t in b.trees:
        for extra in b.args.prefix_getdata:
            name = f"{t} {extra}".strip()
            variants.append(
                (
                    name,
                    "getdata",
                    lambda t=t, extra=extra: b.getdata(
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
            lambda: b.tool(
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
                env=_rclone_env(b, profile),
            ),
        )
    )
    if shutil.which("aws"):
        variants.append(
            (
                "aws s3 cp --recursive",
                "tool",
                lambda: b.tool(
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
    res = b.measure("prefix", profile, variants)
    res["count"] = b.sizes.small_count
    res["size_bytes"] = b.sizes.small_size
    return res


def sweep(b: Bench, profile: str) -> dict[str, Any]:
    base = b.endpoints["http", profile]
    urls = [f"{base}/{p.name}" for p in b.parts]
    dest = b.out / "tool"
    joined = ",".join(f"'{u}'" for u in urls)
    variants: list[tuple[str, str, Callable[[], Run]]] = []
    for t in b.trees:
        for name, launcher in [("basic", ())] + [
            (f"joblib n_jobs={j}", ("hydra/launcher=joblib", f"hydra.launcher.n_jobs={j}"))
            for j in b.args.jobs
        ]:
            variants.append(
                (
                    f"{t} {name}",
                    "getdata",
                    lambda t=t, launcher=launcher, name=name: b.getdata(
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
        f"curl -sf {shlex.quote(u)} -o {shlex.quote(f'{dest}/p{i}')}" for i, u in enumerate(urls)
    )
    listing = b.tmp / "aria2-input.txt"
    listing.write_text("".join(f"{u}\n  out=p{i}\n" for i, u in enumerate(urls)))
    variants += [
        (
            f"{len(urls)} parallel curls",
            "tool",
            lambda: b.tool("parallel curls", f"{curls} & wait"),
        ),
        (
            f"aria2c -j{len(urls)}",
            "tool",
            lambda: b.tool(
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
    res = b.measure("sweep", profile, variants)
    res["files"] = len(urls)
    res["size_bytes"] = b.sizes.sweep_size
    return res


CASES: dict[str, Callable[[Bench, str], dict[str, Any]]] = {
    "http": http,
    "s3": s3,
    "prefix": prefix,
    "sweep": sweep,
}
