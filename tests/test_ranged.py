"""Several connections per large object (getdata/ranged.py), against real servers on 127.0.0.1:
the scriptable file server, a server that lies or changes the object between requests, and moto.

Each test checks the bytes on disk and both hashes against the data served, and which requests
the server really saw.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from getdata.errors import SourceError
from getdata.sources import resolve
from getdata.sources.http import HttpSource
from getdata.sources.s3 import S3Source
from getdata.transfer.fetch import Fetched, fetch
from getdata.transfer.parts import connections_for
from getdata.transfer.policy import Retry
from tests.scripted import honest
from tests.support import leftovers

MiB = 2**20
# Three parts of 8 MiB (the smallest part) and a ragged end.
DATA = os.urandom(20 * MiB + 12345)
# moto reads the whole object for every ranged GET: keep its object small (two parts).
S3DATA = DATA[: 9 * MiB + 7]
FAST = Retry(attempts=3, backoff=0.01, backoff_max=0.05)


def get(source: Any, dest: Path, connections: int = 4) -> Fetched:
    """Fetch into ``dest``: a partial there, then the file under dest/kept/."""

    def keep(fetched: Fetched) -> Path:
        kept = dest / "kept" / source.basename
        kept.parent.mkdir(exist_ok=True)
        fetched.path.rename(kept)
        return kept

    return fetch(
        source,
        dest / ".getdata-test.part",
        keep,
        chunk_size=MiB,
        retry=FAST,
        progress=False,
        connections=connections,
    )


def assert_same(fetched: Fetched, data: bytes = DATA) -> None:
    assert fetched.path.read_bytes() == data
    assert fetched.size == len(data)
    assert fetched.sha256 == hashlib.sha256(data).hexdigest()
    assert fetched.md5 == hashlib.md5(data).hexdigest()
    assert leftovers(fetched.path.parent.parent) == []


def ranges(server: Any, path: str) -> list[str | None]:
    return [r.range for r in server.requests_for(path, "GET")]


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------


def test_connections_for_chooses_by_size() -> None:
    assert connections_for(0, 1 * MiB) == 1
    assert connections_for(0, 15 * MiB) == 1
    assert connections_for(0, 16 * MiB) == 2
    assert connections_for(0, 64 * MiB) == 8
    assert connections_for(0, 2**30) == 16
    assert connections_for(1, 2**30) == 1
    assert connections_for(8, 3 * MiB) == 3  # no part below 1 MiB
    assert connections_for(0, None) == 1


def test_http_parts_are_byte_identical(tmp_path: Path, http_server: Any) -> None:
    url = http_server.add("/big.bin", DATA)
    fetched = get(resolve(HttpSource(url=url)), tmp_path)
    assert_same(fetched)
    gets = http_server.requests_for("/big.bin", "GET")
    # The first GET asks for the first part only (the size is not known yet: nothing is read
    # twice); the other two parts are ranges pinned to the ETag that first answer gave. No
    # request more than that.
    assert gets[0].range == f"bytes=0-{8 * MiB - 1}" and gets[0].if_range is None
    assert sorted(r.range for r in gets[1:]) == [
        "bytes=16777216-" + str(len(DATA) - 1),
        "bytes=8388608-16777215",
    ]
    assert all(r.if_range == fetched.info.etag for r in gets[1:])


def test_http_small_object_is_one_stream(tmp_path: Path, http_server: Any) -> None:
    data = DATA[: 3 * MiB]
    url = http_server.add("/small.bin", data)
    assert_same(get(resolve(HttpSource(url=url)), tmp_path, connections=0), data)
    # One GET: the first part asked for holds the whole object.
    assert ranges(http_server, "/small.bin") == [f"bytes=0-{8 * MiB - 1}"]


def test_dropped_range_resumes_on_its_own(tmp_path: Path, http_server: Any) -> None:
    # The first GET (which serves the first part) is cut after 3 MiB: that part alone resumes,
    # from where it broke off, pinned to the same ETag.
    url = http_server.add("/big.bin", DATA, drop_after=3 * MiB)
    fetched = get(resolve(HttpSource(url=url)), tmp_path)
    assert_same(fetched)
    assert fetched.attempts == 2
    seen = ranges(http_server, "/big.bin")
    resumed = [r for r in seen if r and int(r[6:].split("-")[0]) % (8 * MiB)]
    assert len(resumed) == 1 and resumed[0].endswith(f"-{8 * MiB - 1}"), seen
    assert 3 * MiB - MiB <= int(resumed[0][6:].split("-")[0]) <= 3 * MiB


def test_server_without_ranges_gets_one_stream(tmp_path: Path, http_server: Any) -> None:
    url = http_server.add("/big.bin", DATA, ranges=False)
    assert_same(get(resolve(HttpSource(url=url)), tmp_path))
    # The server ignored Range (200, the whole object): that one answer, read as one stream.
    assert ranges(http_server, "/big.bin") == [f"bytes=0-{8 * MiB - 1}"]


@pytest.mark.parametrize("etag", [None, 'W/"weak"'])
def test_no_strong_etag_gets_one_stream(tmp_path: Path, http_server: Any, etag: Any) -> None:
    url = http_server.add("/big.bin", DATA, etag=etag)
    assert_same(get(resolve(HttpSource(url=url)), tmp_path))
    # The first part's answer names no version: no other part can be pinned to it, so the
    # object is fetched again as one plain stream.
    assert ranges(http_server, "/big.bin") == [f"bytes=0-{8 * MiB - 1}", None]


@pytest.mark.parametrize(
    "lie",
    [
        lambda s, e, t: f"bytes {s + 1}-{e}/{t}",  # starts elsewhere
        lambda s, e, t: f"bytes {s}-{e}/{t + 1}",  # another total
        lambda s, e, t: f"bytes {s}-{e - 1}/{t}",  # ends early
        lambda s, e, t: None,  # no Content-Range at all
    ],
)
def test_content_range_lies_are_refused(
    tmp_path: Path, scripted: Any, caplog: pytest.LogCaptureFixture, lie: Any
) -> None:
    etag = '"v1"'
    good = honest(DATA, etag)

    def answer(n: int, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        status, h, body = good(n, headers)
        if status == 206:  # the first GET is answered honestly, the parts are not
            start, end = h["Content-Range"][6:].split("/")[0].split("-")
            claimed = lie(int(start), int(end), len(DATA))
            h = {k: v for k, v in h.items() if k != "Content-Range"}
            if claimed:
                h["Content-Range"] = claimed
        return status, h, body

    server = scripted(answer)
    with caplog.at_level(logging.WARNING, logger="getdata"):
        fetched = get(resolve(HttpSource(url=server.url)), tmp_path)
    assert_same(fetched)  # the lie was not spliced in: one stream fetched it again
    assert "fetching it as one stream" in caplog.text
    assert "Range" not in server.seen[-1]


def test_object_changed_between_parts_starts_over(
    tmp_path: Path, scripted: Any, caplog: pytest.LogCaptureFixture
) -> None:
    old, new = DATA, bytes(reversed(DATA))
    before, after = honest(old, '"v1"'), honest(new, '"v2"')

    def answer(n: int, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        # The first GET and one part see v1; from then on the object is v2.
        return (before if n < 2 else after)(n, headers)

    server = scripted(answer)
    with caplog.at_level(logging.WARNING, logger="getdata"):
        fetched = get(resolve(HttpSource(url=server.url)), tmp_path)
    assert_same(fetched, new)
    assert "starting over" in caplog.text
    # After the change every part was pinned to the new ETag.
    assert server.seen[-1]["If-Range"] == '"v2"'


def test_object_that_keeps_changing_fails_with_one_line(tmp_path: Path, scripted: Any) -> None:
    def answer(n: int, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        return honest(DATA, f'"v{n}"')(n, headers)  # a new version for every request

    server = scripted(answer)
    with pytest.raises(SourceError, match="kept changing") as info:
        get(resolve(HttpSource(url=server.url)), tmp_path)
    assert "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []  # no partial, no sidecar, nothing kept


def test_s3_parts_are_byte_identical(tmp_path: Path, s3: Any) -> None:
    url = s3.put("bucket", "big.bin", S3DATA)
    source = resolve(S3Source(url=url, endpoint_url=s3.endpoint_url))
    fetched = get(source, tmp_path)
    assert_same(fetched, S3DATA)
    assert fetched.info.etag == s3.client.head_object(Bucket="bucket", Key="big.bin")["ETag"]


def test_s3_listed_etag_that_changed_starts_over(tmp_path: Path, s3: Any) -> None:
    s3.put("bucket", "p/big.bin", S3DATA)
    prefix = resolve(S3Source(url="s3://bucket/p/", endpoint_url=s3.endpoint_url))
    members = prefix.members()
    assert members is not None
    new = bytes(reversed(S3DATA))
    s3.put("bucket", "p/big.bin", new)  # changed after the listing: IfMatch refuses the old ETag
    fetched = get(members[0], tmp_path)
    assert_same(fetched, new)
    assert fetched.attempts == 2
