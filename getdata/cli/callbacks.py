"""Hydra callbacks: mask secrets in the config files Hydra saves, and summarise a sweep.

They are switched on in conf/config.yaml (hydra.callbacks). The summary lists every job of the
sweep from the report each left (read back as records: getdata/store/records.py); a job that
left none, or one that is not a report, is ``failed`` with the reason. A sweep whose launcher
gave up (a joblib worker killed) or that was interrupted (Ctrl-C, SIGTERM) is summarised too.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Optional

import yaml
from hydra.errors import HydraException
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ..errors import explain
from ..names import printable
from ..redact import redact
from ..store.records import read_bytes, write_bytes, write_json
from .failfast import record_failure
from .interrupt import clear, interrupted, marked, signal_name, watch_sweep
from .report import (
    EXIT_CHANGED,
    EXIT_FAILED,
    EXIT_LOGGED_OFFLINE,
    REPORT_FILE,
    STATUSES,
    read_report,
)

log = logging.getLogger("getdata")


class RedactSavedConfig(Callback):
    """Hydra writes the job's config and overrides to <run dir>/.hydra before the job starts; a
    URL with a signature or a header given on the command line would sit there in clear."""

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        hydra_cfg = config.hydra
        paths = []
        if hydra_cfg.output_subdir is not None:
            folder = Path(hydra_cfg.runtime.output_dir) / hydra_cfg.output_subdir
            paths += [folder / name for name in ("config.yaml", "hydra.yaml", "overrides.yaml")]
        if hydra_cfg.mode == RunMode.MULTIRUN:
            # The sweeper saves the sweep's config before the first job starts.
            paths.append(Path(hydra_cfg.sweep.dir) / "multirun.yaml")
        for path in paths:
            _redact_file(path)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        _redact_file(Path(config.hydra.sweep.dir) / "multirun.yaml")


def _redact_file(path: Path) -> None:
    """Mask the secrets in a saved YAML file on its structure (a mapping's secret values, URLs,
    overrides as `key=value` strings) and write it back with a YAML dumper, so it still loads:
    `Authorization: ***` unquoted would be a YAML alias, not a string."""
    raw = read_bytes(path, "the saved config")
    if raw is None:
        return
    data = yaml.load(raw, Loader=_SafeLoader)
    clean = redact(data)
    if clean != data:
        text = yaml.dump(
            clean, Dumper=_SafeDumper, sort_keys=False, default_flow_style=False, allow_unicode=True
        )
        # Parallel jobs may rewrite the same file: replace it whole, never half-written.
        write_bytes(path, text.encode())


# libyaml's safe loader and dumper when PyYAML has them (the same YAML, 5-10x faster than the
# pure-Python ones): every job reads back its three saved files, and a sweep's job its
# multirun.yaml (20-40 ms a job with the pure-Python loader).
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class SweepSummary(Callback):
    """At the end of a multirun: one line per dataset, summary.json in the sweep folder, and a
    non-zero exit code when any dataset failed; one line in all when the sweep was interrupted.
    At its start: the sweep's parent takes over SIGINT and SIGTERM (getdata/cli/interrupt.py)."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        _sweep.append(sweep_dir)
        launcher = str(OmegaConf.select(config, "hydra.launcher._target_", default=""))
        watch_sweep(sweep_dir, block=launcher.endswith(_OWN_PROCESS_LAUNCHERS))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        code = summarise(Path(config.hydra.sweep.dir))
        if code:
            raise SystemExit(code)


# The sweep this process is the parent of (set when it starts).
_sweep: list[Path] = []
# Launchers whose jobs run in this process or in worker processes it starts itself.
_OWN_PROCESS_LAUNCHERS = (".BasicLauncher", ".JoblibLauncher")


def summarise(sweep_dir: Path, stopped: Optional[str] = None) -> int:
    """Write summary.json, say how the sweep went, and return its exit code.

    ``stopped``: why the launcher gave up before every job had ended; the jobs without a report
    are then listed as failed with it (the caller says why in one line). An interrupted sweep
    is said in one line here, unless it stopped (then the caller's line says it).
    """
    reports = _reports(sweep_dir, stopped)
    count = {s: sum(r["status"] == s for r in reports) for s in STATUSES}
    summary: dict[str, Any] = {"sweep_dir": str(sweep_dir), "jobs": len(reports), **count}
    signalled = interrupted() or marked(sweep_dir)
    if signalled is not None:
        summary["interrupted"] = signal_name(signalled)
    if stopped:
        summary["stopped"] = stopped
    path = sweep_dir / "summary.json"
    write_json(path, {**summary, "datasets": reports})
    clear(sweep_dir)  # summary.json says it now
    if signalled is not None:
        if not stopped:  # one line for the whole sweep: each job's own is in its log
            log.error("%s", interrupted_line(signalled, reports, path))
        return 128 + signalled
    _log_summary(path, reports, count)
    if stopped or count["failed"]:
        return EXIT_FAILED
    if any(r.get("warning") for r in reports):
        return EXIT_LOGGED_OFFLINE
    if count["new"] or count["changed"]:
        log.info("check: %d new, %d changed", count["new"], count["changed"])
        return EXIT_CHANGED
    return 0


def interrupted_line(signalled: int, reports: list[dict[str, Any]], path: Path) -> str:
    cleaned = sum(r.get("interrupted") is not None and r["status"] == "failed" for r in reports)
    logged = sum(r["status"] == "ok" for r in reports)
    not_run = sum(r["status"] == "skipped" for r in reports)
    return (
        f"interrupted by {signal_name(signalled)}: the sweep stopped ({logged} logged; "
        f"{cleaned} interrupted, their partial downloads and unfinished W&B runs removed; "
        f"{not_run} not run); summary: {path}"
    )


