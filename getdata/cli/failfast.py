"""fail_fast=true: once a dataset of a sweep failed, the sweep runs no further dataset.

The failed job's end (the FailFast callback, getdata/cli/callbacks.py) leaves a marker file in the
sweep folder; every later job sees it and reports ``skipped`` without fetching. A file works with
every launcher (in-process, joblib workers, SLURM jobs sharing the sweep folder); jobs already
running in parallel finish. The sweep summary is written as always.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from omegaconf import OmegaConf

MARKER = ".getdata-failed"


def marker(sweep_dir: Path) -> Path:
    return sweep_dir / MARKER


def stopped(cfg: Any) -> Optional[str]:
    """Why this sweep job must not run (an earlier dataset failed), or None."""
    if not OmegaConf.select(cfg, "fail_fast", default=False):
        return None
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    found = marker(Path(HydraConfig.get().sweep.dir))
    if not found.is_file():
        return None
    return f"skipped: dataset {found.read_text().strip()} failed and fail_fast=true"


def record_failure(sweep_dir: Path, job: str) -> None:
    marker(sweep_dir).write_text(job + "\n")
