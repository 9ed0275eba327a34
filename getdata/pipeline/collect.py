"""Collect the bytes: one file, every file of a folder source, or an archive to unpack, each
checked (inspection) before it is kept in its version folder.

A file is kept as <artifact folder>/<sha256[:16]>/<file name>, a tree as
<artifact folder>/<sha256[:16]>/<its files>; W&B reads them from there.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional

from ..config import AppConfig
from ..errors import GetDataError, IntegrityError, describe, explain
from ..formats import describe_file, describe_files
from ..names import printable
from ..sources import Source, SourceInfo
from ..store.extract import Limits as ExtractLimits
from ..store.extract import archive_kind, extract
from ..store.workspace import Workspace
from ..transfer.batch import fetch_many, suits
from ..transfer.fetch import Fetched, fetch
from ..transfer.hashing import hash_file
from ..transfer.policy import Limits, Retry
from ..transfer.progress import human_bytes
from ..transfer.stream import source_id

log = logging.getLogger("getdata")

# A folder of more files than this is told in one line, not a line per file.
MAX_FILE_LINES = 100


@dataclass
class Kept:
    """One fetched (or unpacked) file, checked and in place, with what we know about it."""

    path: Path
    name: str  # its path inside the artifact
    size: int
    sha256: str
    md5: str
    data: dict[str, Any]


def fetch_all(
    cfg: AppConfig, source: Source, members: Optional[list[Source]], workspace: Workspace
) -> tuple[list[Kept], SourceInfo]:
    """Fetch one file, every file of a folder source, or an archive to unpack; check each.

    A file is kept as <artifact folder>/<sha256[:16]>/<file name>, a tree as
    <artifact folder>/<sha256[:16]>/<its files>; W&B reads them from there.
    """
    retry = Retry(cfg.fetch.attempts, cfg.fetch.backoff, cfg.fetch.backoff_max)
    limits = Limits(cfg.fetch.max_bytes, cfg.fetch.deadline, cfg.fetch.min_free_bytes)

    def one(
        item: Source, keep: Callable[[Fetched], Path], check_hash: bool, inspect: bool
    ) -> Fetched:
        with describe(item.display):
            return fetch(
                item,
                workspace.partial(source_id(item)),
                keep,
                chunk_size=cfg.fetch.chunk_size,
                retry=retry,
                sha256=cfg.source.sha256 if check_hash else None,
                md5=cfg.source.md5 if check_hash else None,
                progress=cfg.fetch.progress,
                limits=limits,
                connections=cfg.fetch.connections,
                # The check runs on the partial: a file that fails it is never kept.
                check=(lambda path: _inspect(cfg, path, item.basename)) if inspect else None,
            )

    if members is None and not cfg.source.extract:
        fetched = one(
            source, lambda f: workspace.keep_file(f.path, f.sha256, source.basename), True, True
        )
        return [_kept(fetched, source.basename, fetched.data)], fetched.info

    # A tree is assembled in the workspace's staging folder and moved into place when complete.
    if members is not None:
        started = time.monotonic()
        fetched_files = _fetch_members(cfg, members, workspace, retry, limits, one)
        if len(members) > MAX_FILE_LINES:
            _folder_line(fetched_files, time.monotonic() - started)
        # One contained batch for the folder, before the tree is moved into place; a file that
        # fails its check is marked, or refuses the folder (inspect.in_folder).
        described = describe_files(
            [(f.path, m.basename) for m, f in zip(members, fetched_files, strict=True)],
            cfg.inspect,
        )
        # A line per file for a few files; for more, the one line above says it.
        level = logging.INFO if len(members) <= MAX_FILE_LINES else logging.DEBUG
        kept = [
            _kept(f, m.basename, data, level)
            for m, f, data in zip(members, fetched_files, described, strict=True)
        ]
        info = SourceInfo(size=sum(f.size for f in fetched_files))
    else:
        archive = one(
            source, lambda f: _move(f.path, workspace.parts / f"archive-{f.sha256}"), True, False
        )
        try:
            kept = _unpack(cfg, archive.path, source.basename, workspace.staging)
        finally:
            archive.path.unlink(missing_ok=True)
        info = archive.info
    final = workspace.keep_tree(tree_digest(kept), {k.name: k.sha256 for k in kept})
    return [replace(k, path=final / k.name) for k in kept], info


def _fetch_members(
    cfg: AppConfig,
    members: list[Source],
    workspace: Workspace,
    retry: Retry,
    limits: Limits,
    one: Callable[[Source, Callable[[Fetched], Path], bool, bool], Fetched],
) -> list[Fetched]:
    """The files of a folder source, staged under their names: the small listed ones as many
    requests at once (transfer/batch.py), the rest streamed, fetch.workers at a time
    (transfer/fetch.py)."""
    small = [m for m in members if suits(m)]
    got = fetch_many(
        [(m, workspace.staged(m.basename)) for m in small],
        requests=cfg.fetch.requests,
        retry=retry,
        limits=limits,
    )
    done = {id(m): f for m, f in zip(small, got, strict=True) if f is not None}
    rest = [m for m in members if id(m) not in done]
    with ThreadPoolExecutor(cfg.fetch.workers) as pool:
        streamed = pool.map(
            lambda m: one(m, lambda f: _move(f.path, workspace.staged(m.basename)), False, False),
            rest,
        )
        done.update((id(m), f) for m, f in zip(rest, streamed, strict=True))
    return [done[id(m)] for m in members]


def tree_digest(kept: list[Kept]) -> str:
    """A tree's digest: the sha256 of its sorted "<sha256>  <path>" lines (like sha256sum)."""
    listing = "".join(f"{k.sha256}  {k.name}\n" for k in sorted(kept, key=lambda k: k.name))
    return hashlib.sha256(listing.encode()).hexdigest()


