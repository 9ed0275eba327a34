"""Many small objects at once (getdata/many.py): an S3 prefix of small objects against moto,
with faults injected by proxies in front of it. Each test reads the artifact back from the
offline run file and checks the bytes kept on disk."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from getdata.cli.report import JobReport, run_job
from getdata.sources import resolve
from getdata.sources.s3 import S3Source
from getdata.transfer.batch import SMALL, fetch_many, suits
from getdata.transfer.policy import Limits, Retry
from tests.servers import DropProxy, S3FaultProxy
from tests.support import compose_cfg, data_dir, leftovers, logged, md5_b64, only

FAST = ["fetch.backoff=0.01", "fetch.backoff_max=0.05", "fetch.attempts=3"]
FILES = {f"part-{i:03d}.bin": os.urandom(1000 + 997 * i) for i in range(40)}


def put_all(s3: Any, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        s3.put("bucket", f"p/{name}", data)


def prefix_job(root: Path, endpoint: str, *overrides: str) -> JobReport:
    cfg = compose_cfg(
        *FAST,
        "source=s3",
        "source.url=s3://bucket/p/",
        f"source.endpoint_url={endpoint}",
        *overrides,
    )
    return run_job(cfg, root / "run", None)


def assert_all_kept(root: Path, report: JobReport, files: dict[str, bytes]) -> None:
    assert report.status == "ok", report.error
    _, artifact = only(logged(root))
    assert {e.path: e.digest for e in artifact.entries} == {
        name: md5_b64(data) for name, data in files.items()
    }
    listed = {f["path"]: f["sha256"] for f in artifact.metadata["files"]}
    assert listed == {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    for path in report.paths:
        assert Path(path).read_bytes() == files[Path(path).name]
    assert leftovers(root) == []


def test_small_objects_are_fetched_together_and_large_ones_streamed(wb: Path, s3: Any) -> None:
    files = {**FILES, "large.bin": os.urandom(SMALL + 1)}
    put_all(s3, files)
    members = resolve(S3Source(url="s3://bucket/p/", endpoint_url=s3.endpoint_url)).members()
    assert members is not None
    assert sorted(m.basename for m in members if suits(m)) == sorted(FILES)
    report = prefix_job(wb, s3.endpoint_url, "fetch.requests=7")
    assert_all_kept(wb, report, files)


def test_a_dropped_small_object_is_retried_alone(
    wb: Path, s3: Any, caplog: pytest.LogCaptureFixture
) -> None:
    put_all(s3, FILES)
    upstream = urlsplit(s3.endpoint_url)
    # The first answer over 20,000 bytes is cut mid-body: one object's GET (the listing is
    # smaller), a real broken connection.
    with (
        DropProxy((upstream.hostname, upstream.port), drop_after=20_000) as proxy,
        caplog.at_level(logging.WARNING),
    ):
        report = prefix_job(wb, proxy.endpoint_url)
    assert proxy.drops == 1
    assert_all_kept(wb, report, FILES)
    assert caplog.text.count("retrying") == 1


def test_slow_down_is_retried(wb: Path, s3: Any) -> None:
    put_all(s3, FILES)
    with S3FaultProxy(s3.endpoint_url, 503, "SlowDown", times=5) as proxy:
        report = prefix_job(wb, proxy.endpoint_url, "fetch.attempts=6")
    assert_all_kept(wb, report, FILES)
    assert len(proxy.gets) == len(FILES) + 5


def test_a_refused_object_fails_the_folder_in_one_line_and_keeps_nothing(wb: Path, s3: Any) -> None:
    put_all(s3, FILES)
    with S3FaultProxy(s3.endpoint_url, 403, "AccessDenied", times=1) as proxy:
        report = prefix_job(wb, proxy.endpoint_url)
    assert report.status == "failed"
    assert report.error is not None and "\n" not in report.error
    assert "access denied (AccessDenied)" in report.error
    assert "s3://bucket/p/part-" in report.error
    assert "Signature" not in report.error
    assert logged(wb) == []
    assert leftovers(wb) == []
    data = data_dir(wb)
    assert not data.exists() or list(data.iterdir()) == []


def test_an_object_that_grew_since_the_listing_is_streamed(tmp_path: Path, s3: Any) -> None:
    put_all(s3, {"a.bin": b"small"})
    members = resolve(S3Source(url="s3://bucket/p/", endpoint_url=s3.endpoint_url)).members()
    assert members is not None and suits(members[0])
    grown = os.urandom(SMALL + 10)
    s3.put("bucket", "p/a.bin", grown)
    # Not small after all: handed back (None) for the one-stream path, nothing written.
    got = fetch_many(
        [(members[0], tmp_path / "a.bin")],
        requests=4,
        retry=Retry(attempts=2, backoff=0.01),
        limits=Limits(),
    )
    assert got == [None]
    assert not (tmp_path / "a.bin").exists()


def test_the_size_cap_holds_for_small_objects(wb: Path, s3: Any) -> None:
    put_all(s3, FILES)
    report = prefix_job(wb, s3.endpoint_url, "fetch.max_bytes=5000")
    assert report.status == "failed"
    assert report.error is not None and "more than fetch.max_bytes=5000" in report.error
    assert logged(wb) == []
    assert leftovers(wb) == []
