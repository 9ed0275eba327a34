"""Fault injection: every way a fetch can go wrong, against real servers on 127.0.0.1.

Each case checks the outcome (logged or not), the message, that no temporary file remains and
what is (or is not) in the W&B folder. Timeouts and backoff are short so the suite stays fast.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from getdata.cli.report import JobReport, run_job
from getdata.errors import explain, is_transient
from getdata.transfer.parts import FIRST_PART
from tests.servers import DropProxy, S3FaultProxy, free_port
from tests.support import (
    compose_cfg,
    data_dir,
    leftovers,
    logged,
    md5_b64,
    only,
    run_cli,
    sha256_hex,
    wandb_env,
)

DATA = os.urandom(3 * 2**20 + 12345)  # spans several 1 MiB chunks
FAST = ["fetch.backoff=0.01", "fetch.backoff_max=2", "fetch.attempts=3", "fetch.chunk_size=1048576"]


def job(root: Path, *overrides: str) -> JobReport:
    return run_job(compose_cfg(*FAST, *overrides), root / "run", None)


def http_job(root: Path, url: str, *overrides: str) -> JobReport:
    return job(root, "source=http", f"source.url='{url}'", "source.timeout=1", *overrides)


def assert_ok(root: Path, report: JobReport, data: bytes = DATA) -> None:
    assert report.status == "ok", report.error
    _, artifact = only(logged(root))
    assert only(artifact.entries).digest == md5_b64(data)
    assert artifact.metadata["sha256"] == sha256_hex(data)
    assert leftovers(root) == []


def assert_failed(root: Path, report: JobReport, *phrases: str) -> None:
    assert report.status == "failed"
    assert report.error is not None and "\n" not in report.error
    for phrase in phrases:
        assert phrase in report.error, report.error
    assert leftovers(root) == []
    assert logged(root) == []
    assert not (root / "wandb-dir").exists(), "a failed fetch must not start a W&B run"
    data = data_dir(root)
    assert not data.exists() or list(data.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# Transient faults recover
# ---------------------------------------------------------------------------------------------


def test_drop_mid_body_resumes_with_range_and_if_range(wb: Path, http_server) -> None:
    url = http_server.add("/d.bin", DATA, drop_after=1_500_000)
    assert_ok(wb, http_job(wb, url))
    gets = http_server.requests_for("/d.bin", "GET")
    assert len(gets) == 2
    # The first request asks for the first part (8 MiB: all of this file), nothing pinned yet.
    assert gets[0].range == f"bytes=0-{FIRST_PART - 1}" and gets[0].if_range is None
    # The second request continues from what arrived, guarded by the first response's ETag.
    assert gets[1].range is not None and gets[1].range.startswith("bytes=")
    assert gets[1].range.endswith(f"-{len(DATA) - 1}")
    assert int(gets[1].range[len("bytes=") :].split("-")[0]) > 0
    assert gets[1].if_range == http_server.requests_for("/d.bin")[0].headers.get(
        "If-Range", gets[1].if_range
    )
    assert gets[1].if_range.startswith('"')


def test_drop_with_reset_resumes(wb: Path, http_server) -> None:
    # Both answers are cut mid-body (the resumed one is over 2 MB long): with a cut at 2 MB the
    # resumed answer was shorter than the cut, was reset only after its last byte, and whether
    # the client read it all before the reset decided between 2 and 3 requests.
    url = http_server.add("/d.bin", DATA, drop_after=1_000_000, drop_reset=True, drop_times=2)
    assert_ok(wb, http_job(wb, url))
    assert http_server.count("/d.bin") == 3


def test_drop_without_range_support_restarts(wb: Path, http_server) -> None:
    url = http_server.add("/d.bin", DATA, drop_after=1_000_000, ranges=False)
    assert_ok(wb, http_job(wb, url))
    gets = http_server.requests_for("/d.bin", "GET")
    assert len(gets) == 2
    assert gets[1].range is not None, "it asks to resume"
    # ... the server answers 200 with the whole body; the file is restarted, not spliced.


def test_changed_object_restarts_instead_of_splicing(wb: Path, http_server) -> None:
    old = os.urandom(2_500_000)
    url = http_server.add("/d.bin", old, drop_after=1_000_000)
    real_fetch_started = http_server.count("/d.bin")
    assert real_fetch_started == 0

    # Swap the object between the drop and the retry: the server is asked with If-Range for the
    # old ETag, so it answers 200 with the new version, and getdata starts over.
    class Swap(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "resuming" in record.getMessage():
                http_server.add("/d.bin", DATA)

    handler = Swap()
    logging.getLogger("getdata").addHandler(handler)
    try:
        report = http_job(wb, url)
    finally:
        logging.getLogger("getdata").removeHandler(handler)
    assert_ok(wb, report, DATA)


def test_no_validator_means_no_resume(wb: Path, http_server) -> None:
    url = http_server.add("/d.bin", DATA, drop_after=1_000_000, etag=None)
    assert_ok(wb, http_job(wb, url))
    gets = http_server.requests_for("/d.bin", "GET")
    # The answer names no version: the retry is a plain GET of all of it, never a resume.
    assert [g.range for g in gets] == [f"bytes=0-{FIRST_PART - 1}", None]


@pytest.mark.parametrize("statuses", [[503], [500, 502], [504, 503]])
def test_server_errors_are_retried(wb: Path, http_server, statuses: list[int]) -> None:
    url = http_server.add("/d.bin", DATA, statuses=statuses)
    assert_ok(wb, http_job(wb, url))
    assert http_server.count("/d.bin") == len(statuses) + 1


def test_429_honours_retry_after(wb: Path, http_server, caplog: pytest.LogCaptureFixture) -> None:
    url = http_server.add("/d.bin", DATA, statuses=[429], retry_after="1")
    with caplog.at_level(logging.WARNING, logger="getdata"):
        assert_ok(wb, http_job(wb, url))
    assert "retrying in 1.0 s" in caplog.text
    assert "rate limited (HTTP 429)" in caplog.text


def test_read_timeout_is_retried(wb: Path, http_server) -> None:
    url = http_server.add("/d.bin", DATA, stall=3, stall_times=1)
    assert_ok(wb, http_job(wb, url, "source.timeout=0.5"))
    assert http_server.count("/d.bin") == 2


def test_stall_every_time_gives_up(wb: Path, http_server) -> None:
    url = http_server.add("/d.bin", DATA, stall=3, stall_times=99)
    report = http_job(wb, url, "source.timeout=0.3")
    assert_failed(wb, report, url, "timed out", "gave up after 3 attempts")


def test_body_shorter_than_content_length_is_retried(wb: Path, http_server) -> None:
    url = http_server.add("/d.bin", DATA, lie_length=len(DATA) + 1000)
    # One plain GET (the lie is in the whole answer; a ranged one would be exact).
    report = http_job(wb, url, "fetch.connections=1")
    # Every attempt is short: reported as such, never logged as a short file. (A resume asks
    # for the rest of the announced size and is told another total: never spliced, the fetch
    # starts over, three times.)
    assert_failed(wb, report, url, "contradicts itself (3 times")
    assert http_server.count("/d.bin") >= 3


def test_redirect_is_followed(wb: Path, http_server) -> None:
    http_server.add("/real/genres.parquet.bin", DATA)
    url = http_server.add("/latest.bin", b"", redirect_to="/real/genres.parquet.bin")
    report = http_job(wb, url)
    assert_ok(wb, report)
    _, artifact = only(logged(wb))
    assert only(artifact.entries).path == "latest.bin"


def test_s3_drop_mid_body_recovers(wb: Path, s3, caplog: pytest.LogCaptureFixture) -> None:
    big = os.urandom(12 * 2**20)
    s3.put("bucket", "big.bin", big)
    host, port = urlsplit(s3.endpoint_url).hostname, urlsplit(s3.endpoint_url).port
    # Cut the first response carrying object bytes after 3 MiB: a real broken connection.
    with DropProxy((host, port), drop_after=3 * 2**20) as proxy, caplog.at_level(logging.INFO):
        report = job(
            wb,
            "source=s3",
            "source.url=s3://bucket/big.bin",
            f"source.endpoint_url={proxy.endpoint_url}",
        )
    assert proxy.drops == 1
    assert_ok(wb, report, big)
    # The second GET asked for the rest (Range, If-Match on the ETag), not the whole object.
    assert "resuming" in caplog.text


def test_no_content_length_and_no_ranges(wb: Path, http_server) -> None:
    url = http_server.add("/d.bin", DATA, content_length=False, ranges=False)
    assert_ok(wb, http_job(wb, url))


# ---------------------------------------------------------------------------------------------
# Permanent faults fail fast, in one line
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "phrase"),
    [(404, "not found (HTTP 404)"), (401, "access denied (HTTP 401)"), (403, "HTTP 403")],
)
def test_client_errors_fail_fast(wb: Path, http_server, status: int, phrase: str) -> None:
    url = http_server.add("/d.bin", b"nope", status=status)
    report = http_job(wb, url)
    assert_failed(wb, report, url, phrase)
    assert http_server.count("/d.bin") == 1, "no retry for a permanent fault"


def test_connection_refused_fails_fast(wb: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/d.bin"
    started = time.monotonic()
    report = http_job(wb, url, "fetch.attempts=5", "fetch.backoff=5")
    assert_failed(wb, report, url, "connection refused")
    assert time.monotonic() - started < 5, "no backoff wait for a permanent fault"


def test_unknown_host_is_permanent() -> None:
    # Resolving a name would leave this machine; the error aiohttp raises is built directly.
    key = aiohttp.client_reqrep.ConnectionKey(
        "no-such-host.invalid", 80, False, True, None, None, None
    )
    exc = aiohttp.ClientConnectorDNSError(key, OSError(-2, "Name or service not known"))
    assert not is_transient(exc)
    assert explain(exc).startswith("unknown host")


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_local_path_problems(wb: Path, tmp_path: Path, kind: str) -> None:
    path = tmp_path / ("nope.csv" if kind == "missing" else "folder")
    if kind == "directory":
        path.mkdir()
    report = job(wb, "source=local", f"source.path={path}")
    # A folder is a folder source (one artifact of its files); an empty one is an error.
    assert_failed(wb, report, str(path), "not found" if kind == "missing" else "no files there")


def test_s3_missing_key(wb: Path, s3) -> None:
    s3.put("bucket", "other.csv", b"a,b\n1,2\n")
    report = job(
        wb, "source=s3", "source.url=s3://bucket/nope.csv", f"source.endpoint_url={s3.endpoint_url}"
    )
    assert_failed(wb, report, "s3://bucket/nope.csv", "no such key")


def test_s3_missing_bucket(wb: Path, s3) -> None:
    report = job(
        wb, "source=s3", "source.url=s3://no-bucket/x.csv", f"source.endpoint_url={s3.endpoint_url}"
    )
    assert_failed(wb, report, "s3://no-bucket/x.csv", "no such bucket")


def test_s3_wrong_credentials(wb: Path, seaweed, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real S3 server (SeaweedFS) checks the signature of the presigned GET: moto does not
    (its auth mode answers a presigned URL with HTTP 500)."""
    bucket = seaweed.new_bucket()
    seaweed.put(bucket, "data.csv", b"a,b\n1,2\n")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "not-a-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-secret")
    url = f"s3://{bucket}/data.csv"
    report = job(wb, "source=s3", f"source.url={url}", f"source.endpoint_url={seaweed.endpoint}")
    assert_failed(wb, report, url)
    assert "access denied" in report.error or "permission denied" in report.error


