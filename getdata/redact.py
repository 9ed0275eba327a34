"""Keep secrets out of logs, run configs, saved configs and artifact metadata.

Masking works on structures where there are structures: a mapping's value is masked when its key
names a credential, every value of a ``headers`` mapping is masked (a header's name does not say
whether its value is a secret: ``X-Upstream-Session``) but those of a few harmless headers
(``HARMLESS_HEADERS``), a URL loses its ``user:password@`` and the values of its secret query
parameters at every level of an fsspec chain (``simplecache::http://u:p@h/x``), and a string is
masked where it has the shape of a credential (``Bearer …``, a JWT, an AWS key id, an Azure
``AccountKey=``). Free text (log lines, error messages, command-line overrides) gets the same
rules through :func:`redact_text`. A URL keeps its shape (scheme, host, path, harmless query) so a
reader can still tell which source it was, and a value given as ``${oc.env:NAME}`` stays that
reference: it names where the secret is, not the secret.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

MASK = "***"

# Names (of mapping keys, headers, query parameters, storage options) whose values are
# credentials, compared lower-cased with '-' read as '_'. Exact names first; then the endings
# that make a name a credential (``aws_secret_access_key``, ``client_secret``, ``x_amz_signature``).
# Deliberately not here: a bare ``_key`` ending (``primary_key``, ``sort_key`` are user data) and
# ``session`` (``session=spring-2024``); ``key`` alone is s3fs's access key id.
_SECRET_NAMES = {
    "key",
    "secret",
    "token",
    "password",
    "passwd",
    "pwd",
    "pass",
    "passphrase",
    "sig",
    "signature",
    "jwt",
    "auth",
    "authorization",
    "proxy_authorization",
    "authentication",
    "cookie",
    "set_cookie",
    "credential",
    "credentials",
    "apikey",
    "api_key",
    "x_api_key",
    "private_token",
    "job_token",
    "x_auth_token",
    "x_access_token",
    "accountkey",
    "account_key",
    "sas_token",
    "sharedaccesssignature",
    "sharedaccesskey",
    "client_secret",
    "ocp_apim_subscription_key",
}
_SECRET_ENDINGS = (
    "_token",
    "_secret",
    "_password",
    "_passwd",
    "_passphrase",
    "_signature",
    "_sig",
    "_apikey",
    "_api_key",
    "_access_key",
    "_secret_key",
    "_private_key",
    "_account_key",
    "_access_key_id",
    "_secret_access_key",
    "_credential",
    "_credentials",
    "_auth",
)
# Query parameters only: OAuth's authorization `code` is a credential in a URL, while a config
# key named `code` is usually just a code.
_SECRET_QUERY_NAMES = {"code", "access_token", "id_token", "refresh_token"}


# Request headers whose values are never credentials; every other header's value is masked,
# whatever its name (compared like the names above).
HARMLESS_HEADERS = {
    "accept",
    "accept_charset",
    "accept_encoding",
    "accept_language",
    "cache_control",
    "connection",
    "content_type",
    "if_match",
    "if_modified_since",
    "if_none_match",
    "if_range",
    "pragma",
    "range",
    "user_agent",
}


def _normal(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def is_secret_name(name: str) -> bool:
    """True for a header, option or mapping key whose value is a credential."""
    lowered = _normal(name)
    return lowered in _SECRET_NAMES or lowered.endswith(_SECRET_ENDINGS)


def is_secret_at(parent: str, name: str) -> bool:
    """True when the value of ``name`` inside the mapping ``parent`` is a credential: its name
    says so, or it is a header (the mapping is named ``headers``) other than a harmless one."""
    if is_secret_name(name):
        return True
    return _normal(parent) == "headers" and _normal(name) not in HARMLESS_HEADERS


def is_secret_query_name(name: str) -> bool:
    """True for a URL query parameter whose value is a credential."""
    return is_secret_name(name) or _normal(name) in _SECRET_QUERY_NAMES


# A value that only refers to where the secret is (an environment variable, another key):
# saved as written, so a saved config can be run again.
_REFERENCE = re.compile(r"\$\{(?:oc\.env:[A-Za-z_][A-Za-z0-9_]*(?:,null)?|[A-Za-z_][\w.]*)\}")
# What may stand around a reference in a credential value: `Bearer ${oc.env:API_TOKEN}`.
_SCHEME_WORD = re.compile(r"^(?:bearer|basic|token|digest|apikey)?$", re.IGNORECASE)


def is_reference(value: str) -> bool:
    """True when a credential value only names where the secret is (``${oc.env:NAME}``)."""
    if not _REFERENCE.search(value):
        return False
    return bool(_SCHEME_WORD.match(_REFERENCE.sub("", value).strip().strip("'\"").strip()))


def _mask_value(value: Any) -> Any:
    if value is None or value == "" or (isinstance(value, str) and is_reference(value)):
        return value
    return MASK


# ---------------------------------------------------------------------------------------------
# URLs
# ---------------------------------------------------------------------------------------------


def _mask_pairs(text: str) -> str:
    """`a=1&token=x` -> `a=1&token=***`: only secret values change, the rest stays as written."""
    pairs = []
    for pair in text.split("&"):
        name, sep, value = pair.partition("=")
        if sep and value and is_secret_query_name(unquote_plus(name)):
            value = MASK
        pairs.append(f"{name}{sep}{value}")
    return "&".join(pairs)


def _redact_one_url(url: str) -> str:
    if "://" not in url:
        return url  # a chain's `simplecache` or `zip` part, or a plain path
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    query = _mask_pairs(parts.query) if parts.query else ""
    # OAuth's implicit flow puts the token in the fragment: `#access_token=…`.
    fragment = _mask_pairs(parts.fragment) if "=" in parts.fragment else parts.fragment
    if (netloc, query, fragment) == (parts.netloc, parts.query, parts.fragment):
        return url  # nothing secret: exactly as written (urlunsplit would drop an empty `?`)
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def redact_url(url: str) -> str:
    """The URL without user:password and without the values of secret query parameters, at
    every level of an fsspec chain (``zip://a.csv::simplecache::http://u:p@h/b.zip``)."""
    return "::".join(_redact_one_url(part) for part in url.split("::"))


# ---------------------------------------------------------------------------------------------
# Credential shapes in any string
# ---------------------------------------------------------------------------------------------

_SHAPES = [
    # HTTP auth schemes: keep the scheme word, mask the credential (one with a digit, so that
    # prose such as "Basic statistics" stays).
    (
        re.compile(r"\b(Bearer|Basic|Token|Digest)\s+(?=[^\s]*\d)[A-Za-z0-9._~+/=:-]{6,}"),
        r"\1 ***",
    ),
    # JSON Web Tokens.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), MASK),
    # AWS access key ids.
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), MASK),
    # GitHub, GitLab, Slack, Hugging Face tokens.
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}|glpat-[\w-]{20,})"), MASK),
    (re.compile(r"\b(?:xox[abprs]-[\w-]{10,}|hf_[A-Za-z0-9]{30,})"), MASK),
    # Azure connection strings: `AccountKey=…;`, `SharedAccessSignature=…`, `SharedAccessKey=…`.
    (
        re.compile(
            r"\b(AccountKey|SharedAccessSignature|SharedAccessKey|Password|Pwd)=(?!\*\*\*)[^;\s'\"]+",
            re.IGNORECASE,
        ),
        r"\1=***",
    ),
]


