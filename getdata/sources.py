"""Open and stat a source through fsspec: the only module that knows about URL schemes.

``resolve(cfg)`` turns a source config into a :class:`Source`; ``Source.stat()`` asks the source
what it knows about the object (size, ETag, ...) and ``Source.open()`` gives a stream of its bytes.
"""

from __future__ import annotations

import io
import os
import re
import stat as stat_mode
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Optional
from urllib.parse import unquote, urljoin, urlsplit

import fsspec
from fsspec.spec import AbstractFileSystem

from .config import FsspecSource, HttpSource, LocalSource, S3Source, SourceConfig
from .errors import IntegrityError, SourceError
from .paths import printable, safe_name, safe_relpath
from .redact import is_secret_name, redact_url

_MAGIC = re.compile(r"[*?\[]")


@dataclass
class SourceInfo:
    """What the source says about the object before we read it (all optional)."""

    size: Optional[int] = None
    etag: Optional[str] = None
    last_modified: Optional[str] = None
    version_id: Optional[str] = None
    content_type: Optional[str] = None
    # A Content-Encoding the server applied although we asked for identity: the bytes are kept
    # as sent (what `curl` without --compressed keeps), and this says what they are.
    content_encoding: Optional[str] = None

    def as_metadata(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    def validator(self) -> Optional[str]:
        """What identifies this version for a resume: a strong ETag, else Last-Modified."""
        if self.etag and not self.etag.startswith("W/"):
            return self.etag
        return self.last_modified


@dataclass
class Opened:
    """An open byte stream, what the source said about it, and where in the object it starts."""

    # A binary file-like object: read(n), close(), usable in a with-statement.
    stream: Any
    info: SourceInfo
    # The offset the stream starts at: the one asked for, or 0 when the source could not resume.
    start: int = 0
    # For network streams: the coroutine read(n) under ``stream`` and the event loop it runs on,
    # so the copy can run as one coroutine there instead of a thread hand-off per read.
    aread: Optional[Callable[[int], Awaitable[bytes]]] = None
    loop: Any = None


@dataclass
class Source:
    """One object to read: the filesystem, the path it knows it by, and how to open it."""

    # The URL as configured, credentials included: never log it, log `display` instead.
    url: str
    display: str
    kind: str
    fs: AbstractFileSystem
    path: str
    # File name for the artifact entry: the URL's basename, query and fragment removed. For a
    # member of a folder source: its path relative to the folder (checked: no '..', no '/...').
    basename: str
    info_kwargs: dict[str, Any] = field(default_factory=dict)
    # What a listing already said about this file (members of a directory source).
    listed: Optional[SourceInfo] = None

    def members(self) -> Optional[list[Source]]:
        """The files of a directory, prefix or glob source, named by their path relative to it;
        None when the source is one file.

        An existing path is taken literally, even with ``[``, ``*`` or ``?`` in its name; only a
        path that does not exist as such and has one of them is a glob.
        """
        if self.fs.isdir(self.path):
            root = self.path.rstrip("/")
            found = self.fs.find(self.path, detail=True, withdirs=False)
        elif _MAGIC.search(self.path) and not self.fs.exists(self.path):
            magic = _MAGIC.search(self.path)
            assert magic is not None
            # The folder part before the first wildcard is what names are relative to, and
            # what the artifact is named after: data/*.csv -> data.
            root = self.path[: magic.start()].rsplit("/", 1)[0]
            found = self.fs.glob(self.path, detail=True)
            self.basename = _basename(self.path)
        else:
            return None
        members = []
        for path in sorted(found):
            info = found[path]
            kind = info.get("type")
            if kind == "directory":
                continue
            shown = self.fs.unstrip_protocol(path)
            if kind != "file":
                raise SourceError(
                    f"{printable(shown)}: is a {kind or 'special file'}, not a regular file; "
                    "a folder is logged whole or not at all"
                )
            members.append(self._member(path, _relative(path, root, shown), info))
        if not members:
            raise SourceError(f"{self.display}: no files there")
        return members

    def _member(self, path: str, rel: str, info: dict[str, Any]) -> Source:
        return replace(
            self,
            path=path,
            display=printable(self.fs.unstrip_protocol(path)),
            basename=rel,
            listed=_normalise_info(info),
        )

    def stat(self) -> SourceInfo:
        info = self.fs.info(self.path, **self.info_kwargs)
        if info.get("type") == "directory":
            raise SourceError(f"{self.display}: is a directory, not a file")
        return _normalise_info(info)

    def open(self, start: int = 0, validator: Optional[str] = None) -> Opened:
        """Open for sequential reading from byte ``start`` (0 unless resuming).

        ``validator`` is the ETag the bytes before ``start`` came from; a source that can tell
        restarts from 0 when the object has changed since, instead of splicing two versions.
        """
        info = self.stat()
        if start and (validator is None or info.validator() != validator):
            start = 0  # changed since, or no way to tell: never splice two versions
        stream = self.fs.open(self.path, "rb")
        if start:
            stream.seek(start)
        return Opened(stream=stream, info=info, start=start)


def _relative(path: str, root: str, shown: str) -> str:
    """A listed path relative to the folder it was listed in, checked to stay inside it.

    Taken as the text after the folder (not normalised): an S3 key such as ``p/../../x.csv`` is
    refused rather than turned into a path above the data folder.
    """
    prefix = f"{root}/" if root else ""
    if not path.startswith(prefix):
        raise SourceError(f"{printable(shown)}: listed outside {root!r}; refused")
    return safe_relpath(path[len(prefix) :], "the listed name").as_posix()


@dataclass
class LocalFileSource(Source):
    """A path on this machine: a regular file, or a folder walked with its links checked."""

    def members(self) -> Optional[list[Source]]:
        if os.path.isdir(self.path):
            return self._walk()
        if _MAGIC.search(self.path) and not os.path.lexists(self.path):
            return super().members()
        return None

    def stat(self) -> SourceInfo:
        try:
            st = os.stat(self.path)
        except FileNotFoundError as exc:
            raise SourceError(f"{self.display}: not found: check the path") from exc
        if stat_mode.S_ISDIR(st.st_mode):
            raise SourceError(f"{self.display}: is a directory, not a file")
        if not stat_mode.S_ISREG(st.st_mode):
            # A FIFO would block the read forever, a device never end.
            raise SourceError(f"{self.display}: is {_special(st.st_mode)}, not a regular file")
        return _normalise_info(self.fs.info(self.path))

    def _walk(self) -> list[Source]:
        """Every regular file below the folder. A link to a file or folder inside it is followed
        and listed under the link's own name; a link that leaves the folder, a broken link, a
        link loop, a FIFO, socket or device stops the run with a line naming it, so a folder is
        never logged with files silently missing."""
        root = os.path.realpath(self.path)
        found: list[Source] = []

        def walk(folder: str, rel: str, ancestors: frozenset[str]) -> None:
            with os.scandir(folder) as entries:
                for entry in sorted(entries, key=lambda e: e.name):
                    name = f"{rel}{entry.name}"
                    shown = os.path.join(self.path, name)
                    target = entry.path
                    if entry.is_symlink():
                        target = os.path.realpath(entry.path)
                        if not os.path.exists(target):
                            raise SourceError(f"{printable(shown)}: is a broken link")
                        if target != root and not target.startswith(root + os.sep):
                            raise SourceError(
                                f"{printable(shown)}: is a link to {printable(target)}, outside "
                                f"the folder; refused (point source.path at a folder that holds "
                                "what the links point to)"
                            )
                    st = os.stat(target)
                    if stat_mode.S_ISDIR(st.st_mode):
                        real = os.path.realpath(target)
                        if real in ancestors:
                            raise SourceError(f"{printable(shown)}: is a link loop; refused")
                        walk(target, f"{name}/", ancestors | {real})
                    elif stat_mode.S_ISREG(st.st_mode):
                        rel_name = safe_relpath(name, "the file name").as_posix()
                        found.append(
                            replace(
                                self,
                                # Read what was checked: the resolved file, not the link, which
                                # could be pointed elsewhere between the listing and the read.
                                path=os.path.realpath(target),
                                display=printable(shown),
                                basename=rel_name,
                                listed=_normalise_info(self.fs.info(target)),
                            )
                        )
                    else:
                        raise SourceError(
                            f"{printable(shown)}: is {_special(st.st_mode)}, not a regular file; "
                            "a folder is logged whole or not at all"
                        )

        walk(root, "", frozenset({root}))
        if not found:
            raise SourceError(f"{self.display}: no files there")
        return found


def _special(mode: int) -> str:
    if stat_mode.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat_mode.S_ISSOCK(mode):
        return "a socket"
    if stat_mode.S_ISCHR(mode) or stat_mode.S_ISBLK(mode):
        return "a device"
    return "a special file"


# Redirects followed at most, like curl's default of 50 but stricter: a loop fails fast.
MAX_REDIRECTS = 10


@dataclass
class HttpStreamSource(Source):
    """HTTP(S): one streaming GET whose response headers also answer stat().

    fsspec's HTTP open() would first ask info() (a HEAD, and a GET more when the server sends no
    Content-Length); the GET we stream already carries those headers, so we take them from it.
    Redirects are followed here, not by aiohttp, so that credentials in headers never reach
    another origin.
    """

    headers: dict[str, str] = field(default_factory=dict)

    def members(self) -> Optional[list[Source]]:
        return None  # HTTP has no listing: a URL is one file, never a glob

    def open(self, start: int = 0, validator: Optional[str] = None) -> Opened:
        from fsspec.asyn import sync

        headers = dict(self.headers)
        if start:
            headers["Range"] = f"bytes={start}-"
            if validator:
                # If the object changed, the server sends all of it (200) instead of the rest.
                headers["If-Range"] = validator
        response = sync(self.fs.loop, self._get, headers)
        try:
            resumed = _check_http_response(self.display, response, start)
        except BaseException:
            response.close()
            raise
        if resumed < 0:
            response.close()
            return self.open(0)  # a 206 we cannot trust, or 416: start over, whole
        return Opened(
            stream=_HttpBody(self.fs.loop, response),
            info=_http_info(response, resumed),
            start=resumed,
            aread=response.content.read,
            loop=self.fs.loop,
        )

    async def _get(self, headers: dict[str, str]) -> Any:
        session = await self.fs.set_session()
        url = self.url
        for _ in range(MAX_REDIRECTS + 1):
            response = await session.get(
                self.fs.encode_url(url), headers=headers, allow_redirects=False
            )
            if response.status not in (301, 302, 303, 307, 308):
                return response
            location = response.headers.get("Location")
            response.close()
            if not location:
                raise SourceError(
                    f"{self.display}: redirect (HTTP {response.status}) without Location"
                )
            target = urljoin(url, location)
            if urlsplit(target).scheme not in ("http", "https"):
                raise SourceError(f"{self.display}: redirected to a non-http URL; refused")
            if _origin(target) != _origin(url):
                # Credentials were meant for the origin the user named, not wherever it sends us.
                headers = {k: v for k, v in headers.items() if not is_secret_name(k)}
            url = target
        raise SourceError(f"{self.display}: more than {MAX_REDIRECTS} redirects")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, f"{(parts.hostname or '').lower()}:{port}"


def _check_http_response(display: str, response: Any, start: int) -> int:
    """Where the body starts in the object: ``start`` for a 206 that proves it, 0 for a 200,
    -1 for a reply to a resume that must be restarted. Anything else fails with one line."""
    status = response.status
    if status == 404:
        raise SourceError(f"{display}: not found (HTTP 404): check the URL")
    if status == 416 and start:
        return -1  # nothing at that offset: the object is shorter than before
    if status >= 400:
        response.raise_for_status()
    if status == 200:
        return 0
    if status == 206:
        content_range = response.headers.get("Content-Range")
        if not start:
            raise IntegrityError(
                f"{display}: the server sent part of the file (HTTP 206) to a request for all "
                "of it; refused"
            )
        begin, total = _range_start_total(content_range)
        if begin != start or total is None:
            return -1  # not the bytes we asked for: never splice them
        return start
    raise SourceError(f"{display}: the server answered HTTP {status}, not the file")


class _HttpBody(io.RawIOBase):
    """A blocking reader over an aiohttp response body (read on fsspec's event loop)."""

    def __init__(self, loop: Any, response: Any) -> None:
        self.loop = loop
        self.response = response

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        from fsspec.asyn import sync

        return sync(self.loop, self.response.content.read, size)

    def close(self) -> None:
        if not self.closed:
            self.response.close()
        super().close()


@dataclass
class S3StreamSource(Source):
    """S3: one streaming GetObject through s3fs's own client, like the HTTP source.

    s3fs's file object reads in ranged GETs of one block each; against the local S3 server that
    made 32 requests for a 256 MiB object and ran at 0.8x boto3 (benchmarks/). One GET streams
    at the speed of the disk, and its response answers stat() too.
    """

    version_id: Optional[str] = None

    def open(self, start: int = 0, validator: Optional[str] = None) -> Opened:
        from fsspec.asyn import sync

        bucket, key, _ = self.fs.split_path(self.path)
        request: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if self.version_id:
            request["VersionId"] = self.version_id
        if start:
            request["Range"] = f"bytes={start}-"
            if validator:
                request["IfMatch"] = validator  # a changed object answers 412: start over
        try:
            response = sync(self.fs.loop, self.fs._call_s3, "get_object", **request)
        except OSError as exc:
            code = getattr(exc.__cause__, "response", {}).get("Error", {}).get("Code")
            if start and code in ("PreconditionFailed", "InvalidRange"):
                return self.open(0)
            raise
        body = response["Body"]
        if start:
            begin, _ = _range_start_total(response.get("ContentRange"))
            if begin != start:
                body.close()
                return self.open(0)  # not the bytes we asked for: never splice them
        total = _range_start_total(response.get("ContentRange"))[1] or response.get("ContentLength")
        modified = response.get("LastModified")
        info = SourceInfo(
            size=total,
            etag=response.get("ETag"),
            last_modified=modified.isoformat() if isinstance(modified, datetime) else modified,
            version_id=response.get("VersionId"),
            content_type=response.get("ContentType"),
        )
        return Opened(
            stream=_SyncBody(self.fs.loop, body),
            info=info,
            start=start,
            aread=body.read,
            loop=self.fs.loop,
        )


class _SyncBody(io.RawIOBase):
    """A blocking reader over an aiobotocore streaming body (read on fsspec's event loop)."""

    def __init__(self, loop: Any, body: Any) -> None:
        self.loop = loop
        self.body = body

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        from fsspec.asyn import sync

        return sync(self.loop, self.body.read, size if size >= 0 else None)

    def close(self) -> None:
        if not self.closed:
            self.body.close()
        super().close()


def resolve(cfg: SourceConfig) -> Source:
    """The :class:`Source` for a source config."""
    if isinstance(cfg, HttpSource):
        return _http(cfg)
    if isinstance(cfg, S3Source):
        return _s3(cfg)
    if isinstance(cfg, LocalSource):
        return _local(cfg)
    if isinstance(cfg, FsspecSource):
        fs, path = fsspec.core.url_to_fs(cfg.url, **cfg.storage_options)
        return Source(
            url=cfg.url,
            display=printable(redact_url(cfg.url)),
            kind="fsspec",
            fs=fs,
            path=path,
            basename=_basename(path, literal=True),
        )
    raise SourceError(f"unsupported source config: {type(cfg).__name__}")


def _http(cfg: HttpSource) -> Source:
    display = printable(redact_url(cfg.url))
    if urlsplit(cfg.url).scheme not in ("http", "https"):
        raise SourceError(f"{display}: an http source needs an http:// or https:// URL")
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=None, sock_connect=cfg.timeout, sock_read=cfg.timeout)
    fs = fsspec.filesystem(
        "http",
        # The bytes as published: a Content-Encoding the server applies anyway is kept, not
        # decoded, so Content-Length, Range offsets and the hashes all count the same bytes.
        client_kwargs={"timeout": timeout, "auto_decompress": False},
        # A new filesystem per run: fsspec would otherwise reuse an instance (and its session)
        # across datasets of one process.
        skip_instance_cache=True,
    )
    name = unquote(urlsplit(cfg.url).path).rstrip("/").rsplit("/", 1)[-1] or "data"
    return HttpStreamSource(
        url=cfg.url,
        display=display,
        kind="http",
        fs=fs,
        path=cfg.url,
        basename=safe_name(name, "the URL's file name"),
        # identity: the file's own bytes, so Content-Length and Range count the bytes we hash.
        headers={"Accept-Encoding": "identity", **cfg.headers},
    )


