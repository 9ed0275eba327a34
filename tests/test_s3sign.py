"""S3 GETs are presigned by obstore with s3fs's own identity (getdata/sources/s3sign.py), and by
s3fs's signer when the GET carries what obstore's signer does not take (a version id): checked
on the URLs a recording proxy in front of moto really saw, and on the bytes kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from getdata.cli.report import run_job
from tests.servers import S3FaultProxy
from tests.support import compose_cfg, only


def fetch(root: Path, url: str, endpoint: str, *extra: str) -> Any:
    cfg = compose_cfg("source=s3", f"source.url={url}", f"source.endpoint_url={endpoint}", *extra)
    return run_job(cfg, root / "run", None)


def test_plain_gets_are_signed_by_obstore(wb: Path, s3: Any) -> None:
    s3.put("bucket", "data.csv", b"a,b\n1,2\n")
    with S3FaultProxy(s3.endpoint_url, 500, "InternalError", times=0) as proxy:
        report = fetch(wb, "s3://bucket/data.csv", proxy.endpoint_url)
        assert report.status == "ok", report.error
        (get,) = [path for method, path in proxy.seen if method == "GET"]
    # obstore signs with SigV4 in the query; s3fs's own presign here would be SigV2.
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in get and "Signature=" not in get.split("&")[0]
    assert Path(only(report.paths)).read_bytes() == b"a,b\n1,2\n"


def test_a_version_id_is_signed_by_s3fs(wb: Path, s3: Any) -> None:
    s3.client.create_bucket(Bucket="versioned")
    s3.client.put_bucket_versioning(
        Bucket="versioned", VersioningConfiguration={"Status": "Enabled"}
    )
    first = s3.client.put_object(Bucket="versioned", Key="d.csv", Body=b"a\n1\n")["VersionId"]
    s3.client.put_object(Bucket="versioned", Key="d.csv", Body=b"a\n2\n")
    with S3FaultProxy(s3.endpoint_url, 500, "InternalError", times=0) as proxy:
        report = fetch(wb, "s3://versioned/d.csv", proxy.endpoint_url, f"source.version_id={first}")
        assert report.status == "ok", report.error
        gets = [path for method, path in proxy.seen if method == "GET" and "d.csv" in path]
    assert gets and all(f"versionId={first}" in g for g in gets)
    assert Path(only(report.paths)).read_bytes() == b"a\n1\n"
