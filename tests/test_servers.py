"""The test servers themselves behave as scripted (real sockets, no mocks)."""

from __future__ import annotations

import socket
import time

import aiohttp
import fsspec
import pytest
import requests

try:
    from tests.servers import FileServer, http_date
except ModuleNotFoundError:
    from servers import FileServer, http_date

DATA = bytes(range(256)) * 1024  # 256 KiB, several chunks


def http_fs():
    return fsspec.filesystem("http", skip_instance_cache=True)


# --------------------------------------------------------------------------
# HTTP: ranges
# --------------------------------------------------------------------------


def test_range_206(http_server):
    url = http_server.add("/a.bin", DATA)
    r = requests.get(url, headers={"Range": "bytes=1000-"})
    assert r.status_code == 206
    assert r.headers["Content-Range"] == f"bytes 1000-{len(DATA) - 1}/{len(DATA)}"
    assert r.headers["Accept-Ranges"] == "bytes"
    assert r.content == DATA[1000:]

    r = requests.get(url, headers={"Range": "bytes=10-19"})
    assert (r.status_code, r.content) == (206, DATA[10:20])
    r = requests.get(url, headers={"Range": "bytes=-5"})
    assert (r.status_code, r.content) == (206, DATA[-5:])
    r = requests.get(url, headers={"Range": f"bytes={len(DATA)}-"})
    assert r.status_code == 416
    assert r.headers["Content-Range"] == f"bytes */{len(DATA)}"

    assert [req.range for req in http_server.requests_for("/a.bin")] == [
        "bytes=1000-",
        "bytes=10-19",
        "bytes=-5",
        f"bytes={len(DATA)}-",
    ]


def test_ranges_disabled_gives_full_200(http_server):
    url = http_server.add("/a.bin", DATA, ranges=False)
    r = requests.get(url, headers={"Range": "bytes=1000-"})
    assert r.status_code == 200
    assert "Accept-Ranges" not in r.headers
    assert "Content-Range" not in r.headers
    assert r.content == DATA
    # fsspec can still stream it front-to-back
    with http_fs().open(url, block_size=0) as f:
        assert f.read() == DATA
    # ... but a ranged cat_file silently returns the WHOLE body (no 206 check)
    assert http_fs().cat_file(url, start=1, end=3) == DATA


def test_if_range(http_server):
    url = http_server.add("/a.bin", DATA, last_modified=http_date(0))
    etag = requests.head(url).headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')

    r = requests.get(url, headers={"Range": "bytes=5-", "If-Range": etag})
    assert (r.status_code, r.content) == (206, DATA[5:])
    r = requests.get(url, headers={"Range": "bytes=5-", "If-Range": '"stale"'})
    assert (r.status_code, r.content) == (200, DATA)
    r = requests.get(url, headers={"Range": "bytes=5-", "If-Range": http_date(0)})
    assert r.status_code == 206
    assert http_server.requests[-2].if_range == '"stale"'


def test_conditional_304(http_server):
    url = http_server.add("/a.bin", DATA, last_modified=http_date(1000))
    etag = requests.head(url).headers["ETag"]
    assert requests.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert requests.get(url, headers={"If-Modified-Since": http_date(2000)}).status_code == 304
    assert requests.get(url, headers={"If-Modified-Since": http_date(10)}).status_code == 200


# --------------------------------------------------------------------------
# HTTP: framing
# --------------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True])
def test_no_content_length(http_server, chunked):
    url = http_server.add("/a.bin", DATA, content_length=False, chunked=chunked)
    head = requests.head(url)
    assert head.status_code == 200
    assert "Content-Length" not in head.headers
    r = requests.get(url)
    assert "Content-Length" not in r.headers
    if chunked:
        assert r.headers["Transfer-Encoding"] == "chunked"
    else:
        assert r.headers["Connection"] == "close"
    assert r.content == DATA
    assert http_fs().info(url)["size"] is None
    with http_fs().open(url, block_size=0) as f:
        assert f.read() == DATA


def test_head_matches_get(http_server):
    url = http_server.add(
        "/a.bin", DATA, content_type="text/csv", headers={"Content-Disposition": "x"}
    )
    head, get = requests.head(url), requests.get(url)
    assert head.content == b""
    drop = {"Date"}
    assert {k: v for k, v in head.headers.items() if k not in drop} == {
        k: v for k, v in get.headers.items() if k not in drop
    }
    assert http_server.count("/a.bin", "HEAD") == 1
    assert http_server.count("/a.bin") == 1


def test_add_file_from_disk(http_server, tmp_path):
    local = tmp_path / "big.bin"
    local.write_bytes(DATA * 4)
    url = http_server.add_file("/big.bin", local)
    assert requests.get(url).content == DATA * 4
    r = requests.get(url, headers={"Range": "bytes=300000-300009"})
    assert r.content == (DATA * 4)[300000:300010]


def test_status_and_body_override(http_server):
    url = http_server.add("/page", b"<html>error</html>", content_type="text/html")
    r = requests.get(url)
    assert (r.status_code, r.headers["Content-Type"]) == (200, "text/html")
    url = http_server.add("/gone", DATA, status=404, body=b"nope")
    r = requests.get(url, headers={"Range": "bytes=0-1"})
    assert (r.status_code, r.content) == (404, b"nope")
    assert requests.get(http_server.url("/missing")).status_code == 404
    url = http_server.add("/nohead", DATA, head_status=405)
    assert requests.head(url).status_code == 405
    assert requests.get(url).status_code == 200


