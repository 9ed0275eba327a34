"""One dataset, start to finish: config -> source -> fetch -> inspect -> track."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from . import __version__, many
from .check import check
from .config import AppConfig, ArtifactMode
from .drift import Drift, DriftError, check_drift
from .errors import GetDataError, IntegrityError, describe, explain
from .extract import archive_stem
from .extras import needs_extra
from .fetch import Fetched, Limits, Retry, fetch, hash_file, human_bytes, source_id
from .formats import describe_file, describe_files
from .formats.contained import warm_up
from .options import validate, wandb_options
from .paths import printable
from .redact import redact, redact_metadata
from .reference import prefix_references
from .sources import Source, SourceInfo, resolve
from .state import State, fingerprint
from .store import Workspace
from .track import Tracked, log_artifact, preflight
from .validate import check_artifact_name, check_settings, check_writable_folder

log = logging.getLogger("getdata")

# A folder artifact's metadata lists at most this many files (W&B metadata should stay small).
MAX_LISTED_FILES = 1000


@dataclass
class Result:
    artifact: str
    status: str  # "ok" | "unchanged"
    size: Optional[int] = None
    sha256: Optional[str] = None
    tracked: Optional[Tracked] = None
    # Where the kept files are (absolute); empty for a reference artifact or a check.
    paths: list[str] = field(default_factory=list)
    # The metadata key "drift" as logged (None: nothing recorded to compare with).
    drift: Optional[dict[str, Any]] = None


@dataclass
class Kept:
    """One fetched (or unpacked) file, checked and in place, with what we know about it."""

    path: Path
    name: str  # its path inside the artifact
    size: int
    sha256: str
    md5: str
    data: dict[str, Any]


def run(cfg: AppConfig, run_dir: Path, run_config: dict[str, Any]) -> Result:
    """Fetch the configured source, check it, and log it as a W&B artifact."""
    data_dir = _check_config(cfg, run_dir)
    if cfg.artifact.mode is ArtifactMode.copy and not cfg.check_only:
        warm_up()  # the readers' helper process starts (0.5 s) while the work below goes on
    source, members, name = _open_source(cfg)
    # Every successful fetch is recorded, so skip_unchanged and check_only can compare with it.
    state = State(Path(cfg.state_dir), name)
    current = _ask_source(source, members) if cfg.skip_unchanged or cfg.check_only else None
    if cfg.check_only:
        return Result(artifact=name, status=check(state, current, source.display, name))
    if cfg.skip_unchanged and state.unchanged(current, source.display):
        log.info("%s: unchanged since the last fetch of %s; nothing to do", source.display, name)
        return Result(artifact=name, status="unchanged")
    preflight(cfg.wandb)  # W&B mode, credentials and server settled before the first byte
    if cfg.artifact.mode is ArtifactMode.reference:
        result = _log_reference(cfg, source, name, run_config, members)
    else:
        result, fetched = _fetch_and_log(cfg, source, members, name, data_dir, run_config)
        # Fingerprint what was fetched, without asking the source again.
        current = current or _fingerprint_fetched(fetched, members)
    state.save(current, source.display, {"artifact": name, "sha256": result.sha256})
    return result


def _open_source(cfg: AppConfig) -> tuple[Source, Optional[list[Source]], str]:
    """The source, its files when it is a folder, prefix or glob, and the artifact's name."""
    with needs_extra():
        source = resolve(cfg.source)
    with describe(source.display):
        members = source.members()  # a listing (a glob names the artifact after its folder)
    name = check_artifact_name(
        cfg.artifact.name
        or artifact_name(archive_stem(source.basename) if cfg.source.extract else source.basename)
    )
    return source, members, name


def _ask_source(source: Source, members: Optional[list[Source]]) -> Any:
    with describe(source.display):
        return _fingerprint(source, members)


def _fetch_and_log(
    cfg: AppConfig,
    source: Source,
    members: Optional[list[Source]],
    name: str,
    data_dir: Path,
    run_config: dict[str, Any],
) -> tuple[Result, SourceInfo]:
    log.info("fetching %s", source.display)
    with Workspace(data_dir, name) as workspace:
        kept, info = _fetch_all(cfg, source, members, workspace)
        drift = _compare_schema(cfg, name, kept, workspace)
    folder = members is not None or cfg.source.extract
    result = _log_files(cfg, source, name, kept, info, folder, run_config, drift.report)
    drift.save(result.sha256)
    return result, info


def _check_config(cfg: AppConfig, run_dir: Path) -> Path:
    """Everything about the config that can be checked before a request: the data folder."""
    check_settings(cfg)
    validate(cfg)
    if cfg.artifact.name:
        check_artifact_name(cfg.artifact.name)
    data_dir = Path(cfg.data_dir) if cfg.data_dir else run_dir / "data"
    if cfg.artifact.mode is ArtifactMode.copy and not cfg.check_only:
        check_writable_folder(data_dir, "data_dir")
    check_writable_folder(Path(cfg.state_dir), "state_dir")
    return data_dir


