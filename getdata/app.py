"""One dataset, start to finish: config -> source -> fetch -> inspect -> track."""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from . import __version__
from .config import AppConfig, ArtifactMode, S3Source
from .errors import GetDataError, IntegrityError, describe, explain
from .extract import archive_stem
from .fetch import Fetched, Retry, fetch, hash_file, human_bytes
from .formats import describe_file, describe_files
from .redact import redact
from .sources import Source, SourceInfo, resolve
from .state import State, fingerprint
from .track import Tracked, log_artifact

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
    source = resolve(cfg.source)
    name = cfg.artifact.name or artifact_name(
        archive_stem(source.basename) if cfg.source.extract else source.basename
    )
    with describe(source.display):
        members = source.members()
        state = State(Path(cfg.state_dir), name) if cfg.skip_unchanged else None
        current = _fingerprint(source, members) if state else None
    if state and state.unchanged(current, source.display):
        log.info("%s: unchanged since the last fetch of %s; nothing to do", source.display, name)
        return Result(artifact=name, status="unchanged")

    if cfg.artifact.mode is ArtifactMode.reference:
        result = _log_reference(cfg, source, name, run_config)
    else:
        log.info("fetching %s", source.display)
        data_dir = Path(cfg.data_dir) if cfg.data_dir else run_dir / "data"
        kept, info = _fetch_all(cfg, source, members, data_dir, name)
        folder = members is not None or cfg.source.extract
        result = _log_files(cfg, source, name, kept, info, folder, run_config)
    if state:
        state.save(current, source.display, {"artifact": name, "sha256": result.sha256})
    return result


def _fetch_all(
    cfg: AppConfig, source: Source, members: Optional[list[Source]], data_dir: Path, name: str
) -> tuple[list[Kept], SourceInfo]:
    """Fetch one file, every file of a folder source, or an archive to unpack; check each.

    A file lands in <data dir>/<file name>, a folder in <data dir>/<artifact name>/; W&B reads
    them from there.
    """
    retry = Retry(cfg.fetch.attempts, cfg.fetch.backoff, cfg.fetch.backoff_max)

    def one(item: Source, dest: Path, check_hash: bool) -> Fetched:
        with describe(item.display):
            return fetch(
                item,
                dest,
                chunk_size=cfg.fetch.chunk_size,
                retry=retry,
                sha256=cfg.source.sha256 if check_hash else None,
                md5=cfg.source.md5 if check_hash else None,
                progress=cfg.fetch.progress,
            )

    if members is None and not cfg.source.extract:
        fetched = one(source, data_dir, True)
        return [_check(cfg, fetched.path, source.basename, fetched)], fetched.info

    # A folder is assembled beside its final place and renamed when complete.
    folder = data_dir / name
    staging = data_dir / f".getdata-{name}.part"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        if members is not None:
            with ThreadPoolExecutor(max(1, cfg.fetch.workers)) as pool:
                fetched_files = list(pool.map(lambda m: one(m, staging, False), members))
            # One contained batch for the folder; a file that fails is marked or refuses all.
            described = describe_files(
                [(f.path, m.basename) for m, f in zip(members, fetched_files, strict=True)],
                cfg.inspect,
            )
            kept = [
                _kept(f, m.basename, data)
                for m, f, data in zip(members, fetched_files, described, strict=True)
            ]
            info = SourceInfo(size=sum(f.size for f in fetched_files))
        else:
            archive = one(source, data_dir, True)
            try:
                kept = _unpack(cfg, archive.path, source.basename, staging)
            finally:
                archive.path.unlink(missing_ok=True)
            info = archive.info
        shutil.rmtree(folder, ignore_errors=True)
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [replace(k, path=folder / k.name) for k in kept], info


