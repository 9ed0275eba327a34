"""Shapes of data beyond one file, and pipeline features: folders, prefixes and globs as one
artifact; previews; skip-if-unchanged; reference artifacts. Real servers, real wandb (offline)."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import wandb

from getdata.cli.report import run_job
from tests.support import (
    compose_cfg,
    data_dir,
    kept_path,
    leftovers,
    logged,
    md5_b64,
    only,
    run_cli,
    sha256_hex,
    wandb_env,
)
from tests.wandb_file import run_info


def table(rows: int, offset: int = 0) -> pa.Table:
    return pa.table(
        {
            "id": list(range(offset, offset + rows)),
            "genre": [f"g{i % 7}" for i in range(rows)],
            "score": [i / 10 for i in range(rows)],
        }
    )


def csv_bytes(t: pa.Table) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(t, sink)
    return sink.getvalue()


def parquet_bytes(t: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(t, sink)
    return sink.getvalue()


def make_folder(root: Path) -> dict[str, bytes]:
    files = {
        "2024-01.csv": csv_bytes(table(100)),
        "2024-02.csv": csv_bytes(table(150, 100)),
        "nested/extra.parquet": parquet_bytes(table(40)),
        "notes.txt": b"free text, not a table\n",
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


def folder_digest(files: dict[str, bytes]) -> str:
    lines = "".join(f"{sha256_hex(files[k])}  {k}\n" for k in sorted(files))
    return hashlib.sha256(lines.encode()).hexdigest()


def test_local_directory_is_one_artifact(wb: Path, tmp_path: Path) -> None:
    files = make_folder(tmp_path / "songs")
    report = run_job(
        compose_cfg("source=local", f"source.path={tmp_path / 'songs'}"), wb / "run", None
    )
    assert report.status == "ok", report.error
    _, artifact = only(logged(wb))
    assert artifact.name == "songs"
    assert {e.path: e.digest for e in artifact.entries} == {k: md5_b64(v) for k, v in files.items()}
    meta = artifact.metadata
    assert meta["file_count"] == 4
    assert meta["size"] == sum(len(v) for v in files.values())
    assert meta["sha256"] == folder_digest(files)
    listed = {f["path"]: f for f in meta["files"]}
    assert listed["2024-02.csv"]["data"]["rows"] == 150
    assert listed["nested/extra.parquet"]["data"]["rows"] == 40
    assert listed["notes.txt"]["sha256"] == sha256_hex(files["notes.txt"])
    kept = kept_path(data_dir(wb), "songs")
    assert {p.relative_to(kept).as_posix() for p in kept.rglob("*") if p.is_file()} == set(files)
    assert leftovers(wb) == []


def test_glob_selects_files(wb: Path, tmp_path: Path) -> None:
    files = make_folder(tmp_path / "songs")
    pattern = tmp_path / "songs" / "2024-*.csv"
    report = run_job(compose_cfg("source=local", f"source.path='{pattern}'"), wb / "run", None)
    assert report.status == "ok", report.error
    _, artifact = only(logged(wb))
    assert artifact.name == "songs"
    assert sorted(e.path for e in artifact.entries) == ["2024-01.csv", "2024-02.csv"]
    assert artifact.metadata["file_count"] == 2
    assert {e.path: e.digest for e in artifact.entries} == {
        k: md5_b64(files[k]) for k in ("2024-01.csv", "2024-02.csv")
    }


def test_s3_prefix_and_glob(wb: Path, s3, tmp_path: Path) -> None:
    files = make_folder(tmp_path / "songs")
    for rel, data in files.items():
        s3.put("lake", f"music/{rel}", data)
    s3.put("lake", "other/ignored.csv", b"x\n1\n")
    report = run_job(
        compose_cfg(
            "source=s3",
            "source.url=s3://lake/music/",
            f"source.endpoint_url={s3.endpoint_url}",
            "artifact.name=music",
        ),
        wb / "run",
        None,
    )
    assert report.status == "ok", report.error
    _, artifact = only(logged(wb))
    assert {e.path: e.digest for e in artifact.entries} == {k: md5_b64(v) for k, v in files.items()}
    assert artifact.metadata["source"]["url"] == "s3://lake/music/"
    wandb.teardown()
    report = run_job(
        compose_cfg(
            "source=s3",
            "source.url=s3://lake/music/2024-*.csv",
            f"source.endpoint_url={s3.endpoint_url}",
            "artifact.name=music-2024",
        ),
        wb / "run2",
        None,
    )
    assert report.status == "ok", report.error
    names = {a.name: a for _, a in logged(wb)}
    assert sorted(e.path for e in names["music-2024"].entries) == ["2024-01.csv", "2024-02.csv"]


def test_empty_glob_is_an_error(wb: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    report = run_job(
        compose_cfg("source=local", f"source.path='{tmp_path / 'empty' / '*.csv'}'"),
        wb / "run",
        None,
    )
    assert report.status == "failed"
    assert "no files there" in report.error
    assert logged(wb) == []


def test_bad_file_in_folder_fails_the_whole_folder(wb: Path, tmp_path: Path) -> None:
    # inspect.in_folder=refuse (the default, mark, is in tests/test_contained.py).
    make_folder(tmp_path / "songs")
    (tmp_path / "songs" / "broken.parquet").write_bytes(b"<html>not parquet</html>")
    report = run_job(
        compose_cfg(
            "source=local", f"source.path={tmp_path / 'songs'}", "inspect.in_folder=refuse"
        ),
        wb / "run",
        None,
    )
    assert report.status == "failed"
    assert "broken.parquet" in report.error
    assert logged(wb) == []
    data = data_dir(wb)
    assert not data.exists() or [p for p in data.rglob("*") if p.is_file()] == []


def test_preview_rows_are_logged_as_a_table(wb: Path, tmp_path: Path) -> None:
    t = table(500)
    (tmp_path / "songs.parquet").write_bytes(parquet_bytes(t))
    report = run_job(
        compose_cfg(
            "source=local", f"source.path={tmp_path / 'songs.parquet'}", "artifact.preview_rows=7"
        ),
        wb / "run",
        None,
    )
    assert report.status == "ok", report.error
    # W&B stores a logged table as an artifact of its own (type run_table) beside ours.
    found = {artifact.type: (run_file, artifact) for run_file, artifact in logged(wb)}
    assert set(found) == {"raw_data", "run_table"}
    run_file, _ = found["raw_data"]
    preview = run_info(run_file)["summary"]["preview"]
    assert preview["_type"] == "table-file"
    assert preview["nrows"] == 7
    logged_table = json.loads((run_file.parent / "files" / preview["path"]).read_text())
    assert logged_table["columns"] == ["id", "genre", "score"]
    assert [row[0] for row in logged_table["data"]] == list(range(7))


def test_skip_unchanged_http(wb: Path, http_server) -> None:
    body = csv_bytes(table(50))
    url = http_server.add("/daily.csv", body)
    overrides = ["source=http", f"source.url={url}", "skip_unchanged=true"]
    first = run_job(compose_cfg(*overrides), wb / "run1", None)
    assert first.status == "ok"
    wandb.teardown()
    second = run_job(compose_cfg(*overrides), wb / "run2", None)
    assert second.status == "unchanged"
    assert len(logged(wb)) == 1, "an unchanged source logs nothing"
    assert http_server.count("/daily.csv", "GET") == 1, "and downloads nothing"
    state = json.loads((wb / "state" / "daily.csv.json").read_text())
    assert state["fingerprint"]["etag"] and state["sha256"] == sha256_hex(body)
    # The source changes: fetched and logged again.
    changed = csv_bytes(table(60))
    http_server.add("/daily.csv", changed)
    third = run_job(compose_cfg(*overrides), wb / "run3", None)
    assert third.status == "ok" and third.sha256 == sha256_hex(changed)
    assert len(logged(wb)) == 2


def test_skip_unchanged_never_skips_without_validators(wb: Path, http_server) -> None:
    url = http_server.add("/anon.csv", csv_bytes(table(5)), etag=None, last_modified=None)
    overrides = ["source=http", f"source.url={url}", "skip_unchanged=true"]
    assert run_job(compose_cfg(*overrides), wb / "run1", None).status == "ok"
    wandb.teardown()
    assert run_job(compose_cfg(*overrides), wb / "run2", None).status == "ok"
    assert len(logged(wb)) == 2
    assert not (wb / "state" / "anon.csv.json").exists()


def test_skip_unchanged_s3_version(wb: Path, s3) -> None:
    s3.put("bucket-b", "k.csv", csv_bytes(table(5)))
    overrides = [
        "source=s3",
        "source.url=s3://bucket-b/k.csv",
        f"source.endpoint_url={s3.endpoint_url}",
        "skip_unchanged=true",
    ]
    assert run_job(compose_cfg(*overrides), wb / "run1", None).status == "ok"
    wandb.teardown()
    assert run_job(compose_cfg(*overrides), wb / "run2", None).status == "unchanged"
    s3.put("bucket-b", "k.csv", csv_bytes(table(6)))
    assert run_job(compose_cfg(*overrides), wb / "run3", None).status == "ok"


def test_reference_artifact_s3(wb: Path, s3) -> None:
    body = csv_bytes(table(20))
    s3.client.create_bucket(Bucket="big")
    s3.client.put_bucket_versioning(Bucket="big", VersioningConfiguration={"Status": "Enabled"})
    s3.client.put_object(Bucket="big", Key="huge.csv", Body=body)
    head = s3.client.head_object(Bucket="big", Key="huge.csv")
    report = run_job(
        compose_cfg(
            "source=s3",
            "source.url=s3://big/huge.csv",
            f"source.endpoint_url={s3.endpoint_url}",
            "artifact.mode=reference",
        ),
        wb / "run",
        None,
    )
    assert report.status == "ok", report.error
    _, artifact = only(logged(wb))
    entry = only(artifact.entries)
    assert entry.ref.startswith("s3://big/huge.csv")
    assert entry.digest == head["ETag"].strip('"')
    assert entry.size == len(body)
    meta = artifact.metadata["source"]
    assert meta["size"] == len(body) and meta["etag"] == head["ETag"]
    assert meta["version_id"] == head["VersionId"]
    assert meta["last_modified"]
    assert not data_dir(wb).exists(), "nothing was downloaded"


def test_reference_artifact_http(wb: Path, http_server) -> None:
    body = csv_bytes(table(20))
    url = http_server.add("/huge.csv", body, last_modified="Wed, 21 Oct 2026 07:28:00 GMT")
    report = run_job(
        compose_cfg("source=http", f"source.url={url}", "artifact.mode=reference"), wb / "run", None
    )
    assert report.status == "ok", report.error
    _, artifact = only(logged(wb))
    entry = only(artifact.entries)
    assert entry.ref == url
    etag = http_server.requests_for("/huge.csv")[-1]  # the server's ETag is a quoted md5
    assert entry.digest.strip('"') == hashlib.md5(body).hexdigest()
    assert artifact.metadata["source"]["last_modified"] == "Wed, 21 Oct 2026 07:28:00 GMT"
    assert artifact.metadata["source"]["size"] == len(body)
    assert etag is not None
    assert not data_dir(wb).exists()


def test_reference_mode_needs_a_remote_source(wb: Path, tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_bytes(b"a\n1\n")
    report = run_job(
        compose_cfg("source=local", f"source.path={tmp_path / 'x.csv'}", "artifact.mode=reference"),
        wb / "run",
        None,
    )
    assert report.status == "failed" and "needs an http(s) or s3 source" in report.error


def test_archive_is_unpacked_into_a_folder_artifact(wb: Path, http_server, tmp_path: Path) -> None:
    import tarfile

    files = make_folder(tmp_path / "songs")
    archive = tmp_path / "songs.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "songs", arcname="songs")
    url = http_server.add("/songs.tar.gz", archive.read_bytes())
    report = run_job(
        compose_cfg("source=http", f"source.url={url}", "source.extract=true"), wb / "run", None
    )
    assert report.status == "ok", report.error
    _, artifact = only(logged(wb))
    assert artifact.name == "songs"
    assert {e.path: e.digest for e in artifact.entries} == {
        f"songs/{k}": md5_b64(v) for k, v in files.items()
    }
    assert artifact.metadata["source"]["size"] == archive.stat().st_size
    rows = {f["path"]: f["data"].get("rows") for f in artifact.metadata["files"]}
    assert rows["songs/2024-01.csv"] == 100
    # Only the unpacked folder is kept; the archive itself is not.
    data = data_dir(wb)
    kept = kept_path(data, "songs")
    every_file = {
        p
        for p in data.rglob("*")
        if p.is_file() and not any(x.startswith(".getdata") for x in p.relative_to(data).parts)
    }
    assert every_file == {p for p in kept.rglob("*") if p.is_file()}
    assert {p.relative_to(kept).as_posix() for p in every_file} == {f"songs/{k}" for k in files}
    assert leftovers(wb) == []


def test_hostile_archive_is_refused(wb: Path, http_server) -> None:
    import zipfile

    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as zf:
        zf.writestr("ok.csv", "a\n1\n")
        zf.writestr("../../escape.txt", "gotcha")
    url = http_server.add("/evil.zip", sink.getvalue())
    report = run_job(
        compose_cfg("source=http", f"source.url={url}", "source.extract=true"), wb / "run", None
    )
    assert report.status == "failed"
    assert "would escape the target folder" in report.error
    assert logged(wb) == []
    data = data_dir(wb)
    assert not data.exists() or list(data.iterdir()) == []
    assert not (wb / "escape.txt").exists() and not (wb / "run" / "escape.txt").exists()


def test_unchanged_in_a_sweep_is_its_own_status(tmp_path: Path, http_server) -> None:
    a = http_server.add("/a.csv", csv_bytes(table(10)))
    b = http_server.add("/b.csv", csv_bytes(table(20)))
    env = {**wandb_env(tmp_path), "GETDATA_STATE_DIR": str(tmp_path / "state")}
    args = ["-m", "source=http", f"source.url={a},{b}", "skip_unchanged=true"]
    first = run_cli([*args, f"hydra.sweep.dir={tmp_path / 's1'}"], env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    http_server.add("/b.csv", csv_bytes(table(21)))  # b changes, a does not
    second = run_cli([*args, f"hydra.sweep.dir={tmp_path / 's2'}"], env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    summary = json.loads((tmp_path / "s2" / "summary.json").read_text())
    assert (summary["ok"], summary["unchanged"], summary["failed"]) == (1, 1, 0)
    assert {d["artifact"]: d["status"] for d in summary["datasets"]} == {
        "a.csv": "unchanged",
        "b.csv": "ok",
    }
    assert "1 of 2 datasets logged, 1 unchanged, 0 failed" in second.stderr
    assert len(logged(tmp_path)) == 3
