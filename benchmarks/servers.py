"""The benchmarks' helper processes on 127.0.0.1: free ports, waiting for one, a child process
that prints its port first (``Helper``), and the HTTP file server (``serve_files``).

Shared by bench.py and netbench.py (and seaweed.py's free ports); imported as ``servers`` from the
scripts' own folder, like ``common``.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from common import MiB


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports free on 127.0.0.1 (held open together while they are picked)."""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def free_port() -> int:
    return free_ports(1)[0]


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


class Helper:
    """A helper process (a server, a proxy) whose first line of output holds its port, found by
    ``port_pattern``; ``nice``: its niceness (negative: ahead of the clients it serves)."""

    def __init__(self, cmd: list[str], *, nice: int = 0, port_pattern: str = r"(\d+)") -> None:
        self.proc = subprocess.Popen(
            ["nice", "-n", str(nice), *cmd] if nice else cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        m = re.search(port_pattern, line)
        if not m:
            self.stop()
            raise RuntimeError(f"{cmd[:3]} did not start: {line!r}")
        self.port = int(m.group(1))
        wait_port(self.port)

    def url(self, name: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def serve_files(root: str, mode: str) -> None:
    """Serve the files below ROOT on 127.0.0.1:<free port>, print the port, serve until killed.

    mode: ``copy`` (1 MiB reads and writes) or ``sendfile``: whole files only, no Range; ``range``
    (sendfile): Range, If-Range, a strong ETag and Last-Modified, what aria2c and rclone need.
    """
    base = Path(root).resolve()
    ranges = mode == "range"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_HEAD(self) -> None:
            self.do_GET(head=True)

        def do_GET(self, head: bool = False) -> None:
            rel = self.path.split("?", 1)[0].lstrip("/")
            path = (base / rel).resolve()
            if not path.is_relative_to(base) or not path.is_file():
                self.send_error(404)
                return
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                size = st.st_size
                etag = f'"{st.st_mtime_ns:x}-{size:x}"'
                start, end, status = 0, size, 200
                m = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
                if_range = self.headers.get("If-Range")
                if ranges and m and (if_range is None or if_range == etag):
                    a, b = m.groups()
                    if a:
                        start, end = int(a), min(size, int(b) + 1 if b else size)
                    elif b:
                        start, end = max(0, size - int(b)), size
                    if start >= size or end <= start:
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{size}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    status = 206
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(end - start))
                self.send_header("ETag", etag)
                if ranges:
                    self.send_header("Accept-Ranges", "bytes")
                    self.send_header("Last-Modified", formatdate(st.st_mtime, usegmt=True))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
                self.end_headers()
                if head:
                    return
                self.wfile.flush()
                with contextlib.suppress(ConnectionError):
                    if mode == "copy":
                        while block := f.read(MiB):
                            self.wfile.write(block)
                    else:
                        self.connection.sendfile(f, start, end - start)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 1024 if ranges else 128

    httpd = Server(("127.0.0.1", 0), Handler)
    print(httpd.server_address[1], flush=True)
    httpd.serve_forever()


def netproxy(upstream_port: int, rate_mib: float, rtt_ms: float, nice: int = 0) -> Helper:
    """benchmarks/netproxy.py in front of 127.0.0.1:``upstream_port``: each connection capped at
    ``rate_mib`` MiB/s, each round trip ``rtt_ms`` long (one emulated network profile)."""
    return Helper(
        [
            sys.executable,
            "-u",
            str(Path(__file__).resolve().parent / "netproxy.py"),
            "--upstream",
            f"127.0.0.1:{upstream_port}",
            "--rate-mib",
            str(rate_mib),
            "--rtt-ms",
            str(rtt_ms),
        ],
        nice=nice,
    )
