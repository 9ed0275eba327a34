"""Archives: which names are archives getdata unpacks, and the cheap check of one kept as is."""

from __future__ import annotations

import zipfile
from typing import Optional

# Longest suffix first: ".tar.gz" before ".gz".
ARCHIVE_SUFFIXES: tuple[tuple[str, str], ...] = (
    (".tar.gz", "tar.gz"),
    (".tgz", "tar.gz"),
    (".tar.bz2", "tar.bz2"),
    (".tbz2", "tar.bz2"),
    (".tar.xz", "tar.xz"),
    (".txz", "tar.xz"),
    (".tar", "tar"),
    (".zip", "zip"),
    (".gz", "gz"),
)


def archive_kind(name: str) -> Optional[str]:
    """ "zip", "tar", "tar.gz", "tar.bz2", "tar.xz", "gz" (a single gzip file) or None, by name."""
    lower = name.lower()
    for suffix, kind in ARCHIVE_SUFFIXES:
        if lower.endswith(suffix):
            return kind
    return None


def archive_stem(name: str) -> str:
    """The name without its archive suffix: songs.tar.gz -> songs."""
    lower = name.lower()
    for suffix, _ in ARCHIVE_SUFFIXES:
        if lower.endswith(suffix):
            return name[: -len(suffix)] or name
    return name


def check_zip(path: str) -> dict[str, int]:
    """A zip's central directory must read (what a truncated or HTML 'zip' fails); its size."""
    with zipfile.ZipFile(path) as archive:
        return {"members": len(archive.infolist())}
