"""One dataset, start to finish: config -> source -> fetch -> inspect -> track."""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from . import __version__
from .config import AppConfig, to_app_config
from .errors import GetDataError, describe, explain
from .fetch import Retry, fetch, human_bytes
from .inspect import inspect_file
from .redact import redact, redact_text, redact_url
from .sources import resolve
from .track import Tracked, log_artifact

log = logging.getLogger("getdata")


@dataclass
class Result:
    artifact: str
    size: int
    sha256: str
    tracked: Tracked


def run(cfg: AppConfig, run_dir: Path, run_config: dict[str, Any]) -> Result:
    """Fetch the configured source, check it, and log it as a W&B artifact."""
    source = resolve(cfg.source, cfg.fetch.chunk_size)
    log.info("fetching %s", source.display)
    data_dir = Path(cfg.data_dir) if cfg.data_dir else run_dir / "data"
    with describe(source.display):
        fetched = fetch(
            source,
            data_dir,
            chunk_size=cfg.fetch.chunk_size,
            retry=Retry(cfg.fetch.attempts, cfg.fetch.backoff, cfg.fetch.backoff_max),
            sha256=cfg.source.sha256,
            md5=cfg.source.md5,
            progress=cfg.fetch.progress,
        )
    try:
        data = inspect_file(fetched.path, source.basename, check=cfg.inspect.check_format)
    except BaseException:
        # A file that fails its check is not kept: nothing unlogged stays behind as if it were good.
        fetched.path.unlink(missing_ok=True)
        raise
    log.info(
        "fetched %s in %.1f s (%s/s)",
        human_bytes(fetched.size),
        fetched.seconds,
        human_bytes(fetched.size / max(fetched.seconds, 1e-9)),
    )

    name = cfg.artifact.name or artifact_name(source.basename)
    metadata = {
        **cfg.artifact.metadata,
        "source": {"url": source.display, "kind": source.kind, **fetched.info.as_metadata()},
        "size": fetched.size,
        "sha256": fetched.sha256,
        "md5": fetched.md5,
        "data": data,
        "getdata": {
            "version": __version__,
            "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
    }
    tracked = log_artifact(
        cfg.wandb,
        run_config=redact(run_config),
        file=fetched.path,
        entry_name=source.basename,
        name=name,
        type=cfg.artifact.type,
        description=cfg.artifact.description
        or f"{source.basename} as fetched from {source.display}",
        metadata=redact(metadata),
    )
    log.info(
        "logged artifact %s (%s, %s bytes, sha256 %s) to W&B run %s (%s): %s",
        name,
        cfg.artifact.type,
        fetched.size,
        fetched.sha256,
        tracked.run_id,
        tracked.mode,
        tracked.location,
    )
    if tracked.mode == "offline":
        log.info("upload it later with: wandb sync %s", tracked.location)
    return Result(artifact=name, size=fetched.size, sha256=fetched.sha256, tracked=tracked)


@dataclass
class JobReport:
    """One dataset's outcome, as the sweep summary lists it (no secrets: names are redacted)."""

    dataset: str
    status: str  # "ok" | "failed"
    artifact: Optional[str] = None
    size: Optional[int] = None
    sha256: Optional[str] = None
    wandb: Optional[str] = None
    error: Optional[str] = None


REPORT_FILE = "getdata-report.json"


def run_job(cfg: DictConfig, run_dir: Path, dataset: Optional[str]) -> JobReport:
    """``run`` for one job of a run or sweep: never raises for a failed dataset, reports instead.

    The outcome is logged (one line, secrets masked) and written to ``<run_dir>/REPORT_FILE``,
    which the sweep summary collects. Nothing escapes to Hydra, which would print the raw
    overrides (credentials included); HYDRA_FULL_ERROR=1 re-raises for the full traceback.
    """
    source = OmegaConf.select(cfg, "source.url") or OmegaConf.select(cfg, "source.path")
    dataset = dataset or redact_url(str(source))
    try:
        run_config: Any = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
        result = run(to_app_config(cfg), run_dir, run_config)
        report = JobReport(
            dataset=dataset,
            status="ok",
            artifact=result.artifact,
            size=result.size,
            sha256=result.sha256,
            wandb=result.tracked.location,
        )
    except Exception as exc:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        expected = isinstance(exc, (GetDataError, HydraException, OmegaConfBaseException))
        message = str(exc) if expected else f"unexpected error: {explain(exc)}"
        message = redact_text(message.strip().splitlines()[0] if message.strip() else message)
        log.error("%s", message)
        report = JobReport(dataset=dataset, status="failed", error=message)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / REPORT_FILE).write_text(json.dumps(asdict(report), indent=2) + "\n")
    return report


def artifact_name(basename: str) -> str:
    """A valid W&B artifact name from a file name: letters, digits, '-', '_' and '.' only."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", basename).strip("._") or "data"
    return name[:128]