def test_s3_missing_credentials(wb: Path, s3, monkeypatch: pytest.MonkeyPatch) -> None:
    s3.put("bucket", "data.csv", b"a,b\n1,2\n")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(wb / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(wb / "no-config"))
    report = job(
        wb, "source=s3", "source.url=s3://bucket/data.csv", f"source.endpoint_url={s3.endpoint_url}"
    )
    assert_failed(wb, report, "no AWS credentials found")


# ---------------------------------------------------------------------------------------------
# Integrity and content sanity
# ---------------------------------------------------------------------------------------------


def test_md5_mismatch(wb: Path, http_server) -> None:
    url = http_server.add("/d.bin", DATA)
    report = http_job(wb, url, f"source.md5={'f' * 32}")
    assert_failed(wb, report, "md5 mismatch: expected ffffffff", "the file was removed")


def _parquet_bytes() -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table({"a": list(range(1000)), "b": [str(i) for i in range(1000)]}), sink)
    return sink.getvalue()


@pytest.mark.parametrize(
    ("name", "body", "phrase"),
    [
        ("data.parquet", b"<!DOCTYPE html><html><body>404</body></html>", "HTML page"),
        ("data.parquet", _parquet_bytes()[:-100], "not a valid parquet file"),
        ("data.csv", b"<html><head></head><body>login</body></html>", "HTML page"),
        ("data.jsonl", b'{"a": 1}\n{"a": \n', "not a valid jsonl file"),
        ("data.json", b"this is not json", "not a valid json file"),
        ("data.arrow", b"ARROW1\x00\x00garbage", "not a valid arrow file"),
    ],
)
def test_content_is_what_its_name_says(
    wb: Path, http_server, name: str, body: bytes, phrase: str
) -> None:
    url = http_server.add(f"/{name}", body)
    report = http_job(wb, url)
    assert_failed(wb, report, name, phrase)