def _unpack(cfg: AppConfig, archive: Path, name: str, staging: Path) -> list[Kept]:
    if archive_kind(name) is None:
        raise IntegrityError(f"{name}: source.extract=true, but this is not a known archive type")
    limits = ExtractLimits(cfg.extract.max_files, cfg.extract.max_bytes, cfg.extract.max_ratio)
    try:
        relpaths = extract(archive, staging, limits, name=name)
    except OSError as exc:  # a full disk or a permission problem while unpacking: one line
        raise GetDataError(f"{name}: could not unpack: {explain(exc)}") from exc
    paths = [staging / rel for rel in relpaths]
    described = describe_files(
        [(p, rel.name) for p, rel in zip(paths, relpaths, strict=True)], cfg.inspect
    )
    kept = []
    for path, rel, data in zip(paths, relpaths, described, strict=True):
        sha, md5 = hash_file(path)
        kept.append(Kept(path, rel.as_posix(), path.stat().st_size, sha, md5, data))
    return kept


def _kept(fetched: Fetched, name: str, data: dict[str, Any], level: int = logging.INFO) -> Kept:
    log.log(
        level,
        "fetched %s: %s in %.1f s (%s/s)%s",
        printable(name),
        human_bytes(fetched.size),
        fetched.seconds,
        human_bytes(fetched.size / max(fetched.seconds, 1e-9)),
        f", {fetched.attempts} attempts" if fetched.attempts > 1 else "",
    )
    return Kept(fetched.path, name, fetched.size, fetched.sha256, fetched.md5, data)


def _inspect(cfg: AppConfig, path: Path, name: str) -> dict[str, Any]:
    return describe_file(path, name, cfg.inspect)


def _folder_line(fetched: list[Fetched], seconds: float) -> None:
    size = sum(f.size for f in fetched)
    retries = sum(f.attempts - 1 for f in fetched)
    log.info(
        "fetched %d files: %s in %.1f s (%s/s)%s",
        len(fetched),
        human_bytes(size),
        seconds,
        human_bytes(size / max(seconds, 1e-9)),
        f", {retries} retries" if retries else "",
    )


def _move(path: Path, to: Path) -> Path:
    """Move a fetched file to ``to`` (in getdata's own staging or parts folder)."""
    to.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, to)
    return to