def _redact_shapes(text: str) -> str:
    for pattern, replacement in _SHAPES:
        text = pattern.sub(replacement, text)
    return text


_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>\]\[,]+")

# Three shapes in which a secret's name stands before its value: a command-line override
# (`+source.headers.Authorization='Bearer x'`), a YAML line (`  Authorization: Bearer x`) and a
# Python mapping (`{'Authorization': 'Bearer x'}`). The value is masked when the key (its last
# dotted part) names a secret. None of them reaches past the end of its line.
_ASSIGN = re.compile(
    r"(?P<key>[+~]?[A-Za-z_][\w.-]*)(?P<sep>=)(?P<value>'[^'\n]*'|\"[^\"\n]*\""
    # unquoted: words up to the next `key=` word (a header value like `Bearer abc` has a space)
    r"|[^\s,\]'\"&;]+(?:[ \t]+(?![+~]?[A-Za-z_][\w.-]*=)[^\s,\]'\"&;]+)*)"
)
_YAML = re.compile(
    r"^(?P<key>[ \t]*(?:-[ \t]+)?[A-Za-z_][\w.-]*)(?P<sep>:[ \t]+)(?P<value>\S.*)$", re.M
)
_MAPPING = re.compile(
    r"(?P<key>['\"][\w.-]+['\"])(?P<sep>\s*:\s*)(?P<value>'[^'\n]*'|\"[^\"\n]*\"|[^\s,}]+)"
)


def _mask_pair(match: re.Match[str]) -> str:
    # A dotted key (an override: source.headers.X-Session) says where the value sits.
    path = match["key"].strip().strip("'\"").lstrip("+~-").strip().rsplit(".", 2)
    parent, key = (path[-2] if len(path) > 1 else ""), path[-1]
    value = match["value"]
    secret = is_secret_at(parent, key)
    if secret and value.strip("'\"") not in ("", MASK) and not is_reference(value):
        return f"{match['key']}{match['sep']}{MASK}"
    return match.group(0)


def redact_text(text: str) -> str:
    """Free text (log lines, command-line overrides, error messages) with secrets masked."""
    text = _URL.sub(lambda m: redact_url(m.group(0)), text)
    text = _redact_shapes(text)
    for pattern in (_ASSIGN, _YAML, _MAPPING):
        text = pattern.sub(_mask_pair, text)
    return text


# ---------------------------------------------------------------------------------------------
# Structures
# ---------------------------------------------------------------------------------------------


def redact(value: Any, key: str = "", parent: str = "") -> Any:
    """A copy of a config-like value (mappings, lists, strings) with every secret masked.

    A mapping value is masked whole when its key names a credential or it is a header's
    (:func:`is_secret_at`); any other string is masked where it holds a URL's credentials or a
    credential's shape. Keys, numbers and non-secret strings (``primary_key: song_id``) come
    back as they were; a ``${oc.env:NAME}`` reference stays a reference.
    """
    if isinstance(value, dict):
        return {k: redact(v, str(k), key) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v, key, parent) for v in value]
    if key and is_secret_at(parent, key) and not isinstance(value, bool):
        return _mask_value(value)
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Artifact metadata with credentials masked, except the description of the data itself
    (``data``, and each ``files[i].data``): column names and values are data, not configuration,
    and a value such as ``token=abc`` in a column must reach W&B as it is in the file."""
    masked = redact({k: v for k, v in metadata.items() if k not in ("data", "files")})
    if "data" in metadata:
        masked["data"] = metadata["data"]
    if isinstance(metadata.get("files"), list):
        masked["files"] = [_redact_entry(f) for f in metadata["files"]]
    return {k: masked[k] for k in metadata if k in masked}


def _redact_entry(entry: Any) -> Any:
    if not isinstance(entry, dict) or "data" not in entry:
        return redact(entry)
    masked = redact({k: v for k, v in entry.items() if k != "data"})
    masked["data"] = entry["data"]
    return masked


class RedactFilter(logging.Filter):
    """A logging filter that masks secrets in every record (used by Hydra's logging config)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True
