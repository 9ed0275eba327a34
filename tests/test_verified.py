"""One verified transfer path (issue 19): every answer and every reused byte proves it is the
source's version; ranged downloads resume across restarts; nothing is read twice.

Each test is one way the transfer gave way before, against a real server: the raw-socket liars
(tests/liars.py), the scripted server (tests/scripted.py), nginx and SeaweedFS
(tests/realservers.py), moto behind a recording proxy (tests/servers.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from getdata.cli.report import JobReport, run_job
from getdata.sources import resolve
from getdata.sources.http import HttpSource
from getdata.store.partmap import PIECE
from getdata.transfer.parts import FIRST_PART
from getdata.transfer.stream import source_id
from tests.liars import RawRequest, RawServer, reply, trickle
from tests.scripted import honest
from tests.servers import S3FaultProxy
from tests.support import (
    compose_cfg,
    getdata_run,
    killed_with_9,
    leftovers,
    logged,
    md5_b64,
    only,
    part_map_claims,
    sha256_hex,
    wandb_env,
)

MiB = 2**20
V1 = os.urandom(2 * MiB + 4321)
V2 = os.urandom(len(V1))
FAST = ["fetch.backoff=0.01", "fetch.backoff_max=0.05", "fetch.attempts=3"]


def job(root: Path, *overrides: str, run: str = "run") -> JobReport:
    return run_job(compose_cfg(*FAST, *overrides), root / run, None)


def http_job(root: Path, url: str, *overrides: str, run: str = "run") -> JobReport:
    return job(root, "source=http", f"source.url='{url}'", "source.timeout=5", *overrides, run=run)


def kept_files(data_dir: Path, name: str) -> list[Path]:
    return sorted(
        p
        for p in data_dir.rglob(name)
        if p.is_file() and not any(x.startswith(".getdata") for x in p.parts)
    )


# ---------------------------------------------------------------------------------------------
# Every answer proves its version
# ---------------------------------------------------------------------------------------------


def test_a_resume_answered_by_another_version_is_never_spliced(tmp_path: Path) -> None:
    """kill -9 halfway; the object changes; the next run's resume (Range + If-Range "v1") is
    answered 206 from the new version, with ETag "v2": it must start over, not splice."""
    stop = threading.Event()
    half = len(V1) // 2

    def script(request: RawRequest, index: int) -> Any:
        if index == 0:  # v1: half of it, then silence until the client is killed
            head = reply("200 OK", length=len(V1), ETag='"v1"')
            return trickle(head + V1[:half], b"", 0.05, stop)
        first = int((request.header("range") or "bytes=0-").split("=")[1].split("-")[0])
        # From now on v2, served with its own ETag whatever If-Range says.
        return reply(
            "206 Partial Content",
            V2[first:],
            ETag='"v2"',
            Content_Range=f"bytes {first}-{len(V2) - 1}/{len(V2)}",
        )

    env = {**os.environ, **wandb_env(tmp_path)}
    data_dir = tmp_path / "data"
    with RawServer(script) as server:
        args = [
            "source=http",
            f"source.url={server.url('/big.bin')}",
            f"data_dir={data_dir}",
            "inspect.check_format=false",
        ]
        try:
            run1 = [*args, f"hydra.run.dir={tmp_path / 'run1'}"]
            killed_with_9(run1, tmp_path, env, lambda: part_map_claims(data_dir) >= PIECE)
        finally:
            stop.set()
        done = getdata_run([*args, f"hydra.run.dir={tmp_path / 'run2'}"], tmp_path, env)
        asked = [(r.header("range"), r.header("if-range")) for r in server.requests]
    assert done.returncode == 0, done.stderr
    # The resume was pinned to v1, answered by v2: not spliced; the fetch started over.
    assert asked[1][1] == '"v1"' and asked[1][0] != f"bytes=0-{FIRST_PART - 1}"
    assert asked[2] == (f"bytes=0-{FIRST_PART - 1}", None)
    (kept,) = kept_files(data_dir, "big.bin")
    assert kept.read_bytes() == V2
    _, artifact = only(logged(tmp_path))
    assert artifact.metadata["sha256"] == sha256_hex(V2)
    assert artifact.metadata["source"]["etag"] == '"v2"'
    assert leftovers(tmp_path) == []


def test_a_part_whose_answer_names_no_version_is_never_spliced(wb: Path, scripted: Any) -> None:
    """The first part is v1 (ETag "v1"); every other part comes as a 206 with the right
    Content-Range but no ETag, and v2's bytes: nothing proves they are v1's."""
    data1, data2 = os.urandom(20 * MiB + 7), os.urandom(20 * MiB + 7)
    first, later = honest(data1, '"v1"'), honest(data2, '"v2"')

    def answer(n: int, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if n == 0:
            return first(n, headers)
        status, head, body = later(n, headers)
        if status == 206:
            head = {k: v for k, v in head.items() if k != "ETag"}
        return status, head, body

    server = scripted(answer)
    report = http_job(wb, server.url, "inspect.check_format=false")
    assert report.status == "ok", report.error
    (kept,) = [Path(p) for p in report.paths]
    assert kept.read_bytes() == data2, "one version, whole (v2, fetched again as one stream)"
    assert "Range" not in server.seen[-1], "the last request: all of it, as one stream"


def test_a_416_to_a_part_of_an_unchanged_object_is_one_stream(
    wb: Path, scripted: Any, caplog: pytest.LogCaptureFixture
) -> None:
    data = os.urandom(20 * MiB + 7)
    good = honest(data, '"v1"')

    def answer(n: int, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        rng = headers.get("Range", "")
        if rng and not rng.startswith("bytes=0-"):
            return 416, {"Content-Range": f"bytes */{len(data)}", "ETag": '"v1"'}, b""
        return good(n, headers)

    server = scripted(answer)
    report = http_job(wb, server.url, "inspect.check_format=false")
    assert report.status == "ok", report.error
    assert Path(report.paths[0]).read_bytes() == data
    assert "fetching it as one stream" in caplog.text
    assert "kept changing" not in caplog.text


def test_the_deadline_bounds_a_stalled_part(wb: Path) -> None:
    """The first part comes; every other part's answer stalls after its headers, far longer
    than the deadline (and within source.timeout): fetch.deadline ends the fetch."""
    data = os.urandom(20 * MiB + 7)
    stop = threading.Event()

    def script(request: RawRequest, index: int) -> Any:
        rng = request.header("range") or "bytes=0-"
        first = int(rng.split("=")[1].split("-")[0])
        last = min(int(rng.split("-")[1] or len(data) - 1), len(data) - 1)
        head = reply(
            "206 Partial Content",
            length=last - first + 1,
            ETag='"v1"',
            Accept_Ranges="bytes",
            Content_Range=f"bytes {first}-{last}/{len(data)}",
        )
        if first == 0:
            return head + data[: last + 1]
        return trickle(head, b"", 0.05, stop)  # then nothing, until the test ends

    outcome: list[JobReport] = []
    with RawServer(script) as server:
        worker = threading.Thread(
            target=lambda: outcome.append(
                http_job(
                    wb,
                    server.url("/big.bin"),
                    "fetch.deadline=2",
                    "source.timeout=120",
                    "inspect.check_format=false",
                )
            ),
            daemon=True,
        )
        worker.start()
        worker.join(timeout=90)
        stop.set()
    assert outcome, "the fetch was still running long past its deadline"
    (report,) = outcome
    assert report.status == "failed"
    assert "not done after fetch.deadline=2 s" in (report.error or "")


# ---------------------------------------------------------------------------------------------
# Reuse only what is verified
# ---------------------------------------------------------------------------------------------


def test_a_kept_file_edited_in_place_is_not_reused(wb: Path, http_server: Any) -> None:
    url = http_server.add("/d.bin", V1)
    data_dir = wb / "data"
    assert http_job(wb, url, f"data_dir={data_dir}", run="r1").status == "ok"
    (kept,) = kept_files(data_dir, "d.bin")
    stamp = kept.stat()
    with kept.open("r+b") as f:  # same size, same mtime: only its bytes differ
        f.write(b"X" * 100)
    os.utime(kept, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    report = http_job(wb, url, f"data_dir={data_dir}", run="r2")
    assert report.status == "ok", report.error
    assert kept.read_bytes() == V1, "the edited file was replaced by the source's bytes"
    artifacts = [a for _, a in logged(wb)]
    assert [only(a.entries).digest for a in artifacts] == [md5_b64(V1)] * 2


def test_a_link_planted_where_a_kept_file_belongs_is_replaced(
    wb: Path, tmp_path: Path, http_server: Any
) -> None:
    url = http_server.add("/d.bin", V1)
    data_dir = wb / "data"
    assert http_job(wb, url, f"data_dir={data_dir}", run="r1").status == "ok"
    (kept,) = kept_files(data_dir, "d.bin")
    elsewhere = tmp_path / "elsewhere.bin"
    elsewhere.write_bytes(V2)  # the same size, other bytes
    kept.unlink()
    kept.symlink_to(elsewhere)
    report = http_job(wb, url, f"data_dir={data_dir}", run="r2")
    assert report.status == "ok", report.error
    assert not kept.is_symlink() and kept.read_bytes() == V1
    assert elsewhere.read_bytes() == V2, "what the link pointed to is untouched"


def test_a_kept_folder_with_an_edit_or_an_extra_file_is_replaced(wb: Path, tmp_path: Path) -> None:
    source = tmp_path / "songs"
    source.mkdir()
    files = {"a.csv": b"a\n1\n", "b.csv": b"b\n2\n"}
    for name, data in files.items():
        (source / name).write_bytes(data)
    data_dir = wb / "data"
    args = ["source=local", f"source.path={source}", f"data_dir={data_dir}"]
    assert job(wb, *args, run="r1").status == "ok"
    version = only([p for p in (data_dir / "songs").iterdir() if not p.name.startswith(".")])
    (version / "a.csv").write_bytes(b"a\n9\n")  # edited in place
    (version / "planted.csv").write_bytes(b"x\n")  # and one file more
    report = job(wb, *args, run="r2")
    assert report.status == "ok", report.error
    assert sorted(p.name for p in version.iterdir()) == ["a.csv", "b.csv"]
    assert {n: (version / n).read_bytes() for n in files} == files


def test_the_parts_folder_is_never_followed_when_it_is_a_link(
    wb: Path, tmp_path: Path, http_server: Any
) -> None:
    """A partial planted elsewhere, behind a link where getdata's parts folder belongs (with a
    sidecar of the old format and a map of the new one): not resumed, not touched."""
    url = http_server.add("/d.bin", V1)
    data_dir = wb / "data"
    me = source_id(resolve(HttpSource(url=url)))
    name = hashlib.sha256(me.encode()).hexdigest()[:24]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / f"{name}.part").write_bytes(b"P" * (len(V1) // 2))
    etag = '"' + hashlib.md5(V1).hexdigest() + '"'
    sidecar = {"source": me, "validator": etag, "total": len(V1)}
    (elsewhere / f"{name}.json").write_text(json.dumps(sidecar))
    before = {p.name: p.read_bytes() for p in elsewhere.iterdir()}
    (data_dir / "d.bin").mkdir(parents=True)
    (data_dir / "d.bin" / ".getdata-parts").symlink_to(elsewhere)
    report = http_job(wb, url, f"data_dir={data_dir}", "inspect.check_format=false")
    assert report.status == "ok", report.error
    assert Path(report.paths[0]).read_bytes() == V1
    assert {p.name: p.read_bytes() for p in elsewhere.iterdir()} == before
    assert not (data_dir / "d.bin" / ".getdata-parts").is_symlink()


# ---------------------------------------------------------------------------------------------
# nginx: resume across restarts, nothing read twice
# ---------------------------------------------------------------------------------------------


def test_nothing_is_read_twice(wb: Path, nginx: Any) -> None:
    data = os.urandom(64 * MiB)
    url = nginx.write("big.bin", data)
    report = http_job(wb, url, "fetch.connections=8", "inspect.check_format=false")
    assert report.status == "ok", report.error
    gets = [r for r in nginx.requests("big.bin") if r.method == "GET"]
    assert all(r.range for r in gets), "every request asks for its part"
    assert sum(r.body_bytes_sent for r in gets) == len(data)


@pytest.mark.parametrize("nginx", [{"extra": "limit_rate 1m;"}], indirect=True)
def test_a_killed_16_connection_download_resumes_with_only_what_is_missing(
    tmp_path: Path, nginx: Any
) -> None:
    """kill -9 at ~40 % of 200 MB over 16 connections (nginx holds each to 1 MB/s): the next
    run fetches at most the missing bytes plus 1 MiB per connection, and keeps the same bytes."""
    data = os.urandom(200 * 10**6)
    url = nginx.write("big.bin", data)
    env = {**os.environ, **wandb_env(tmp_path)}
    data_dir = tmp_path / "data"
    args = [
        "source=http",
        f"source.url={url}",
        f"data_dir={data_dir}",
        "fetch.connections=16",
        "inspect.check_format=false",
    ]
    at = int(len(data) * 0.4)
    claimed = killed_with_9(
        [*args, f"hydra.run.dir={tmp_path / 'run1'}"],
        tmp_path,
        env,
        lambda: (n := part_map_claims(data_dir)) >= at and n,
    )
    nginx.reset_log()
    done = getdata_run([*args, f"hydra.run.dir={tmp_path / 'run2'}"], tmp_path, env, 600)
    assert done.returncode == 0, done.stderr
    assert "resuming the partial download" in done.stderr
    sent = nginx.bytes_sent("big.bin")
    missing = len(data) - claimed
    # The map may lag what was on disk by up to 1 MiB per part in flight (16 connections).
    assert sent <= missing + 16 * MiB, (sent, missing)
    (kept,) = kept_files(data_dir, "big.bin")
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    print(f"\nresume: {claimed} of {len(data)} bytes claimed at the kill; the next run got {sent}")


def test_a_server_that_compresses_against_the_request_is_named(wb: Path, nginx_gzip: Any) -> None:
    body = b"id,name\n" + b"".join(b"%d,song%d\n" % (i, i) for i in range(5000))
    url = nginx_gzip.write("songs.csv", body)
    report = http_job(wb, url, "+source.headers.Accept-Encoding=gzip")
    assert report.status == "failed"
    error = report.error or ""
    assert "Content-Encoding: gzip" in error and "\n" not in error
    assert error.isprintable() and "\ufffd" not in error, "no raw bytes in the line"
    assert logged(wb) == []


# ---------------------------------------------------------------------------------------------
# S3: one request for a key, ETags over dates, folder markers
# ---------------------------------------------------------------------------------------------


def s3_job(root: Path, url: str, endpoint: str, *overrides: str, run: str = "run") -> JobReport:
    return job(
        root,
        "source=s3",
        f"source.url={url}",
        f"source.endpoint_url={endpoint}",
        *overrides,
        run=run,
    )


def test_an_s3_key_is_fetched_with_one_request(wb: Path, s3: Any) -> None:
    s3.put("bucket", "data.csv", b"a,b\n1,2\n")
    with S3FaultProxy(s3.endpoint_url, 500, "InternalError", times=0) as proxy:
        report = s3_job(wb, "s3://bucket/data.csv", proxy.endpoint_url)
        assert report.status == "ok", report.error
        assert [m for m, _ in proxy.seen] == ["GET"], proxy.seen


def test_an_s3_prefix_named_without_its_slash_is_still_a_folder(wb: Path, s3: Any) -> None:
    s3.put("bucket", "p/a.csv", b"a\n1\n")
    s3.put("bucket", "p/b.csv", b"b\n2\n")
    report = s3_job(wb, "s3://bucket/p", s3.endpoint_url)
    assert report.status == "ok", report.error
    _, artifact = only(logged(wb))
    assert sorted(e.path for e in artifact.entries) == ["a.csv", "b.csv"]


def test_the_same_bytes_uploaded_again_are_unchanged(wb: Path, s3: Any) -> None:
    s3.put("bucket", "data.csv", b"a,b\n1,2\n")
    args = ("s3://bucket/data.csv", s3.endpoint_url)
    assert s3_job(wb, *args, run="r1").status == "ok"
    time.sleep(1.1)  # a new Last-Modified (S3 keeps seconds)
    s3.put("bucket", "data.csv", b"a,b\n1,2\n")
    assert s3_job(wb, *args, "check_only=true", run="r2").status == "unchanged"


def test_folder_markers_are_skipped_and_listed(wb: Path, s3: Any) -> None:
    s3.put("bucket", "p/a.csv", b"a\n1\n")
    s3.put("bucket", "p/sub/", b"")  # what the S3 console's "Create folder" makes
    s3.put("bucket", "p/sub/c.csv", b"c\n3\n")
    report = s3_job(wb, "s3://bucket/p/", s3.endpoint_url)
    assert report.status == "ok", report.error
    _, artifact = only(logged(wb))
    assert sorted(e.path for e in artifact.entries) == ["a.csv", "sub/c.csv"]
    assert artifact.metadata["skipped"] == ["sub/"]
