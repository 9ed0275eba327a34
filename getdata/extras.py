"""Optional fsspec back-ends: a missing one is one line naming the getdata extra to install.

fsspec raises ImportError ("Install huggingface_hub to access HfFileSystem") when a URL's
protocol needs a package that is not installed; its cause names the missing module.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional

from .errors import GetDataError, chain

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