def _reports(sweep_dir: Path, stopped: Optional[str]) -> list[dict[str, Any]]:
    """One report per job folder (a folder Hydra made for a job: it holds .hydra/ or a report),
    in job order; a job that left no report, or not one, is failed."""
    reports = []
    for folder in sorted(_job_folders(sweep_dir), key=_job_order):
        report = read_report(folder)
        if report is None:
            why = stopped or "the job ended without a report (its process was killed?)"
            found = folder / REPORT_FILE
            if found.exists() or found.is_symlink():
                why = f"its {REPORT_FILE} could not be read as a report"
            report = {"dataset": _dataset_of(folder), "status": "failed", "error": why}
        reports.append({**report, "job": folder.name})
    return reports


def _job_folders(sweep_dir: Path) -> list[Path]:
    try:
        entries = list(sweep_dir.iterdir())
    except OSError:
        return []
    return [
        p
        for p in entries
        if p.is_dir()
        and not p.is_symlink()
        and not p.name.startswith(".")
        and any((p / name).exists() for name in (".hydra", REPORT_FILE, "getdata.log"))
    ]


def _dataset_of(folder: Path) -> str:
    """The dataset a job was for, from the overrides Hydra saved (its `dataset=` or its source)."""
    raw = read_bytes(folder / ".hydra" / "overrides.yaml", "the saved overrides", 1 << 20)
    try:
        overrides = yaml.load(raw, Loader=_SafeLoader) if raw else []
    except yaml.YAMLError:
        overrides = []
    if not isinstance(overrides, list):
        overrides = []
    texts = [str(o) for o in overrides]
    for prefix in ("dataset=", "source.url=", "source.path="):
        found = [t.split("=", 1)[1] for t in texts if t.lstrip("+~").startswith(prefix)]
        if found:
            return str(redact({"value": found[-1]})["value"])
    return f"job {folder.name}"


def _log_summary(path: Path, reports: list[dict[str, Any]], count: dict[str, int]) -> None:
    log.info("sweep summary (%s):", path)
    for r in reports:
        if r["status"] == "ok":
            log.info(
                "  %-4s %-20s ok      %s  %s bytes  sha256 %s",
                r["job"],
                r["dataset"],
                r.get("artifact"),
                r.get("size"),
                r.get("sha256"),
            )
        elif r["status"] == "unchanged":
            log.info("  %-4s %-20s unchanged (nothing fetched)", r["job"], r["dataset"])
        elif r["status"] in ("new", "changed", "skipped"):  # check_only, fail_fast
            log.info("  %-4s %-20s %s", r["job"], r["dataset"], r.get("error") or r["status"])
        else:
            log.info("  %-4s %-20s FAILED  %s", r["job"], r["dataset"], r.get("error"))
    log.info(
        "%d of %d datasets logged, %d unchanged, %d failed",
        count["ok"],
        len(reports),
        count["unchanged"],
        count["failed"],
    )
    for r in reports:
        if r.get("warning"):
            log.warning("  %-4s %s", r["job"], r["warning"])


def stopped_sweep(exc: BaseException) -> Optional[str]:
    """When this process's sweep stopped on ``exc`` (its launcher gave up: a joblib worker was
    killed, or a second signal): summary.json is written and the one line returned."""
    if not _sweep or isinstance(exc, (HydraException, OmegaConfBaseException)):
        return None  # no sweep, or a config that does not compose: its own one line
    sweep_dir = _sweep[-1]
    if not isinstance(exc, KeyboardInterrupt) and not _job_folders(sweep_dir):
        return None  # no job started: nothing to summarise
    reason = _launcher_failure(exc)
    try:
        summarise(sweep_dir, stopped=reason)
    except Exception as failure:  # the summary is a convenience here: the line still goes out
        log.debug("no summary for the stopped sweep: %s", failure)
    summary = sweep_dir / "summary.json"
    signalled = interrupted()
    if signalled is not None:
        return f"interrupted by {signal_name(signalled)}: the sweep stopped; summary: {summary}"
    return f"the sweep stopped: {reason}; summary: {summary}"


def _launcher_failure(exc: BaseException) -> str:
    """Why the launcher gave up, in one line: joblib names the dead worker's exit code."""
    text = str(exc)
    if type(exc).__name__ == "TerminatedWorkerError":
        found = re.search(r"exit codes of the workers are \{([^}]*)\}", text)
        codes = printable(found.group(1)) if found else ""
        return (
            f"a joblib worker process died ({codes or 'killed'}) before its job ended; joblib "
            "then stopped the sweep's other workers and ran no further job"
        )
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return f"the launcher failed: {explain(exc)}"


class FailFast(Callback):
    """fail_fast=true: after a job of a sweep failed, the jobs after it are skipped
    (getdata/cli/failfast.py)."""

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        if not config.get("fail_fast") or config.hydra.mode != RunMode.MULTIRUN:
            return
        report = read_report(Path(config.hydra.runtime.output_dir))
        # No report (or not one): the job died before writing one.
        if report is None or report["status"] == "failed":
            record_failure(Path(config.hydra.sweep.dir), str(config.hydra.job.num))


def _job_order(folder: Path) -> Any:
    name = folder.name
    return (0, int(name)) if name.isdigit() else (1, name)