def _s3(cfg: S3Source) -> Source:
    parts = urlsplit(cfg.url)
    display = printable(redact_url(cfg.url))
    if parts.scheme not in ("s3", "s3a") or not parts.netloc or not parts.path.strip("/"):
        raise SourceError(f"{display}: an s3 source needs a URL like s3://bucket/key")
    options: dict[str, Any] = dict(cfg.storage_options)
    if cfg.endpoint_url:
        options["endpoint_url"] = cfg.endpoint_url
    options["anon"] = cfg.anon
    config_kwargs = dict(options.pop("config_kwargs", {}))
    config_kwargs.setdefault("connect_timeout", cfg.timeout)
    config_kwargs.setdefault("read_timeout", cfg.timeout)
    options["config_kwargs"] = config_kwargs
    if cfg.version_id:
        options["version_aware"] = True
    fs = fsspec.filesystem("s3", skip_instance_cache=True, **options)
    version = {"version_id": cfg.version_id} if cfg.version_id else {}
    path = f"{parts.netloc}{parts.path}"
    return S3StreamSource(
        url=cfg.url,
        display=display,
        kind="s3",
        fs=fs,
        path=path,
        basename=_basename(parts.path, literal=True),
        info_kwargs=version,
        version_id=cfg.version_id,
    )


