"""Several files as one artifact: ``source.url`` as a list of URLs (each entry named by its URL's
file name) or a mapping entry name -> URL, for http(s), s3 and any fsspec URL.

Each entry is a source of its kind, named by its entry (``basename``); together they are one
:class:`Several`, whose members are the entries, so the pipeline treats them as the files of a
folder: one folder artifact (tree digest, a line of metadata per file), check_only,
skip_unchanged, the incremental refresh and schema drift per entry. The shape of ``source.url``
is checked before any request (getdata/config/checks.py, :func:`source_entries`).

HTTP has no listing: what each entry's version is now is asked only when it is needed (check_only,
skip_unchanged, a refresh that has a version to reuse from), with one stat per entry
(:func:`stat_unlisted`); a first fetch sends no request but the GETs.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Optional
from urllib.parse import urlsplit

from ..config.checks import source_entries
from ..errors import IsAFolder, describe
from ..names import name_problem
from .base import Source, SourceInfo

# Entries asked at once when their versions are needed (a HEAD each for http(s) and S3).
STAT_WORKERS = 16


@dataclass
class Several(Source):
    """The files ``source.url`` names, one entry each, logged as one folder artifact."""

    entries: list[Source] = field(default_factory=list)

    def members(self) -> Optional[list[Source]]:
        return list(self.entries)

    def folder(self) -> list[Source]:
        return list(self.entries)

    def stat(self) -> SourceInfo:
        raise IsAFolder(f"{self.display}: names {len(self.entries)} files, not one")


def several(url: Any, kind: str, one: Callable[[str, str], Source]) -> Optional[Several]:
    """The entries ``url`` names when it is a list or mapping (None for one URL), each built by
    ``one(url, entry name)``."""
    entries = source_entries(url)
    if entries is None:
        return None
    members = [one(u, name) for name, u in entries.items()]
    if isinstance(url, dict):
        shown = ", ".join(f"{name}: {m.display}" for name, m in zip(entries, members, strict=True))
        display = f"{{{shown}}}"
    else:
        display = f"[{', '.join(m.display for m in members)}]"
    return Several(
        url=display,
        display=display,
        kind=kind,
        fs=members[0].fs,
        path="",
        basename=_common_folder(list(entries.values())),
        entries=members,
    )


def _common_folder(urls: list[str]) -> str:
    """What several URLs are named after (the artifact's default name): the last part of the
    deepest folder they all share (an S3 bucket counts as a folder), else "data"."""
    folders = []
    for url in urls:
        parts = urlsplit(url.split("::", 1)[0])
        path = parts.path if parts.scheme in ("http", "https") else f"{parts.netloc}{parts.path}"
        folders.append([p for p in path.split("/")[:-1] if p])
    shared = []
    for level in zip(*folders, strict=False):
        if len(set(level)) != 1:
            break
        shared.append(level[0])
    name = shared[-1] if shared else ""
    return name if name and not name_problem(name) else "data"


def stat_unlisted(members: list[Source], workers: int = STAT_WORKERS) -> list[Source]:
    """``members`` with what each says of its version now, for those no listing described (the
    entries of several URLs): one stat each (a HEAD for http(s) and S3), ``workers`` at once."""
    todo = [i for i, m in enumerate(members) if m.listed is None]
    if not todo:
        return members

    def ask(member: Source) -> SourceInfo:
        with describe(member.display):
            return member.stat()

    with ThreadPoolExecutor(max(1, min(workers, len(todo)))) as pool:
        infos = list(pool.map(ask, [members[i] for i in todo]))
    out = list(members)
    for i, info in zip(todo, infos, strict=True):
        out[i] = replace(members[i], listed=info)
    return out
