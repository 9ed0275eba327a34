"""The whole flow in-process against real servers and the real wandb (offline)."""

from __future__ import annotations

import base64
import zipfile
from pathlib import Path

import fsspec
import pytest

from getdata.config import bundled_data
from getdata.errors import GetDataError
from tests.support import data_dir, kept_path, logged, md5_b64, only, run_in_process, sha256_hex
from tests.wandb_file import run_info

PAYLOAD = b"".join(b"%08d,%s\n" % (i, b"x" * (i % 50)) for i in range(60_000))  # ~2 MiB
CSV = b"id,name,score\n" + b"".join(b"%d,name %d,%d.5\n" % (i, i, i) for i in range(2_000))


def check_logged(root: Path, name: str, data: bytes, entry: str) -> dict:
    run_file, artifact = only(logged(root))
    assert artifact.name == name
    assert artifact.type == "raw_data"
    item = only(artifact.entries)
    assert item.path == entry
    assert item.size == len(data)
    assert item.digest == md5_b64(data)
    assert artifact.metadata["sha256"] == sha256_hex(data)
    assert artifact.metadata["size"] == len(data)
    info = run_info(run_file)
    assert info["job_type"] == "get_data"
    assert info["project"] == "getdata-tests"
    return artifact.metadata


def test_bundled_sample(wb: Path) -> None:
    data = Path(bundled_data("sample.parquet")).read_bytes()
    result = run_in_process(wb / "run")
    meta = check_logged(wb, "sample.parquet", data, "sample.parquet")
    assert result.sha256 == sha256_hex(data)
    assert meta["source"]["kind"] == "local"
    assert meta["data"]["format"] == "parquet"
    assert meta["data"]["rows"] == 500
    # The file W&B references is the one kept in the data folder, byte for byte.
    assert kept_path(data_dir(wb), "sample.parquet", "sample.parquet").read_bytes() == data


@pytest.mark.parametrize(
    "behaviour",
    [{}, {"ranges": False}, {"content_length": False}, {"ranges": False, "content_length": False}],
    ids=["ranges", "no-ranges", "no-content-length", "neither"],
)
def test_http_source(wb: Path, http_server, behaviour: dict) -> None:
    http_server.add("/files/big.csv", PAYLOAD, **behaviour)
    url = http_server.url("/files/big.csv") + "?raw=true#frag"
    run_in_process(
        wb / "run",
        "source=http",
        f"source.url='{url}'",
        "artifact.name=raw_data.csv",
        "artifact.description='Data as downloaded'",
        "fetch.chunk_size=1048576",
    )
    meta = check_logged(wb, "raw_data.csv", PAYLOAD, "big.csv")
    _, artifact = only(logged(wb))
    assert artifact.description == "Data as downloaded"
    assert meta["source"]["url"] == url
    assert meta["source"]["kind"] == "http"
    if behaviour.get("content_length", True):
        assert meta["source"]["size"] == len(PAYLOAD)
        assert meta["source"]["etag"]
    assert kept_path(data_dir(wb), "raw_data.csv", "big.csv").read_bytes() == PAYLOAD
    gets = [r for r in http_server.requests if r.method == "GET"]
    assert len(gets) == 1, "the body is read in one streaming GET"


def test_s3_source(wb: Path, s3) -> None:
    s3.client.create_bucket(Bucket="datasets")
    s3.client.put_object(Bucket="datasets", Key="music/songs.csv", Body=CSV)
    run_in_process(
        wb / "run",
        "source=s3",
        "source.url=s3://datasets/music/songs.csv",
        f"source.endpoint_url={s3.endpoint_url}",
    )
    meta = check_logged(wb, "songs.csv", CSV, "songs.csv")
    assert meta["source"]["kind"] == "s3"
    assert meta["source"]["etag"]
    assert meta["data"]["columns"] == 3
    assert [c["name"] for c in meta["data"]["schema"]] == ["id", "name", "score"]


def test_local_source_with_description_default(wb: Path, tmp_path: Path) -> None:
    path = tmp_path / "songs.csv"
    path.write_bytes(CSV)
    run_in_process(wb / "run", "source=local", f"source.path={path}")
    check_logged(wb, "songs.csv", CSV, "songs.csv")
    _, artifact = only(logged(wb))
    assert str(path) in artifact.description