def _local(cfg: LocalSource) -> Source:
    path = os.path.abspath(os.path.expanduser(cfg.path))
    return LocalFileSource(
        url=cfg.path,
        display=printable(path),
        kind="local",
        fs=fsspec.filesystem("file"),
        path=path,
        basename=_basename(path, literal=os.path.lexists(path)),
    )


def _basename(path: str, literal: bool = False) -> str:
    """The file name a path or key is logged under (a glob: the folder it matches in)."""
    path = path.rstrip("/")
    magic = None if literal else _MAGIC.search(path)
    if magic:
        # A glob is named after the folder it matches in: data/*.csv -> data
        path = path[: magic.start()].rsplit("/", 1)[0]
    name = path.rsplit("/", 1)[-1] or "data"
    return safe_name(name, "the source's file name")


def _http_info(response: Any, start: int) -> SourceInfo:
    """SourceInfo from an aiohttp response to a GET (206 when resuming from ``start``)."""
    headers = response.headers
    size: Optional[int] = None
    if response.status == 206:
        size = _range_start_total(headers.get("Content-Range"))[1]
    elif (length := headers.get("Content-Length", "")).isdigit():
        size = int(length)
    encoding = headers.get("Content-Encoding", "identity").strip().lower()
    return SourceInfo(
        size=size,
        etag=headers.get("ETag"),
        last_modified=headers.get("Last-Modified"),
        content_type=headers.get("Content-Type", "").partition(";")[0] or None,
        content_encoding=None if encoding in ("", "identity") else encoding,
    )


