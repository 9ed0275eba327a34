"""A model of a hostile HTTP server, and the invariant getdata must keep against it.

:class:`ModelServer` serves one object that has versions (each its own bytes, strong ETag and
Last-Modified). Every answer is drawn by a seeded generator from honest and dishonest
behaviours: the object changing between or during requests (with a new validator, or with
none), a weak, missing or unknown validator, a wrong, partial or missing Content-Range, a 200
for a range, 416, a body cut short or longer than announced, a stall, a redirect to another
origin, a Content-Encoding nobody asked for. It never labels one version's bytes with another
version's validator: a server that does is lying in a way no client can see (HTTP trusts a
strong ETag), and getdata says so in its README.

:func:`check` is the invariant: **the kept bytes are exactly one version of the object (as
published: possibly gzip-encoded) and what getdata says about them (sha256, size, ETag)
describes that version, or the fetch failed with one line and nothing is kept.**

tests/test_fault_model.py runs a few hundred seeds in CI; scripts/fault_campaign.py runs
thousands and prints each violation with the seed that replays it.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import random
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any, Optional

KiB = 1024
# Honest answers most of the time, so that most runs can end well and the rest is interesting.
HONEST = 0.62
BEHAVIOURS = (
    "change",  # a new version from now on, answered honestly (new validator)
    "change_unnamed",  # a new version from now on, this answer without ETag/Last-Modified
    "weak",  # a weak ETag (W/...) instead of the strong one
    "unnamed",  # no ETag, no Last-Modified
    "unknown_etag",  # an ETag that names no version
    "range_start",  # Content-Range starts elsewhere (the bytes asked for are sent)
    "range_total",  # Content-Range with another total
    "range_missing",  # a 206 without Content-Range
    "range_short",  # fewer bytes than asked, Content-Range claims them all
    "whole",  # 200 with the whole (current) object, whatever was asked
    "unsatisfiable",  # 416
    "cut",  # the body stops early (connection closed)
    "longer",  # more bytes than Content-Length, then close
    "stall",  # nothing for a while after the headers
    "redirect",  # 302 to the other origin, which answers honestly
    "error",  # 503 (Retry-After 0)
    "gzip",  # Content-Encoding: gzip of the version's bytes, whatever was asked
)


@dataclass
class Version:
    data: bytes
    etag: str
    last_modified: str
    gz: bytes = b""

    def __post_init__(self) -> None:
        # The published gzip form (fixed mtime: the same bytes each time it is served).
        self.gz = gzip.compress(self.data, compresslevel=1, mtime=0)


@dataclass
class Plan:
    """What one run of the model is: the object, the server's temper, the client's settings."""

    seed: int
    size: int
    connections: int
    honest: float
    stall: float
    kill_after: Optional[float]  # seconds before kill -9 (None: not killed)
    pace: Optional[float] = None  # bytes per second the server sends (None: as fast as it can)

    @classmethod
    def draw(cls, seed: int, kill: bool = False) -> Plan:
        rng = random.Random(seed)
        # Mostly small objects; a third large enough for several parts (the tests shrink the
        # part size, so a few hundred KiB already make many parts).
        size = rng.choice([0, 1, rng.randrange(1, 64 * KiB), rng.randrange(64 * KiB, 2048 * KiB)])
        return cls(
            seed=seed,
            size=size,
            connections=rng.choice([0, 1, 2, 4, 16]),
            honest=rng.choice([HONEST, 0.85, 0.97]),
            stall=rng.choice([0.05, 0.3, 1.5]),
            kill_after=rng.uniform(0.0, 0.8) if kill else None,
            # A killed run must be caught in the middle of its bytes.
            pace=2 * 2**20 if kill else None,
        )


class ModelServer:
    """The object's origin (and a second origin that redirects land on), on 127.0.0.1."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.rng = random.Random(plan.seed * 7919 + 1)
        self.lock = threading.Lock()
        self.versions: list[Version] = []
        self.current = self._new_version()
        self.log: list[tuple[str, Optional[str], str]] = []  # (range, pin, behaviour)
        self._stop = threading.Event()
        self._socks = [self._listen(), self._listen()]
        self._threads = [
            threading.Thread(target=self._accept, args=(s,), daemon=True) for s in self._socks
        ]
        self._conns: list[socket.socket] = []

    # ---------------------------------------------------------------- life cycle

    def __enter__(self) -> ModelServer:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for s in self._socks:
            with contextlib.suppress(OSError):
                s.close()
        for conn in list(self._conns):
            with contextlib.suppress(OSError):
                conn.close()
        for t in self._threads:
            t.join(timeout=5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._socks[0].getsockname()[1]}/object.bin"

    @property
    def other_url(self) -> str:
        return f"http://127.0.0.1:{self._socks[1].getsockname()[1]}/object.bin"

    def _listen(self) -> socket.socket:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        sock.settimeout(0.1)
        return sock

    def _accept(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = sock.accept()
            except (TimeoutError, OSError):
                continue
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn, sock), daemon=True).start()

    # ---------------------------------------------------------------- versions

    def _new_version(self) -> Version:
        n = len(self.versions)
        size = self.plan.size if n == 0 else max(0, self.plan.size + self.rng.randrange(-3, 4))
        version = Version(
            data=self.rng.randbytes(size),
            etag=f'"v{n}-{self.plan.seed}"',
            last_modified=formatdate(1_700_000_000 + 3600 * n, usegmt=True),
        )
        self.versions.append(version)
        return version

    # ---------------------------------------------------------------- answers

    def _serve(self, conn: socket.socket, sock: socket.socket) -> None:
        try:
            conn.settimeout(10)
            request = _read_request(conn)
            if request is None:
                return
            for part in self._answer(request, redirected=sock is self._socks[1]):
                if isinstance(part, float):
                    time.sleep(part)
                elif self.plan.pace is None:
                    conn.sendall(part)
                else:
                    for at in range(0, len(part), 16 * KiB):
                        conn.sendall(part[at : at + 16 * KiB])
                        time.sleep(16 * KiB / self.plan.pace)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _answer(self, headers: dict[str, str], redirected: bool) -> Iterator[bytes | float]:
        with self.lock:
            if redirected or self.rng.random() < self.plan.honest:
                behaviour = "honest"
            else:
                behaviour = self.rng.choice(BEHAVIOURS)
                if behaviour in ("change", "change_unnamed") and len(self.versions) < 6:
                    self.current = self._new_version()
                elif behaviour in ("change", "change_unnamed"):
                    behaviour = "honest"
            version = self.current
            pinned = headers.get("if-range") or headers.get("if-match")
            self.log.append((headers.get("range", ""), pinned, behaviour))
            cut_at = self.rng.random()
        if behaviour == "redirect":
            yield _head("302 Found", {"Location": self.other_url, "Content-Length": "0"})
            return
        if behaviour == "error":
            yield _head("503 Service Unavailable", {"Retry-After": "0", "Content-Length": "0"})
            return
        if behaviour == "unsatisfiable":
            total = len(version.data)
            yield _head(
                "416 Range Not Satisfiable",
                {"Content-Range": f"bytes */{total}", "Content-Length": "0"},
            )
            return
        body = version.gz if behaviour == "gzip" else version.data
        validators = {"ETag": version.etag, "Last-Modified": version.last_modified}
        if behaviour in ("change_unnamed", "unnamed"):
            validators = {}
        elif behaviour == "weak":
            validators["ETag"] = "W/" + version.etag
        elif behaviour == "unknown_etag":
            validators["ETag"] = f'"unknown-{cut_at:.6f}"'
        extra = {"Content-Encoding": "gzip"} if behaviour == "gzip" else {}
        asked = _range(headers.get("range"), len(body))
        # If-Range / If-Match as a server that keeps its validators honest applies them.
        if asked is not None and pinned and pinned not in (version.etag, version.last_modified):
            if headers.get("if-match"):
                yield _head("412 Precondition Failed", {"Content-Length": "0"})
                return
            asked = None
        if behaviour == "whole" or asked is None:
            status, first, last = "200 OK", 0, len(body) - 1
        else:
            status, (first, last) = "206 Partial Content", asked
        payload = body[first : last + 1]
        head = {**validators, **extra, "Accept-Ranges": "bytes"}
        if status.startswith("206"):
            shown = f"bytes {first}-{last}/{len(body)}"
            if behaviour == "range_start":
                shown = f"bytes {first + 1}-{last + 1}/{len(body)}"
            elif behaviour == "range_total":
                shown = f"bytes {first}-{last}/{len(body) + 1}"
            elif behaviour == "range_short":
                payload = payload[: max(0, len(payload) // 2)]
            if behaviour != "range_missing":
                head["Content-Range"] = shown
        length = len(payload) if behaviour != "range_short" else last - first + 1
        if behaviour == "range_short":
            head["Content-Length"] = str(len(payload))
        else:
            head["Content-Length"] = str(length)
        yield _head(status, head)
        if behaviour == "stall":
            yield self.plan.stall
        if behaviour == "cut":
            yield payload[: int(len(payload) * cut_at)]
            return
        yield payload
        if behaviour == "longer":
            yield b"EXTRA BYTES"


def _head(status: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}", "Connection: close"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _read_request(conn: socket.socket) -> Optional[dict[str, str]]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers


_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


def _range(header: Optional[str], size: int) -> Optional[tuple[int, int]]:
    match = _RANGE.match(header or "")
    if not match or size == 0:
        return None
    first = int(match[1])
    last = min(int(match[2]), size - 1) if match[2] else size - 1
    if first > last:
        return None
    return first, last


# ---------------------------------------------------------------------------------------------
# The invariant
# ---------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a run of getdata left: what it said (the fetched record, or the error line) and what
    is on disk."""

    kept: Optional[Path] = None
    sha256: Optional[str] = None
    size: Optional[int] = None
    etag: Optional[str] = None
    encoding: Optional[str] = None
    error: Optional[str] = None
    files: list[Path] = field(default_factory=list)  # every file under the data folder


def check(server: ModelServer, outcome: Outcome, killed: bool = False) -> list[str]:
    """The invariant's violations (none: it held). ``killed``: a run killed with -9 came
    first, and may have kept a version of its own."""
    problems = []
    kept_files = [p for p in outcome.files if not any(x.startswith(".getdata") for x in p.parts)]
    if outcome.error is not None:
        if "\n" in outcome.error:
            problems.append(f"the error is not one line: {outcome.error!r}")
        if kept_files and not killed:
            problems.append(f"failed, yet kept {kept_files}")
        return problems
    if outcome.kept is None or not outcome.kept.is_file():
        return ["succeeded without a kept file"]
    data = outcome.kept.read_bytes()
    matches = [
        (v, form)
        for v in server.versions
        for form, published in (("identity", v.data), ("gzip", v.gz))
        if data == published
    ]
    if not matches:
        return [f"the kept {len(data)} bytes are no version of the object (spliced?)"]
    if outcome.sha256 != hashlib.sha256(data).hexdigest() or outcome.size != len(data):
        problems.append("the sha256/size reported do not describe the kept bytes")
    # The ETag reported is the one the server gave those bytes: the kept version's (or a label
    # that names no version at all), never another version's.
    others = {v.etag for v in server.versions} - {v.etag for v, _ in matches}
    if outcome.etag is not None and outcome.etag.removeprefix("W/") in others:
        problems.append(f"the ETag reported ({outcome.etag}) is another version's")
    if outcome.encoding not in (None, "gzip"):
        problems.append(f"unexpected encoding {outcome.encoding}")
    if not any((form == "gzip") == (outcome.encoding == "gzip") for _, form in matches):
        problems.append(f"the encoding reported ({outcome.encoding}) is not the kept bytes'")
    if len(kept_files) != 1 and not killed:
        problems.append(f"more than the one kept file: {kept_files}")
    for other in kept_files:
        # A run killed with -9 may have kept a whole version before it died; never a splice.
        if other != outcome.kept and not any(
            other.read_bytes() in (v.data, v.gz) for v in server.versions
        ):
            problems.append(f"{other} is kept and is no version of the object")
    return problems


def map_claims(
    server: ModelServer, partial: Path, claims: list[tuple[int, int]], validator: Any
) -> list[str]:
    """After kill -9: every byte the part map claims is in the partial, and all of one version:
    the one its pin names (or, for a label the server made up for a version's bytes, any one)."""
    data = partial.read_bytes() if partial.is_file() else b""
    named = [v for v in server.versions if validator in (v.etag, v.last_modified)]
    forms = [published for v in (named or server.versions) for published in (v.data, v.gz)]
    ranges = [(start, end) for start, end in claims if end > start]
    if any(all(data[a:b] == published[a:b] for a, b in ranges) for published in forms):
        return []
    return [f"the map claims bytes {ranges} that are not all of the pinned version"]
