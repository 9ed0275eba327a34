"""Sweep jobs that must not start: fail_fast=true after a dataset failed, or a sweep interrupted
by Ctrl-C / SIGTERM (getdata/cli/interrupt.py).

fail_fast=true: the failed job's end (the FailFast callback, getdata/cli/callbacks.py) leaves a
marker file in the sweep folder; every later job sees it and reports ``skipped`` without
fetching. A file works with every launcher (in-process, joblib workers, SLURM jobs sharing the
sweep folder); jobs already running in parallel finish. The sweep summary is written as always.
Markers are records (getdata/store/records.py): written whole, read only when they are what
getdata writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from omegaconf import OmegaConf

from ..names import printable
from ..store.records import read_bytes, write_bytes
from .interrupt import marked, not_run

MARKER = ".getdata-failed"


def marker(sweep_dir: Path) -> Path:
    return sweep_dir / MARKER


def sweep_folder(cfg: Any) -> Optional[Path]:
    """The sweep folder when ``cfg`` is a job of a sweep (multirun), else None."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    return Path(HydraConfig.get().sweep.dir)


def stopped(cfg: Any) -> Optional[tuple[str, Optional[int]]]:
    """Why this sweep job must not run, and the exit code of the signal behind it (None for
    fail_fast); None when it may run."""
    sweep_dir = sweep_folder(cfg)
    if sweep_dir is None:
        return None
    signalled = marked(sweep_dir)
    if signalled is not None:
        return not_run(signalled), 128 + signalled
    if not OmegaConf.select(cfg, "fail_fast", default=False):
        return None
    found = read_bytes(marker(sweep_dir), "the fail_fast marker", max_bytes=256)
    if found is None:
        return None
    job = printable(found.decode("utf-8", "replace").strip())
    return f"skipped: dataset {job} failed and fail_fast=true", None


def record_failure(sweep_dir: Path, job: str) -> None:
    write_bytes(marker(sweep_dir), (job + "\n").encode())
