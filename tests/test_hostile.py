"""Hostile names, servers and files (issue 9): each case asserts the outcome, the one-line
message, what exists inside and outside the data folder, and the W&B runs.

Servers: the scriptable FileServer, a raw-socket liar (tests/liars.py) for replies no HTTP
library sends, moto for S3 keys no sane client writes. Everything on 127.0.0.1.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hydra.errors import MissingConfigException

from getdata.cli.report import JobReport, run_job
from getdata.store.partmap import PIECE
from getdata.transfer.parts import FIRST_PART
from tests.liars import RawRequest, RawServer, reply, trickle
from tests.support import (
    compose_cfg,
    data_dir,
    getdata_run,
    kept_path,
    killed_with_9,
    leftovers,
    logged,
    md5_b64,
    only,
    part_map_claims,
    sha256_hex,
    wandb_env,
)

DATA = os.urandom(2 * 2**20 + 4321)
FAST = ["fetch.backoff=0.01", "fetch.backoff_max=1", "fetch.attempts=3", "fetch.chunk_size=65536"]


def job(root: Path, *overrides: str) -> JobReport:
    return run_job(compose_cfg(*FAST, *overrides), root / "run", None)


def http_job(root: Path, url: str, *overrides: str) -> JobReport:
    return job(root, "source=http", f"source.url='{url}'", "source.timeout=2", *overrides)


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes (what a test compares before and after)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def files_named(root: Path, name: str) -> list[Path]:
    return sorted(p for p in root.rglob(name) if p.is_file())


def assert_refused(root: Path, report: JobReport, *phrases: str) -> None:
    assert report.status == "failed", "the run must fail"
    assert report.error is not None and "\n" not in report.error
    for phrase in phrases:
        assert phrase in report.error, report.error
    assert logged(root) == []
    assert not (root / "wandb-dir").exists(), "no W&B run for a refused fetch"
    assert leftovers(root) == []
    data = data_dir(root)
    assert not data.exists() or [p for p in data.rglob("*")] == []


def assert_logged(root: Path, report: JobReport, data: bytes) -> Path:
    assert report.status == "ok", report.error
    _, artifact = only(logged(root))
    assert only(artifact.entries).digest == md5_b64(data)
    assert artifact.metadata["sha256"] == sha256_hex(data)
    assert leftovers(root) == []
    return kept_path(data_dir(root), artifact.name, only(artifact.entries).path)


# ---------------------------------------------------------------------------------------------
# Names never become paths outside the data folder
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["..", ".", "/tmp/abs", "a/b", "../beside", "x\ny", "n:v1"])
def test_artifact_name_is_checked_before_anything(wb: Path, tmp_path: Path, name: str) -> None:
    area = tmp_path / "area"
    source = area / "src"
    source.mkdir(parents=True)
    (source / "a.csv").write_bytes(b"a\n1\n")
    data_dir = area / "dd" / "data"
    beside = area / "dd" / "beside"
    for folder in (data_dir, beside):
        folder.mkdir(parents=True)
        (folder / "precious.txt").write_bytes(b"keep me")
    before = tree(area)
    report = job(
        wb,
        "source=local",
        f"source.path={source}",
        f"data_dir={data_dir}",
        f"artifact.name='{name}'",
    )
    assert report.status == "failed" and "artifact.name" in report.error
    assert "\n" not in report.error
    assert tree(area) == before, "nothing deleted, nothing written"
    assert logged(wb) == []


def test_s3_key_with_dotdot_is_refused_before_download(wb: Path, s3, tmp_path: Path) -> None:
    s3.put("bucket", "p/ok.csv", b"a\n1\n")
    s3.put("bucket", "p/../../../../ESCAPED.csv", b"a\n2\n")
    keys = {o["Key"] for o in s3.client.list_objects_v2(Bucket="bucket")["Contents"]}
    assert "p/../../../../ESCAPED.csv" in keys, "the hostile key exists in the bucket"
    s3.put("bucket", "p/../../../../ESCAPED.csv", b"a\n2\n")
    report = job(
        wb, "source=s3", "source.url=s3://bucket/p/", f"source.endpoint_url={s3.endpoint_url}"
    )
    assert_refused(wb, report, "ESCAPED.csv", "refused")
    assert list(tmp_path.parent.rglob("ESCAPED.csv")) == []


@pytest.mark.parametrize("path", ["/x%0aFAKE%20LOG%20LINE.csv", "/..", "/%2E%2E", "/a%00b.csv"])
def test_hostile_url_file_names_are_refused(wb: Path, http_server, path: str) -> None:
    http_server.add("/anything", DATA)
    report = http_job(wb, http_server.url(path))
    assert_refused(wb, report, "refused")
    assert http_server.requests == [], "refused before any request"


def test_literal_names_with_glob_characters(wb: Path, tmp_path: Path, s3, http_server) -> None:
    weird, plain = b"a\nweird\n", b"a\nplain\n"
    s3.put("bucket", "weird[1].csv", weird)
    s3.put("bucket", "weird1.csv", plain)
    report = job(
        wb,
        "source=s3",
        "source.url='s3://bucket/weird[1].csv'",
        f"source.endpoint_url={s3.endpoint_url}",
    )
    assert report.status == "ok", report.error
    _, artifact = only(logged(wb))
    assert only(artifact.entries).path == "weird[1].csv"
    assert only(artifact.entries).digest == md5_b64(weird)

    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "weird[1].csv").write_bytes(weird)
    (tmp_path / "local" / "weird1.csv").write_bytes(plain)
    report = job(
        tmp_path / "l", "source=local", f"source.path='{tmp_path / 'local' / 'weird[1].csv'}'"
    )
    assert report.status == "ok", report.error

    http_server.add("/data%5B1%5D.csv", weird)  # the server sees the path as sent
    report = http_job(tmp_path / "h", http_server.url("/data%5B1%5D.csv"))
    assert report.status == "ok", report.error
    assert report.artifact == "data_1_.csv"
    assert kept_path(data_dir(tmp_path), "data_1_.csv", "data[1].csv").read_bytes() == weird


def test_a_glob_still_selects_when_no_such_literal_path(wb: Path, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    for name in ("a1.csv", "a2.csv", "b.csv"):
        (tmp_path / "src" / name).write_bytes(b"x\n1\n")
    report = job(wb, "source=local", f"source.path='{tmp_path / 'src' / 'a[12].csv'}'")
    assert report.status == "ok", report.error
    _, artifact = only(logged(wb))
    assert sorted(e.path for e in artifact.entries) == ["a1.csv", "a2.csv"]


# ---------------------------------------------------------------------------------------------
# What is listed is what is logged: links, FIFOs, devices
# ---------------------------------------------------------------------------------------------


def hf_cache(root: Path) -> dict[str, bytes]:
    """A folder in Hugging Face cache layout: snapshot files are links into blobs/."""
    files = {"config.json": b'{"a": 1}\n', "data/train.csv": b"x\n1\n2\n"}
    snapshot = root / "snapshots" / "abc123"
    for rel, data in files.items():
        blob = root / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snapshot / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (root / "README.md").write_bytes(b"# model\n")
    return files


def test_links_inside_the_folder_are_followed(wb: Path, tmp_path: Path) -> None:
    files = hf_cache(tmp_path / "repo")
    report = job(wb, "source=local", f"source.path={tmp_path / 'repo'}")
    assert report.status == "ok", report.error
    _, artifact = only(logged(wb))
    entries = {e.path: e.digest for e in artifact.entries}
    for rel, data in files.items():
        assert entries[f"snapshots/abc123/{rel}"] == md5_b64(data)
    assert artifact.metadata["file_count"] == len(entries) == 2 * len(files) + 1


def test_links_leaving_the_folder_are_refused(wb: Path, tmp_path: Path) -> None:
    hf_cache(tmp_path / "repo")
    report = job(wb, "source=local", f"source.path={tmp_path / 'repo' / 'snapshots' / 'abc123'}")
    assert_refused(wb, report, "config.json", "outside the folder")


def test_link_loop_and_broken_link_are_refused(wb: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.csv").write_bytes(b"x\n1\n")
    (src / "sub" / "up").symlink_to("..")
    assert_refused(wb, job(wb, "source=local", f"source.path={src}"), "link loop")
    (src / "sub" / "up").unlink()
    (src / "gone").symlink_to(src / "nothing")
    assert_refused(wb, job(wb, "source=local", f"source.path={src}"), "broken link")


def test_fifo_in_a_folder_or_as_the_source_is_refused(wb: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.csv").write_bytes(b"x\n1\n")
    os.mkfifo(src / "pipe.csv")
    assert_refused(wb, job(wb, "source=local", f"source.path={src}"), "pipe.csv", "FIFO")
    assert_refused(wb, job(wb, "source=local", f"source.path={src / 'pipe.csv'}"), "FIFO")


def test_device_as_the_source_is_refused(wb: Path) -> None:
    assert_refused(wb, job(wb, "source=local", "source.path=/dev/zero"), "device")


# ---------------------------------------------------------------------------------------------
# The published bytes, and only the same bytes resumed
# ---------------------------------------------------------------------------------------------


def _lying_resume(second: bytes) -> RawServer:
    """First GET: the headers of the whole file, then a drop after 1 MiB. Second GET (the
    resume): ``second``. Any later GET: the whole file."""
    head = reply("200 OK", length=len(DATA), ETag='"v1"')

    def script(request: RawRequest, index: int) -> bytes:
        if index == 0:
            return head + DATA[: 2**20]
        if index == 1:
            return second
        return reply("200 OK", DATA, ETag='"v1"')

    return RawServer(script)


@pytest.mark.parametrize(
    "second",
    [
        # a 206 whose range starts at 0, not where we asked
        reply(
            "206 Partial Content",
            DATA,
            ETag='"v1"',
            Content_Range=f"bytes 0-{len(DATA) - 1}/{len(DATA)}",
        ),
        # a 206 without Content-Range
        reply("206 Partial Content", DATA[2**20 :], ETag='"v1"'),
        # a 206 whose total is not the file's
        reply(
            "206 Partial Content",
            DATA[2**20 :],
            ETag='"v1"',
            Content_Range=f"bytes {2**20}-{len(DATA) - 1}/{len(DATA) + 7}",
        ),
        # a malformed Content-Range
        reply("206 Partial Content", DATA[2**20 :], ETag='"v1"', Content_Range="bytes */oops"),
    ],
    ids=["wrong-start", "no-content-range", "wrong-total", "malformed"],
)
def test_a_206_is_only_spliced_when_it_proves_its_range(wb: Path, second: bytes) -> None:
    with _lying_resume(second) as server:
        report = http_job(wb, server.url("/data.bin"), "inspect.check_format=false")
        assert_logged(wb, report, DATA)
        ranges = [r.header("range") for r in server.requests]
    # The first part asked for; the server answered whole and dropped; the resume, pinned.
    assert ranges[:2] == [f"bytes=0-{FIRST_PART - 1}", f"bytes={2**20}-{len(DATA) - 1}"]
    # The lie was not spliced: the next request starts at byte 0 (a plain GET after a range
    # the server could not prove; a new first part after another total, i.e. another version).
    assert ranges[2:] in ([None], [f"bytes=0-{FIRST_PART - 1}"]), ranges


def test_a_206_to_a_request_for_the_whole_file_is_refused(wb: Path) -> None:
    partial = reply(
        "206 Partial Content", DATA, Content_Range=f"bytes 0-{len(DATA) - 1}/{len(DATA)}"
    )
    with RawServer(lambda request, index: partial) as server:
        # One plain GET, no Range (with a Range, that answer would be the proven first part).
        report = http_job(wb, server.url("/data.bin"), "fetch.connections=1")
    assert_refused(wb, report, "HTTP 206", "request for all of it")


@pytest.mark.parametrize("status", ["204 No Content", "203 Non-Authoritative Information"])
def test_statuses_that_are_not_the_file_are_refused(wb: Path, status: str) -> None:
    with RawServer(lambda request, index: reply(status, b"")) as server:
        report = http_job(wb, server.url("/data.bin"))
    assert_refused(wb, report, f"HTTP {status.split()[0]}")


def test_unasked_content_encoding_is_kept_as_published(wb: Path, tmp_path: Path) -> None:
    """A stored .csv.gz served with Content-Encoding: gzip is kept compressed (the sha256 a
    publisher gives, and what source=s3 keeps of the same object); a drop mid-body resumes in
    stored bytes, not decoded ones."""
    stored = gzip.compress(b"id,x\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(200_000)))
    head = reply("200 OK", length=len(stored), ETag='"gz1"', Content_Encoding="gzip")
    cut = len(stored) // 2

    def script(request: RawRequest, index: int) -> bytes:
        if index == 0:
            return head + stored[:cut]
        start = int(request.header("range").split("=")[1].split("-")[0])
        return reply(
            "206 Partial Content",
            stored[start:],
            ETag='"gz1"',
            Content_Encoding="gzip",
            Content_Range=f"bytes {start}-{len(stored) - 1}/{len(stored)}",
        )

    with RawServer(script) as server:
        report = http_job(wb, server.url("/songs.csv.gz"))
        kept = assert_logged(wb, report, stored)
        assert [r.header("range") for r in server.requests] == [
            f"bytes=0-{FIRST_PART - 1}",
            f"bytes={cut}-{len(stored) - 1}",
        ]
    assert kept.read_bytes() == stored
    _, artifact = only(logged(wb))
    assert artifact.metadata["source"]["content_encoding"] == "gzip"


@pytest.mark.parametrize("length", ["abc", "-5", "1, 2"])
def test_malformed_content_length_fails_cleanly(wb: Path, length: str) -> None:
    with RawServer(lambda request, index: reply("200 OK", DATA, length=length)) as server:
        report = http_job(wb, server.url("/data.bin"))
    assert report.status == "failed" and "\n" not in report.error
    assert logged(wb) == [] and leftovers(wb) == []


# ---------------------------------------------------------------------------------------------
# Bounded: size cap, deadline, free space
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "piece, every, limit",
    [(b"x" * 65536, 0, "fetch.max_bytes=3000000"), (b"x" * 100, 0.05, "fetch.deadline=1")],
    ids=["endless-body-size-cap", "trickle-deadline"],
)
def test_a_body_that_never_ends_is_stopped(
    wb: Path, piece: bytes, every: float, limit: str
) -> None:
    stop = threading.Event()
    try:
        with RawServer(lambda r, i: trickle(reply("200 OK", length=None), piece, every, stop)) as s:
            report = http_job(wb, s.url("/endless.csv"), limit)
    finally:
        stop.set()
    assert_refused(wb, report, limit)


def test_announced_size_over_the_cap_is_refused_before_reading(wb: Path, http_server) -> None:
    report = http_job(wb, http_server.add("/big.bin", DATA), "fetch.max_bytes=1000")
    assert_refused(wb, report, "fetch.max_bytes=1000", f"is {len(DATA)} bytes")


def test_free_space_floor(wb: Path, http_server) -> None:
    report = http_job(wb, http_server.add("/a.bin", DATA), f"fetch.min_free_bytes={2**62}")
    assert_refused(wb, report, "fetch.min_free_bytes")


@pytest.mark.parametrize(
    "override, key",
    [
        ("fetch.chunk_size=0", "fetch.chunk_size"),
        ("fetch.attempts=0", "fetch.attempts"),
        ("fetch.backoff=-1", "fetch.backoff"),
        ("fetch.workers=0", "fetch.workers"),
        ("fetch.deadline=0", "fetch.deadline"),
        ("fetch.max_bytes=0", "fetch.max_bytes"),
        ("source.timeout=0", "source.timeout"),
        ("source.timeout=nan", "source.timeout"),
        ("extract.max_files=0", "extract.max_files"),
        ("extract.max_ratio=0.5", "extract.max_ratio"),
        ("artifact.preview_rows=-1", "artifact.preview_rows"),
    ],
)
def test_settings_out_of_range_are_refused_first(
    wb: Path, http_server, override: str, key: str
) -> None:
    url = http_server.add("/a.csv", b"a\n1\n")
    report = run_job(compose_cfg("source=http", f"source.url={url}", override), wb / "run", None)
    assert_refused(wb, report, key, "out of range")
    assert http_server.requests == [], "refused before any request"


def test_unknown_dataset_is_an_error_listing_the_catalog() -> None:
    with pytest.raises(MissingConfigException, match="genrse") as info:
        compose_cfg("dataset=genrse")
    assert "genres" in str(info.value) and "sample" in str(info.value)


def test_unusable_data_dir_is_blamed_on_the_folder(wb: Path, tmp_path: Path, http_server) -> None:
    url = http_server.add("/a.csv", b"a\n1\n")
    (tmp_path / "file").write_bytes(b"not a folder")
    report = run_job(
        compose_cfg("source=http", f"source.url={url}", f"data_dir={tmp_path / 'file' / 'x'}"),
        wb / "run",
        None,
    )
    assert report.status == "failed" and "data_dir=" in report.error
    assert "not a folder" in report.error
    assert http_server.requests == []


# ---------------------------------------------------------------------------------------------
# Nothing left, nothing clobbered
# ---------------------------------------------------------------------------------------------


def test_a_later_fetch_never_changes_what_an_earlier_run_references(
    wb: Path, tmp_path: Path, http_server
) -> None:
    data_dir = tmp_path / "shared-data"
    one, two = b"a\n1\n", b"a\n2\n"
    url = http_server.add("/d.csv", one)
    first = job(wb, "source=http", f"source.url={url}", f"data_dir={data_dir}")
    assert first.status == "ok", first.error
    (first_file,) = files_named(data_dir, "d.csv")
    http_server.add("/d.csv", two)
    second = job(wb, "source=http", f"source.url={url}", f"data_dir={data_dir}")
    assert second.status == "ok", second.error
    assert first_file.read_bytes() == one, "the first run's file is untouched"
    assert sorted(p.read_bytes() for p in files_named(data_dir, "d.csv")) == [one, two]
    # The same content again reuses the folder it is kept in.
    http_server.add("/d.csv", one)
    assert job(wb, "source=http", f"source.url={url}", f"data_dir={data_dir}").status == "ok"
    assert len(files_named(data_dir, "d.csv")) == 2


def test_a_second_run_on_the_same_artifact_is_told_and_touches_nothing(
    wb: Path, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.csv").write_bytes(b"a\n1\n")
    data_dir = tmp_path / "data"
    (data_dir / "src").mkdir(parents=True)
    staging = data_dir / "src" / ".getdata-staging"
    staging.mkdir()
    (staging / "other-runs-work.csv").write_bytes(b"in progress")
    with (data_dir / "src" / ".getdata.lock").open("ab") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as the other run holds it
        report = job(wb, "source=local", f"source.path={src}", f"data_dir={data_dir}")
    assert report.status == "failed" and "in use by another getdata run" in report.error
    assert (staging / "other-runs-work.csv").read_bytes() == b"in progress"
    assert logged(wb) == []
    # Once the other run is done, the next one takes over and cleans up its leftovers.
    report = job(wb, "source=local", f"source.path={src}", f"data_dir={data_dir}")
    assert report.status == "ok", report.error
    assert not staging.exists()


def test_kept_files_follow_the_umask(wb: Path, http_server) -> None:
    old = os.umask(0o022)
    try:
        report = http_job(wb, http_server.add("/a.bin", DATA), "inspect.check_format=false")
    finally:
        os.umask(old)
    kept = assert_logged(wb, report, DATA)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o644


def test_kill_9_partial_is_resumed_by_the_next_run(tmp_path: Path) -> None:
    half = len(DATA) // 2
    stop = threading.Event()

    def script(request: RawRequest, index: int):  # type: ignore[no-untyped-def]
        if index == 0:  # half the body, then silence until the client is killed
            return trickle(
                reply("200 OK", length=len(DATA), ETag='"v1"') + DATA[:half], b"", 0.05, stop
            )
        start = int((request.header("range") or "bytes=0-").split("=")[1].split("-")[0])
        if not start:
            return reply("200 OK", DATA, ETag='"v1"')
        return reply(
            "206 Partial Content",
            DATA[start:],
            ETag='"v1"',
            Content_Range=f"bytes {start}-{len(DATA) - 1}/{len(DATA)}",
        )

    env = {**os.environ, **wandb_env(tmp_path)}
    data_dir = tmp_path / "data"
    with RawServer(script) as server:
        args = [
            "source=http",
            f"source.url={server.url('/big.bin')}",
            f"data_dir={data_dir}",
            "inspect.check_format=false",
            "fetch.chunk_size=65536",
        ]
        try:
            # The part map records progress each time it crosses a MiB (PIECE): wait for that.
            run1 = [*args, f"hydra.run.dir={tmp_path / 'run1'}"]
            claimed = killed_with_9(
                run1, tmp_path, env, lambda: (n := part_map_claims(data_dir)) >= PIECE and n
            )
        finally:
            stop.set()
        assert claimed <= half, "the map claims at most what arrived"
        (partial,) = data_dir.rglob("*.part")
        assert partial.read_bytes()[:claimed] == DATA[:claimed], "what the map claims is there"
        done = getdata_run([*args, f"hydra.run.dir={tmp_path / 'run2'}"], tmp_path, env)
        ranges = [r.header("range") for r in server.requests]
    assert done.returncode == 0, done.stderr
    # The first run asked for the first part (the server sent it all, then stalled); the second
    # asked only for what the map said was missing, pinned to the same ETag.
    assert ranges == [f"bytes=0-{FIRST_PART - 1}", f"bytes={claimed}-{len(DATA) - 1}"]
    assert server.requests[1].header("if-range") == '"v1"'
    assert leftovers(tmp_path) == [], "partials never accumulate"
    (kept,) = files_named(data_dir, "big.bin")
    assert kept.read_bytes() == DATA
    assert "resuming the partial download" in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["artifact.preview_rows=5"],
        ["source=local", "source.path=/nonexistent/x.csv"],
        ["-m", "dataset=sample", "artifact.preview_rows=5"],
    ],
    ids=["ok-with-preview", "failed", "sweep"],
)
def test_tmpdir_is_as_it_was(tmp_path: Path, args: list[str]) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, **wandb_env(tmp_path), "TMPDIR": str(tmp)}
    env.pop("HYDRA_FULL_ERROR", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "getdata",
            *args,
            f"hydra.run.dir={tmp_path / 'run'}",
            f"hydra.sweep.dir={tmp_path / 'sweep'}",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (done.returncode == 0) == ("failed" not in args[-1] and "nonexistent" not in str(args))
    assert list(tmp.iterdir()) == [], "TMPDIR is as it was"


# ---------------------------------------------------------------------------------------------
# Credentials in headers never follow a redirect to another origin
# ---------------------------------------------------------------------------------------------


def test_secret_headers_are_dropped_on_a_cross_origin_redirect(wb: Path, http_server) -> None:
    from tests.servers import FileServer

    with FileServer() as other:
        target = other.add("/d.csv", b"a\n1\n")
        http_server.add("/same.csv", b"a\n1\n")
        start = http_server.add("/d.csv", b"", redirect_to=target)
        hop = http_server.add("/hop.csv", b"", redirect_to="/same.csv")
        secrets = [
            "+source.headers.X-Api-Key=k1",
            "+source.headers.PRIVATE-TOKEN=t1",
            "+source.headers.Authorization='Bearer b1'",
            "+source.headers.X-Trace=keep",
        ]
        assert job(wb, "source=http", f"source.url={start}", *secrets).status == "ok"
        sent = only(other.requests_for("/d.csv", "GET")).headers
        assert sent.get("X-Trace") == "keep"
        for name in ("X-Api-Key", "PRIVATE-TOKEN", "Authorization"):
            assert sent.get(name) is None, f"{name} reached another origin"
        # Within the same origin the headers are still sent.
        assert job(tmp := wb / "same", "source=http", f"source.url={hop}", *secrets).status == "ok"
        assert tmp.exists()
        same = only(http_server.requests_for("/same.csv", "GET")).headers
        assert same.get("X-Api-Key") == "k1" and same.get("Authorization") == "Bearer b1"
