"""A raw-socket HTTP server on 127.0.0.1 for the replies no well-behaved server sends.

Each test scripts the server with a function that gets the parsed request and its index (0 for
the first GET) and returns the raw reply: bytes, or an iterable of byte chunks (an endless body is
a generator). Every connection is closed after its reply.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass
class RawRequest:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


Script = Callable[[RawRequest, int], "bytes | Iterable[bytes]"]


def reply(
    status: str, body: bytes = b"", *, length: int | str | None = -1, **headers: str
) -> bytes:
    """A raw HTTP/1.1 reply. ``length=-1``: the body's true length; None: no Content-Length
    (close-delimited); anything else is sent verbatim, lies included. Header names are given
    with underscores (``Content_Range``)."""
    lines = [f"HTTP/1.1 {status}", "Connection: close"]
    if length == -1:
        lines.append(f"Content-Length: {len(body)}")
    elif length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class RawServer:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[RawRequest] = []
        self.errors: list[BaseException] = []
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._conns: list[socket.socket] = []

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sock.close()
        for conn in list(self._conns):
            with contextlib.suppress(OSError):
                conn.close()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self._conns.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            with conn:
                conn.settimeout(10)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
                method, path, _ = head[0].split(" ", 2)
                headers = {}
                for line in head[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                request = RawRequest(method, path, headers)
                index = sum(r.method == method for r in self.requests)
                self.requests.append(request)
                out = self.script(request, index)
                chunks = [out] if isinstance(out, bytes) else out
                for chunk in chunks:
                    if self._stop.is_set():
                        return
                    conn.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the client hung up: what a lying server must live with
        except BaseException as exc:  # a broken script: the fixture reports it
            self.errors.append(exc)


def trickle(head: bytes, piece: bytes, every: float, stop: threading.Event) -> Iterable[bytes]:
    """``head``, then ``piece`` every ``every`` seconds until ``stop`` is set (or forever)."""
    yield head
    while not stop.is_set():
        yield piece
        time.sleep(every)
