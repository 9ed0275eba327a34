"""The Hydra entry point: `python -m getdata …` and the `getdata` console script."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from .check import EXIT_CHANGED
from .config import config_dir, register_configs
from .report import run_job

register_configs()


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="config")
def main(cfg: DictConfig) -> None:
    hydra_cfg = HydraConfig.get()
    dataset = hydra_cfg.runtime.choices.get("dataset")
    _terminate_like_ctrl_c()
    report = run_job(cfg, Path(hydra_cfg.runtime.output_dir), dataset)
    # A sweep goes on to its other datasets; its summary sets the exit code at the end.
    if report.status == "failed" and hydra_cfg.mode != RunMode.MULTIRUN:
        raise SystemExit(1)
    # check_only: a scheduler branches on 3 = new or changed (getdata/check.py).
    if report.status in ("new", "changed") and hydra_cfg.mode != RunMode.MULTIRUN:
        raise SystemExit(EXIT_CHANGED)


def _terminate_like_ctrl_c() -> None:
    """Make SIGTERM unwind like Ctrl-C, so temp files are removed and the W&B run is finished."""

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    # Not possible outside the main thread (some launchers): keep the default there.
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGTERM, stop)


def cli() -> None:
    """`python -m getdata` and the `getdata` script: main(), then a fast exit after one run.

    The run is complete on disk when main() returns (the W&B service was torn down); tearing down
    the interpreter (hydra, wandb, pyarrow, aiohttp modules) took another 0.2-0.45 s. A sweep
    exits normally: the joblib launcher's workers must be shut down.
    """
    multirun = any(a in ("-m", "--multirun") or a.startswith("hydra.mode=") for a in sys.argv)
    if multirun:
        main()
        return
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    cli()
