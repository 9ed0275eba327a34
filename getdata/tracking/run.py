"""The W&B run and its artifact: one run per dataset, always finished, read back complete.

A run that could not be logged online is written offline instead (the job exits with
``EXIT_LOGGED_OFFLINE``), so a fetch is never lost to W&B; when even that fails, the error says
where the data is and how to log it without fetching it again.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..config import WandbConfig
from ..errors import GetDataError, chain
from ..redact import redact, redact_metadata, redact_text, redact_url
from . import service
from .artifact import ArtifactSpec, link, new_artifact
from .compat import import_wandb, installed_packages_read_once, run_settings
from .context import argv_redacted, environment, wandb_logs_to_its_own_file
from .settle import settle, wandb_folder

log = logging.getLogger(__name__)


@dataclass
class Tracked:
    mode: str
    run_id: str
    # Online: the run's page. Offline: the folder `wandb sync` uploads. Disabled: empty.
    location: str
    artifact: str
    # Why the run was written offline although it was to be online (None: as settled).
    fallback: Optional[str] = None
    # The Registry path the version was linked to (artifact.link_to); None when not linked.
    linked: Optional[str] = None


def log_artifact(
    cfg: WandbConfig,
    *,
    run_config: dict[str, Any],
    name: str,
    type: str,
    description: str,
    metadata: dict[str, Any],
    files: Sequence[tuple[Path, str, Optional[str]]] = (),
    references: Sequence[tuple[str, str]] = (),
    reference_env: Optional[dict[str, str]] = None,
    preview: Optional[Any] = None,
    run_name: Optional[str] = None,
    aliases: Sequence[str] = (),
    tags: Sequence[str] = (),
    ttl_days: Optional[int] = None,
    link_to: Optional[str] = None,
) -> Tracked:
    """Start a run, log artifact ``name`` in it, finish the run.

    ``files`` are (local path, name in the artifact, its MD5 as hex if already known);
    ``references`` are (URI, name) that W&B records with their ETag/version as checksum,
    without the bytes; ``preview`` is a pyarrow table logged as a wandb.Table in the same run.

    Online, a failure to log falls back to an offline run (``Tracked.fallback`` says why);
    when even that fails, the error says where the data is and how to log it without fetching
    it again.
    """
    settled = settle(cfg)
    if settled.mode == "disabled":
        return Tracked(mode="disabled", run_id="", location="", artifact=name)
    item = ArtifactSpec(
        name=name,
        type=type,
        description=redact_text(description),
        metadata=redact_metadata(metadata),
        files=files,
        references=references,
        reference_env=reference_env or {},
        preview=preview,
        aliases=aliases,
        tags=tags,
        ttl_days=ttl_days,
        link_to=link_to,
    )
    run_config = redact(run_config)
    fallback = None
    with wandb_logs_to_its_own_file():
        if settled.mode == "online":
            try:
                return _log_checked(cfg, "online", item, run_config, run_name)
            except Exception as exc:
                fallback = _wandb_failure(exc)
                log.warning(
                    "W&B: could not log %s online to %s (%s); writing the run offline instead",
                    name,
                    redact_url(settled.host),
                    fallback,
                )
        try:
            tracked = _log_checked(cfg, "offline", item, run_config, run_name)
        except Exception as exc:
            raise GetDataError(_kept_message(item, _wandb_failure(exc))) from exc
    tracked.fallback = fallback
    return tracked


def _log(
    cfg: WandbConfig, mode: str, item: ArtifactSpec, run_config: dict[str, Any], run_name: Any
) -> Tracked:
    wandb = import_wandb()
    # Our own run id, so that the folder of a run that failed (even in init) is known to be ours
    # and can be removed, also when parallel jobs of a sweep share the wandb folder.
    run_id = secrets.token_hex(4)
    quiet = service.quiet()
    service.ready(quiet)  # the service started during the download, or a new one
    try:
        with (
            argv_redacted(),
            environment(quiet),
            service.own_address(),
            installed_packages_read_once(wandb),
        ):
            run = wandb.init(
                id=run_id,
                project=cfg.project,
                entity=cfg.entity,
                job_type=cfg.job_type,
                group=cfg.group,
                tags=list(cfg.tags) or None,
                name=run_name,
                mode=mode,  # type: ignore[arg-type]
                config=run_config,
                # A multirun job must never continue the previous job's run.
                reinit="finish_previous",
                settings=run_settings(wandb, cfg.timeout, mode),
            )
    except BaseException:
        wandb.teardown()
        _remove_run_folders(run_id)
        raise
    logged_ok = False
    try:
        artifact = new_artifact(wandb, item)
        if item.preview is not None:
            run.log({"preview": wandb.Table(dataframe=item.preview.to_pandas())})
        logged = run.log_artifact(
            artifact, aliases=list(item.aliases) or None, tags=list(item.tags) or None
        )
        if mode == "online":
            # Offline there is no server to wait for (and wait() raises).
            logged.wait(timeout=max(60, int(cfg.timeout * 6)))
        linked = link(run, logged, mode, item.link_to, item.aliases)
        location = run.url if mode == "online" and run.url else str(run.settings.sync_dir)
        logged_ok = True
        return Tracked(
            mode=mode, run_id=run.id, location=location, artifact=item.name, linked=linked
        )
    finally:
        try:
            run.finish(exit_code=0 if logged_ok else 1)
            if logged_ok:
                _wait_written(wandb, Path(str(run.settings.sync_file)))
        except BaseException:
            logged_ok = False
            raise
        finally:
            # A run without its artifact (failed, interrupted, SIGTERM, disk full) is nothing to
            # sync: the service is torn down (its writer closes the file) and no empty or
            # header-only run folder stays. The next job starts a fresh service.
            if not logged_ok:
                try:
                    wandb.teardown()
                finally:
                    _remove_run_folders(run_id)


def _wait_written(wandb: Any, run_file: Path) -> None:
    """The run file is finished on disk when the job returns, and the service lives on for the
    next job (getdata/tracking/service.py). run.finish() returns once wandb-core has the exit
    record, before it is on disk; the file is read back until it is there (records wandb-core
    adds after it are its own, getdata/tracking/runfile.py), for as long as the file keeps
    changing. Should wandb-core stop writing for service.WRITE_PATIENCE seconds, the service is
    torn down (wandb-core then closes every stream and writes what it has) and the file read
    once more."""
    folder = run_file.parent
    check = functools.partial(check_run_written, folder)
    if service.wait_written(run_file, check=check).finished:
        # A full disk may leave a run file that reads finished without all it was given (seen:
        # without its artifact record): wandb-core says so only in its log.
        check()
        return
    log.warning(
        "W&B: %s unchanged and unfinished for %.0f s: stopping the W&B service, which writes it",
        run_file,
        service.WRITE_PATIENCE,
    )
    wandb.teardown()
    seen = service.wait_written(run_file, patience=service.AFTER_TEARDOWN, check=check)
    check()
    if not seen.finished:
        raise RunFileIncomplete(
            f"wandb-core did not finish writing {run_file} ({seen.size} bytes, records: "
            f"{', '.join(seen.kinds) or 'none'})"
        )


class RunFileIncomplete(GetDataError):
    """wandb-core left a run file without its exit record even after a teardown (a killed or
    stuck wandb-core): a run file like that cannot be synced as a finished run, so the artifact
    is logged once more, in a new run."""


def _log_checked(
    cfg: WandbConfig, mode: str, item: ArtifactSpec, run_config: dict[str, Any], run_name: Any
) -> Tracked:
    """:func:`_log`, once more in a new run if the first run's file came out incomplete (its
    folder is already removed then: nothing incomplete is left to sync)."""
    try:
        return _log(cfg, mode, item, run_config, run_name)
    except RunFileIncomplete as exc:
        log.warning("W&B: %s; logging %s again in a new run", exc, item.name)
        return _log(cfg, mode, item, run_config, run_name)


def _remove_run_folders(run_id: str) -> None:
    for folder in wandb_folder().glob(f"*run-*-{run_id}"):
        shutil.rmtree(folder, ignore_errors=True)


def check_run_written(run_folder: Path) -> None:
    """wandb-core does not report a full disk: it logs it, or leaves a truncated run file."""
    log_file = run_folder / "logs" / "debug-internal.log"
    try:
        full = "no space left on device" in log_file.read_text(errors="replace")
        full = full or shutil.disk_usage(run_folder).free < 64 * 1024
    except OSError:
        full = False
    if full:
        raise OSError(28, "No space left on device", str(run_folder))


def _wandb_failure(exc: BaseException) -> str:
    """wandb's failure in one line, secrets masked (its messages can be pages long)."""
    for item in chain(exc):
        if isinstance(item, OSError) and item.errno == 28:
            return "no space left on the device (WANDB_DIR)"
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return redact_text(f"{type(exc).__name__}: {first[:300]}" if first else type(exc).__name__)


def _kept_message(item: ArtifactSpec, reason: str) -> str:
    """W&B failed even offline: the data stays where it is, and this is how to log it."""
    paths = [str(path) for path, _, _ in item.files]
    if not paths:
        return f"W&B could not log {item.name} ({reason}); nothing was downloaded, run it again"
    where = paths[0] if len(paths) == 1 else os.path.commonpath(paths)
    return (
        f"W&B could not log {item.name} ({reason}); the data is kept in {where}: log it "
        f"without downloading again with: python -m getdata source=local "
        f"\"source.path='{where}'\" artifact.name={item.name} wandb.mode=offline"
    )