# --------------------------------------------------------------------------
# HTTP: faults
# --------------------------------------------------------------------------


def test_drop_after_then_success(http_server):
    url = http_server.add("/a.bin", DATA, drop_after=1000, drop_times=2)
    head = requests.head(url)  # HEAD does not consume the drop counter
    assert head.headers["Content-Length"] == str(len(DATA))

    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
        requests.get(url)
    with pytest.raises(aiohttp.ClientPayloadError, match="Not enough data"):
        http_fs().cat_file(url)
    assert requests.get(url).content == DATA  # third GET behaves
    assert http_server.count("/a.bin") == 3


def test_drop_reset(http_server):
    url = http_server.add("/a.bin", DATA, drop_after=1000, drop_reset=True)
    with pytest.raises(requests.exceptions.ChunkedEncodingError) as info:
        requests.get(url)
    assert "ConnectionResetError" in str(info.value)
    assert requests.get(url).content == DATA


def test_statuses_sequence(http_server):
    url = http_server.add("/a.bin", DATA, statuses=[503, 500], retry_after="1")
    assert requests.head(url).status_code == 200  # HEAD does not consume
    r = requests.get(url)
    assert (r.status_code, r.headers["Retry-After"]) == (503, "1")
    assert requests.get(url).status_code == 500
    r = requests.get(url)
    assert (r.status_code, r.content) == (200, DATA)
    assert "Retry-After" not in r.headers


def test_stall_read_timeout(http_server):
    url = http_server.add("/a.bin", DATA, stall=1.0)
    t0 = time.monotonic()
    # mid-body read timeout: requests raises ConnectionError (not ReadTimeout)
    with pytest.raises(requests.exceptions.ConnectionError, match="Read timed out"):
        requests.get(url, timeout=0.2)
    assert time.monotonic() - t0 < 0.9
    assert requests.get(url, timeout=2).content == DATA  # only the first GET stalls

    url = http_server.add("/b.bin", DATA, stall=1.0, stall_headers=True)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(url, timeout=0.2)


def test_lie_length(http_server):
    url = http_server.add("/short", DATA, lie_length=len(DATA) + 100)
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
        requests.get(url)
    with pytest.raises(aiohttp.ClientPayloadError), http_fs().open(url, block_size=0) as f:
        f.read()
    # announcing less than is sent: clients silently truncate
    url = http_server.add("/long", DATA, lie_length=100)
    assert requests.get(url).content == DATA[:100]


def test_redirect(http_server):
    http_server.add("/real.bin", DATA)
    url = http_server.add("/link", redirect_to="/real.bin")
    r = requests.get(url)
    assert r.content == DATA
    assert [h.status_code for h in r.history] == [302]
    assert r.url == http_server.url("/real.bin")
    assert [q.path for q in http_server.requests] == ["/link", "/real.bin"]
    assert http_fs().cat_file(url) == DATA


def test_require_header(http_server):
    url = http_server.add("/a.bin", DATA, require_header=("Authorization", "Bearer t0k"))
    r = requests.get(url)
    assert r.status_code == 401
    assert "WWW-Authenticate" in r.headers
    assert requests.head(url).status_code == 401
    r = requests.get(url, headers={"Authorization": "Bearer t0k"})
    assert (r.status_code, r.content) == (200, DATA)
    assert http_server.requests[-1].headers["authorization"] == "Bearer t0k"


def test_query_string_and_stop_closes_keepalive():
    with FileServer() as server:
        server.add("/a.bin", b"plain")
        server.add("/a.bin?v=2", b"v2")
        with requests.Session() as session:  # keeps an idle keep-alive connection
            assert session.get(server.url("/a.bin?x=1")).content == b"plain"
            assert session.get(server.url("/a.bin?v=2")).content == b"v2"
            assert server.requests[0].query == "x=1"
            port = server.port
            t0 = time.monotonic()
            server.stop()
            assert time.monotonic() - t0 < 1
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


# --------------------------------------------------------------------------
# S3 (moto server)
# --------------------------------------------------------------------------


def test_s3_put_and_read_with_fsspec(s3):
    url = s3.put("bucket", "dir/data.bin", DATA, ACL="public-read")
    assert url == "s3://bucket/dir/data.bin"
    assert s3.endpoint_url.startswith("http://127.0.0.1:")
    fs = fsspec.filesystem("s3", **s3.storage_options, skip_instance_cache=True)
    assert fs.cat_file(url) == DATA
    assert fs.cat_file(url, start=10, end=20) == DATA[10:20]
    assert fs.ls("bucket/dir") == ["bucket/dir/data.bin"]
    # plain HTTP: anonymous GET works for public-read objects, else 403
    assert requests.get(s3.http_url("bucket", "dir/data.bin")).content == DATA
    s3.put("bucket", "private", b"p")
    assert requests.get(s3.http_url("bucket", "private")).status_code == 403
    signed = s3.client.generate_presigned_url(
        "get_object", Params={"Bucket": "bucket", "Key": "private"}
    )
    assert requests.get(signed).content == b"p"


@pytest.mark.parametrize("run", [1, 2])
def test_s3_reset_between_tests(s3, run):
    assert s3.client.list_buckets()["Buckets"] == []
    s3.put("leftover", "k", b"x")
