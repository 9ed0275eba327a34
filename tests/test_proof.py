"""The one proof every answer to a GET gives (getdata/transfer/proof.py), as cases and as a
property over every answer hypothesis can draw: what is proven is exactly the bytes asked for,
of the pinned version, in the pinned encoding, or the whole object from byte 0 of that version.

prove() reads an answer's status and headers only, so the answers here are those, as data; the
same function meets real servers (the scriptable file server, the raw-socket liars, nginx, moto,
the fault model) in tests/test_faults.py, test_hostile.py, test_ranged.py, test_fault_model.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from getdata.errors import IntegrityError, SourceError
from getdata.sources import SourceInfo
from getdata.transfer.proof import Ask, Changed, Pin, Proven, RangeRefused, content_range, prove

SIZE = 1000
PIN = Pin(size=SIZE, etag='"v1"')
LM_PIN = Pin(size=SIZE, last_modified="Mon, 01 Jan 2024 00:00:00 GMT")


class StatusError(Exception):
    """What aiohttp's raise_for_status raises (a status worth judging by is_transient)."""


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)

    def raise_for_status(self) -> None:
        if self.status >= 400:
            raise StatusError(self.status)


def partial(first: int, last: int, total: int = SIZE, **headers: str) -> Answer:
    return Answer(206, {"Content-Range": f"bytes {first}-{last}/{total}", **headers})


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------


def test_a_whole_answer_to_a_whole_request() -> None:
    got = prove("x", Answer(200, {"Content-Length": "10", "ETag": '"v1"'}), Ask.whole())
    assert (got.start, got.end, got.info.size, got.info.etag) == (0, 10, 10, '"v1"')


def test_a_range_proven_exactly() -> None:
    got = prove("x", partial(100, 199, ETag='"v1"'), Ask.span(100, 199, PIN))
    assert (got.start, got.end, got.info.size) == (100, 200, SIZE)


def test_the_first_part_of_an_object_smaller_than_asked() -> None:
    got = prove("x", partial(0, 99, total=100, ETag='"v1"'), Ask.span(0, 8191))
    assert (got.start, got.end, got.info.size) == (0, 100, 100)


@pytest.mark.parametrize(
    "answer",
    [
        partial(100, 199, ETag='"v2"'),  # after kill -9, the object changed: its new ETag
        partial(100, 199, total=SIZE + 1, ETag='"v1"'),  # another total: another version
        Answer(412),  # If-Match: the pinned version is gone
        Answer(200, {"ETag": '"v2"', "Content-Length": str(SIZE)}),  # If-Range: the new one
        Answer(416, {"Content-Range": f"bytes */{SIZE - 7}"}),  # shorter than pinned
    ],
)
def test_another_version_is_changed(answer: Answer) -> None:
    with pytest.raises(Changed):
        prove("x", answer, Ask.span(100, 199, PIN))


@pytest.mark.parametrize(
    "answer",
    [
        partial(100, 199),  # no ETag: nothing says which version these bytes are
        partial(101, 199, ETag='"v1"'),  # starts elsewhere
        partial(100, 198, ETag='"v1"'),  # ends early
        Answer(206, {"ETag": '"v1"'}),  # no Content-Range
        Answer(206, {"ETag": '"v1"', "Content-Range": "bytes */oops"}),  # malformed
        partial(100, 199, ETag='"v1"', **{"Content-Encoding": "gzip"}),  # encoded unlike first
        Answer(416, {"Content-Range": f"bytes */{SIZE}"}),  # refused a range it has
    ],
)
def test_what_cannot_be_proven_is_never_spliced(answer: Answer) -> None:
    with pytest.raises(RangeRefused):
        prove("x", answer, Ask.span(100, 199, PIN))


def test_a_last_modified_pin_needs_the_same_date() -> None:
    ask = Ask.span(10, 19, LM_PIN)
    assert prove("x", partial(10, 19, **{"Last-Modified": LM_PIN.validator}), ask).start == 10
    with pytest.raises(Changed):
        prove("x", partial(10, 19, **{"Last-Modified": "Tue, 02 Jan 2024 00:00:00 GMT"}), ask)


def test_the_same_version_answered_whole_starts_at_zero() -> None:
    """A server that ignores Range: the caller may read it from 0, never splice it."""
    got = prove(
        "x", Answer(200, {"ETag": '"v1"', "Content-Length": str(SIZE)}), Ask.span(500, 999, PIN)
    )
    assert got.start == 0 and got.end == SIZE