def test_format_check_can_be_switched_off(wb: Path, http_server) -> None:
    body = b"<html>an opaque file that happens to look like a page</html>"
    url = http_server.add("/blob.parquet", body)
    assert_ok(wb, http_job(wb, url, "inspect.check_format=false"), body)


# ---------------------------------------------------------------------------------------------
# As the user sees it: exit codes, signals, sweeps, secrets
# ---------------------------------------------------------------------------------------------


def test_cli_failure_is_one_line_and_non_zero(tmp_path: Path, http_server) -> None:
    url = http_server.add("/gone.csv", b"", status=404)
    proc = run_cli(
        ["source=http", f"source.url={url}", f"hydra.run.dir={tmp_path / 'run'}", *FAST],
        wandb_env(tmp_path),
        cwd=tmp_path,
    )
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if "ERROR" in line]
    assert len(lines) == 1 and lines[0].endswith(f"{url}: not found (HTTP 404): check the URL")
    assert "Traceback" not in proc.stderr
    assert leftovers(tmp_path) == []
    assert not (tmp_path / "wandb-dir").exists()
    full = run_cli(
        ["source=http", f"source.url={url}", f"hydra.run.dir={tmp_path / 'run2'}", *FAST],
        {**wandb_env(tmp_path), "HYDRA_FULL_ERROR": "1"},
        cwd=tmp_path,
    )
    assert full.returncode == 1 and "Traceback" in full.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_leaves_nothing_behind(tmp_path: Path, http_server, sig: signal.Signals) -> None:
    url = http_server.add("/slow.bin", DATA, stall=30)
    env = {**os.environ, **wandb_env(tmp_path)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "getdata",
            "source=http",
            f"source.url={url}",
            f"hydra.run.dir={tmp_path / 'run'}",
            "source.timeout=60",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not leftovers(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert leftovers(tmp_path), "the download started"
        time.sleep(0.2)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode != 0
    assert leftovers(tmp_path) == [], stderr
    assert not (tmp_path / "wandb-dir").exists()


@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_sweep_survives_a_bad_dataset(tmp_path: Path, http_server, launcher: str) -> None:
    good = http_server.add("/good.bin", DATA)
    bad = http_server.add("/bad.bin", b"", status=404)
    sweep = tmp_path / "sweep"
    proc = run_cli(
        [
            "-m",
            "source=http",
            f"source.url={bad},{good}",
            f"hydra/launcher={launcher}",
            f"hydra.sweep.dir={sweep}",
            *FAST,
        ],
        wandb_env(tmp_path),
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr
    summary = __import__("json").loads((sweep / "summary.json").read_text())
    assert summary["jobs"] == 2 and summary["failed"] == 1
    by_status = {d["status"]: d for d in summary["datasets"]}
    assert by_status["failed"]["error"].endswith("not found (HTTP 404): check the URL")
    assert by_status["ok"]["sha256"] == sha256_hex(DATA)
    assert by_status["ok"]["artifact"] == "good.bin"
    _, artifact = only(logged(tmp_path))
    assert artifact.name == "good.bin"
    assert "1 of 2 datasets logged, 0 unchanged, 1 failed" in proc.stderr
    assert leftovers(tmp_path) == []


def test_secrets_appear_nowhere(tmp_path: Path, http_server) -> None:
    token = "Bearer s3cr3t-t0ken-value"
    url = http_server.add("/private.csv", b"a,b\n1,2\n", require_header=("Authorization", token))
    signed = f"{url}?X-Amz-Signature=sig0123456789&X-Amz-Credential=cred98765&raw=true"
    bad = url.replace("http://", "http://alice:pa55w0rd@").replace("private", "missing")
    sweep = tmp_path / "sweep"
    proc = run_cli(
        [
            "-m",
            "source=http",
            f"source.url='{signed}','{bad}'",
            f"+source.headers.Authorization='{token}'",
            "+source.headers.Cookie='session=c00kie42'",
            f"hydra.sweep.dir={sweep}",
            *FAST,
        ],
        wandb_env(tmp_path),
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr  # the second URL is a 401/404: one failure
    assert len(logged(tmp_path)) == 1
    secrets = ["s3cr3t-t0ken-value", "sig0123456789", "cred98765", "pa55w0rd", "c00kie42"]
    places = {"stdout": proc.stdout, "stderr": proc.stderr}
    for path in tmp_path.rglob("*"):
        if path.is_file():
            places[str(path)] = path.read_bytes().decode("latin-1")
    assert any(p.endswith(".wandb") for p in places)
    assert any(p.endswith("summary.json") for p in places)
    assert any(p.endswith("overrides.yaml") for p in places)
    for where, text in places.items():
        for secret in secrets:
            assert secret not in text, f"{secret!r} leaked into {where}"


# ---------------------------------------------------------------------------------------------
# S3 objects are read with presigned GETs: S3's refusals, and the URL is never shown
# ---------------------------------------------------------------------------------------------

# What a presigned URL carries (SigV2 or SigV4): none of it may reach a message or a file.
PRESIGNED_PARTS = ("Signature", "AWSAccessKeyId", "X-Amz-Credential", "X-Amz-Signature")


def s3_job_through(wb: Path, s3, proxy: S3FaultProxy, key: str) -> JobReport:
    return job(
        wb,
        "source=s3",
        f"source.url=s3://bucket/{key}",
        f"source.endpoint_url={proxy.endpoint_url}",
        "fetch.backoff=0.01",
    )


def test_s3_slow_down_is_retried(wb: Path, s3) -> None:
    s3.put("bucket", "d.bin", DATA)
    with S3FaultProxy(s3.endpoint_url, 503, "SlowDown", times=2) as proxy:
        report = s3_job_through(wb, s3, proxy, "d.bin")
    assert_ok(wb, report)
    assert len(proxy.gets) == 3


@pytest.mark.parametrize(
    ("status", "code", "phrase"),
    [
        (403, "AccessDenied", "access denied (AccessDenied)"),
        (404, "NoSuchKey", "no such key in the bucket"),
        (301, "PermanentRedirect", "the bucket is in another region"),
    ],
)
def test_s3_refusals_are_one_line_without_the_presigned_url(
    wb: Path, s3, status: int, code: str, phrase: str, capfd: pytest.CaptureFixture[str]
) -> None:
    s3.put("bucket", "d.bin", DATA)
    with S3FaultProxy(s3.endpoint_url, status, code, times=99) as proxy:
        report = s3_job_through(wb, s3, proxy, "d.bin")
    assert_failed(wb, report, "s3://bucket/d.bin", phrase)
    assert len(proxy.gets) == 1, "a permanent refusal is not retried"
    seen = capfd.readouterr()
    written = [p.read_bytes() for p in wb.rglob("*") if p.is_file() and not p.is_symlink()]
    for part in PRESIGNED_PARTS:
        assert part not in report.error
        assert part not in seen.out + seen.err
        assert not any(part.encode() in data for data in written), part


def test_s3_version_id_reads_that_version(wb: Path, s3) -> None:
    s3.put("bucket", "seed.bin", b"")  # makes the bucket
    s3.client.put_bucket_versioning(Bucket="bucket", VersioningConfiguration={"Status": "Enabled"})
    old = s3.client.put_object(Bucket="bucket", Key="v.bin", Body=DATA)["VersionId"]
    s3.client.put_object(Bucket="bucket", Key="v.bin", Body=b"newer")
    report = job(
        wb,
        "source=s3",
        "source.url=s3://bucket/v.bin",
        f"source.endpoint_url={s3.endpoint_url}",
        f"source.version_id={old}",
    )
    assert_ok(wb, report)
    _, artifact = only(logged(wb))
    assert artifact.metadata["source"]["version_id"] == old
