"""Open and stat a source through fsspec: the only module that knows about URL schemes.

``resolve(cfg)`` turns a source config into a :class:`Source`; ``Source.stat()`` asks the source
what it knows about the object (size, ETag, ...) and ``Source.open()`` gives a stream of its bytes.
"""

from __future__ import annotations

import io
import os
import posixpath
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Optional
from urllib.parse import unquote, urlsplit

import fsspec
from fsspec.spec import AbstractFileSystem

from .config import FsspecSource, HttpSource, LocalSource, S3Source, SourceConfig
from .errors import SourceError
from .redact import redact_url

_MAGIC = re.compile(r"[*?\[]")


@dataclass
class SourceInfo:
    """What the source says about the object before we read it (all optional)."""

    size: Optional[int] = None
    etag: Optional[str] = None
    last_modified: Optional[str] = None
    version_id: Optional[str] = None
    content_type: Optional[str] = None

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
    # File name for the artifact entry: the URL's basename, query and fragment removed.
    basename: str
    info_kwargs: dict[str, Any] = field(default_factory=dict)
    # What a listing already said about this file (members of a directory source).
    listed: Optional[SourceInfo] = None

    def members(self) -> Optional[list[Source]]:
        """The files of a directory, prefix or glob source, named by their path relative to it;
        None when the source is one file."""
        magic = _MAGIC.search(self.path)
        if magic:
            # The folder part before the first wildcard is what names are relative to.
            root = self.path[: magic.start()].rsplit("/", 1)[0]
            found = self.fs.glob(self.path, detail=True)
        elif self.fs.isdir(self.path):
            root = self.path.rstrip("/")
            found = self.fs.find(self.path, detail=True)
        else:
            return None
        files = sorted(p for p, info in found.items() if info.get("type") == "file")
        if not files:
            raise SourceError(f"{self.display}: no files there")
        return [
            replace(
                self,
                path=path,
                display=path if self.kind == "local" else self.fs.unstrip_protocol(path),
                basename=posixpath.relpath(path, root) if root else path,
                listed=_normalise_info(found[path]),
            )
            for path in files
        ]

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


@dataclass
class HttpStreamSource(Source):
    """HTTP(S): one streaming GET whose response headers also answer stat().

    fsspec's HTTP open() would first ask info() (a HEAD, and a GET more when the server sends no
    Content-Length); the GET we stream already carries those headers, so we take them from it.
    """

    headers: dict[str, str] = field(default_factory=dict)

    def members(self) -> Optional[list[Source]]:
        return None  # HTTP has no listing: a URL is one file

    def open(self, start: int = 0, validator: Optional[str] = None) -> Opened:
        headers = dict(self.headers)
        if start:
            headers["Range"] = f"bytes={start}-"
            if validator:
                # If the object changed, the server sends all of it (200) instead of the rest.
                headers["If-Range"] = validator
        # block_size=0: a streaming file (one GET, no Range needed, size may be unknown);
        # size=-1 only tells fsspec not to ask info() first (the stream file never uses it).
        try:
            stream = self.fs.open(self.path, "rb", block_size=0, size=-1, headers=headers)
        except FileNotFoundError as exc:
            # fsspec turns a 404 into a bare FileNotFoundError(url); say what it was.
            raise SourceError(f"{self.display}: not found (HTTP 404): check the URL") from exc
        except Exception as exc:
            if start and getattr(exc, "status", None) == 416:
                # Nothing at that offset: the object is shorter than before. Start over.
                return self.open(0)
            raise
        response = stream.r
        resumed = start if response.status == 206 else 0
        return Opened(
            stream=stream,
            info=_http_info(response, resumed),
            start=resumed,
            aread=response.content.read,
            loop=self.fs.loop,
        )


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
        total = _range_total(response.get("ContentRange")) or response.get("ContentLength")
        modified = response.get("LastModified")
        info = SourceInfo(
            size=total,
            etag=response.get("ETag"),
            last_modified=modified.isoformat() if isinstance(modified, datetime) else modified,
            version_id=response.get("VersionId"),
            content_type=response.get("ContentType"),
        )
        body = response["Body"]
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
            display=redact_url(cfg.url),
            kind="fsspec",
            fs=fs,
            path=path,
            basename=_basename(path),
        )
    raise SourceError(f"unsupported source config: {type(cfg).__name__}")


def _http(cfg: HttpSource) -> Source:
    if urlsplit(cfg.url).scheme not in ("http", "https"):
        raise SourceError(f"{redact_url(cfg.url)}: an http source needs an http:// or https:// URL")
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=None, sock_connect=cfg.timeout, sock_read=cfg.timeout)
    fs = fsspec.filesystem(
        "http",
        headers=dict(cfg.headers),
        client_kwargs={"timeout": timeout},
        # A new filesystem per run: fsspec would otherwise reuse an instance (and its session)
        # across datasets of one process, with whatever headers it was made with.
        skip_instance_cache=True,
    )
    return HttpStreamSource(
        url=cfg.url,
        display=redact_url(cfg.url),
        kind="http",
        fs=fs,
        path=cfg.url,
        basename=_basename(urlsplit(cfg.url).path),
        # identity: the file's own bytes, so Content-Length and Range count the same bytes we
        # hash (a server may still compress; aiohttp then decompresses and we ignore the length).
        headers={"Accept-Encoding": "identity", **cfg.headers},
    )


def _s3(cfg: S3Source) -> Source:
    parts = urlsplit(cfg.url)
    if parts.scheme not in ("s3", "s3a") or not parts.netloc or not parts.path.strip("/"):
        raise SourceError(f"{redact_url(cfg.url)}: an s3 source needs a URL like s3://bucket/key")
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
        display=redact_url(cfg.url),
        kind="s3",
        fs=fs,
        path=path,
        basename=_basename(parts.path),
        info_kwargs=version,
        version_id=cfg.version_id,
    )


def _local(cfg: LocalSource) -> Source:
    path = os.path.abspath(os.path.expanduser(cfg.path))
    return Source(
        url=cfg.path,
        display=path,
        kind="local",
        fs=fsspec.filesystem("file"),
        path=path,
        basename=_basename(path),
    )


def _basename(path: str) -> str:
    path = unquote(path)
    magic = _MAGIC.search(path)
    if magic:
        # A glob is named after the folder it matches in: data/*.csv -> data
        path = path[: magic.start()].rsplit("/", 1)[0]
    name = posixpath.basename(path.rstrip("/"))
    return name or "data"


def _http_info(response: Any, start: int) -> SourceInfo:
    """SourceInfo from an aiohttp response to a GET (206 when resuming from ``start``)."""
    headers = response.headers
    size: Optional[int] = None
    if response.status == 206:
        size = _range_total(headers.get("Content-Range"))
    elif "Content-Length" in headers and headers.get("Content-Encoding", "identity") == "identity":
        size = int(headers["Content-Length"]) + start
    return SourceInfo(
        size=size,
        etag=headers.get("ETag"),
        last_modified=headers.get("Last-Modified"),
        content_type=headers.get("Content-Type", "").partition(";")[0] or None,
    )


def _range_total(content_range: Optional[str]) -> Optional[int]:
    """The object's full size from a Content-Range like ``bytes 100-999/1000`` (None if ``*``)."""
    total = (content_range or "").rpartition("/")[2]
    return int(total) if total.isdigit() else None


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
