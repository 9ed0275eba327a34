"""What every answer to a GET must prove before a byte of it is kept: one function, :func:`prove`,
for every response of every path (the first request, each ranged part, each resume, each small
object of a batch).

An answer is proven when its status fits the question, its Content-Range is exactly the range
asked for with the total first seen, it carries the same validator that was pinned when the
first bytes came (a strong ETag, else Last-Modified; S3's version id when it sends one), and
its Content-Encoding is the one first seen. What is not proven is never spliced: a different
validator means another version (:class:`Changed`: start over from a clean state); an answer that
does not match the question, or names no version, means the server cannot serve ranges safely
(:class:`RangeRefused`: start over as one stream). A 200 is the whole object from byte 0 (of the
pinned version, or :class:`Changed`): :attr:`Proven.start` says so, and the caller reads it from 0
or not at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Optional

from ..errors import IntegrityError, NotFound, SourceError
from ..sources import SourceInfo


class RangeRefused(Exception):
    """The server cannot serve this range safely: start over as one plain stream."""


class Changed(Exception):
    """The answer is of another version of the object (or cannot say which): start over."""


@dataclass(frozen=True)
class Pin:
    """The version of the object the bytes kept so far are of, as the first answer said."""

    size: int
    # A strong ETag (never W/...); when there is none, Last-Modified stands for the version.
    etag: Optional[str] = None
    last_modified: Optional[str] = None
    version_id: Optional[str] = None
    # The Content-Encoding of the bytes as published (None: identity).
    encoding: Optional[str] = None

    @classmethod
    def of(cls, info: SourceInfo) -> Optional[Pin]:
        """The pin for an object the answer described, or None when it names no version or
        size (then nothing can ever be resumed or fetched in parts)."""
        strong = info.etag if info.etag and not info.etag.startswith("W/") else None
        if info.size is None or not (strong or info.last_modified):
            return None
        return cls(
            size=info.size,
            etag=strong,
            last_modified=None if strong else info.last_modified,
            version_id=info.version_id,
            encoding=info.content_encoding,
        )

    @property
    def validator(self) -> str:
        """What If-Range / If-Match carry."""
        return str(self.etag or self.last_modified)


@dataclass(frozen=True)
class Ask:
    """The question a GET asked: bytes ``first`` to ``last`` (None: to the end) of the version
    ``pin`` names (None: whatever the object is now); ``ranged`` when a Range header was sent."""

    first: int = 0
    last: Optional[int] = None
    pin: Optional[Pin] = None
    ranged: bool = False

    @classmethod
    def whole(cls) -> Ask:
        return cls()

    @classmethod
    def span(cls, first: int, last: Optional[int], pin: Optional[Pin] = None) -> Ask:
        return cls(first=first, last=last, pin=pin, ranged=True)

    def headers(self, pin_header: str) -> dict[str, str]:
        """The Range and pin headers of this question."""
        if not self.ranged:
            return {}
        last = "" if self.last is None else str(self.last)
        found = {"Range": f"bytes={self.first}-{last}"}
        if self.pin is not None:
            found[pin_header] = self.pin.validator
        return found


@dataclass(frozen=True)
class Proven:
    """A proven answer: its body is bytes ``start`` to ``end`` (exclusive; None: unknown) of the
    object the answer describes (``info``)."""

    start: int
    end: Optional[int]
    info: SourceInfo


_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)
_UNSATISFIED = re.compile(r"^\s*bytes\s+\*/(\d+)\s*$", re.IGNORECASE)


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


def prove(display: str, response: Any, ask: Ask) -> Proven:
    """The proof an answer to ``ask`` must give, or the exception that says what to do instead:
    :class:`Changed`, :class:`RangeRefused`, a one-line :class:`SourceError` /
    :class:`IntegrityError` for answers that are never the file, or aiohttp's own error for a
    status worth a retry (5xx, 429, ...)."""
    status = response.status
    info = response_info(response)
    if status == 404:
        raise NotFound(f"{display}: not found (HTTP 404): check the URL")
    if status == 412 and ask.pin is not None:
        raise Changed("the server answered 412: the pinned version is gone")
    if status == 416 and ask.ranged:
        unsatisfied = _UNSATISFIED.match(response.headers.get("Content-Range", ""))
        if ask.pin is not None and unsatisfied and int(unsatisfied[1]) != ask.pin.size:
            raise Changed(f"it is now {unsatisfied[1]} bytes, not {ask.pin.size}")
        # Nothing there to serve (an empty object), or a server that refuses a range of an
        # object it still has: ask for all of it instead.
        raise RangeRefused("the server answered 416 to a range of the object")
    if status >= 400:
        response.raise_for_status()
    if status == 200:
        if ask.pin is not None and (
            _validator(info, ask.pin) != ask.pin.validator or info.size != ask.pin.size
        ):
            # A pinned range answered whole with another version (If-Range did its job).
            raise Changed(f"its version is now {_shown(info, ask.pin)}")
        # The whole object (of the pinned version, if one was pinned): its body starts at 0,
        # whatever was asked; the caller decides whether that can serve (never spliced).
        return Proven(0, info.size, info)
    if status == 206:
        if not ask.ranged:
            raise IntegrityError(
                f"{display}: the server sent part of the file (HTTP 206) to a request for all "
                "of it; refused"
            )
        return _partial(response, ask, info)
    raise SourceError(f"{display}: the server answered HTTP {status}, not the file")


def _partial(response: Any, ask: Ask, info: SourceInfo) -> Proven:
    said = response.headers.get("Content-Range")
    found = content_range(said)
    pin = ask.pin
    total = found[2] if found else None
    expected_last = ask.last if ask.last is not None else (total - 1 if total else None)
    if (
        found is None
        or total is None
        or found[0] != ask.first
        or (ask.last is not None and found[1] != min(ask.last, total - 1))
        or (ask.last is None and found[1] != expected_last)
        or (pin is not None and total != pin.size)
    ):
        last = "" if ask.last is None else ask.last
        if pin is not None and total is not None and total != pin.size:
            raise Changed(f"it is now {total} bytes, not {pin.size}")
        raise RangeRefused(
            f"asked for bytes {ask.first}-{last}, the server answered Content-Range {said!r}"
        )
    if pin is not None:
        now = _validator(info, pin)
        if now is None:
            # Nothing names the version of these bytes: they cannot be proven to belong.
            raise RangeRefused("its answer to a range names no version (no ETag)")
        if now != pin.validator:
            raise Changed(f"its version changed from {pin.validator} to {now}")
        if pin.version_id and info.version_id and info.version_id != pin.version_id:
            raise Changed(f"its version id changed from {pin.version_id} to {info.version_id}")
        if info.content_encoding != pin.encoding:
            raise RangeRefused(
                f"the server encodes this range ({info.content_encoding or 'identity'}) unlike "
                f"the first answer ({pin.encoding or 'identity'})"
            )
    return Proven(found[0], found[1] + 1, replace(info, size=total))


def _validator(info: SourceInfo, pin: Pin) -> Optional[str]:
    """The answer's value of the header the pin goes by."""
    return info.etag if pin.etag else info.last_modified


def _shown(info: SourceInfo, pin: Pin) -> str:
    return f"{_validator(info, pin) or 'unnamed'}, {info.size} bytes"
