"""Real local servers for getdata's tests (no mocks).

* :class:`FileServer` -- a scriptable HTTP/1.1 file server (stdlib only) that
  serves in-memory or on-disk files, each with its own fault behaviour
  (:class:`Behaviour`): no ranges, no Content-Length, mid-body drops, status
  sequences, stalls, lying Content-Length, redirects, required headers, ...
* :class:`S3Server` -- moto's ``ThreadedMotoServer`` on a free local port,
  with helpers to create buckets and put objects through boto3.

Everything binds 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import socket
import struct
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "AUTO",
    "Behaviour",
    "FileServer",
    "RecordedRequest",
    "S3Server",
    "free_port",
    "http_date",
]

#: Sentinel for ``Behaviour.etag``: derive the ETag from the content
#: (quoted MD5 hex of the bytes, like S3; ``"<mtime>-<size>"`` for files on disk).
AUTO = "auto"

_CONNECTION_ERRORS = (ConnectionError, TimeoutError)  # BrokenPipe, Reset, Aborted


def http_date(timestamp: float | None = None) -> str:
    """An RFC 7231 date (``Last-Modified`` format) for *timestamp* (default: now)."""
    return formatdate(timestamp, usegmt=True)


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (bind to port 0, read it, release)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------
# HTTP file server
# --------------------------------------------------------------------------


@dataclass
class Behaviour:
    """How one file is served. Defaults = a well-behaved static file server.

    Counters (``statuses``, ``drop_times``, ``stall_times``) are consumed by
    GET requests only; HEAD is answered as the *normal* GET would be (same
    headers, no body) and never consumes them.
    """

    #: Honour ``Range: bytes=N-``/``N-M``/``-S`` (206 + Content-Range,
    #: ``Accept-Ranges: bytes``; 416 if unsatisfiable). False: ignore Range,
    #: always 200 with the whole body and no Accept-Ranges. Multi-range
    #: requests (``bytes=0-1,4-5``) are always answered 200 with the whole body.
    ranges: bool = True
    #: False: no Content-Length; body delimited by closing the connection
    #: (``Connection: close``), or chunked if ``chunked`` is set.
    content_length: bool = True
    #: With ``content_length=False``: use ``Transfer-Encoding: chunked``
    #: (connection stays open) instead of close-delimited.
    chunked: bool = False
    #: ``AUTO`` (default) = content hash; None = no ETag header; else verbatim
    #: (include the quotes yourself, e.g. ``'"v1"'`` or ``'W/"v1"'``).
    etag: str | None = AUTO
    #: Sent verbatim as Last-Modified (see :func:`http_date`); None = not sent.
    last_modified: str | None = None
    content_type: str = "application/octet-stream"
    #: Extra response headers (e.g. Content-Disposition, Content-Encoding).
    headers: dict[str, str] = field(default_factory=dict)
    #: Answer ``If-None-Match`` / ``If-Modified-Since`` with 304.
    conditional: bool = True

    #: Send headers (true Content-Length), then close after N body bytes ...
    drop_after: int | None = None
    #: ... for this many GETs, then behave.
    drop_times: int = 1
    #: Drop with a TCP RST (SO_LINGER 0) instead of an orderly FIN.
    drop_reset: bool = False

    #: Status codes for successive GETs before serving normally, e.g. [503, 500].
    statuses: list[int] = field(default_factory=list)
    #: ``Retry-After`` value sent with the ``statuses`` responses.
    retry_after: str | None = None

    #: Seconds to sleep after the headers, before the first body byte ...
    stall: float = 0.0
    #: ... for this many GETs.
    stall_times: int = 1
    #: Stall before the status line instead (no headers yet). Note: requests
    #: then raises ReadTimeout, but ConnectionError for a mid-body stall.
    stall_headers: bool = False

    #: Announce this Content-Length, send the real bytes, then close.
    lie_length: int | None = None

    #: 302 (``redirect_status``) to this path on the same server, or to an
    #: absolute ``http://...`` URL.
    redirect_to: str | None = None
    redirect_status: int = 302

    #: Status for the (non-range) response; the body is ``body`` if given,
    #: else the data. E.g. ``status=404, body=b"nope"``; a 200 HTML error page
    #: is just ``add(path, b"<html>...", content_type="text/html")``.
    status: int = 200
    body: bytes | None = None
    #: Status answered to HEAD instead (e.g. 405 or 403 like presigned S3 URLs).
    head_status: int | None = None

    #: ``(name, value)``: 401 unless the request carries exactly this header.
    require_header: tuple[str, str] | None = None


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # without the query string
    query: str
    headers: Message  # case-insensitive: req.headers["range"], .get(...)
    time: float

    @property
    def range(self) -> str | None:
        return self.headers.get("Range")

    @property
    def if_range(self) -> str | None:
        return self.headers.get("If-Range")


class _Source:
    """Bytes to serve: in memory or a file on disk, streamed in chunks."""

    def __init__(self, data: bytes | None = None, path: Path | None = None):
        self.data = data
        self.path = path
        if data is not None:
            self.size = len(data)
        else:
            assert path is not None
            self.size = path.stat().st_size

    def auto_etag(self) -> str:
        if self.data is not None:
            return f'"{hashlib.md5(self.data, usedforsecurity=False).hexdigest()}"'
        st = self.path.stat()  # type: ignore[union-attr]
        return f'"{st.st_mtime_ns:x}-{st.st_size:x}"'

    def chunks(self, start: int, end: int, chunk_size: int) -> Iterator[bytes]:
        """Bytes ``[start, end)``."""
        if self.data is not None:
            view = memoryview(self.data)
            for pos in range(start, end, chunk_size):
                yield view[pos : min(pos + chunk_size, end)]
            return
        with open(self.path, "rb") as f:  # type: ignore[arg-type]
            f.seek(start)
            remaining = end - start
            while remaining > 0:
                block = f.read(min(chunk_size, remaining))
                if not block:
                    return
                remaining -= len(block)
                yield block


class _Entry:
    def __init__(self, source: _Source, behaviour: Behaviour):
        self.source = source
        self.behaviour = behaviour
        self.lock = threading.Lock()
        self.etag = source.auto_etag() if behaviour.etag == AUTO else behaviour.etag
        self.statuses_used = 0
        self.drops_done = 0
        self.stalls_done = 0

    def next_status(self) -> int | None:
        with self.lock:
            if self.statuses_used < len(self.behaviour.statuses):
                self.statuses_used += 1
                return self.behaviour.statuses[self.statuses_used - 1]
            return None

    def plan_body(self) -> tuple[float, int | None]:
        """(stall seconds, drop after N bytes) for this GET; consumes counters."""
        b = self.behaviour
        with self.lock:
            stall = 0.0
            if b.stall > 0 and self.stalls_done < b.stall_times:
                self.stalls_done += 1
                stall = b.stall
            drop = None
            if b.drop_after is not None and self.drops_done < b.drop_times:
                self.drops_done += 1
                drop = b.drop_after
            return stall, drop


class _Abort(Exception):
    """Stop writing the body and tear the connection down."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "getdata-test-server/1.0"
    timeout = 30  # idle keep-alive connections are closed after this
    server: _HTTPServer

    # -- plumbing ----------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        self._handle(head=False)

    def do_HEAD(self) -> None:
        self._handle(head=True)

    def _handle(self, head: bool) -> None:
        try:
            self._serve(head)
        except _Abort:
            self.close_connection = True
        except _CONNECTION_ERRORS:
            self.close_connection = True

    # -- responses ---------------------------------------------------------

    def _simple(
        self,
        status: int,
        body: bytes,
        head: bool,
        headers: dict[str, str] | None = None,
        content_type: str = "text/plain; charset=utf-8",
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _serve(self, head: bool) -> None:
        srv = self.server.owner
        path, _, query = self.path.partition("?")
        srv._record(self.command, path, query, self.headers)
        entry = srv._lookup(path, query)
        if entry is None:
            self._simple(404, b"not found\n", head)
            return
        b = entry.behaviour

        if b.require_header is not None:
            name, value = b.require_header
            if self.headers.get(name) != value:
                extra = {}
                if name.lower() == "authorization":
                    extra["WWW-Authenticate"] = 'Basic realm="getdata-test"'
                self._simple(401, b"unauthorized\n", head, extra)
                return

        if b.redirect_to is not None:
            target = b.redirect_to
            if not target.startswith(("http://", "https://")):
                target = srv.url(target)
            self._simple(b.redirect_status, b"", head, {"Location": target})
            return

        if head and b.head_status is not None:
            self._simple(b.head_status, b"", head)
            return

        if not head:
            status = entry.next_status()
            if status is not None:
                extra = {}
                if b.retry_after is not None:
                    extra["Retry-After"] = b.retry_after
                self._simple(status, f"error {status}\n".encode(), head, extra)
                return

        source = entry.source if b.body is None else _Source(data=b.body)
        size = source.size
        status, start, end = b.status, 0, size
        ok = b.status == 200

        validators: dict[str, str] = {}
        if entry.etag is not None:
            validators["ETag"] = entry.etag
        if b.last_modified is not None:
            validators["Last-Modified"] = b.last_modified

        if ok and b.conditional and self._not_modified(entry.etag, b.last_modified):
            self.send_response(304)
            for name, value in validators.items():
                self.send_header(name, value)
            self.end_headers()
            return

        content_range = None
        if ok and b.ranges:
            parsed = self._parse_range(size, entry.etag, b.last_modified)
            if parsed == "unsatisfiable":
                self._simple(416, b"", head, {"Content-Range": f"bytes */{size}"})
                return
            if parsed is not None:
                start, end = parsed
                status = 206
                content_range = f"bytes {start}-{end - 1}/{size}"

        stall, drop = (0.0, None) if head else entry.plan_body()
        if stall and b.stall_headers:
            if srv._stopping.wait(stall):
                raise _Abort
            stall = 0.0

        length = end - start
        close_after = False
        self.send_response(status)
        self.send_header("Content-Type", b.content_type)
        for name, value in validators.items():
            self.send_header(name, value)
        if ok and b.ranges:
            self.send_header("Accept-Ranges", "bytes")
        if content_range is not None:
            self.send_header("Content-Range", content_range)
        chunked = False
        if b.lie_length is not None:
            self.send_header("Content-Length", str(b.lie_length))
            close_after = True
        elif b.content_length:
            self.send_header("Content-Length", str(length))
        elif b.chunked:
            self.send_header("Transfer-Encoding", "chunked")
            chunked = True
        else:
            close_after = True
        if close_after:
            self.send_header("Connection", "close")
            self.close_connection = True
        for name, value in b.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if head:
            return

        if stall and srv._stopping.wait(stall):
            raise _Abort
        sent = 0
        for chunk in source.chunks(start, end, srv.chunk_size):
            if drop is not None and sent + len(chunk) >= drop:
                self._write(chunk[: drop - sent], chunked)
                self._drop(b.drop_reset)
            self._write(chunk, chunked)
            sent += len(chunk)
        if drop is not None:  # drop_after >= body: a chunked body never gets its end
            self._drop(b.drop_reset)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _write(self, chunk: bytes | memoryview, chunked: bool) -> None:
        if not chunk:
            return
        if chunked:
            self.wfile.write(b"%x\r\n" % len(chunk))
            self.wfile.write(chunk)
            self.wfile.write(b"\r\n")
        else:
            self.wfile.write(chunk)

    def _drop(self, reset: bool) -> None:
        self.close_connection = True
        if reset:
            # RST instead of FIN: linger 0, then close before socketserver's
            # shutdown(SHUT_WR) could send a FIN first.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()  # real close happens when rfile closes
        else:
            self.connection.shutdown(socket.SHUT_WR)
        raise _Abort

    def _not_modified(self, etag: str | None, last_modified: str | None) -> bool:
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            if etag is None:
                return False
            tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
            return "*" in tags or etag.removeprefix("W/") in tags
        ims = self.headers.get("If-Modified-Since")
        if ims is not None and last_modified is not None:
            try:
                return parsedate_to_datetime(ims) >= parsedate_to_datetime(last_modified)
            except (TypeError, ValueError):
                return False
        return False

    def _parse_range(
        self, size: int, etag: str | None, last_modified: str | None
    ) -> tuple[int, int] | str | None:
        """``(start, end_exclusive)``, ``"unsatisfiable"``, or None (send 200)."""
        header = self.headers.get("Range")
        if header is None:
            return None
        if_range = self.headers.get("If-Range")
        if if_range is not None:
            if if_range.startswith('"'):  # strong ETag comparison only
                if etag is None or etag.startswith("W/") or if_range != etag:
                    return None
            elif last_modified is None or if_range != last_modified:
                return None
        unit, _, spec = header.strip().partition("=")
        if unit.strip().lower() != "bytes" or "," in spec:
            return None
        first, dash, last = spec.strip().partition("-")
        if not dash:
            return None
        try:
            if first == "":  # suffix: last N bytes
                n = int(last)
                if n <= 0:
                    return "unsatisfiable"
                return max(0, size - n), size
            start = int(first)
            end = int(last) + 1 if last else max(size, start + 1)
        except ValueError:
            return None
        if start < 0 or end <= start:  # syntactically invalid: ignore Range
            return None
        if start >= size:
            return "unsatisfiable"
        return start, min(end, size)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    owner: FileServer

    def __init__(self, owner: FileServer):
        self.owner = owner
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def track(self, conn: socket.socket, add: bool) -> None:
        with self._conns_lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def close_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (*_CONNECTION_ERRORS, _Abort)) or self.owner._stopping.is_set():
            return
        self.owner.errors.append(exc)  # a bug in the test server: surface it
        super().handle_error(request, client_address)


