"""What an answer to a GET must prove before its bytes are kept: the status fits the request, the
Content-Range is exactly the range asked for, the version is the one pinned.

Every path reads its answers through here: the single stream (``check_response``), each ranged
part (``check_part``) and each small object of a batch (``check_response``). ``response_info``
is what any answer says about the object.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from ..errors import IntegrityError, SourceError
from ..sources import SourceInfo


class RangeRefused(Exception):
    """The server cannot serve ranges safely: fall back to one stream."""


class Changed(Exception):
    """The object changed while its parts were fetched: start over."""


_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)


def content_range(text: Optional[str]) -> Optional[tuple[int, int, Optional[int]]]:
    """(first byte, last byte, full size or None for ``*``) from a Content-Range such as
    ``bytes 100-999/1000``; None when it is missing, malformed or inconsistent (end before
    start, end past the size)."""
    match = _CONTENT_RANGE.match(text or "")
    if not match:
        return None
    first, last = int(match[1]), int(match[2])
    total = int(match[3]) if match[3] != "*" else None
    if last < first or (total is not None and last >= total):
        return None
    return first, last, total


def response_info(response: Any) -> SourceInfo:
    """What an aiohttp answer to a GET says about the object (a 206: its full size from the
    Content-Range; S3's version id when it sends one)."""
    headers = response.headers
    size: Optional[int] = None
    if response.status == 206:
        found = content_range(headers.get("Content-Range"))
        size = found[2] if found else None
    elif (length := headers.get("Content-Length", "")).isdigit():
        size = int(length)
    encoding = headers.get("Content-Encoding", "identity").strip().lower()
    return SourceInfo(
        size=size,
        etag=headers.get("ETag"),
        last_modified=headers.get("Last-Modified"),
        version_id=headers.get("x-amz-version-id"),
        content_type=headers.get("Content-Type", "").partition(";")[0] or None,
        content_encoding=None if encoding in ("", "identity") else encoding,
    )


def check_response(display: str, response: Any, start: int) -> int:
    """Where the body starts in the object: ``start`` for a 206 that proves it, 0 for a 200,
    -1 for a reply to a resume that must be restarted. Anything else fails with one line."""
    status = response.status
    if status == 404:
        raise SourceError(f"{display}: not found (HTTP 404): check the URL")
    if status in (412, 416) and start:
        return -1  # changed since (If-Match), or nothing at that offset: shorter than before
    if status >= 400:
        response.raise_for_status()
    if status == 200:
        return 0
    if status == 206:
        if not start:
            raise IntegrityError(
                f"{display}: the server sent part of the file (HTTP 206) to a request for all "
                "of it; refused"
            )
        found = content_range(response.headers.get("Content-Range"))
        if found is None or found[0] != start or found[2] is None:
            return -1  # not the bytes we asked for: never splice them
        return start
    raise SourceError(f"{display}: the server answered HTTP {status}, not the file")


def check_part(response: Any, first: int, last: int, total: int, pinned: Optional[str]) -> None:
    """An answer to the GET of bytes ``first``-``last`` (of ``total``) of the version ``pinned``
    must be exactly those bytes of that version: :class:`Changed` when the version is another,
    :class:`RangeRefused` when the server does not serve that range as asked."""
    status = response.status
    if status == 200:
        if (now := response.headers.get("ETag")) != pinned:
            raise Changed(f"its ETag changed from {pinned} to {now}")
        raise RangeRefused("the server ignored Range (200, the whole object)")
    if status in (412, 416):
        raise Changed(f"the server answered HTTP {status} to a range of the same ETag")
    response.raise_for_status()
    if status != 206:
        raise RangeRefused(f"the server answered HTTP {status} to a Range request")
    if response.headers.get("Content-Encoding", "identity").lower() != "identity":
        raise RangeRefused("the server encodes ranges (Content-Encoding)")
    etag = response.headers.get("ETag")
    if etag is not None and etag != pinned:
        raise Changed(f"its ETag changed from {pinned} to {etag}")
    said = response.headers.get("Content-Range")
    found = content_range(said)
    if found is None or found != (first, last, total):
        raise RangeRefused(
            f"asked for bytes {first}-{last}/{total}, the server answered Content-Range {said!r}"
        )
