"""S3 (and S3-compatible servers): listed through s3fs, read with presigned GETs over aiohttp."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional
from urllib.parse import urlsplit

import fsspec
from omegaconf import MISSING

from ..config import SourceConfig
from ..errors import SourceError
from ..names import printable
from ..redact import redact_url
from .base import GLOB_MAGIC, Source, basename_of
from .http import GetSource, web_filesystem
from .s3sign import Signer
from .several import several

KIND = "s3"
# Connections one S3 filesystem may keep open at once (files fetched at once x ranges of each).
POOL = 256


@dataclass
class S3Source(SourceConfig):
    _target_: str = "getdata.sources.s3.build"
    # s3://bucket/key (or a prefix, or a glob). Several objects as one artifact: a list of
    # s3:// URLs, or a mapping entry name -> URL. (Typed Any: config/checks.py checks the shape.)
    url: Any = MISSING
    # Endpoint of an S3-compatible server (MinIO, moto, ...); null means AWS.
    endpoint_url: Optional[str] = None
    # Read a public bucket without credentials.
    anon: bool = False
    # Seconds to wait for the connection and for each read before giving up.
    timeout: float = 60.0
    # A specific object version (versioned buckets only).
    version_id: Optional[str] = None
    # Passed to s3fs.S3FileSystem as keyword arguments (profile, client_kwargs, ...).
    # Credentials come from the usual AWS environment variables or profile, not from here.
    storage_options: dict[str, Any] = field(default_factory=dict)


@dataclass
class S3StreamSource(GetSource):
    """S3: each GET is a presigned URL (signed with s3fs's identity) read with aiohttp.

    botocore's machinery costs about 2 ms of CPU per request and reads a body at about 100 MiB/s
    on one event loop; a presigned GET through aiohttp costs about 0.6 ms and reads as fast as
    the http source (benchmarks/netbench.py). Listing, stat and the S3 error codes stay s3fs's.
    A presigned URL is a credential for 15 minutes: it never leaves this object (errors name
    ``display``, never the URL), and each request signs a new one, so a long fetch never runs
    past its expiry.
    """

    version_id: Optional[str] = None
    endpoint_url: Optional[str] = None
    # The fsspec HTTP filesystem whose aiohttp session carries the GETs (shared by the members
    # of a prefix, so that they share its connections).
    web: Any = None
    # Passed on to every presigned GET (RequestPayer, ExpectedBucketOwner, ...).
    get_params: dict[str, Any] = field(default_factory=dict)
    # Signs each GET (shared by the members of a prefix): getdata/sources/s3sign.py.
    signer: Any = None
    pin_header: ClassVar[str] = "If-Match"  # a changed object answers 412: start over

    def members(self) -> Optional[list[Source]]:
        """A prefix (``s3://b/p/``) or glob is listed; any other key is taken for an object and
        fetched with one request, no listing first. Should that find no such key, the pipeline
        asks :meth:`folder` (a prefix named without its trailing ``/``)."""
        if self.path.endswith("/") or GLOB_MAGIC.search(self.path):
            return super().members()
        return None

    def reference(self) -> tuple[str, dict[str, str]]:
        uri = f"{self.url}?versionId={self.version_id}" if self.version_id else self.url
        # Where W&B's S3 reference handler looks for a non-AWS endpoint.
        env = {"AWS_S3_ENDPOINT_URL": self.endpoint_url} if self.endpoint_url else {}
        return uri, env

    async def request(self, headers: dict[str, str]) -> Any:
        import yarl

        version = {"VersionId": self.version_id} if self.version_id else {}
        signed = await self.signer.url(self.path, {**version, **self.get_params})
        session = await self.web.set_session()
        # encoded=True: the URL is sent exactly as signed (a re-quoted key breaks the signature).
        response = await session.get(
            yarl.URL(signed, encoded=True), headers=headers, allow_redirects=False
        )
        status = response.status
        if status < 300 or (status in (412, 416) and "Range" in headers):
            return response
        try:
            # S3 explains a refusal in a small XML body: <Error><Code>NoSuchKey</Code>...
            body = await response.content.read(8192)
        except Exception:
            body = b""
        finally:
            response.close()
        raise S3ResponseError(status, _error_code(body), response.headers)

    def serves_ranges(self, response: Any) -> bool:
        return True  # every S3 object can be read by ranges


# How long a presigned GET stays valid: one request needs it only until the answer starts.
PRESIGNED_SECONDS = 900


class S3ResponseError(Exception):
    """S3 refused a GET: the status and S3's error code, shaped like botocore's ClientError
    (``response["Error"]["Code"]``) so that errors.explain() and is_transient() read it the
    same way. Its text never holds the presigned URL."""

    def __init__(self, status: int, code: Optional[str], headers: Any) -> None:
        super().__init__(f"HTTP {status}" + (f" ({code})" if code else ""))
        self.status = status
        self.headers = headers
        self.response = {"Error": {"Code": code or str(status)}}


def _error_code(body: bytes) -> Optional[str]:
    import re

    match = re.search(rb"<Code>([A-Za-z0-9.]{1,64})</Code>", body)
    return match[1].decode() if match else None


def build(cfg: S3Source) -> Source:
    options: dict[str, Any] = dict(cfg.storage_options)
    if cfg.endpoint_url:
        options["endpoint_url"] = cfg.endpoint_url
    options["anon"] = cfg.anon
    config_kwargs = dict(options.pop("config_kwargs", {}))
    config_kwargs.setdefault("connect_timeout", cfg.timeout)
    config_kwargs.setdefault("read_timeout", cfg.timeout)
    # botocore's pool holds 10 connections by default, which silently capped fetch.workers and
    # fetch.connections; connections are opened only when needed, so a larger pool costs nothing.
    config_kwargs.setdefault("max_pool_connections", POOL)
    options["config_kwargs"] = config_kwargs
    if cfg.version_id:
        options["version_aware"] = True
    shown = printable(redact_url(cfg.url)) if isinstance(cfg.url, str) else "source.url"
    get_params = _get_params(shown, options)
    fs = fsspec.filesystem("s3", skip_instance_cache=True, **options)
    web = _web(cfg.timeout)
    signer = Signer(fs, cfg.endpoint_url, PRESIGNED_SECONDS)

    def one(url: str, entry: Optional[str] = None) -> S3StreamSource:
        """One object (or prefix, or glob); ``entry``: an entry of several URLs, so named."""
        parts = urlsplit(url)
        display = printable(redact_url(url))
        if parts.scheme not in ("s3", "s3a") or not parts.netloc or not parts.path.strip("/"):
            raise SourceError(f"{display}: an s3 source needs a URL like s3://bucket/key")
        if entry and parts.path.endswith("/"):
            raise SourceError(f"{display}: an entry of source.url names one object, not a prefix")
        return S3StreamSource(
            url=url,
            display=display,
            kind="s3",
            fs=fs,
            path=f"{parts.netloc}{parts.path}",
            basename=entry or basename_of(parts.path, literal=True),
            info_kwargs={"version_id": cfg.version_id} if cfg.version_id else {},
            version_id=cfg.version_id,
            endpoint_url=cfg.endpoint_url,
            web=web,
            get_params=get_params,
            signer=signer,
            # identity: the object's own bytes, so Content-Length and Range count the bytes we
            # hash.
            headers={"Accept-Encoding": "identity"},
        )

    return several(cfg.url, KIND, one) or one(cfg.url)


# What of s3fs's request-wide parameters applies to reading an object.
_GET_PARAMS = ("RequestPayer", "ExpectedBucketOwner")


def _get_params(display: str, options: dict[str, Any]) -> dict[str, Any]:
    extra = dict(options.get("s3_additional_kwargs") or {})
    if any(name.startswith("SSECustomer") for name in extra):
        # A presigned GET of an SSE-C object needs the key sent as headers as well.
        raise SourceError(
            f"{display}: objects encrypted with a customer-provided key (SSE-C, "
            "s3_additional_kwargs.SSECustomer*) are not supported"
        )
    if options.get("requester_pays"):
        extra["RequestPayer"] = "requester"
    return {k: v for k, v in extra.items() if k in _GET_PARAMS}


def _web(timeout: float) -> Any:
    """The fsspec HTTP filesystem whose aiohttp session sends the presigned GETs."""
    import aiohttp

    async def client(**kwargs: Any) -> Any:
        # As many connections as fetch.workers x fetch.connections may want (aiohttp: 100).
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=POOL), **kwargs)

    return web_filesystem(timeout, get_client=client)
