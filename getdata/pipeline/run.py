"""One dataset, start to finish: config -> source -> transfer -> store -> inspect -> track."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Optional

from ..config import (
    AppConfig,
    ArtifactMode,
    check_artifact_name,
    check_config,
    check_writable_folder,
)
from ..errors import IsAFolder, NotFound, SourceError, describe, needs_extra
from ..formats import needs_reader
from ..formats.contained import warm_up
from ..names import printable
from ..sources import Source, SourceInfo, resolve
from ..sources.several import stat_unlisted
from ..store.extract import archive_stem
from ..store.workspace import Workspace
from ..tracking.settle import preflight
from .check import check
from .collect import Collected, Kept, fetch_all
from .drift import Drift, DriftError, check_drift
from .log import Result, log_files, log_reference
from .state import State, fingerprint
from .use import remember

log = logging.getLogger("getdata")

__all__ = ["Result", "artifact_name", "run"]


def run(cfg: AppConfig, run_dir: Path, run_config: dict[str, Any]) -> Result:
    """Fetch the configured source, check it, and log it as a W&B artifact."""
    data_dir = _check_config(cfg, run_dir)
    source, members, name = _open_source(cfg)
    _start_readers(cfg, source, members)
    # Every successful fetch is recorded, so skip_unchanged and check_only can compare with it.
    state = State(Path(cfg.state_dir), name)
    current = None
    if cfg.skip_unchanged or cfg.check_only:
        members, current = _ask_source(source, members)
    if cfg.check_only:
        return Result(artifact=name, status=check(state, current, source.display, name))
    if cfg.skip_unchanged and state.unchanged(current, source.display):
        log.info("%s: unchanged since the last fetch of %s; nothing to do", source.display, name)
        return Result(artifact=name, status="unchanged")
    preflight(cfg.wandb)  # W&B mode, credentials and server settled before the first byte
    if cfg.artifact.mode is ArtifactMode.reference:
        try:
            result = log_reference(cfg, source, name, run_config, members)
        except (IsAFolder, NotFound) as exc:
            result = log_reference(cfg, source, name, run_config, _folder(source, members, exc))
    else:
        result, collected = _fetch_and_log(cfg, source, members, name, data_dir, state, run_config)
        # What was kept, fingerprinted without asking the source again (a folder's files as
        # their answers named them: the record the next refresh compares with).
        current = collected.fingerprint or current or fingerprint(collected.info)
    state.save(current, source.display, {"artifact": name, "sha256": result.sha256})
    return result


def _start_readers(cfg: AppConfig, source: Source, members: Optional[list[Source]]) -> None:
    """Start the readers' helper process (0.5 s) while the work below goes on, when the bytes
    will need a reader: not for a check only, a reference, or a file described by its size."""
    copy = cfg.artifact.mode is ArtifactMode.copy and not cfg.check_only
    if copy and (members is not None or cfg.source.extract or needs_reader(source.basename)):
        warm_up()


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


def _ask_source(
    source: Source, members: Optional[list[Source]]
) -> tuple[Optional[list[Source]], Any]:
    """The source's files (as they turned out) and what identifies their version now."""
    try:
        with describe(source.display):
            if members is not None:  # several URLs: one stat each (http has no listing)
                members = stat_unlisted(members)
            return members, _fingerprint(source, members)
    except (IsAFolder, NotFound) as exc:
        members = _folder(source, members, exc)
        return members, _fingerprint(None, members)


def _folder(source: Source, members: Optional[list[Source]], exc: SourceError) -> list[Source]:
    """An S3 key taken for an object (fetched with one request, no listing first) that is no
    object but a prefix named without its '/': its files. Anything else: the error as it was."""
    if members is not None or source.kind != "s3":
        raise exc
    try:
        with describe(source.display):
            return source.folder()
    except SourceError:
        raise exc from None


def _fetch_and_log(
    cfg: AppConfig,
    source: Source,
    members: Optional[list[Source]],
    name: str,
    data_dir: Path,
    state: State,
    run_config: dict[str, Any],
) -> tuple[Result, Collected]:
    log.info("fetching %s", source.display)
    before = state.other_source(source.display)
    if before is not None:
        # The one line for both consumers of the last fetch: the refresh takes no file from
        # it and the schema drift compares no column with it (each only says so at debug).
        log.warning(
            "%s: last fetched from %s, now from %s: nothing reused or compared; "
            "give each source its own artifact.name",
            name,
            printable(before),
            source.display,
        )
    folder = members is not None or cfg.source.extract
    # A folder fetched again takes what did not change from the version kept last time, when
    # that version is in the shared data folder (data_dir=null: a folder per run, nothing to
    # take from).
    last = state if cfg.fetch.incremental and cfg.data_dir else None
    # The lock is held until the version is logged and recorded: `getdata gc` and a parallel
    # job of the same artifact never see a version that is kept but not yet recorded.
    with Workspace(data_dir, name) as workspace:
        try:
            collected = fetch_all(cfg, source, members, workspace, last)
        except NotFound as exc:
            members = _folder(source, members, exc)
            collected = fetch_all(cfg, source, members, workspace, last)
        kept = collected.kept
        drift = _compare_schema(cfg, name, source.display, kept, workspace)
        result = log_files(cfg, source, name, collected, folder, run_config, drift.report)
        result.version = remember(data_dir, result, folder, cfg.artifact.aliases)
    drift.save(result.sha256)
    return result, collected


def _check_config(cfg: AppConfig, run_dir: Path) -> Path:
    """Everything about the config that can be checked before a request: the data folder."""
    check_config(cfg)
    data_dir = Path(cfg.data_dir) if cfg.data_dir else run_dir / "data"
    if cfg.artifact.mode is ArtifactMode.copy and not cfg.check_only:
        check_writable_folder(data_dir, "data_dir")
    check_writable_folder(Path(cfg.state_dir), "state_dir")
    return data_dir


def _compare_schema(
    cfg: AppConfig, name: str, source: str, kept: list[Kept], workspace: Workspace
) -> Drift:
    """Schema drift against the last fetch; on a refusal (on_drift=fail) the version this run
    kept is removed (one an earlier run kept stays): nothing unlogged stays behind as if good."""
    try:
        return check_drift(
            Path(cfg.state_dir),
            name,
            source,
            [(k.name, k.data) for k in kept],
            cfg.inspect.on_drift,
        )
    except DriftError:
        workspace.discard_new()
        raise


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
