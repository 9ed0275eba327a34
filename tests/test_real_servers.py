"""The real-server fixtures of tests/realservers.py work: nginx serves, validates and logs as
the tests rely on; SeaweedFS stores and serves S3 objects with ranges and conditions."""

from __future__ import annotations

import gzip
import http.client
import os
from urllib.parse import urlsplit

import pytest

try:
    from tests.realservers import NGINX_INSTALL_HINT, NginxServer, _group_members, nginx_binary
except ModuleNotFoundError:
    from realservers import NGINX_INSTALL_HINT, NginxServer, _group_members, nginx_binary

DATA = bytes(range(256)) * 400  # 100 KiB
NEW_DATA = DATA[::-1]  # same size: only the mtime bump changes the ETag


def get(url: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    """GET with http.client (no proxy settings, no automatic decompression); body read."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request("GET", parts.path, headers=headers or {})
    response = conn.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    conn.close()
    return response


# --------------------------------------------------------------------------
# nginx
# --------------------------------------------------------------------------


def test_nginx_serves_ranges_and_new_versions(nginx):
    url = nginx.write("data/a file.bin", DATA)
    assert url == f"http://127.0.0.1:{nginx.port}/data/a%20file.bin"
    assert (nginx.root / "data" / "a file.bin").read_bytes() == DATA

    r = get(url)
    assert (r.status, r.body) == (200, DATA)
    assert r.getheader("Accept-Ranges") == "bytes"
    etag = r.getheader("ETag")
    assert etag == nginx.etag("data/a file.bin")
    assert not etag.startswith("W/")

    r = get(url, {"Range": "bytes=10-19", "If-Range": etag})
    assert (r.status, r.body) == (206, DATA[10:20])
    assert r.getheader("Content-Range") == f"bytes 10-19/{len(DATA)}"

    nginx.write("data/a file.bin", NEW_DATA)  # a new version, same size, same second
    r = get(url, {"Range": "bytes=10-19", "If-Range": etag})
    assert (r.status, r.body) == (200, NEW_DATA)  # the validator no longer matches: whole file
    assert r.getheader("ETag") not in (etag, None)

    log = nginx.requests()
    assert [(e.method, e.status, e.range, e.if_range) for e in log] == [
        ("GET", 200, None, None),
        ("GET", 206, "bytes=10-19", etag),
        ("GET", 200, "bytes=10-19", etag),
    ]
    assert [e.body_bytes_sent for e in log] == [len(DATA), 10, len(DATA)]
    assert all(e.bytes_sent > e.body_bytes_sent and e.completed for e in log)
    assert {e.path for e in log} == {"/data/a file.bin"}
    assert log[1].content_range == f"bytes 10-19/{len(DATA)}"
    assert nginx.bytes_sent() == 2 * len(DATA) + 10
    assert nginx.bytes_sent("data/a file.bin") == 2 * len(DATA) + 10
    assert nginx.requests("other.bin") == []

    nginx.reset_log()
    assert nginx.requests() == []
    get(url, {"Range": "bytes=-5"})
    assert [(e.status, e.body_bytes_sent) for e in nginx.requests()] == [(206, 5)]


def test_nginx_conditionals_are_strong_and_multirange_is_multipart(nginx):
    url = nginx.write("f.bin", DATA)
    etag = nginx.etag("f.bin")
    # If-Range and If-Match compare strongly: a weak validator never matches.
    assert get(url, {"Range": "bytes=0-9", "If-Range": "W/" + etag}).status == 200
    assert get(url, {"Range": "bytes=0-9", "If-Match": "W/" + etag}).status == 412
    assert get(url, {"Range": "bytes=0-9", "If-Match": etag}).status == 206
    r = get(url, {"Range": "bytes=0-1,10-11"})
    assert r.status == 206
    assert r.getheader("Content-Type").startswith("multipart/byteranges; boundary=")
    r = get(url, {"Range": f"bytes={len(DATA)}-"})
    assert (r.status, r.getheader("Content-Range")) == (416, f"bytes */{len(DATA)}")
    assert [e.if_match for e in nginx.requests()] == [None, "W/" + etag, etag, None, None]


def test_nginx_write_can_keep_the_etag_while_the_bytes_change(nginx):
    nginx.write("f.bin", DATA)
    etag, mtime = nginx.etag("f.bin"), os.stat(nginx.path("f.bin")).st_mtime
    nginx.write("f.bin", NEW_DATA, mtime=mtime)
    r = get(nginx.url("f.bin"), {"Range": "bytes=0-3", "If-Range": etag})
    assert (r.status, r.body, r.getheader("ETag")) == (206, NEW_DATA[:4], etag)


def test_nginx_gzip_compresses_and_ignores_ranges(nginx_gzip):
    url = nginx_gzip.write("t.csv", b"a,b\n" * 10_000)
    r = get(url, {"Accept-Encoding": "gzip", "Range": "bytes=0-9"})
    assert (r.status, r.getheader("Content-Encoding")) == (200, "gzip")
    assert gzip.decompress(r.body) == b"a,b\n" * 10_000
    assert r.getheader("ETag") == "W/" + nginx_gzip.etag("t.csv")
    assert get(url).getheader("Content-Encoding") is None  # only for clients that accept it
    (entry, _) = nginx_gzip.requests()
    assert entry.content_encoding == "gzip"
    # Compressed responses are chunked, and $body_bytes_sent counts the chunk framing too.
    assert len(r.body) < entry.body_bytes_sent < len(r.body) + 100
    assert len(r.body) < 40_000 / 10


def test_nginx_stops_without_leftovers(tmp_path):
    with NginxServer(tmp_path) as server:
        pid = server.proc.pid
        assert len(_group_members(pid)) == 2  # master and one worker
        assert get(server.url("missing")).status == 404
    assert server.proc is None
    assert _group_members(pid) == []
    assert (tmp_path / "logs" / "access.log").exists()


def test_a_missing_nginx_fails_the_test_not_skips_it():
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y nginx-light"):
        nginx_binary(search_path="/nonexistent")
    assert "nginx-light" in NGINX_INSTALL_HINT


# --------------------------------------------------------------------------
# SeaweedFS
# --------------------------------------------------------------------------


def test_seaweed_put_get_range_if_match(seaweed):
    bucket = seaweed.new_bucket()
    assert seaweed.put(bucket, "dir/obj.bin", DATA) == f"s3://{bucket}/dir/obj.bin"
    s3 = seaweed.client()
    obj = s3.get_object(Bucket=bucket, Key="dir/obj.bin")
    assert obj["Body"].read() == DATA
    etag = obj["ETag"]

    part = s3.get_object(Bucket=bucket, Key="dir/obj.bin", Range="bytes=100-199", IfMatch=etag)
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert part["ContentRange"] == f"bytes 100-199/{len(DATA)}"
    assert part["Body"].read() == DATA[100:200]

    with pytest.raises(s3.exceptions.ClientError) as failed:
        s3.get_object(Bucket=bucket, Key="dir/obj.bin", Range="bytes=0-9", IfMatch='"stale"')
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert seaweed.endpoint.startswith("http://127.0.0.1:")