class FileServer:
    """Scriptable HTTP/1.1 file server on 127.0.0.1:<random port>.

    >>> with FileServer() as srv:
    ...     url = srv.add("/a.bin", b"x" * 100, ranges=False, drop_after=10)
    """

    def __init__(self, chunk_size: int = 64 * 1024):
        self.chunk_size = chunk_size
        self.errors: list[BaseException] = []
        self._files: dict[str, _Entry] = {}
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> FileServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"FileServer:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()  # wakes stalled handlers
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()  # wakes handlers blocked on idle keep-alive
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + _norm(path)

    # -- files -------------------------------------------------------------

    def add(self, path: str, data: bytes = b"", **behaviour: Any) -> str:
        """Serve *data* at *path* (optionally ``path?query``); returns its URL.

        ``behaviour`` are :class:`Behaviour` fields. Re-adding a path replaces
        it and resets its counters.
        """
        return self._put(path, _Source(data=bytes(data)), Behaviour(**behaviour))

    def add_file(self, path: str, local_path: str | os.PathLike[str], **behaviour: Any) -> str:
        """Serve a file from disk (streamed, never loaded whole); returns its URL."""
        return self._put(path, _Source(path=Path(local_path)), Behaviour(**behaviour))

    def set_behaviour(self, path: str, **changes: Any) -> None:
        """Change some behaviour fields of a served file; resets its counters."""
        with self._lock:
            old = self._files[_norm(path)]
            self._files[_norm(path)] = _Entry(
                old.source, dataclasses.replace(old.behaviour, **changes)
            )

    def remove(self, path: str) -> None:
        with self._lock:
            self._files.pop(_norm(path), None)

    def reset(self) -> None:
        """Forget all files, counters and recorded requests."""
        with self._lock:
            self._files.clear()
            self._requests.clear()

    def _put(self, path: str, source: _Source, behaviour: Behaviour) -> str:
        entry = _Entry(source, behaviour)
        with self._lock:
            self._files[_norm(path)] = entry
        return self.url(path)

    def _lookup(self, path: str, query: str) -> _Entry | None:
        with self._lock:
            if query and f"{path}?{query}" in self._files:
                return self._files[f"{path}?{query}"]
            return self._files.get(path)

    # -- request log -------------------------------------------------------

    def _record(self, method: str, path: str, query: str, headers: Message) -> None:
        req = RecordedRequest(method, path, query, headers, time.monotonic())
        with self._lock:
            self._requests.append(req)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Snapshot (a copy) of every request received so far, in order."""
        with self._lock:
            return list(self._requests)

    def requests_for(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        path = _norm(path).partition("?")[0]
        return [
            r for r in self.requests if r.path == path and (method is None or r.method == method)
        ]

    def count(self, path: str, method: str | None = "GET") -> int:
        return len(self.requests_for(path, method))

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()


def _norm(path: str) -> str:
    return path if path.startswith("/") else "/" + path


# --------------------------------------------------------------------------
# S3 server (moto)
# --------------------------------------------------------------------------

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


class S3Server:
    """moto's ThreadedMotoServer on 127.0.0.1:<random port>.

    ``port=0`` works with moto 5.2.5's ThreadedMotoServer: werkzeug's
    ``make_server`` binds in the server thread before ``start()`` returns and
    ``get_host_and_port()`` reports the real port.
    """

    region = "us-east-1"

    def __init__(self) -> None:
        self._moto: Any = None
        self.endpoint_url = ""
        self._client: Any = None

    def start(self) -> S3Server:
        from moto.server import ThreadedMotoServer

        if self._moto is not None:
            return self
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        moto, self._moto = self._moto, None
        if moto is None:
            return
        moto.stop()
        # ThreadedMotoServer.stop() does not close the listening socket.
        inner = getattr(moto, "_server", None)
        if inner is not None:
            inner.server_close()
        self._client = None

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Drop all buckets/objects (``POST /moto-api/reset``)."""
        req = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()

    # -- clients -----------------------------------------------------------

    @property
    def credentials(self) -> dict[str, str]:
        return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

    @property
    def client(self) -> Any:
        """A boto3 S3 client pointed at this server (fake credentials)."""
        if self._client is None:
            import boto3

            self._client = boto3.client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                **self.credentials,
            )
        return self._client

    @property
    def storage_options(self) -> dict[str, Any]:
        """fsspec/s3fs options: ``fsspec.filesystem("s3", **srv.storage_options)``."""
        return {
            "key": "testing",
            "secret": "testing",
            "client_kwargs": {"endpoint_url": self.endpoint_url, "region_name": self.region},
        }

    def filesystem(self) -> Any:
        """A fresh (uncached) s3fs filesystem for this server."""
        import s3fs

        return s3fs.S3FileSystem(skip_instance_cache=True, **self.storage_options)

    # -- content -----------------------------------------------------------

    def create_bucket(self, bucket: str) -> None:
        self.client.create_bucket(Bucket=bucket)

    def put(self, bucket: str, key: str, data: bytes, *, create: bool = True, **kwargs: Any) -> str:
        """Put an object (creating the bucket if needed); returns ``s3://bucket/key``.

        ``kwargs`` go to ``put_object`` (e.g. ContentType, Metadata).
        """
        if create:
            self._ensure_bucket(bucket)
        self.client.put_object(Bucket=bucket, Key=key, Body=data, **kwargs)
        return f"s3://{bucket}/{key}"

    def put_file(self, bucket: str, key: str, local_path: str | os.PathLike[str]) -> str:
        """Upload a local file (multipart for big files); returns ``s3://bucket/key``."""
        self._ensure_bucket(bucket)
        self.client.upload_file(os.fspath(local_path), bucket, key)
        return f"s3://{bucket}/{key}"

    def _ensure_bucket(self, bucket: str) -> None:
        existing = {b["Name"] for b in self.client.list_buckets().get("Buckets", [])}
        if bucket not in existing:
            self.create_bucket(bucket)

    def http_url(self, bucket: str, key: str) -> str:
        """Path-style plain HTTP URL of an object.

        Anonymous GETs get 403 unless the object was put with
        ``ACL="public-read"`` (or use ``client.generate_presigned_url``).
        """
        return f"{self.endpoint_url}/{bucket}/{key}"

    @staticmethod
    def split(url: str) -> tuple[str, str]:
        """``s3://bucket/key`` -> ``(bucket, key)``."""
        parts = urlsplit(url)
        return parts.netloc, parts.path.lstrip("/")


