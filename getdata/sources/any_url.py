"""Any URL fsspec understands (gs://, az://, hf://, memory://, chained zip://…::…)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import fsspec
from omegaconf import MISSING

from ..config import SourceConfig
from ..names import printable
from ..redact import redact_url
from .base import Source, basename_of

KIND = "fsspec"


@dataclass
class FsspecSource(SourceConfig):
    _target_: str = "getdata.sources.any_url.build"
    # Any URL fsspec understands (gs://, az://, memory://, zip://..., ...).
    url: str = MISSING
    # Keyword arguments for that fsspec filesystem.
    storage_options: dict[str, Any] = field(default_factory=dict)


def build(cfg: FsspecSource) -> Source:
    fs, path = fsspec.core.url_to_fs(cfg.url, **cfg.storage_options)
    return Source(
        url=cfg.url,
        display=printable(redact_url(cfg.url)),
        kind=KIND,
        fs=fs,
        path=path,
        basename=basename_of(path, literal=True),
    )
