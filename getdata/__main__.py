"""The Hydra entry point: `python -m getdata …` and the `getdata` console script."""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

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


def _terminate_like_ctrl_c() -> None:
    """Make SIGTERM unwind like Ctrl-C, so temp files are removed and the W&B run is finished."""

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    # Not possible outside the main thread (some launchers): keep the default there.
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGTERM, stop)


if __name__ == "__main__":
    main()
