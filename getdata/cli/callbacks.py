"""Hydra callbacks: mask secrets in the config files Hydra saves, and summarise a sweep.

Both are switched on in conf/config.yaml (hydra.callbacks).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import yaml
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from ..redact import redact
from .failfast import record_failure
from .report import EXIT_CHANGED, EXIT_FAILED, EXIT_LOGGED_OFFLINE, REPORT_FILE

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
    if not path.is_file():
        return
    data = yaml.load(path.read_text(), Loader=_SafeLoader)
    clean = redact(data)
    if clean != data:
        text = yaml.dump(
            clean, Dumper=_SafeDumper, sort_keys=False, default_flow_style=False, allow_unicode=True
        )
        # Parallel jobs may rewrite the same file: replace it whole, never half-written.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)


# libyaml's safe loader and dumper when PyYAML has them (the same YAML, 5-10x faster than the
# pure-Python ones): every job reads back its three saved files, and a sweep's job its
# multirun.yaml (20-40 ms a job with the pure-Python loader).
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class SweepSummary(Callback):
    """At the end of a multirun: one line per dataset, summary.json in the sweep folder, and a
    non-zero exit code when any dataset failed."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        reports = []
        for path in sorted(sweep_dir.glob(f"*/{REPORT_FILE}"), key=_job_order):
            report = json.loads(path.read_text())
            report["job"] = path.parent.name
            reports.append(report)
        statuses = ("ok", "unchanged", "new", "changed", "skipped", "failed")
        count = {s: sum(r["status"] == s for r in reports) for s in statuses}
        summary = {"sweep_dir": str(sweep_dir), "jobs": len(reports), **count}
        (sweep_dir / "summary.json").write_text(
            json.dumps({**summary, "datasets": reports}, indent=2) + "\n"
        )
        log.info("sweep summary (%s):", sweep_dir / "summary.json")
        for r in reports:
            if r["status"] == "ok":
                log.info(
                    "  %-4s %-20s ok      %s  %s bytes  sha256 %s",
                    r["job"],
                    r["dataset"],
                    r["artifact"],
                    r["size"],
                    r["sha256"],
                )
            elif r["status"] == "unchanged":
                log.info("  %-4s %-20s unchanged (nothing fetched)", r["job"], r["dataset"])
            elif r["status"] in ("new", "changed", "skipped"):  # check_only, fail_fast
                log.info("  %-4s %-20s %s", r["job"], r["dataset"], r["error"] or r["status"])
            else:
                log.info("  %-4s %-20s FAILED  %s", r["job"], r["dataset"], r["error"])
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
        if count["failed"]:
            raise SystemExit(EXIT_FAILED)
        if any(r.get("warning") for r in reports):
            raise SystemExit(EXIT_LOGGED_OFFLINE)
        if count["new"] or count["changed"]:
            log.info("check: %d new, %d changed", count["new"], count["changed"])
            raise SystemExit(EXIT_CHANGED)


class FailFast(Callback):
    """fail_fast=true: after a job of a sweep failed, the jobs after it are skipped
    (getdata/cli/failfast.py)."""

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        if not config.get("fail_fast") or config.hydra.mode != RunMode.MULTIRUN:
            return
        report = Path(config.hydra.runtime.output_dir) / REPORT_FILE
        try:
            status = json.loads(report.read_text()).get("status")
        except (OSError, ValueError):
            status = "failed"  # no report: the job died before writing one
        if status == "failed":
            record_failure(Path(config.hydra.sweep.dir), str(config.hydra.job.num))


def _job_order(path: Path) -> Any:
    name = path.parent.name
    return (0, int(name)) if name.isdigit() else (1, name)
