"""HTTP(S): GETs whose redirects are followed here, so credentials keep to their origin."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional
from urllib.parse import urljoin, urlsplit

import fsspec
from omegaconf import MISSING

from ..config import SourceConfig
from ..errors import SourceError
from ..names import printable, safe_name, url_file_name
from ..redact import is_secret_name, redact_url
from .base import Source
from .several import several

KIND = "http"


@dataclass
class HttpSource(SourceConfig):
    _target_: str = "getdata.sources.http.build"
    # http:// or https:// URL. Quote it on the command line if it has `=`, `&`, `#` or `~`.
    # Several files as one artifact: a list of URLs (each entry named by its URL's file name),
    # or a mapping entry name -> URL. (Typed Any: config/checks.py checks the shape.)
    url: Any = MISSING
    # Extra request headers, e.g. Authorization. Their values are never logged or sent to W&B.
    headers: dict[str, str] = field(default_factory=dict)
    # Seconds to wait for the connection and for each read before giving up.
    timeout: float = 60.0


MAX_REDIRECTS = 10


@dataclass
class GetSource(Source):
    """A source read with plain HTTP GETs on fsspec's event loop, whose response headers also
    answer stat(): http(s) URLs, and S3 objects through presigned URLs (s3.py).

    A kind gives ``request`` (one GET, redirects handled its own way) and the header that pins a
    resumed or partial GET to the version already read: ``If-Range`` (a changed object answers
    200, all of it) or ``If-Match`` (it answers 412). Reading and checking the answers is the
    transfer's job (getdata/transfer/).
    """

    # Sent with every GET.
    headers: dict[str, str] = field(default_factory=dict)
    pin_header: ClassVar[str] = "If-Range"

    def part_headers(self, first: int, last: int, validator: str) -> dict[str, str]:
        """Headers for bytes ``first``-``last`` (inclusive) of the version ``validator`` names."""
        return {**self.headers, "Range": f"bytes={first}-{last}", self.pin_header: validator}

    async def request(self, headers: dict[str, str]) -> Any:
        """One GET with ``headers``, on the filesystem's event loop: the aiohttp response."""
        raise NotImplementedError

    def serves_ranges(self, response: Any) -> bool:
        """The server says it serves byte ranges of this object."""
        return response.headers.get("Accept-Ranges", "").strip().lower() == "bytes"


@dataclass
class HttpStreamSource(GetSource):
    """HTTP(S): one streaming GET whose response headers also answer stat().

    fsspec's HTTP open() would first ask info() (a HEAD, and a GET more when the server sends no
    Content-Length); the GET we stream already carries those headers, so we take them from it.
    Redirects are followed here, not by aiohttp, so that credentials in headers never reach
    another origin.
    """

    def members(self) -> Optional[list[Source]]:
        return None  # HTTP has no listing: a URL is one file, never a glob

    def reference(self) -> tuple[str, dict[str, str]]:
        return self.url, {}

    async def request(self, headers: dict[str, str]) -> Any:
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


def build(cfg: HttpSource) -> Source:
    fs = web_filesystem(cfg.timeout)
    # identity: the file's own bytes, so Content-Length and Range count the bytes we hash.
    headers = {"Accept-Encoding": "identity", **cfg.headers}
    return several(cfg.url, KIND, lambda url, name: _one(url, name, fs, headers)) or _one(
        cfg.url, None, fs, headers
    )


def _one(url: str, name: Optional[str], fs: Any, headers: dict[str, str]) -> HttpStreamSource:
    """One URL, named ``name`` (an entry of several URLs), else by its file name."""
    display = printable(redact_url(url))
    if urlsplit(url).scheme not in ("http", "https"):
        raise SourceError(f"{display}: an http source needs an http:// or https:// URL")
    return HttpStreamSource(
        url=url,
        display=display,
        kind="http",
        fs=fs,
        path=url,
        basename=name or safe_name(url_file_name(url), "the URL's file name"),
        headers=dict(headers),
    )


def web_filesystem(timeout: float, **options: Any) -> Any:
    """An fsspec HTTP filesystem whose aiohttp session gives up on a connect or a read after
    ``timeout`` seconds; ``options`` go to fsspec (e.g. ``get_client``)."""
    import aiohttp

    return fsspec.filesystem(
        "http",
        # The bytes as published: a Content-Encoding the server applies anyway is kept, not
        # decoded, so Content-Length, Range offsets and the hashes all count the same bytes.
        client_kwargs={
            "timeout": aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout),
            "auto_decompress": False,
        },
        # A new filesystem per run: fsspec would otherwise reuse an instance (and its session)
        # across datasets of one process.
        skip_instance_cache=True,
        **options,
    )
