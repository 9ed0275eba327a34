"""Incremental refresh (getdata/pipeline/refresh.py, getdata/store/workspace.py ``reuse``): a
prefix fetched again GETs only the objects that changed or are new, against moto and SeaweedFS,
every request seen by a recording proxy in front of them; the version logged has every entry,
with the digests of the bytes the source has now; kept bytes that cannot be proven are fetched
again; a record that cannot be used is one warning line and a full fetch.

Each test reads the artifact back from the offline run file and the bytes from the data folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from getdata.cli.report import JobReport, run_job
from getdata.store.keep import Kept, forget, identity
from tests.servers import S3FaultProxy
from tests.support import (
    compose_cfg,
    data_dir,
    leftovers,
    logged,
    md5_b64,
    only,
    run_cli,
    wandb_env,
)
from tests.wandb_file import LoggedArtifact

FAST = ["fetch.backoff=0.01", "fetch.backoff_max=0.05", "fetch.attempts=3"]
ARTIFACT = "lake"


def table(i: int, salt: str = "") -> bytes:
    return f"a,b,c\n{i},{i * 7},x{salt}\n{i + 1},{i * 3},y{salt}\n".encode()


FILES = {f"part-{i:03d}.csv": table(i) for i in range(30)}


class Lake:
    """A bucket on an S3 server, read through a proxy that records every request."""

    def __init__(
        self, put: Callable[[str, str, bytes], Any], bucket: str, upstream: str, signed: bool
    ) -> None:
        self.put_object = put
        self.signed = signed
        self.bucket = bucket
        self.upstream = upstream
        self.proxy: S3FaultProxy | None = None

    def put(self, files: dict[str, bytes], prefix: str = "p/") -> None:
        for name, data in files.items():
            self.put_object(self.bucket, f"{prefix}{name}", data)

    def remove(self, name: str, prefix: str = "p/") -> None:
        import boto3

        client = boto3.client("s3", endpoint_url=self.upstream, region_name="us-east-1")
        client.delete_object(Bucket=self.bucket, Key=f"{prefix}{name}")

    def fetch(self, root: Path, run: str, *overrides: str, prefix: str = "p/") -> JobReport:
        """One run through a new recording proxy (``self.proxy`` keeps what it saw)."""
        with S3FaultProxy(
            self.upstream, 500, "InternalError", times=0, keep_host=self.signed
        ) as proxy:
            self.proxy = proxy
            cfg = compose_cfg(
                *FAST,
                "source=s3",
                f"source.url=s3://{self.bucket}/{prefix}",
                f"source.endpoint_url={proxy.endpoint_url}",
                f"artifact.name={ARTIFACT}",
                *overrides,
            )
            return run_job(cfg, root / run, None)

    def gets(self) -> list[str]:
        """The objects GET (by name below the bucket), in no particular order: sorted."""
        assert self.proxy is not None
        prefix = f"/{self.bucket}/"
        return sorted(urlsplit(p).path.removeprefix(prefix) for p in self.proxy.gets)


@pytest.fixture
def lake(s3: Any) -> Lake:
    return Lake(s3.put, "bucket", s3.endpoint_url, signed=False)


@pytest.fixture
def weed_lake(seaweed: Any, monkeypatch: pytest.MonkeyPatch) -> Lake:
    for key, value in seaweed.env.items():
        monkeypatch.setenv(key, value)
    return Lake(seaweed.put, seaweed.new_bucket(), seaweed.endpoint, signed=True)


def artifact_with(root: Path, key: str, value: Any = None) -> LoggedArtifact:
    """The one logged artifact whose metadata has ``key`` (with ``value``, when given)."""
    return only(
        [
            a
            for _, a in logged(root)
            if key in a.metadata and (value is None or a.metadata[key] == value)
        ]
    )


def assert_logged_as(root: Path, artifact: LoggedArtifact, files: dict[str, bytes]) -> None:
    """Every entry of ``artifact`` has the digest of ``files``' bytes, and the kept files are
    those bytes."""
    assert {e.path: e.digest for e in artifact.entries} == {n: md5_b64(d) for n, d in files.items()}
    listed = {f["path"]: f["sha256"] for f in artifact.metadata["files"]}
    assert listed == {n: hashlib.sha256(d).hexdigest() for n, d in files.items()}
    version = data_dir(root) / ARTIFACT / artifact.metadata["sha256"][:16]
    on_disk = {
        p.relative_to(version).as_posix(): p.read_bytes() for p in version.rglob("*") if p.is_file()
    }
    assert on_disk == files


def changed_lake(lake: Lake) -> dict[str, bytes]:
    """Three objects changed (one keeps its size), one added, one removed: the source now."""
    now = dict(FILES)
    for name in ("part-001.csv", "part-002.csv"):
        now[name] = table(int(name[5:8]), salt="-new")
    now["part-003.csv"] = table(3).replace(b"x", b"z")  # same size, other bytes
    now["part-100.csv"] = table(100)
    del now["part-010.csv"]
    lake.put({n: now[n] for n in ("part-001.csv", "part-002.csv", "part-003.csv", "part-100.csv")})
    lake.remove("part-010.csv")
    return now


CHANGED_OR_NEW = ["p/part-001.csv", "p/part-002.csv", "p/part-003.csv", "p/part-100.csv"]


@pytest.mark.parametrize("server", ["moto", "seaweedfs"])
def test_the_second_fetch_gets_only_what_changed(
    wb: Path, server: str, request: pytest.FixtureRequest
) -> None:
    lake: Lake = request.getfixturevalue("lake" if server == "moto" else "weed_lake")
    lake.put(FILES)
    first = lake.fetch(wb, "r1")
    assert first.status == "ok", first.error
    assert lake.gets() == sorted(f"p/{n}" for n in FILES)
    now = changed_lake(lake)

    second = lake.fetch(wb, "r2")
    assert second.status == "ok", second.error
    assert lake.gets() == CHANGED_OR_NEW
    artifact = artifact_with(wb, "refresh")
    assert artifact.metadata["refresh"] == {
        "previous": first.sha256,
        "added": 1,
        "changed": 3,
        "removed": 1,
        "reused": 26,
        "unproven": 0,
    }
    assert_logged_as(wb, artifact, now)
    assert second.version == "v1"
    # The unchanged files are the first version's bytes on disk, not a second copy.
    v1 = data_dir(wb) / ARTIFACT / str(first.sha256)[:16]
    v2 = data_dir(wb) / ARTIFACT / str(second.sha256)[:16]
    assert (v1 / "part-020.csv").stat().st_ino == (v2 / "part-020.csv").stat().st_ino
    assert (v1 / "part-001.csv").read_bytes() == FILES["part-001.csv"]  # v1 untouched
    assert leftovers(wb) == []


def test_nothing_changed_gets_nothing_and_logs_the_same_version(wb: Path, lake: Lake) -> None:
    lake.put(FILES)
    first = lake.fetch(wb, "r1")
    second = lake.fetch(wb, "r2")
    assert second.status == "ok", second.error
    assert lake.gets() == []
    assert (second.sha256, second.version) == (first.sha256, "v0")
    artifact = artifact_with(wb, "refresh")
    assert artifact.metadata["refresh"]["reused"] == len(FILES)
    assert_logged_as(wb, artifact, FILES)
    # What the refresh recorded is what the listing says: unchanged for skip_unchanged.
    third = lake.fetch(wb, "r3", "skip_unchanged=true")
    assert third.status == "unchanged"
    assert lake.gets() == []


def test_a_kept_file_changed_on_disk_is_fetched_again(
    wb: Path, lake: Lake, caplog: pytest.LogCaptureFixture
) -> None:
    lake.put(FILES)
    first = lake.fetch(wb, "r1")
    v1 = data_dir(wb) / ARTIFACT / str(first.sha256)[:16]
    # Edited in place with the same size and mtime put back; another replaced by a link to a
    # file with the right bytes elsewhere (a link is never taken).
    edited = v1 / "part-005.csv"
    st = edited.stat()
    edited.write_bytes(FILES["part-005.csv"].replace(b"x", b"q"))
    os.utime(edited, ns=(st.st_atime_ns, st.st_mtime_ns))
    elsewhere = wb / "elsewhere.csv"
    elsewhere.write_bytes(FILES["part-006.csv"])
    (v1 / "part-006.csv").unlink()
    (v1 / "part-006.csv").symlink_to(elsewhere)
    now = changed_lake(lake)
    with caplog.at_level(logging.WARNING, logger="getdata"):
        second = lake.fetch(wb, "r2")
    assert second.status == "ok", second.error
    assert lake.gets() == sorted([*CHANGED_OR_NEW, "p/part-005.csv", "p/part-006.csv"])
    artifact = artifact_with(wb, "refresh")
    assert artifact.metadata["refresh"]["reused"] == 24
    assert artifact.metadata["refresh"]["unproven"] == 2
    assert_logged_as(wb, artifact, now)
    lines = _warnings(caplog)
    assert len(lines) == 1 and "2 unchanged files" in lines[0], lines


@pytest.mark.parametrize("how", ["getdata gc", "by hand"])
def test_with_the_first_version_removed_the_refresh_takes_from_the_second(
    wb: Path, lake: Lake, how: str
) -> None:
    """The first version removed: its folder goes, whose files the second version shares as
    links (their ctime changes). getdata gc (store/keep.py's forget) brings the second version's
    record up to date; removed by hand, the second version's files are proven again by hashing
    them. Either way the third fetch GETs only what changed."""
    lake.put(FILES)
    first = lake.fetch(wb, "r1")
    lake.put({"part-000.csv": table(0, salt="-2")})
    second = lake.fetch(wb, "r2")
    assert second.status == "ok", second.error
    root = data_dir(wb) / ARTIFACT
    v1, v2 = str(first.sha256)[:16], str(second.sha256)[:16]
    if how == "getdata gc":
        forget(root, v1)
        record = Kept(root, v2).load()
        assert {n: r["identity"] for n, r in record.items()} == {
            n: identity(root / v2 / n) for n in record
        }
    else:
        shutil.rmtree(root / v1)
    assert not (root / v1).exists()
    lake.put({"part-001.csv": table(1, salt="-3")})
    third = lake.fetch(wb, "r3")
    assert third.status == "ok", third.error
    assert lake.gets() == ["p/part-001.csv"]
    now = {**FILES, "part-000.csv": table(0, salt="-2"), "part-001.csv": table(1, salt="-3")}
    artifact = only([a for _, a in logged(wb) if a.metadata["sha256"] == third.sha256])
    assert artifact.metadata["refresh"]["reused"] == len(FILES) - 1
    assert_logged_as(wb, artifact, now)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """getdata's warning lines. Other loggers' records are not counted: s3fs's finalizer of a
    garbage-collected S3FileSystem can run on whatever thread has a running event loop (a test
    server's) and schedule its session's close there, which asyncio then logs as an error
    ("attached to a different loop") at a moment that depends on the garbage collector."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.split(".")[0] == "getdata"
    ]


@pytest.mark.parametrize(
    "spoil",
    ["missing", "unreadable", "version gone", "version's record gone"],
)
def test_a_record_that_cannot_be_used_is_a_full_fetch_with_one_warning(
    wb: Path, lake: Lake, caplog: pytest.LogCaptureFixture, spoil: str
) -> None:
    lake.put(FILES)
    first = lake.fetch(wb, "r1")
    state = wb / "state" / f"{ARTIFACT}.json"
    version = str(first.sha256)[:16]
    if spoil == "missing":
        state.unlink()
    elif spoil == "unreadable":
        state.write_text("{not json")
    elif spoil == "version gone":
        shutil.rmtree(data_dir(wb) / ARTIFACT / version)
    else:
        (data_dir(wb) / ARTIFACT / ".getdata-kept" / f"{version}.json").unlink()
    now = changed_lake(lake)
    with caplog.at_level(logging.INFO, logger="getdata"):
        second = lake.fetch(wb, "r2")
    assert second.status == "ok", second.error
    assert lake.gets() == sorted(f"p/{n}" for n in now)
    warnings = _warnings(caplog)
    assert len(warnings) == 1, warnings
    assert "fetching every file" in caplog.text
    artifact = only([a for _, a in logged(wb) if a.metadata["sha256"] == second.sha256])
    assert "refresh" not in artifact.metadata
    assert_logged_as(wb, artifact, now)


def test_a_record_from_another_source_is_a_full_fetch_with_one_warning(
    wb: Path, lake: Lake, caplog: pytest.LogCaptureFixture
) -> None:
    lake.put(FILES)
    lake.put(FILES, prefix="q/")
    assert lake.fetch(wb, "r1").status == "ok"
    with caplog.at_level(logging.WARNING, logger="getdata"):
        second = lake.fetch(wb, "r2", prefix="q/")
    assert second.status == "ok", second.error
    assert lake.gets() == sorted(f"q/{n}" for n in FILES)
    warnings = _warnings(caplog)
    assert len(warnings) == 1 and "last fetched from s3://bucket/p/" in warnings[0], warnings
    assert "artifact.name" in warnings[0]


def test_incremental_false_fetches_every_file(wb: Path, lake: Lake) -> None:
    lake.put(FILES)
    lake.fetch(wb, "r1")
    second = lake.fetch(wb, "r2", "fetch.incremental=false")
    assert second.status == "ok", second.error
    assert lake.gets() == sorted(f"p/{n}" for n in FILES)


def test_a_local_folder_refreshes_with_the_default_settings(tmp_path: Path) -> None:
    """As a user runs it: `python -m getdata source=local source.path=...` twice in one working
    folder, with the default (shared) data folder and state folder."""
    folder = tmp_path / "songs"
    (folder / "sub").mkdir(parents=True)
    files = {"a.csv": table(1), "b.csv": table(2), "sub/c.csv": table(3)}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    env = {k: v for k, v in wandb_env(tmp_path).items() if k != "GETDATA_DATA_DIR"}
    env.pop("GETDATA_STATE_DIR", None)
    args = ["source=local", f"source.path={folder}", "hydra.run.dir=outputs/${now:%H%M%S%f}"]
    assert run_cli(args, env, tmp_path).returncode == 0
    (folder / "b.csv").write_bytes(table(2, salt="-changed"))
    (folder / "d.csv").write_bytes(table(4))
    (folder / "a.csv").unlink()
    done = run_cli(args, env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "refresh: 1 of 3 files unchanged" in done.stderr + done.stdout
    root = tmp_path / ".getdata" / "data" / "songs"
    assert root.is_dir()
    found = [a for _, a in logged(tmp_path) if "refresh" in a.metadata]
    refresh = only(found).metadata["refresh"]
    assert (refresh["added"], refresh["changed"], refresh["removed"], refresh["reused"]) == (
        1,
        1,
        1,
        1,
    )
    state = json.loads((tmp_path / ".getdata" / "state" / "songs.json").read_text())
    assert [name for name, _ in state["fingerprint"]["files"]] == ["b.csv", "d.csv", "sub/c.csv"]