# --------------------------------------------------------------------------
# TCP proxy that breaks connections (fault injection for any protocol, e.g. S3)
# --------------------------------------------------------------------------


class DropProxy:
    """Forwards 127.0.0.1:<port> to ``upstream``; the first ``drop_times`` connections whose
    responses exceed ``drop_after`` bytes are cut there, mid-body, like a network failure."""

    def __init__(self, upstream: tuple[str, int], drop_after: int, drop_times: int = 1) -> None:
        self.upstream = upstream
        self.drop_after = drop_after
        self.drops_left = drop_times
        self.drops = 0
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> DropProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sock.close()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        server = socket.create_connection(self.upstream)

        def upstream() -> None:
            with contextlib.suppress(OSError):
                while data := client.recv(65536):
                    server.sendall(data)
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_WR)

        threading.Thread(target=upstream, daemon=True).start()
        sent = 0
        try:
            while data := server.recv(65536):
                with self._lock:
                    drop = self.drops_left > 0 and sent + len(data) > self.drop_after
                    if drop:
                        self.drops_left -= 1
                        self.drops += 1
                if drop:
                    client.sendall(data[: max(0, self.drop_after - sent)])
                    break
                client.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            for s in (client, server):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()


# --------------------------------------------------------------------------
# HTTP proxy in front of an S3 server that refuses object reads (fault injection)
# --------------------------------------------------------------------------