def _unpack(cfg: AppConfig, archive: Path, name: str, staging: Path) -> list[Kept]:
    from .extract import Limits, archive_kind, extract

    if archive_kind(name) is None:
        raise IntegrityError(f"{name}: source.extract=true, but this is not a known archive type")
    limits = Limits(cfg.extract.max_files, cfg.extract.max_bytes, cfg.extract.max_ratio)
    try:
        relpaths = extract(archive, staging, limits)
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


def _check(cfg: AppConfig, path: Path, name: str, fetched: Fetched) -> Kept:
    try:
        data = _inspect(cfg, path, name)
    except BaseException:
        # A file that fails its check is not kept: nothing unlogged stays behind as if good.
        path.unlink(missing_ok=True)
        raise
    return _kept(fetched, name, data)


def _kept(fetched: Fetched, name: str, data: dict[str, Any]) -> Kept:
    log.info(
        "fetched %s: %s in %.1f s (%s/s)%s",
        name,
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
) -> Result:
    size = sum(k.size for k in kept)
    if not folder:
        sha256 = kept[0].sha256
        content: dict[str, Any] = {"sha256": sha256, "md5": kept[0].md5, "data": kept[0].data}
    else:
        # A folder's digest: the sha256 of its sorted "<sha256>  <path>" lines (like sha256sum).
        listing = "".join(f"{k.sha256}  {k.name}\n" for k in sorted(kept, key=lambda k: k.name))
        sha256 = hashlib.sha256(listing.encode()).hexdigest()
        content = {
            "sha256": sha256,
            "file_count": len(kept),
            "files": [
                {"path": k.name, "size": k.size, "sha256": k.sha256, "data": k.data}
                for k in kept[:MAX_LISTED_FILES]
            ],
            "files_truncated": len(kept) > MAX_LISTED_FILES,
        }
    metadata = _metadata(cfg, source, info, {"size": size, **content})
    tracked = log_artifact(
        cfg.wandb,
        run_config=redact(run_config),
        files=[(k.path, k.name, k.md5) for k in kept],
        name=name,
        type=cfg.artifact.type,
        description=_description(cfg, source),
        metadata=redact(metadata),
        preview=_preview(cfg, kept),
    )
    _closing_line(cfg, name, size, sha256, tracked)
    return Result(artifact=name, status="ok", size=size, sha256=sha256, tracked=tracked)


def _log_reference(cfg: AppConfig, source: Source, name: str, run_config: dict[str, Any]) -> Result:
    if source.kind not in ("http", "s3"):
        raise GetDataError(
            f"{source.display}: artifact.mode=reference needs an http(s) or s3 source"
        )
    with describe(source.display):
        info = source.stat()
    log.info("referencing %s (no download)", source.display)
    env = {}
    if isinstance(cfg.source, S3Source) and cfg.source.endpoint_url:
        env["AWS_S3_ENDPOINT_URL"] = cfg.source.endpoint_url  # where W&B's S3 handler looks
    uri = source.url
    if isinstance(cfg.source, S3Source) and cfg.source.version_id:
        uri = f"{uri}?versionId={cfg.source.version_id}"
    with describe(source.display):
        tracked = log_artifact(
            cfg.wandb,
            run_config=redact(run_config),
            references=[(uri, source.basename)],
            reference_env=env,
            name=name,
            type=cfg.artifact.type,
            description=_description(cfg, source),
            metadata=redact(_metadata(cfg, source, info, {"size": info.size, "reference": True})),
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


def _fingerprint(source: Source, members: Optional[list[Source]]) -> Optional[dict[str, Any]]:
    if members is None:
        return fingerprint(source.stat())
    listed = [(m.basename, fingerprint(m.listed or SourceInfo())) for m in members]
    if any(fp is None for _, fp in listed):
        return None
    return {"files": [[name, fp] for name, fp in listed]}


def artifact_name(basename: str) -> str:
    """A valid W&B artifact name from a file name: letters, digits, '-', '_' and '.' only."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", basename).strip("._") or "data"
    return name[:128]
