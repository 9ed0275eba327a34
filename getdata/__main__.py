"""The Hydra entry point: `python -m getdata …` and the `getdata` console script."""

from __future__ import annotations

import contextlib
import difflib
import logging
import os
import signal
import sys
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, Optional

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from . import session
from .check import EXIT_CHANGED
from .config import config_dir, register_configs
from .errors import BRIEF_ERRORS_ENV, explain, full_errors
from .redact import redact_text
from .report import run_job, signal_name
from .scratch import private_tmpdir
from .track import EXIT_LOGGED_OFFLINE

register_configs()


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="config")
def main(cfg: DictConfig) -> None:
    hydra_cfg = HydraConfig.get()
    dataset = hydra_cfg.runtime.choices.get("dataset")
    _terminate_like_ctrl_c()
    report = run_job(cfg, Path(hydra_cfg.runtime.output_dir), dataset)
    # A sweep goes on to its other datasets; its summary sets the exit code at the end.
    if hydra_cfg.mode != RunMode.MULTIRUN:
        if report.status == "failed":
            raise SystemExit(1)
        if report.warning:
            raise SystemExit(EXIT_LOGGED_OFFLINE)
        # check_only: a scheduler branches on 3 = new or changed (getdata/check.py).
        if report.status in ("new", "changed"):
            raise SystemExit(EXIT_CHANGED)


def _terminate_like_ctrl_c() -> None:
    """Make SIGTERM unwind like Ctrl-C, so temp files are removed and the W&B run is finished."""

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    # Not possible outside the main thread (some launchers): keep the default there.
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGTERM, stop)


def cli() -> None:
    """`python -m getdata` and the `getdata` script: main(), every error in one line, then a
    fast exit after one run.

    Hydra prints its own errors (a bad override, an unknown key, a wrong type) in 5-8 lines with
    a `+key` hint that getdata would then refuse; unless the user set HYDRA_FULL_ERROR=1, Hydra
    is asked to raise them instead, and they are printed here in one line.

    Each run file is complete on disk when its job returns (getdata/session.py); the W&B service
    the jobs shared is stopped once main() returns (os._exit skips wandb's atexit hook, which
    would). Tearing down the interpreter (hydra, wandb, pyarrow, aiohttp modules) took another
    0.2-0.45 s. A sweep exits normally: the joblib launcher's workers must be shut down.
    """
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
                session.close()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        # Before or after the job (the job itself says what it cleaned up and exits 130).
        _exit_with("interrupted by Ctrl-C: nothing was fetched or logged", 130)
    except Exception as exc:
        if full_errors():
            raise
        _exit_with(one_line(exc), 1)
    if multirun:
        raise SystemExit(code)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _exit_with(message: str, code: int) -> None:
    sys.stderr.write(f"getdata: {redact_text(message)}\n")
    sys.stderr.flush()
    raise SystemExit(code)


def bad_override(args: list[str]) -> Optional[str]:
    """The first override Hydra cannot parse, explained: which key, and the quoted form to copy
    (an unquoted URL with `?a=b` gives Hydra's `mismatched input '=' expecting <EOF>`)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    for arg in args:
        if arg.startswith("-") or "=" not in arg:
            continue  # flags (--cfg job, -m) and their values
        try:
            parser.parse_override(arg)
        except HydraException as exc:
            key, _, value = arg.partition("=")
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid"
            quoted = value.replace("\\", "\\\\").replace("'", "\\'")
            return (
                f"cannot read the override for {key.lstrip('+~')} ({reason}): quote the value, "
                f"e.g. \"{key}='{quoted}'\" (double quotes for the shell, single for Hydra)"
            )
    return None


def one_line(exc: BaseException) -> str:
    """Hydra's and OmegaConf's errors (and any other) in one line a user can act on."""
    cause = exc.__cause__ if isinstance(exc.__cause__, OmegaConfBaseException) else None
    if isinstance(exc, OmegaConfBaseException):
        cause = exc
    full_key = getattr(cause, "full_key", None) if cause is not None else None
    if cause is not None and full_key:
        name = type(cause).__name__
        if name in ("ConfigKeyError", "ConfigAttributeError") or "not in" in str(cause):
            hint = _close_match(cause, full_key)
            return f"unknown key {full_key}{hint}: `getdata --cfg job` lists the settings there are"
        return f"{full_key}: {_first_line(getattr(cause, 'msg', None) or str(cause))}"
    options = getattr(exc, "options", None)
    missing = getattr(exc, "missing_cfg_file", None)
    if missing and options:
        group, _, choice = str(missing).rpartition("/")
        return f"{group}={choice}: no such option; choose one of {', '.join(options)}"
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{explain(exc)} (choose another folder with hydra.run.dir / hydra.sweep.dir)"
    if isinstance(exc, (HydraException, OmegaConfBaseException)):
        return _first_line(str(exc))
    return f"unexpected error: {explain(exc)}"


def _close_match(cause: BaseException, full_key: str) -> str:
    schema = getattr(cause, "object_type", None)
    if not is_dataclass(schema):
        return ""
    leaf = full_key.rsplit(".", 1)[-1]
    found = difflib.get_close_matches(leaf, [f.name for f in fields(schema)], n=1)
    if not found:
        return ""
    prefix = full_key.rsplit(".", 1)[0] + "." if "." in full_key else ""
    return f" (did you mean {prefix}{found[0]}?)"


def _first_line(text: str) -> str:
    # Hydra's "To append to your config use +key=value" is wrong for getdata's typed config.
    lines = [line.strip() for line in text.splitlines() if line.strip() and "+" not in line[:30]]
    return lines[0] if lines else text.strip()


__all__ = ["bad_override", "cli", "main", "one_line", "signal_name"]


if __name__ == "__main__":
    cli()