class S3FaultProxy:
    """Forwards every request to the S3 server at ``upstream`` (an endpoint URL), except the
    first ``times`` GETs of an object: those get ``status`` with S3's XML error ``code``, as a
    real S3 answers SlowDown, AccessDenied or PermanentRedirect. ``gets`` records the path and
    query of every object GET it saw; ``seen`` every request, as (method, path with query).
    With ``times=0`` it only records. ``keep_host``: forward the Host header as the client sent
    it (a server that checks signatures, such as SeaweedFS, checks the signed Host; moto does
    not check, and some of its answers depend on its own Host)."""

    def __init__(
        self, upstream: str, status: int, code: str, times: int = 1, keep_host: bool = False
    ) -> None:
        self.upstream = urlsplit(upstream)
        self.keep_host = keep_host
        self.status, self.code, self.left = status, code, times
        self.gets: list[str] = []
        self.seen: list[tuple[str, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:
                owner._handle(self, "GET")

            def do_HEAD(self) -> None:
                owner._handle(self, "HEAD")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._lock = threading.Lock()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> S3FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        import http.client

        path = handler.path
        with self._lock:
            self.seen.append((method, path))
        bucket_and_key = urlsplit(path).path.strip("/")
        is_object_get = method == "GET" and "/" in bucket_and_key and "list-type" not in path
        if is_object_get:
            with self._lock:
                self.gets.append(path)
                fail = self.left > 0
                self.left -= fail
            if fail:
                body = (
                    f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{self.code}</Code>"
                    f"<Message>injected</Message></Error>"
                ).encode()
                handler.send_response(self.status)
                handler.send_header("Content-Type", "application/xml")
                handler.send_header("Content-Length", str(len(body)))
                handler.send_header("Retry-After", "0")
                handler.end_headers()
                handler.wfile.write(body)
                return
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=30)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() != "host"}
            headers["Host"] = handler.headers["Host"] if self.keep_host else self.upstream.netloc
            conn.request(method, path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            handler.send_response(response.status)
            for k, v in response.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    handler.send_header(k, v)
            length = response.getheader("Content-Length") if method == "HEAD" else None
            handler.send_header("Content-Length", length or str(len(body)))
            handler.end_headers()
            if method != "HEAD":
                handler.wfile.write(body)
        finally:
            conn.close()
