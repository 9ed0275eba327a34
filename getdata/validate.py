"""Everything about a config that can be checked before the first byte is fetched and before a
W&B run starts: numeric ranges, the artifact name, and the folders getdata will write to.

Each failure is one line naming the key to change.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any, Optional

from .config import AppConfig
from .errors import GetDataError
from .paths import printable, safe_name

# W&B's own limit on an artifact name (wandb.sdk.artifacts: NAME_MAXLEN).
ARTIFACT_NAME_MAX = 128
# The characters wandb accepts in an artifact name (wandb 0.31: exactly these). Checked here
# rather than by constructing a wandb.Artifact, which would import wandb (0.6 s) before the
# fetch; tests/test_wandb_failures.py fails loudly if wandb's own rule stops matching this one.
_WANDB_NAME = re.compile(r"[A-Za-z0-9._-]+")


class ConfigError(GetDataError):
    """A setting that can never work, found before anything was fetched."""


def _at_least(key: str, value: Any, low: float, high: Optional[float] = None) -> None:
    ok = isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value))
    ok = ok and value >= low and (high is None or value <= high)
    if not ok:
        limit = f"at least {low:g}" if high is None else f"from {low:g} to {high:g}"
        raise ConfigError(f"{key}={value!r} is out of range: it must be {limit}")


def check_settings(cfg: AppConfig) -> None:
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
    _at_least("artifact.preview_rows", cfg.artifact.preview_rows, 0, 100_000)


def check_artifact_name(name: str, key: str = "artifact.name") -> str:
    """A W&B artifact name that is also safe as a folder name inside the data folder."""
    if not name:
        raise ConfigError(f"{key} is empty: give the artifact a name")
    if len(name) > ARTIFACT_NAME_MAX:
        raise ConfigError(f"{key} is longer than W&B's {ARTIFACT_NAME_MAX} characters")
    if ":" in name:
        raise ConfigError(
            f"{key} {printable(name)!r} has a ':' (W&B reads it as name:alias): give the name alone"
        )
    safe_name(name, key)
    if not _WANDB_NAME.fullmatch(name):
        raise ConfigError(
            f"{key}={printable(name)!r} is not a valid W&B artifact name: use letters, digits, "
            f"'-', '_' and '.', at most {ARTIFACT_NAME_MAX} characters"
        )
    return name


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
