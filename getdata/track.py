"""The W&B run and artifact: the only module that imports wandb.

Online when W&B credentials exist, offline otherwise, so getdata runs on a machine with no account;
``WANDB_MODE`` and ``wandb.mode`` override that. One run per dataset, always finished.
"""

from __future__ import annotations

import base64
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Optional

from .config import WandbConfig, WandbMode
from .errors import GetDataError, explain
from .redact import redact_text

log = logging.getLogger(__name__)


@dataclass
class Tracked:
    mode: str
    run_id: str
    # Online: the run's page. Offline: the folder `wandb sync` uploads.
    location: str
    artifact: str
    # The Registry path the version was linked to (artifact.link_to); None when not linked.
    linked: Optional[str] = None


def has_credentials() -> bool:
    """True when wandb would find an API key without asking: environment or ~/.netrc."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    try:
        from wandb.sdk.lib.wbauth.wbnetrc import read_netrc_auth
    except ImportError:  # wandb moved it: without a key we can find, stay offline
        return False
    host = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")
    try:
        return bool(read_netrc_auth(host=host))
    except Exception:  # an unreadable netrc means no usable credentials
        return False


def choose_mode(mode: WandbMode) -> str:
    if mode is not WandbMode.auto:
        return mode.value
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    return "online" if has_credentials() else "offline"


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
    ``references`` are (URI, name) that W&B
    records with their ETag/version as checksum, without the bytes; ``preview`` is a pyarrow
    table logged as a wandb.Table in the same run.
    """
    import wandb

    _skip_launch_inputs(wandb)
    mode = choose_mode(cfg.mode)
    with _argv_redacted():
        run = wandb.init(
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
            # getdata's output is already in Hydra's job log; don't mirror the console to W&B.
            # No system-metrics sampler: a download step has no GPU/CPU curves worth keeping,
            # and starting one costs a process and 0.08 s.
            settings=wandb.Settings(console="off", x_disable_stats=True),
        )
    exit_code = 1
    try:
        artifact = wandb.Artifact(name=name, type=type, description=description, metadata=metadata)
        for path, entry, md5 in files:
            _add_file(artifact, path, entry, md5)
        with _environment(reference_env or {}):
            for uri, entry in references:
                artifact.add_reference(uri, name=entry, checksum=True)
        if preview is not None:
            run.log({"preview": wandb.Table(dataframe=preview.to_pandas())})
        if ttl_days is not None:
            artifact.ttl = timedelta(days=ttl_days)
        logged = run.log_artifact(artifact, aliases=list(aliases) or None, tags=list(tags) or None)
        if mode == "online":
            logged.wait()  # offline there is no server to wait for (and wait() raises)
        linked = _link(run, logged, mode, link_to, aliases)
        exit_code = 0
        location = run.url if mode == "online" and run.url else str(run.settings.sync_dir)
        return Tracked(mode=mode, run_id=run.id, location=location, artifact=name, linked=linked)
    finally:
        run.finish(exit_code=exit_code)
        # finish() can return before wandb-core has flushed the offline run file (seen: 1 run
        # in 25 had only its header); teardown waits for it, so the run is complete on disk
        # when this job returns, and the next job of a sweep starts a fresh wandb session.
        wandb.teardown()


def _link(
    run: Any, logged: Any, mode: str, target: Optional[str], aliases: Sequence[str]
) -> Optional[str]:
    """Link the logged version into the W&B Registry (artifact.link_to), online only.

    wandb 0.31 raises NotImplementedError for run.link_artifact in an offline run, after logging
    the artifact a second time, and `wandb sync` has nothing to replay; so offline the link is
    skipped, and said so with the call that links it once the run is synced.
    """
    if not target:
        return None
    if mode != "online":
        log.warning(
            "artifact.link_to=%s: not linked: W&B links only online (an offline run cannot, and "
            "`wandb sync` does not); after the sync: "
            "wandb.Api().artifact('<entity>/%s/%s:%s').link('%s')",
            target,
            run.project,
            logged.name.split(":")[0],  # the artifact's name, without a version
            aliases[0] if aliases else "latest",
            target,
        )
        return None
    try:
        run.link_artifact(logged, target, list(aliases) or None)
    except Exception as exc:  # no such registry, no permission, ...: the version stays logged
        raise GetDataError(
            f"logged {logged.name} but could not link it to {target}: {explain(exc)}"
        ) from exc
    return target


def _skip_launch_inputs(wandb: Any) -> None:
    """wandb.init() imports W&B Launch's input machinery (0.24 s, a third of init) to apply
    inputs a Launch agent may have staged; staging needs that same module already imported, so
    when it is not, there is nothing to apply and the import is skipped."""
    run_class = getattr(getattr(wandb.sdk, "wandb_run", None), "Run", None)
    if (
        run_class is not None
        and "wandb.sdk.launch" not in sys.modules
        and hasattr(run_class, "_detect_and_apply_job_inputs")
    ):
        run_class._detect_and_apply_job_inputs = lambda self: None


def _add_file(artifact: Any, path: Path, entry: str, md5: Optional[str]) -> None:
    """Add a file W&B reads where it is ("immutable": no copy into its staging folder; the file
    stays in the run folder, so a later `wandb sync` still finds it).

    add_file() would MD5 the whole file again (through mmap, so a 1 GiB file shows as 1 GiB of
    RSS); the MD5 computed while the bytes streamed is the same digest, so it is handed over via
    the method add_file() itself calls. Should a wandb release change that method, add_file()
    still does the right thing, just slower.
    """
    add_local = getattr(artifact, "_add_local_file", None)
    if md5 and add_local is not None:
        digest = base64.b64encode(bytes.fromhex(md5)).decode()
        try:
            add_local(entry, str(path), digest=digest, policy="immutable")
            return
        except TypeError:
            pass
    artifact.add_file(str(path), name=entry, policy="immutable")


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def _argv_redacted() -> Iterator[None]:
    """W&B records the command line (sys.argv) in the run's metadata; overrides may hold a
    signed URL or a header, so it sees them masked."""
    saved = sys.argv[:]
    sys.argv[1:] = [redact_text(arg) for arg in saved[1:]]
    try:
        yield
    finally:
        sys.argv[:] = saved
