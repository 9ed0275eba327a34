"""A server whose every answer a test writes (it may lie, or change the object between
requests), on 127.0.0.1; and ``honest``, a correct server's answers for given bytes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

Answer = Callable[[int, dict[str, str]], tuple[int, dict[str, str], bytes]]


class ScriptedServer:
    """``answer(n, request_headers) -> (status, headers, body)`` for the n-th GET (from 0)."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.seen: list[dict[str, str]] = []
        lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                with lock:
                    n = len(owner.seen)
                    owner.seen.append(dict(self.headers))
                status, headers, body = owner.answer(n, dict(self.headers))
                self.send_response(status)
                for k, v in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/big.bin"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def scripted() -> Iterator[Callable[[Answer], ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(answer: Answer) -> ScriptedServer:
        servers.append(ScriptedServer(answer))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def honest(data: bytes, etag: str) -> Answer:
    """A correct server for ``data``: 206 for a single range (If-Range honoured), else 200."""

    def answer(n: int, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        rng = headers.get("Range", "")
        if_range = headers.get("If-Range")
        if rng.startswith("bytes=") and (if_range is None or if_range == etag):
            a, _, b = rng[6:].partition("-")
            start, end = int(a), min(len(data), int(b) + 1 if b else len(data))
            cr = f"bytes {start}-{end - 1}/{len(data)}"
            return 206, {"ETag": etag, "Content-Range": cr}, data[start:end]
        return 200, {"ETag": etag, "Accept-Ranges": "bytes"}, data

    return answer
