"""What went wrong, in the user's words: error types, transient-or-permanent, and one-line messages.

``GetDataError`` derives from Hydra's ``CompactHydraException`` so that Hydra prints just the
message (one line) instead of a traceback; ``HYDRA_FULL_ERROR=1`` still shows the full traceback.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional

from hydra.errors import CompactHydraException

from .redact import redact_text

# HTTP statuses worth another try: the server is busy or briefly broken, not the request wrong.
TRANSIENT_STATUSES = {408, 425, 429, 500, 502, 503, 504}


# Set by getdata's entry point when it asked Hydra to raise instead of printing (so that it can
# print Hydra's own errors in one line): HYDRA_FULL_ERROR=1 then no longer means the user asked.
BRIEF_ERRORS_ENV = "GETDATA_BRIEF_ERRORS"


def full_errors() -> bool:
    """True when the user asked for full tracebacks (HYDRA_FULL_ERROR=1)."""
    return os.environ.get("HYDRA_FULL_ERROR") == "1" and os.environ.get(BRIEF_ERRORS_ENV) != "1"


class GetDataError(CompactHydraException):
    """A fetch or log failed for a reason we can explain in one line."""


class ConfigError(GetDataError):
    """A setting that can never work (an override, a value out of range, a name W&B would
    refuse, an unusable folder), found before anything was fetched. The one class for every
    invalid setting, from the CLI and the Python API alike (``getdata.ConfigError``)."""


class SourceError(GetDataError):
    """The source could not be opened or read (not found, forbidden, unreachable, ...)."""


class NotFound(SourceError):
    """The source has no such file, key or object (HTTP 404, S3 NoSuchKey, a missing path)."""


class IsAFolder(SourceError):
    """The source names a folder (or an S3 prefix) where one file was expected."""


class IntegrityError(GetDataError):
    """The bytes that arrived are not the bytes we were promised (checksum, length, format)."""


class TruncatedError(IntegrityError):
    """The body ended before (or after) the length the source announced; worth a retry."""


def chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and its causes, outermost first (fsspec hides the real cause in __cause__)."""
    seen: set[int] = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def http_status(exc: BaseException) -> Optional[int]:
    for item in chain(exc):
        status = getattr(item, "status", None)
        if isinstance(status, int) and 100 <= status < 600:
            return status
    return None


def _aws_code(exc: BaseException) -> Optional[str]:
    for item in chain(exc):
        response = getattr(item, "response", None)
        if isinstance(response, dict):
            code = response.get("Error", {}).get("Code")
            if code:
                return str(code)
    return None


def _connect_failure(exc: BaseException) -> Optional[str]:
    """'dns' or 'refused' when the connection could not even be made, else None."""
    for item in chain(exc):
        name = type(item).__name__
        if name == "ClientConnectorDNSError" or "Name or service not known" in str(item):
            return "dns"
        if isinstance(item, ConnectionRefusedError) or "Connection refused" in str(item):
            return "refused"
    return None


def is_transient(exc: BaseException) -> bool:
    """True when the same request may well succeed if we wait and try again."""
    if isinstance(exc, TruncatedError):
        return True
    if isinstance(exc, GetDataError):
        return False
    status = http_status(exc)
    if status is not None:
        return status in TRANSIENT_STATUSES
    if _aws_code(exc) in {"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable"}:
        return True
    if _connect_failure(exc):
        return False
    for item in chain(exc):
        if isinstance(item, (FileNotFoundError, PermissionError, IsADirectoryError)):
            return False
        if isinstance(item, (TimeoutError, asyncio.TimeoutError, ConnectionError)):
            return True
        name = type(item).__name__
        # aiohttp's and botocore's names for "the connection broke while reading".
        if name in {
            "ClientPayloadError",
            "ServerDisconnectedError",
            "ClientOSError",
            "ContentLengthError",
            "TransferEncodingError",
            "ResponseStreamingError",
            "ReadTimeoutError",
            "ConnectTimeoutError",
            "EndpointConnectionError",
            "IncompleteReadError",
        }:
            return True
    return False


def retry_after(exc: BaseException) -> Optional[float]:
    """Seconds the server asked us to wait (Retry-After in seconds), if it said."""
    for item in chain(exc):
        headers = getattr(item, "headers", None)
        value = headers.get("Retry-After") if headers is not None else None
        if value is not None:
            try:
                return max(0.0, float(value))
            except ValueError:
                return None  # an HTTP date: rare; fall back to our own backoff
    return None


