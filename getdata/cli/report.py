"""One job of a run or sweep: run the dataset, never raise, and leave a report behind.

The report (``<run dir>/getdata-report.json``) is what the sweep summary collects
(getdata/cli/callbacks.py).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from hydra.errors import HydraException
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ..config import to_app_config
from ..errors import GetDataError, explain, full_errors
from ..pipeline.run import Result, run
from ..redact import redact, redact_text, redact_url
from ..store.records import read_json, write_json
from ..tracking.run import Tracked
from .failfast import stopped
from .interrupt import job_signals, signal_name

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
    # Set when a signal stopped the job, or kept it from starting: 130 (Ctrl-C), 143 (SIGTERM).
    interrupted: Optional[int] = None


REPORT_FILE = "getdata-report.json"
STATUSES = ("ok", "unchanged", "new", "changed", "skipped", "failed")
# The fields a report holds, and their types (a report read back is checked against them).
_FIELDS = {
    "dataset": (str,),
    "status": (str,),
    "artifact": (str, type(None)),
    "size": (int, type(None)),
    "sha256": (str, type(None)),
    "wandb": (str, type(None)),
    "error": (str, type(None)),
    "warning": (str, type(None)),
    "paths": (list,),
    "version": (str, type(None)),
    "interrupted": (int, type(None)),
}

# Exit codes a scheduler can branch on (a sweep: the worst of its datasets).
EXIT_OK = 0
EXIT_FAILED = 1
# check_only: at least one dataset new or changed, none failed.
EXIT_CHANGED = 3
# The data was fetched and kept, but logged offline because W&B failed online: the run waits in
# the offline folder for `wandb sync`.
EXIT_LOGGED_OFFLINE = 4


def run_job(
    cfg: DictConfig, run_dir: Path, dataset: Optional[str], sweep_dir: Optional[Path] = None
) -> JobReport:
    """``run`` for one job of a run or sweep: never raises for a failed dataset, reports instead.

    The outcome is logged (one line, secrets masked) and written to ``<run_dir>/REPORT_FILE``,
    which the sweep summary collects. Nothing escapes to Hydra, which would print the raw
    overrides (credentials included); HYDRA_FULL_ERROR=1 re-raises for the full traceback.
    ``sweep_dir``: the job is one of that sweep's (an interruption then stops the sweep, and is
    reported by its summary rather than raised).
    """
    source = OmegaConf.select(cfg, "source.url") or OmegaConf.select(cfg, "source.path")
    if isinstance(source, (ListConfig, DictConfig)):  # several URLs: each masked where it is
        source = redact(OmegaConf.to_container(source))
    dataset = dataset or redact_url(str(source))
    skip = stopped(cfg)  # an earlier dataset of this sweep failed (fail_fast), or a signal came
    if skip:
        reason, signalled = skip
        log.warning("%s", reason, extra={"console": signalled is None})
        report = JobReport(dataset=dataset, status="skipped", error=reason, interrupted=signalled)
        return write_report(run_dir, report)
    try:
        with job_signals(sweep_dir):
            run_config: Any = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
            result = run(to_app_config(cfg), run_dir, run_config)
            report = report_of(dataset, result)
    except (KeyboardInterrupt, SystemExit) as exc:
        # Ctrl-C, or SIGTERM (getdata/cli/interrupt.py turns it into SystemExit): by now the
        # partial download and any unfinished W&B run were removed on the way out. Say so
        # once, leave the report, and exit like a signalled program (130/143); in a sweep the
        # summary says it for all its jobs, in one line.
        code = 130 if isinstance(exc, KeyboardInterrupt) else exc.code
        if not isinstance(code, int) or code < 128:
            raise
        message = (
            f"interrupted by {signal_name(code - 128)}: the partial download and the "
            "unfinished W&B run were removed; nothing was logged"
        )
        log.error("%s", message, extra={"console": sweep_dir is None})
        failed = JobReport(dataset=dataset, status="failed", error=message, interrupted=code)
        write_report(run_dir, failed)
        if sweep_dir is not None:
            return failed
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
    """Write the report whole (getdata/store/records.py: a sweep's summary never reads half)."""
    try:
        write_json(run_dir / REPORT_FILE, asdict(report))
    except OSError as exc:  # the outcome was already logged; the report is a convenience
        log.error("could not write %s: %s", run_dir / REPORT_FILE, explain(exc))
    return report


def valid_report(record: Any) -> bool:
    """A report of the shape :func:`write_report` writes."""
    return (
        isinstance(record, dict)
        and all(isinstance(record.get(k), types) for k, types in _FIELDS.items() if k in record)
        and isinstance(record.get("dataset"), str)
        and record.get("status") in STATUSES
        and all(isinstance(p, str) for p in record.get("paths", []))
    )


def read_report(run_dir: Path) -> Optional[dict[str, Any]]:
    """The report a job left in ``run_dir``, or None (none, or not one: one warning)."""
    record: Optional[dict[str, Any]] = read_json(
        run_dir / REPORT_FILE, "the job report", valid_report
    )
    return record
