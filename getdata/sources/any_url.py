"""Any URL fsspec understands (gs://, az://, hf://, memory://, chained zip://…::…)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import fsspec
from omegaconf import MISSING

from ..config import SourceConfig
from ..names import printable
from ..redact import redact_url
from .base import Source, basename_of
from .several import several

KIND = "fsspec"


@dataclass
class FsspecSource(SourceConfig):
    _target_: str = "getdata.sources.any_url.build"
    # Any URL fsspec understands (gs://, az://, memory://, zip://..., ...); several files as one
    # artifact: a list of URLs, or a mapping entry name -> URL.
    url: Any = MISSING
    # Keyword arguments for that fsspec filesystem.
    storage_options: dict[str, Any] = field(default_factory=dict)


def build(cfg: FsspecSource) -> Source:
    def one(url: str, entry: Optional[str] = None) -> Source:
        fs, path = fsspec.core.url_to_fs(url, **cfg.storage_options)
        return Source(
            url=url,
            display=printable(redact_url(url)),
            kind=KIND,
            fs=fs,
            path=path,
            basename=entry or basename_of(path, literal=True),
        )

    return several(cfg.url, KIND, one) or one(cfg.url)