_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.IGNORECASE)


def _range_start_total(content_range: Optional[str]) -> tuple[Optional[int], Optional[int]]:
    """(first byte, full size) from a Content-Range like ``bytes 100-999/1000``; None for
    what is missing, malformed or inconsistent (end before start, end past the size)."""
    match = _CONTENT_RANGE.match(content_range or "")
    if not match:
        return None, None
    first, last = int(match[1]), int(match[2])
    total = int(match[3]) if match[3] != "*" else None
    if last < first or (total is not None and last >= total):
        return None, None
    return first, total


def _normalise_info(info: dict[str, Any]) -> SourceInfo:
    """fsspec's info() differs per filesystem; keep what a reader of the artifact cares about."""

    def first(*keys: str) -> Any:
        for key in keys:
            if info.get(key) not in (None, ""):
                return info[key]
        return None

    modified = first("Last-Modified", "LastModified", "last_modified", "mtime", "updated")
    if isinstance(modified, datetime):
        modified = modified.isoformat()
    elif isinstance(modified, (int, float)):
        modified = datetime.fromtimestamp(modified).astimezone().isoformat()
    size = first("size", "Size", "ContentLength")
    return SourceInfo(
        size=int(size) if size is not None else None,
        etag=first("ETag", "etag"),
        last_modified=str(modified) if modified is not None else None,
        version_id=first("VersionId", "version_id", "generation"),
        content_type=first("mimetype", "ContentType", "content_type"),
    )