def _compare_schema(cfg: AppConfig, name: str, kept: list[Kept], workspace: Workspace) -> Drift:
    """Schema drift against the last fetch; on a refusal (on_drift=fail) the version this run
    kept is removed (one an earlier run kept stays): nothing unlogged stays behind as if good."""
    try:
        return check_drift(
            Path(cfg.state_dir), name, [(k.name, k.data) for k in kept], cfg.inspect.on_drift
        )
    except DriftError:
        workspace.discard_new()
        raise


def _fingerprint_fetched(info: SourceInfo, members: Optional[list[Source]]) -> Any:
    if members is None:
        return fingerprint(info)
    return _fingerprint(None, members)  # a folder's listing needs no request


def _fetch_all(
    cfg: AppConfig, source: Source, members: Optional[list[Source]], workspace: Workspace
) -> tuple[list[Kept], SourceInfo]:
    """Fetch one file, every file of a folder source, or an archive to unpack; check each.

    A file is kept as <artifact folder>/<sha256[:16]>/<file name>, a tree as
    <artifact folder>/<sha256[:16]>/<its files>; W&B reads them from there.
    """
    retry = Retry(cfg.fetch.attempts, cfg.fetch.backoff, cfg.fetch.backoff_max)
    limits = Limits(cfg.fetch.max_bytes, cfg.fetch.deadline, cfg.fetch.min_free_bytes)

    def one(
        item: Source, place: Callable[[Fetched], Path], check_hash: bool, inspect: bool
    ) -> Fetched:
        with describe(item.display):
            return fetch(
                item,
                workspace.partial(source_id(item)),
                place,
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
        fetched = one(source, lambda f: workspace.version(f.sha256) / source.basename, True, True)
        return [_kept(fetched, source.basename, fetched.data)], fetched.info

    # A tree is assembled in the workspace's staging folder and moved into place when complete.
    if members is not None:
        fetched_files = _fetch_members(cfg, members, workspace, retry, limits, one)
        # One contained batch for the folder, before the tree is moved into place; a file that
        # fails its check is marked, or refuses the folder (inspect.in_folder).
        described = describe_files(
            [(f.path, m.basename) for m, f in zip(members, fetched_files, strict=True)],
            cfg.inspect,
        )
        # A line per file for a few files; for thousands, many.py's summary line says it.
        level = logging.INFO if len(members) <= 100 else logging.DEBUG
        kept = [
            _kept(f, m.basename, data, level)
            for m, f, data in zip(members, fetched_files, described, strict=True)
        ]
        info = SourceInfo(size=sum(f.size for f in fetched_files))
    else:
        archive = one(source, lambda f: workspace.parts / f"archive-{f.sha256}", True, False)
        try:
            kept = _unpack(cfg, archive.path, source.basename, workspace.staging)
        finally:
            archive.path.unlink(missing_ok=True)
        info = archive.info
    final = workspace.keep_tree(_tree_digest(kept))
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
    requests at once (many.py), the rest streamed, fetch.workers at a time (fetch.py)."""
    small = [m for m in members if many.suits(m)]
    got = many.fetch_many(
        [(m, workspace.staged(m.basename)) for m in small],
        requests=cfg.fetch.requests,
        retry=retry,
        limits=limits,
    )
    done = {id(m): f for m, f in zip(small, got, strict=True) if f is not None}
    rest = [m for m in members if id(m) not in done]
    with ThreadPoolExecutor(cfg.fetch.workers) as pool:
        streamed = pool.map(
            lambda m: one(m, lambda f: workspace.staged(m.basename), False, False), rest
        )
        done.update((id(m), f) for m, f in zip(rest, streamed, strict=True))
    return [done[id(m)] for m in members]


def _tree_digest(kept: list[Kept]) -> str:
    """A tree's digest: the sha256 of its sorted "<sha256>  <path>" lines (like sha256sum)."""
    listing = "".join(f"{k.sha256}  {k.name}\n" for k in sorted(kept, key=lambda k: k.name))
    return hashlib.sha256(listing.encode()).hexdigest()


def _unpack(cfg: AppConfig, archive: Path, name: str, staging: Path) -> list[Kept]:
    from .extract import Limits as ExtractLimits
    from .extract import archive_kind, extract

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


def _log_files(
    cfg: AppConfig,
    source: Source,
    name: str,
    kept: list[Kept],
    info: SourceInfo,
    folder: bool,
    run_config: dict[str, Any],
    drift: Optional[dict[str, Any]] = None,
) -> Result:
    size = sum(k.size for k in kept)
    if not folder:
        sha256 = kept[0].sha256
        content: dict[str, Any] = {"sha256": sha256, "md5": kept[0].md5, "data": kept[0].data}
    else:
        sha256 = _tree_digest(kept)
        content = {
            "sha256": sha256,
            "file_count": len(kept),
            "files": [
                {"path": k.name, "size": k.size, "sha256": k.sha256, "data": k.data}
                for k in kept[:MAX_LISTED_FILES]
            ],
            "files_truncated": len(kept) > MAX_LISTED_FILES,
        }
    if drift is not None:
        content["drift"] = drift
    metadata = _metadata(cfg, source, info, {"size": size, **content})
    tracked = log_artifact(
        cfg.wandb,
        run_config=redact(run_config),
        files=[(k.path, k.name, k.md5) for k in kept],
        name=name,
        type=cfg.artifact.type,
        description=_description(cfg, source),
        metadata=redact_metadata(metadata),
        preview=_preview(cfg, kept),
        **wandb_options(cfg),
    )
    _closing_line(cfg, name, size, sha256, tracked)
    paths = _absolute(kept)
    return Result(
        artifact=name,
        status="ok",
        size=size,
        sha256=sha256,
        tracked=tracked,
        paths=paths,
        drift=drift,
    )


def _absolute(kept: list[Kept]) -> list[str]:
    """Where the kept files are, as absolute paths: each folder is resolved once (resolve() per
    file took 0.9 s for 10,000 files); the files themselves are regular files getdata wrote,
    never links (archives' links are not unpacked)."""
    folders: dict[str, str] = {}
    paths = []
    for k in kept:
        parent, name = os.path.split(k.path)
        if parent not in folders:
            folders[parent] = str(Path(parent).resolve())
        paths.append(os.path.join(folders[parent], name))
    return paths


def _log_reference(
    cfg: AppConfig,
    source: Source,
    name: str,
    run_config: dict[str, Any],
    members: Optional[list[Source]] = None,
) -> Result:
    uri, env = source.reference()  # only kinds whose objects W&B can check without the bytes
    listing: dict[str, Any] = {}
    if members is not None:  # an S3 prefix or glob: one reference per listed object
        refs, info, listing = prefix_references(source, members, cfg.artifact.max_objects)
    else:
        with describe(source.display):
            info = source.stat()
    log.info("referencing %s (no download)", source.display)
    if members is None:
        refs = [(uri, source.basename)]
    with describe(source.display):
        tracked = log_artifact(
            cfg.wandb,
            run_config=redact(run_config),
            references=refs,
            reference_env=env,
            name=name,
            type=cfg.artifact.type,
            description=_description(cfg, source),
            metadata=redact_metadata(
                _metadata(cfg, source, info, {"size": info.size, "reference": True, **listing})
            ),
            **wandb_options(cfg),
        )
    _closing_line(cfg, name, info.size, None, tracked)
    return Result(artifact=name, status="ok", size=info.size, tracked=tracked)


def _metadata(
    cfg: AppConfig, source: Source, info: SourceInfo, content: dict[str, Any]
) -> dict[str, Any]:
    return {
        **cfg.artifact.metadata,
        "source": {"url": source.display, "kind": source.kind, **info.as_metadata()},
        **content,
        "getdata": {
            "version": __version__,
            "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
    }


def _description(cfg: AppConfig, source: Source) -> str:
    return cfg.artifact.description or f"{source.basename} as fetched from {source.display}"


def _preview(cfg: AppConfig, kept: list[Kept]) -> Optional[Any]:
    if cfg.artifact.preview_rows <= 0:
        return None
    from .preview import head_rows

    for k in kept:
        table = head_rows(k.path, k.name, cfg.artifact.preview_rows)
        if table is not None:
            return table
    return None


def _closing_line(
    cfg: AppConfig, name: str, size: Optional[int], sha256: Optional[str], tracked: Tracked
) -> None:
    if tracked.mode == "disabled":
        log.info(
            "checked %s (%s bytes, sha256 %s); wandb.mode=disabled: nothing logged",
            name,
            size,
            sha256,
        )
        return
    log.info(
        "logged artifact %s (%s, %s bytes, sha256 %s) to W&B run %s (%s): %s",
        name,
        cfg.artifact.type,
        size,
        sha256,
        tracked.run_id,
        tracked.mode,
        tracked.location,
    )
    if tracked.mode == "offline":
        log.info("upload it later with: wandb sync %s", tracked.location)


def _fingerprint(
    source: Optional[Source], members: Optional[list[Source]]
) -> Optional[dict[str, Any]]:
    if members is None:
        assert source is not None
        return fingerprint(source.stat())
    listed = [(m.basename, fingerprint(m.listed or SourceInfo())) for m in members]
    if any(fp is None for _, fp in listed):
        return None
    return {"files": [[name, fp] for name, fp in listed]}


def artifact_name(basename: str) -> str:
    """A valid W&B artifact name from a file name: letters, digits, '-', '_' and '.' only."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", basename).strip("._") or "data"
    return name[:128]