def explain(exc: BaseException) -> str:
    """The cause in plain words, with a hint where we have one."""
    status = http_status(exc)
    code = _aws_code(exc)
    connect = _connect_failure(exc)
    if isinstance(exc, GetDataError):
        return str(exc)
    if extra := missing_extra(exc):
        return extra
    if code in {"NoSuchBucket"}:
        return "no such bucket: check the bucket name and source.endpoint_url"
    if code in {"NoSuchKey", "404"}:
        return "no such key in the bucket: check the key"
    if code in {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403"}:
        return f"access denied ({code}): check the AWS credentials, or source.anon=true"
    if code in {"PermanentRedirect", "AuthorizationHeaderMalformed", "301", "307"}:
        return (
            "the bucket is in another region: set "
            "source.storage_options.client_kwargs.region_name to its region"
        )
    if status in (401, 403):
        return f"access denied (HTTP {status}): check the credentials or source.headers"
    if status == 404:
        return "not found (HTTP 404): check the URL"
    if status == 429:
        return "rate limited (HTTP 429): the server asks us to slow down; try again later"
    if status is not None:
        return f"the server answered HTTP {status}"
    if connect == "dns":
        return "unknown host: check the host name in the URL"
    if connect == "refused":
        return "connection refused: is the server running, and is the port right?"
    for item in chain(exc):
        name = type(item).__name__
        if name == "NoCredentialsError":
            return (
                "no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
                "or AWS_PROFILE, or use source.anon=true for a public bucket"
            )
        if isinstance(item, IsADirectoryError):
            return "is a directory, not a file"
        if isinstance(item, FileNotFoundError):
            return "not found: check the path or URL"
        if isinstance(item, PermissionError):
            return "permission denied: check the credentials or file permissions"
        if isinstance(item, (TimeoutError, asyncio.TimeoutError)):
            return "timed out: the server did not answer in time (see source.timeout)"
        if isinstance(item, ConnectionError) or name in {
            "ClientPayloadError",
            "ServerDisconnectedError",
        }:
            return "the connection broke while reading"
    innermost = list(chain(exc))[-1]
    text = str(innermost).strip().splitlines()[0] if str(innermost).strip() else ""
    return f"{type(innermost).__name__}: {text}" if text else type(innermost).__name__


def failed(where: str, exc: BaseException, tries: int = 1) -> SourceError:
    """The one line for a failure at ``where``: its cause explained, secrets masked, and how many
    tries it took when there were more than one."""
    after = f" (gave up after {tries} attempts)" if tries > 1 else ""
    kind = NotFound if _not_found(exc) else SourceError
    return kind(redact_text(f"{where}: {explain(exc)}{after}"))


def _not_found(exc: BaseException) -> bool:
    if isinstance(exc, NotFound) or http_status(exc) == 404:
        return True
    if _aws_code(exc) in {"NoSuchKey", "404"}:
        return True
    return any(isinstance(item, FileNotFoundError) for item in chain(exc))


@contextmanager
def describe(source: str) -> Iterator[None]:
    """Turn a low-level failure while reading ``source`` into a one-line :class:`SourceError`."""
    try:
        yield
    except GetDataError:
        raise
    except Exception as exc:
        raise failed(source, exc) from exc


# ---------------------------------------------------------------------------------------------
# Optional fsspec back-ends: a missing one is one line naming the getdata extra to install.
# fsspec raises ImportError ("Install huggingface_hub to access HfFileSystem") when a URL's
# protocol needs a package that is not installed; its cause names the missing module.
# ---------------------------------------------------------------------------------------------

# Top-level module of an fsspec implementation -> (extra that installs it, URL schemes).
EXTRAS: dict[str, tuple[str, str]] = {
    "huggingface_hub": ("hf", "hf://"),
    "gcsfs": ("gcs", "gs://, gcs://"),
    "adlfs": ("azure", "az://, abfs://, abfss://"),
}


class MissingExtraError(GetDataError):
    """The source needs an optional dependency that is not installed."""


def missing_extra(exc: BaseException) -> Optional[str]:
    """One line naming the extra to install, when ``exc`` is a missing optional back-end."""
    for item in chain(exc):
        if not isinstance(item, ImportError):
            continue
        named = (item.name or "").split(".")[0]
        # fsspec's own ImportError has no .name, only the package in its message.
        module = named if named in EXTRAS else next((m for m in EXTRAS if m in str(item)), None)
        if module is not None:
            extra, schemes = EXTRAS[module]
            return f"{schemes} URLs need {module}: pip install 'getdata[{extra}]'"
    return None


@contextmanager
def needs_extra() -> Iterator[None]:
    """Turn fsspec's ImportError for a known optional back-end into a one-line GetDataError."""
    try:
        yield
    except ImportError as exc:
        message = missing_extra(exc)
        if message is None:
            raise
        raise MissingExtraError(message) from exc
