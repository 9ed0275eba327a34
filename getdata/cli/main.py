"""The Hydra entry point: `python -m getdata …` and the `getdata` console script."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from ..config import config_dir
from ..errors import BRIEF_ERRORS_ENV, full_errors
from ..redact import redact_text
from ..store.scratch import private_tmpdir
from ..tracking import service
from . import commands
from .callbacks import stopped_sweep
from .commands import COMMANDS
from .configs import register_configs
from .interrupt import interrupted, signal_name, started_by_user
from .messages import bad_override, one_line
from .report import EXIT_CHANGED, EXIT_FAILED, EXIT_LOGGED_OFFLINE, run_job

register_configs()


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="config")
def main(cfg: DictConfig) -> None:
    hydra_cfg = HydraConfig.get()
    dataset = hydra_cfg.runtime.choices.get("dataset")
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    sweep_dir = Path(hydra_cfg.sweep.dir) if multirun else None
    report = run_job(cfg, Path(hydra_cfg.runtime.output_dir), dataset, sweep_dir)
    _jobs_done.append(report.status)
    # A sweep goes on to its other datasets; its summary sets the exit code at the end.
    if not multirun:
        if report.status == "failed":
            raise SystemExit(EXIT_FAILED)
        if report.warning:
            raise SystemExit(EXIT_LOGGED_OFFLINE)
        # check_only: a scheduler branches on 3 = new or changed (getdata/pipeline/check.py).
        if report.status in ("new", "changed"):
            raise SystemExit(EXIT_CHANGED)


def cli() -> None:
    """`python -m getdata` and the `getdata` script: main(), every error in one line, then a
    fast exit after one run.

    Hydra prints its own errors (a bad override, an unknown key, a wrong type) in 5-8 lines with
    a `+key` hint that getdata would then refuse; unless the user set HYDRA_FULL_ERROR=1, Hydra
    is asked to raise them instead, and they are printed here in one line.

    Each run file is complete on disk when its job returns (getdata/tracking/service.py); the
    W&B service the jobs shared is stopped once main() returns (os._exit skips wandb's atexit
    hook, which would). Tearing down the interpreter (hydra, wandb, pyarrow, aiohttp modules)
    took another 0.2-0.45 s. A sweep exits normally: the joblib launcher's workers must be
    shut down.
    """
    if sys.argv[1:2] and sys.argv[1] in COMMANDS:  # `getdata use …`, `getdata gc …`
        raise SystemExit(commands.main(sys.argv[1:]))
    started_by_user()
    problem = bad_override(sys.argv[1:])
    if problem:
        _exit_with(problem, 1)
    if not full_errors():
        os.environ["HYDRA_FULL_ERROR"] = "1"
        os.environ[BRIEF_ERRORS_ENV] = "1"
    multirun = any(a in ("-m", "--multirun") or a.startswith("hydra.mode=") for a in sys.argv)
    code = 0
    try:
        with private_tmpdir():
            try:
                main()
            finally:
                # Inside the private TMPDIR, which wandb-core uses until it is stopped (a
                # service still starting when a job failed needs it to say where it listens).
                service.close()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        # Before or after the job, or a sweep stopped at its parent (a job itself says what it
        # cleaned up and exits 130/143).
        signum = interrupted() or signal.SIGINT
        _exit_with(_interrupted_outside_a_job(signum, multirun), 128 + signum)
    except Exception as exc:
        if full_errors():
            raise
        # A sweep whose launcher gave up (a joblib worker died): the summary lists every job.
        stopped = stopped_sweep(exc) if multirun else None
        _exit_with(stopped or one_line(exc), 1)
    if multirun:
        raise SystemExit(code)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _interrupted_outside_a_job(signum: int, multirun: bool) -> str:
    if multirun:
        stopped = stopped_sweep(KeyboardInterrupt())
        if stopped:
            return stopped
    if _jobs_done:
        return f"interrupted by {signal_name(signum)} while getdata was closing (the job had ended)"
    return f"interrupted by {signal_name(signum)}: nothing was fetched or logged"


# Jobs this process ran to their end (their outcome is logged and reported).
_jobs_done: list[str] = []


def _exit_with(message: str, code: int) -> None:
    sys.stderr.write(f"getdata: {redact_text(message)}\n")
    sys.stderr.flush()
    raise SystemExit(code)


__all__ = ["cli", "main"]
