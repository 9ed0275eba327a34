"""Keep secrets out of logs, run configs and artifact metadata.

A URL keeps its shape (scheme, host, path, harmless query) so a reader can still tell which source
it was; only the secret parts are replaced.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"

# Query parameters and mapping keys whose values are credentials. Matched case-insensitively as
# whole names or as suffixes/prefixes (X-Amz-Signature, access_token, sig, ...).
_SECRET_NAME = re.compile(
    r"(^|[-_.])(sig|signature|token|secret|password|passwd|pwd|key|apikey|api_key|credential|"
    r"credentials|auth|authorization|cookie|session|security-token)$|^x-amz-|^x-goog-|^aws_",
    re.IGNORECASE,
)
# Header names that carry credentials.
_SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}


def is_secret_name(name: str) -> bool:
    """True for a header, query parameter or option name that holds a credential."""
    lowered = name.lower()
    if lowered in _SECRET_HEADERS:
        return True
    # Storage options such as key/secret/token (s3fs) and client_kwargs' aws_* entries.
    return bool(_SECRET_NAME.search(lowered))


def redact_url(url: str) -> str:
    """The URL without user:password and without the values of secret query parameters."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, MASK if is_secret_name(k) else v) for k, v in pairs], safe="*", doseq=False
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact(value: Any, key: str = "") -> Any:
    """A copy of a config-like value (dicts, lists, strings) with every secret masked."""
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v, key) for v in value]
    if key and is_secret_name(key) and value is not None:
        return MASK
    if isinstance(value, str) and "://" in value:
        return redact_url(value)
    return value


_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>\]\[,]+")

# Three shapes in which a secret's name stands before its value: a command-line override
# (`+source.headers.Authorization='Bearer x'`), a YAML line (`  Authorization: Bearer x`) and a
# Python mapping (`{'Authorization': 'Bearer x'}`). The value is masked when the key (its last
# dotted part) names a secret.
_ASSIGN = re.compile(
    r"(?P<key>[+~]?[A-Za-z_][\w.-]*)(?P<sep>=)(?P<value>'[^']*'|\"[^\"]*\""
    # unquoted: words up to the next `key=` word (a header value like `Bearer abc` has a space)
    r"|[^\s,\]'\"]+(?:\s+(?![+~]?[A-Za-z_][\w.-]*=)[^\s,\]'\"]+)*)"
)
_YAML = re.compile(
    r"^(?P<key>[ \t]*(?:-[ \t]+)?[A-Za-z_][\w.-]*)(?P<sep>:[ \t]+)(?P<value>\S.*)$", re.M
)
_MAPPING = re.compile(
    r"(?P<key>['\"][\w.-]+['\"])(?P<sep>\s*:\s*)(?P<value>'[^']*'|\"[^\"]*\"|[^\s,}]+)"
)


def _mask_pair(match: re.Match[str]) -> str:
    key = match["key"].strip().strip("'\"").lstrip("+~-").strip().rsplit(".", 1)[-1]
    if is_secret_name(key):
        return f"{match['key']}{match['sep']}{MASK}"
    return match.group(0)


def redact_text(text: str) -> str:
    """Free text (log lines, saved overrides, error messages) with secrets masked."""
    text = _URL.sub(lambda m: redact_url(m.group(0)), text)
    for pattern in (_ASSIGN, _YAML, _MAPPING):
        text = pattern.sub(_mask_pair, text)
    return text


class RedactFilter(logging.Filter):
    """A logging filter that masks secrets in every record (used by Hydra's logging config)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True
