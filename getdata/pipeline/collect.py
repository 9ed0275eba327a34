"""Collect the bytes: one file, every file of a folder source, or an archive to unpack, each
checked (inspection) before it is kept in its version folder.

A file is kept as <artifact folder>/<sha256[:16]>/<file name>, a tree as
<artifact folder>/<sha256[:16]>/<its files>; W&B reads them from there.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Optional

from ..config import VERSION, AppConfig
from ..config.checks import bytes_per_second
from ..errors import GetDataError, IntegrityError, describe, explain
from ..formats import Options, describe_file, describe_files
from ..names import printable
from ..sources import Source, SourceInfo
from ..sources.several import Several, stat_unlisted
from ..store.extract import Limits as ExtractLimits
from ..store.extract import archive_kind, extract
from ..store.keep import listing_digest
from ..store.workspace import Workspace
from ..transfer.batch import fetch_many, suits
from ..transfer.fetch import Fetched, fetch
from ..transfer.hashing import hash_file
from ..transfer.policy import Limits, Retry
from ..transfer.progress import files_line, human_bytes
from ..transfer.rate import Rate
from ..transfer.stream import source_id
from .refresh import Previous, compare, previous_version, unproven
from .state import State, fingerprint

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
    # An entry of several URLs: its URL and what the source said of it (the metadata's "files").
    origin: Optional[dict[str, Any]] = None


@dataclass
class Collected:
    """What was kept, what the source said of it, and for a folder what the next refresh
    compares with."""

    kept: list[Kept]
    info: SourceInfo
    # A folder's record: per file, what identified its version as kept ([name, fingerprint or
    # None], in the listing's order); None for one file or an archive.
    fingerprint: Optional[dict[str, Any]] = None
    # The metadata key "refresh" (None: nothing was compared with an earlier version).
    refresh: Optional[dict[str, Any]] = None


def fetch_all(
    cfg: AppConfig,
    source: Source,
    members: Optional[list[Source]],
    workspace: Workspace,
    state: Optional[State] = None,
) -> Collected:
    """Fetch one file, every file of a folder source, or an archive to unpack; check each.

    A file is kept as <artifact folder>/<sha256[:16]>/<file name>, a tree as
    <artifact folder>/<sha256[:16]>/<its files>; W&B reads them from there. With ``state``
    (the record of the last fetch), a folder takes its unchanged files from the version kept
    then (getdata/pipeline/refresh.py).
    """
    retry = Retry(cfg.fetch.attempts, cfg.fetch.backoff, cfg.fetch.backoff_max)
    rate = bytes_per_second(cfg.fetch.max_rate)
    limits = Limits(
        cfg.fetch.max_bytes,
        cfg.fetch.deadline,
        cfg.fetch.min_free_bytes,
        # One bucket for the whole fetch: every file, connection and small object shares it.
        Rate(rate) if rate else None,
    )

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
        return Collected([_kept(fetched, source.basename, fetched.data)], fetched.info)

    # A tree is assembled in the workspace's staging folder and moved into place when complete.
    if members is not None:
        previous = previous_version(state, source, workspace) if state is not None else None
        folder = Folder(cfg, source, members, workspace, previous)
        return folder.collect(lambda todo: _fetch_members(cfg, todo, workspace, retry, limits, one))
    archive = one(
        source, lambda f: _move(f.path, workspace.parts / f"archive-{f.sha256}"), True, False
    )
    try:
        kept = _unpack(cfg, archive.path, source.basename, workspace.staging)
    finally:
        archive.path.unlink(missing_ok=True)
    final = workspace.keep_tree(tree_digest(kept), {k.name: k.sha256 for k in kept})
    return Collected([replace(k, path=final / k.name) for k in kept], archive.info)


class Folder:
    """The files of a folder, prefix, glob or several URLs: those unchanged since the previous
    version (``previous``) taken from it, the others fetched, all checked and kept as one tree,
    with the record the next refresh compares with."""

    def __init__(
        self,
        cfg: AppConfig,
        source: Source,
        members: list[Source],
        workspace: Workspace,
        previous: Optional[Previous],
    ) -> None:
        self.cfg = cfg
        self.source = source
        self.members = members
        self.workspace = workspace
        self.previous = previous

    def collect(self, fetch_members: Callable[[list[Source]], list[Fetched]]) -> Collected:
        started = time.monotonic()
        members, plan = self.members, None
        taken: dict[str, dict[str, Any]] = {}
        fetched: dict[str, Fetched] = {}
        if self.previous is not None:
            with describe(self.source.display):
                members = stat_unlisted(members, self.cfg.fetch.workers)
            plan = compare(self.previous, members)
            version = self.previous.version
            held = self.workspace.holding(version, plan.reuse) if plan.unchanged() else None
            if held is not None:
                taken = held  # the same tree: that version is logged again, nothing linked
            else:
                # The unchanged files are linked (a thread of their own, on the local disk)
                # while the changed and new ones are fetched.
                todo = [m for m in members if m.basename not in plan.reuse]
                with ThreadPoolExecutor(1) as pool:
                    linking = pool.submit(self.workspace.reuse, version, plan.reuse)
                    fetched = self._fetch(fetch_members, todo)
                    taken = linking.result()
                unproven(plan, taken)
        # What no earlier version gave: everything on a first fetch, the unproven on a refresh.
        done = taken.keys() | fetched.keys()
        fetched.update(self._fetch(fetch_members, [m for m in members if m.basename not in done]))
        if len(fetched) > MAX_FILE_LINES:
            _folder_line(list(fetched.values()), time.monotonic() - started)
        self._check_hashes(fetched, taken)
        data = self._describe(members, fetched, taken)
        # A line per file for a few files; for more, the one line above says it.
        level = logging.INFO if len(fetched) <= MAX_FILE_LINES else logging.DEBUG
        several = isinstance(self.source, Several)
        kept = []
        for m in members:
            got = fetched.get(m.basename)
            if got is not None:
                k = _kept(got, m.basename, data[m.basename], level)
            else:
                record = taken[m.basename]
                path = record["path"]
                k = Kept(
                    path,
                    m.basename,
                    record["identity"][2],
                    record["sha256"],
                    record["md5"],
                    data[m.basename],
                )
            if several:
                info = got.info if got is not None else (m.listed or SourceInfo())
                k.origin = {"url": m.display, **info.as_metadata()}
            kept.append(k)
        described = described_with(self.cfg)
        final = self.workspace.keep_tree(
            tree_digest(kept),
            {k.name: k.sha256 for k in kept},
            {k.name: {"md5": k.md5, "data": k.data, "described": described} for k in kept},
        )
        files = [
            [m.basename, fingerprint(got.info if got is not None else m.listed or SourceInfo())]
            for m in members
            for got in [fetched.get(m.basename)]
        ]
        for k in kept:
            k.path = final / k.name
        return Collected(
            kept,
            SourceInfo(size=sum(k.size for k in kept)),
            {"files": files},
            plan.report(len(taken)) if plan is not None else None,
        )

    @staticmethod
    def _fetch(
        fetch_members: Callable[[list[Source]], list[Fetched]], todo: list[Source]
    ) -> dict[str, Fetched]:
        got = fetch_members(todo) if todo else []
        return dict(zip([m.basename for m in todo], got, strict=True))

    def _describe(
        self, members: list[Source], fetched: dict[str, Fetched], taken: dict[str, Any]
    ) -> dict[str, dict[str, Any]]:
        """Each file's description: made now for what was fetched (and for what was taken
        without one made with these settings), one contained batch for the folder, before the
        tree is moved into place; a file that fails its check is marked, or refuses the folder
        (inspect.in_folder)."""
        described = described_with(self.cfg)
        data = {
            n: r["data"]
            for n, r in taken.items()
            if r.get("described") == described and isinstance(r.get("data"), dict)
        }
        todo = [m.basename for m in members if m.basename not in data]
        if todo:
            paths = [fetched[n].path if n in fetched else taken[n]["path"] for n in todo]
            made = describe_files(list(zip(paths, todo, strict=True)), self.cfg.inspect)
            data.update(zip(todo, made, strict=True))
        return data

    def _check_hashes(self, fetched: dict[str, Fetched], taken: dict[str, Any]) -> None:
        """The expected hashes of several URLs' entries (source.sha256 / source.md5 as a
        mapping by entry name), for what was fetched and what was taken alike."""
        for key in ("sha256", "md5"):
            wanted = getattr(self.cfg.source, key, None)
            if not isinstance(wanted, dict):
                continue
            for name, expected in wanted.items():
                got = fetched[name].__dict__[key] if name in fetched else taken[name][key]
                if expected.strip().lower() != got:
                    member = next(m for m in self.members if m.basename == name)
                    raise IntegrityError(
                        f"{member.display}: {key} mismatch: expected {expected.strip().lower()}, "
                        f"got {got}; nothing was kept. Check the source, or the expected hash"
                    )


def described_with(cfg: AppConfig) -> str:
    """What a kept description was made with (the inspect settings and getdata's version): a
    description made otherwise is made again."""
    options = asdict(Options.of(cfg.inspect))
    plain = {k: sorted(v) if isinstance(v, frozenset) else v for k, v in options.items()}
    text = json.dumps([VERSION, plain], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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
    return listing_digest({k.name: k.sha256 for k in kept})


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
    log.info("%s", files_line(len(fetched), size, seconds, retries))


def _move(path: Path, to: Path) -> Path:
    """Move a fetched file to ``to`` (in getdata's own staging or parts folder)."""
    to.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, to)
    return to