def test_fsspec_chained_url(wb: Path, tmp_path: Path) -> None:
    packed = tmp_path / "bundle.zip"
    with zipfile.ZipFile(packed, "w") as zf:
        zf.writestr("inner/songs.csv", CSV)
    # Any fsspec URL works, chained ones too: one member of a zip file.
    run_in_process(
        wb / "run", "source=fsspec", f"source.url='zip://inner/songs.csv::file://{packed}'"
    )
    meta = check_logged(wb, "songs.csv", CSV, "songs.csv")
    assert meta["source"]["kind"] == "fsspec"
    assert meta["data"]["columns"] == 3


def test_fsspec_memory_url(wb: Path) -> None:
    fs = fsspec.filesystem("memory")
    fs.pipe("/getdata-test/songs.csv", CSV)
    try:
        run_in_process(wb / "run", "source=fsspec", "source.url=memory://getdata-test/songs.csv")
    finally:
        fs.rm("/getdata-test", recursive=True)
    check_logged(wb, "songs.csv", CSV, "songs.csv")


def test_expected_sha256_mismatch_logs_nothing(wb: Path, http_server) -> None:
    http_server.add("/data.csv", CSV)
    with pytest.raises(GetDataError, match="sha256 mismatch: expected 0{64}, got"):
        run_in_process(
            wb / "run",
            "source=http",
            f"source.url={http_server.url('/data.csv')}",
            f"source.sha256={'0' * 64}",
        )
    assert logged(wb) == []
    assert not data_dir(wb).exists(), "a failed first run leaves no empty data folder"


def test_expected_sha256_match(wb: Path, http_server) -> None:
    http_server.add("/data.csv", CSV)
    run_in_process(
        wb / "run",
        "source=http",
        f"source.url={http_server.url('/data.csv')}",
        f"source.sha256={sha256_hex(CSV).upper()}",
    )
    check_logged(wb, "data.csv", CSV, "data.csv")


def test_html_page_served_as_parquet_is_refused(wb: Path, http_server) -> None:
    page = b"<!DOCTYPE html><html><body>Sign in to continue</body></html>"
    http_server.add("/genres_mod.parquet", page, content_type="text/html")
    with pytest.raises(GetDataError, match="look like an HTML page"):
        run_in_process(
            wb / "run", "source=http", f"source.url={http_server.url('/genres_mod.parquet')}"
        )
    assert logged(wb) == []
    assert not data_dir(wb).exists(), "a failed first run leaves no empty data folder"


def test_secret_header_and_query_do_not_reach_wandb(wb: Path, http_server) -> None:
    http_server.add("/private.csv", CSV, require_header=("Authorization", "Bearer s3cr3t-t0ken"))
    url = http_server.url("/private.csv")
    run_in_process(
        wb / "run",
        "source=http",
        f"source.url='{url}?X-Amz-Signature=abcdef123&token=tok987&raw=true'",
        "+source.headers.Authorization='Bearer s3cr3t-t0ken'",
    )
    run_file, artifact = only(logged(wb))
    text = run_file.read_bytes()
    for secret in (b"s3cr3t-t0ken", b"abcdef123", b"tok987"):
        assert secret not in text
    assert artifact.metadata["source"]["url"] == f"{url}?X-Amz-Signature=***&token=***&raw=true"
    assert run_info(run_file)["config"]["source"]["headers"]["Authorization"] == "***"


def test_password_in_url_does_not_reach_wandb(wb: Path, http_server) -> None:
    basic = "Basic " + base64.b64encode(b"alice:pa55word").decode()
    http_server.add("/private.csv", CSV, require_header=("Authorization", basic))
    url = http_server.url("/private.csv").replace("http://", "http://alice:pa55word@")
    run_in_process(wb / "run", "source=http", f"source.url='{url}'")
    run_file, artifact = only(logged(wb))
    assert b"pa55word" not in run_file.read_bytes()
    assert artifact.metadata["source"]["url"] == url.replace("alice:pa55word", "***")
