"""One job of a run or sweep: run the dataset, never raise, and leave a report behind.

The report (``<run dir>/getdata-report.json``) is what the sweep summary collects
(getdata/cli/callbacks.py).
"""

from __future__ import annotations

import json
import logging
import signal
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ..config import to_app_config
from ..errors import GetDataError, explain, full_errors
from ..pipeline.run import Result, run
from ..redact import redact_text, redact_url
from ..tracking.run import Tracked
from .failfast import stopped

log = logging.getLogger("getdata")


@dataclass
class JobReport:
    """One dataset's outcome, as the sweep summary lists it (no secrets: names are redacted)."""

    dataset: str
    status: str  # "ok" | "unchanged" | "failed"; check_only: "new" | "changed"; "skipped"
    artifact: Optional[str] = None
    size: Optional[int] = None
    sha256: Optional[str] = None
    wandb: Optional[str] = None
    error: Optional[str] = None
    # Set when the data was fetched and kept but W&B needs a second step (`wandb sync`).
    warning: Optional[str] = None
    # Where the kept files are (absolute paths), for the next step.
    paths: list[str] = field(default_factory=list)
    # The version as getdata counts them in the data folder: `getdata use <artifact>:<version>`.
    version: Optional[str] = None


REPORT_FILE = "getdata-report.json"

# Exit codes a scheduler can branch on (a sweep: the worst of its datasets).
EXIT_OK = 0
EXIT_FAILED = 1
# check_only: at least one dataset new or changed, none failed.
EXIT_CHANGED = 3
# The data was fetched and kept, but logged offline because W&B failed online: the run waits in
# the offline folder for `wandb sync`.
EXIT_LOGGED_OFFLINE = 4


def run_job(cfg: DictConfig, run_dir: Path, dataset: Optional[str]) -> JobReport:
    """``run`` for one job of a run or sweep: never raises for a failed dataset, reports instead.

    The outcome is logged (one line, secrets masked) and written to ``<run_dir>/REPORT_FILE``,
    which the sweep summary collects. Nothing escapes to Hydra, which would print the raw
    overrides (credentials included); HYDRA_FULL_ERROR=1 re-raises for the full traceback.
    """
    source = OmegaConf.select(cfg, "source.url") or OmegaConf.select(cfg, "source.path")
    dataset = dataset or redact_url(str(source))
    skip = stopped(cfg)  # fail_fast: an earlier dataset of this sweep failed
    if skip:
        log.warning("%s", skip)
        return write_report(run_dir, JobReport(dataset=dataset, status="skipped", error=skip))
    try:
        run_config: Any = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
        result = run(to_app_config(cfg), run_dir, run_config)
        report = report_of(dataset, result)
    except (KeyboardInterrupt, SystemExit) as exc:
        # Ctrl-C, or SIGTERM (getdata/cli/main.py turns it into SystemExit): by now the partial
        # download and any unfinished W&B run were removed on the way out. Say so once, leave
        # the report, and exit like a signalled program (130/143).
        code = 130 if isinstance(exc, KeyboardInterrupt) else exc.code
        if not isinstance(code, int) or code < 128:
            raise
        name = "Ctrl-C" if code == 130 else signal_name(code - 128)
        message = (
            f"interrupted by {name}: the partial download and the unfinished W&B run were "
            "removed; nothing was logged"
        )
        log.error("%s", message)
        write_report(run_dir, JobReport(dataset=dataset, status="failed", error=message))
        raise SystemExit(code) from None
    except Exception as exc:
        if full_errors():
            raise
        expected = isinstance(exc, (GetDataError, HydraException, OmegaConfBaseException))
        message = str(exc) if expected else f"unexpected error: {explain(exc)}"
        message = redact_text(message.strip().splitlines()[0] if message.strip() else message)
        log.error("%s", message)
        report = JobReport(dataset=dataset, status="failed", error=message)
    write_report(run_dir, report)
    if report.warning:
        log.warning("%s", report.warning)
    return report


def report_of(dataset: str, result: Result) -> JobReport:
    """The report of a dataset that ran to the end (logged, unchanged or checked)."""
    return JobReport(
        dataset=dataset,
        status=result.status,
        artifact=result.artifact,
        size=result.size,
        sha256=result.sha256,
        wandb=result.tracked.location if result.tracked else None,
        warning=_fallback_warning(result.tracked),
        paths=result.paths,
        version=result.version,
    )


def _fallback_warning(tracked: Optional[Tracked]) -> Optional[str]:
    if tracked is None or tracked.fallback is None:
        return None
    return (
        f"W&B failed online ({tracked.fallback}): the run was written offline; upload it with: "
        f"wandb sync {tracked.location}"
    )


def write_report(run_dir: Path, report: JobReport) -> JobReport:
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / REPORT_FILE).write_text(json.dumps(asdict(report), indent=2) + "\n")
    except OSError as exc:  # the outcome was already logged; the report is a convenience
        log.error("could not write %s: %s", run_dir / REPORT_FILE, explain(exc))
    return report


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
