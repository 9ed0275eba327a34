"""Every check of a setting, made before the first byte is fetched and before a W&B run starts:
numeric ranges, the artifact's name and W&B options, and the folders getdata will write to.

Each failure is one line naming the key to change, raised as the one :class:`ConfigError`.
``source.url`` (and ``source.sha256`` / ``source.md5``) may name several files: their shape is
checked here (:func:`source_entries`), and so is ``fetch.max_rate`` (:func:`bytes_per_second`):
OmegaConf cannot type a union of a string, a list and a mapping, so the schema says ``Any``.

The W&B rules are W&B's own (wandb/sdk/artifacts/_validators.py, 0.31): an alias has no "/" or
":", a tag is words of letters, digits, "-" and "_" separated by single spaces. getdata adds that
an alias is not a version name ("v3": W&B assigns those) and that a Registry path has no alias
(``:x``): the link gets ``artifact.aliases``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

from ..errors import ConfigError
from ..names import UnsafeNameError, name_problem, printable, safe_relpath, url_file_name
from ..redact import redact_url
from .schema import AppConfig

# W&B's own limit on an artifact name (wandb.sdk.artifacts: NAME_MAXLEN); aliases and tags are
# held to it too.
MAX_LEN = 128
# The characters wandb accepts in an artifact name (wandb 0.31: exactly these). Checked here
# rather than by constructing a wandb.Artifact, which would import wandb (0.6 s) before the
# fetch; tests/test_wandb_failures.py fails loudly if wandb's own rule stops matching this one.
_WANDB_NAME = re.compile(r"[A-Za-z0-9._-]+")
_TAG = re.compile(r"^[-\w]+( [-\w]+)*$")
_VERSION = re.compile(r"^v\d+$")
# One part of a Registry path: an org/entity, a project (wandb-registry-<name>) or a collection.
_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

# The lowest fetch.max_rate (bytes per second) that makes sense: below it a read of one chunk
# waits for minutes.
MIN_RATE = 1024
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:ib|i|b)?(?:/s)?\s*$", re.IGNORECASE)
_HEX = {"sha256": 64, "md5": 32}

__all__ = [
    "MAX_LEN",
    "ConfigError",
    "bytes_per_second",
    "check_artifact_name",
    "check_config",
    "check_writable_folder",
    "source_entries",
]


def check_config(cfg: AppConfig) -> None:
    """Every setting of ``cfg`` that can be checked without touching a folder or the network."""
    if cfg.catalog_error:  # a catalog entry that could not be read (getdata/config/catalog.py)
        raise ConfigError(cfg.catalog_error)
    _check_ranges(cfg)
    _check_source(cfg)
    bytes_per_second(cfg.fetch.max_rate)
    _check_artifact_options(cfg)
    if cfg.artifact.name is not None:
        check_artifact_name(cfg.artifact.name)


def _at_least(key: str, value: Any, low: float, high: Optional[float] = None) -> None:
    ok = isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value))
    ok = ok and value >= low and (high is None or value <= high)
    if not ok:
        limit = f"at least {low:g}" if high is None else f"from {low:g} to {high:g}"
        raise ConfigError(f"{key}={value!r} is out of range: it must be {limit}")


def _check_ranges(cfg: AppConfig) -> None:
    """Numeric settings within the ranges that make sense."""
    fetch = cfg.fetch
    _at_least("fetch.chunk_size", fetch.chunk_size, 1024, 256 * 2**20)
    _at_least("fetch.attempts", fetch.attempts, 1, 100)
    _at_least("fetch.backoff", fetch.backoff, 0, 3600)
    _at_least("fetch.backoff_max", fetch.backoff_max, 0, 24 * 3600)
    _at_least("fetch.workers", fetch.workers, 1, 256)
    _at_least("fetch.requests", fetch.requests, 1, 256)
    _at_least("fetch.connections", fetch.connections, 0, 64)
    _at_least("fetch.max_bytes", fetch.max_bytes, 1)
    _at_least("fetch.min_free_bytes", fetch.min_free_bytes, 0)
    if fetch.deadline is not None:
        _at_least("fetch.deadline", fetch.deadline, 0.001)
    timeout = getattr(cfg.source, "timeout", None)
    if timeout is not None:
        _at_least("source.timeout", timeout, 0.001, 24 * 3600)
    _at_least("extract.max_files", cfg.extract.max_files, 1)
    _at_least("extract.max_bytes", cfg.extract.max_bytes, 1)
    _at_least("extract.max_ratio", cfg.extract.max_ratio, 1)
    _at_least("inspect.max_columns", cfg.inspect.max_columns, 0)
    inspect = cfg.inspect
    if inspect.max_memory is not None:
        # Below this a reader cannot even start (pyarrow and Python take ~0.15 GB at rest).
        _at_least("inspect.max_memory", inspect.max_memory, 256 * 2**20)
    if inspect.timeout is not None:
        _at_least("inspect.timeout", inspect.timeout, 0.1, 7 * 24 * 3600)
    if inspect.max_ratio is not None:
        _at_least("inspect.max_ratio", inspect.max_ratio, 1)
    _at_least("artifact.preview_rows", cfg.artifact.preview_rows, 0, 100_000)


def bytes_per_second(value: Any) -> Optional[float]:
    """``fetch.max_rate`` in bytes per second (None: no limit): an int, or a size such as
    ``500K``, ``50M``, ``1.5G`` (K, M, G, T are 1024-based, as in curl and rclone; ``MiB``,
    ``MB`` and a trailing ``/s`` are read the same)."""
    if value is None:
        return None
    rate: Optional[float] = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        rate = float(value)
    elif isinstance(value, str) and (match := _RATE.match(value)):
        rate = float(match[1]) * 1024 ** " kmgt".index(match[2].lower() or " ")
    if rate is None or math.isnan(rate):
        raise ConfigError(
            f"fetch.max_rate={printable(str(value))!r} is not a rate: give bytes per second as "
            "a number or a size such as 500K, 50M or 1G (1024-based), or null for no limit"
        )
    if not rate >= MIN_RATE or math.isinf(rate):
        raise ConfigError(
            f"fetch.max_rate={printable(str(value))!r} is out of range: it must be at least "
            f"{MIN_RATE} bytes per second (1K), or null for no limit"
        )
    return rate


def source_entries(value: Any) -> Optional[dict[str, str]]:
    """Several files as one artifact: ``source.url`` as a list of URLs (each entry named by its
    URL's file name) or a mapping entry name -> URL, as ``{entry name: URL}`` in the order given;
    None for one URL (a string). Anything else, an empty list, two URLs with one file name, an
    entry name that is not a safe relative file name, or one entry inside another's name
    (``a`` and ``a/b.csv``) is a :class:`ConfigError`."""
    if isinstance(value, str):
        return None
    entries: dict[str, str] = {}
    if isinstance(value, (list, tuple)):
        if not value:
            raise ConfigError("source.url is an empty list: give at least one URL")
        for url in value:
            _check_url_text(url)
            name = url_file_name(url)
            problem = name_problem(name)
            if problem:
                raise ConfigError(
                    f"source.url: the file name {printable(name)!r} of {_shown(url)} is "
                    f"refused (it has {problem}): name the entry with a mapping, "
                    "source.url={<name>: <url>, ...}"
                )
            if name in entries:
                raise ConfigError(
                    f"source.url: {_shown(entries[name])} and {_shown(url)} are both named "
                    f"{printable(name)!r}: name the entries with a mapping instead, "
                    "source.url={<name>: <url>, ...}"
                )
            entries[name] = url
    elif isinstance(value, Mapping):
        if not value:
            raise ConfigError("source.url is an empty mapping: give at least one entry name: URL")
        for name, url in value.items():
            if not isinstance(name, str):
                raise ConfigError(f"source.url: the entry name {name!r} is not a file name")
            try:
                safe_relpath(name, "source.url: the entry name")
            except UnsafeNameError as exc:
                raise ConfigError(str(exc)) from None
            _check_url_text(url, name)
            entries[name] = url
    else:
        raise ConfigError(
            f"source.url={printable(str(value))!r}: give a URL, a list of URLs or a mapping "
            "entry name -> URL"
        )
    names = set(entries)
    for name in entries:
        parts = name.split("/")
        inner = next(
            ("/".join(parts[:i]) for i in range(1, len(parts)) if "/".join(parts[:i]) in names),
            None,
        )
        if inner is not None:
            raise ConfigError(
                f"source.url: the entry {printable(inner)!r} cannot be a file and the folder "
                f"of {printable(name)!r} at once: rename one"
            )
    return entries


def _shown(url: str) -> str:
    return printable(redact_url(url))


def _check_url_text(url: Any, name: Optional[str] = None) -> None:
    if not isinstance(url, str) or not url.strip():
        where = f" of {printable(name)!r}" if name is not None else ""
        raise ConfigError(
            f"source.url: the URL{where} {printable(str(url))!r} is not a URL: give each "
            "as a string"
        )


def _check_source(cfg: AppConfig) -> None:
    """Several URLs (source.url a list or mapping) and the expected hashes, per entry."""
    source = cfg.source
    entries = source_entries(source.url) if hasattr(source, "url") else None
    if entries is not None:
        if source.extract:
            raise ConfigError(
                "source.extract=true takes one archive: give source.url one URL, not several"
            )
        if cfg.artifact.mode.value == "reference":
            raise ConfigError(
                "artifact.mode=reference takes one URL or an S3 prefix, not several URLs: "
                "log them as a copy (artifact.mode=copy)"
            )
    for key, length in _HEX.items():
        value = getattr(source, key, None)
        if value is None:
            continue
        if isinstance(value, Mapping):
            if entries is None:
                raise ConfigError(
                    f"source.{key} is a mapping, but source.url names one file: give its "
                    f"{key} as a hex string"
                )
            for name, digest in value.items():
                if name not in entries:
                    raise ConfigError(
                        f"source.{key}: {printable(str(name))!r} is no entry of source.url "
                        f"(its entries: {', '.join(printable(n) for n in list(entries)[:10])})"
                    )
                _check_hex(f"source.{key}.{name}", digest, length)
        elif entries is not None:
            raise ConfigError(
                f"source.{key}: source.url names several files: give a mapping entry name -> "
                f"{key}, e.g. source.{key}={{{printable(next(iter(entries)))}: <hex>}}"
            )
        else:
            _check_hex(f"source.{key}", value, length)


def _check_hex(key: str, value: Any, length: int) -> None:
    if not isinstance(value, str):
        raise ConfigError(
            f"{key}={value!r} is a {type(value).__name__}, not a hex string: quote it "
            f"(\"{key}='<hex>'\" on the command line)"
        )
    text = value.strip().lower()
    if len(text) != length or text.strip("0123456789abcdef"):
        raise ConfigError(f"{key}={printable(value)!r} is not {length} hex digits")


def check_artifact_name(name: str, key: str = "artifact.name") -> str:
    """A W&B artifact name that is also safe as a folder name inside the data folder (and keeps
    ``<state_dir>/<name>.json`` inside state_dir)."""
    shown = f"{key}={printable(name)!r}"
    if not name:
        raise ConfigError(f"{key} is empty: give the artifact a name")
    if len(name) > MAX_LEN:
        raise ConfigError(f"{key} is longer than W&B's {MAX_LEN} characters")
    if ":" in name:
        raise ConfigError(f"{shown} has a ':' (W&B reads it as name:alias): give the name alone")
    problem = name_problem(name)
    if problem:
        raise ConfigError(f"{shown} is refused: it has {problem}")
    if not _WANDB_NAME.fullmatch(name):
        raise ConfigError(
            f"{shown} is not a valid W&B artifact name: use letters, digits, "
            f"'-', '_' and '.', at most {MAX_LEN} characters"
        )
    return name


def _check_artifact_options(cfg: AppConfig) -> None:
    """Refuse artifact options W&B would reject, in one line naming the setting."""
    art = cfg.artifact
    for alias in art.aliases:
        _check_alias(str(alias))
    for tag in art.tags:
        tag = str(tag)
        if len(tag) > MAX_LEN or not _TAG.match(tag):
            raise ConfigError(
                f"artifact.tags: {tag!r} is not a valid tag: use letters, digits, '-' and '_', "
                "words separated by single spaces"
            )
    if art.ttl_days is not None and art.ttl_days < 1:
        raise ConfigError(
            f"artifact.ttl_days={art.ttl_days}: use a number of days >= 1, or null to keep it"
        )
    if art.link_to is not None:
        _check_link(art.link_to)
    if cfg.wandb.name is not None and (
        not cfg.wandb.name.strip() or len(cfg.wandb.name) > MAX_LEN or _control(cfg.wandb.name)
    ):
        raise ConfigError(f"wandb.name: use 1 to {MAX_LEN} printable characters")


def _check_alias(alias: str) -> None:
    if not alias or len(alias) > MAX_LEN or _control(alias) or alias != alias.strip():
        problem = f"use 1 to {MAX_LEN} printable characters"
    elif "/" in alias or ":" in alias:
        problem = "an alias cannot contain '/' or ':'"
    elif _VERSION.match(alias):
        problem = "v<N> is the version name W&B assigns itself"
    else:
        return
    raise ConfigError(f"artifact.aliases: {alias!r} is not a valid alias: {problem}")


def _check_link(path: str) -> None:
    parts = path.split("/")
    if len(parts) in (2, 3) and all(_PART.match(p) and len(p) <= MAX_LEN for p in parts):
        return
    raise ConfigError(
        f"artifact.link_to={path!r}: expected [<org>/]wandb-registry-<registry>/<collection> "
        "(letters, digits, '.', '_', '-'; the aliases come from artifact.aliases)"
    )


def _control(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def check_writable_folder(folder: Path, key: str) -> None:
    """``folder`` exists as a writable folder, or can be made: blame the folder, not the source."""
    probe = folder
    while not probe.exists():
        if probe.is_symlink():
            raise ConfigError(f"{key}={folder}: {probe} is a broken link")
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{key}={folder}: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"{key}={folder}: {probe} is not writable")