@pytest.mark.parametrize(
    ("answer", "error", "says"),
    [
        (Answer(404), SourceError, "not found (HTTP 404)"),
        (partial(0, 9), IntegrityError, "request for all of it"),
        (Answer(204), SourceError, "HTTP 204, not the file"),
        (Answer(503), StatusError, "503"),
    ],
)
def test_answers_that_are_never_the_file(answer: Answer, error: type, says: str) -> None:
    with pytest.raises(error, match=re.escape(says)):
        prove("x", answer, Ask.whole())


def test_content_range() -> None:
    assert content_range("bytes 0-9/10") == (0, 9, 10)
    assert content_range("bytes 0-9/*") == (0, 9, None)
    for bad in (None, "", "bytes 9-0/10", "bytes 0-10/10", "bytes=0-9/10", "items 0-9/10"):
        assert content_range(bad) is None


def test_the_pin_needs_a_version_and_a_size() -> None:
    assert Pin.of(SourceInfo(size=5, etag='"a"')) == Pin(size=5, etag='"a"')
    assert Pin.of(SourceInfo(size=5, etag='W/"a"', last_modified="d")) == Pin(
        size=5, last_modified="d"
    )
    assert Pin.of(SourceInfo(size=5, etag='W/"a"')) is None
    assert Pin.of(SourceInfo(etag='"a"')) is None


# ---------------------------------------------------------------------------------------------
# The property
# ---------------------------------------------------------------------------------------------

ETAGS = st.sampled_from([None, '"v1"', '"v2"', 'W/"v1"'])


@st.composite
def asks(draw: st.DrawFn) -> Ask:
    if draw(st.booleans()):
        return Ask.whole()
    first = draw(st.integers(0, SIZE - 1))
    last = draw(st.one_of(st.none(), st.integers(first, SIZE + 50)))
    pin = draw(st.sampled_from([None, PIN, LM_PIN, Pin(size=SIZE, etag='"v1"', encoding="gzip")]))
    return Ask.span(first, last, pin)


@st.composite
def answers(draw: st.DrawFn) -> Answer:
    status = draw(st.sampled_from([200, 206, 206, 206, 412, 416, 204]))
    headers: dict[str, str] = {}
    if (etag := draw(ETAGS)) is not None:
        headers["ETag"] = etag
    if draw(st.booleans()):
        headers["Last-Modified"] = draw(st.sampled_from([LM_PIN.validator, "other date"]))
    if draw(st.booleans()):
        headers["Content-Encoding"] = "gzip"
    total = draw(st.sampled_from([SIZE, SIZE + 1, SIZE - 1]))
    if status == 206 and draw(st.integers(0, 9)):
        first = draw(st.integers(0, SIZE))
        last = draw(st.integers(first, SIZE + 1))
        headers["Content-Range"] = f"bytes {first}-{last}/{total}"
    if status == 200:
        headers["Content-Length"] = str(total)
    return Answer(status, headers)


@settings(max_examples=3000, deadline=None)
@given(asks(), answers())
def test_what_is_proven_is_exactly_what_was_asked_of_the_pinned_version(
    ask: Ask, answer: Answer
) -> None:
    try:
        got: Optional[Proven] = prove("x", answer, ask)
    except (Changed, RangeRefused, SourceError, IntegrityError, StatusError):
        return
    assert got is not None and answer.status in (200, 206)
    pin = ask.pin
    if pin is not None:
        said = answer.headers.get("ETag" if pin.etag else "Last-Modified")
        assert said == pin.validator, "the pinned version"
        assert got.info.size == pin.size
    if answer.status == 200:
        assert got.start == 0 and got.end == got.info.size, "the whole object, from byte 0"
        return
    assert ask.ranged, "a 206 only to a range"
    found = content_range(answer.headers.get("Content-Range"))
    assert found is not None and got.info.size == found[2]
    total = found[2]
    assert total is not None
    last = total - 1 if ask.last is None else min(ask.last, total - 1)
    assert (got.start, got.end) == (ask.first, last + 1) == (found[0], found[1] + 1)
    if pin is not None:
        assert got.info.content_encoding == pin.encoding, "the pinned encoding"
