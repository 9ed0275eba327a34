"""A Hydra callback for tests/test_session.py: when a job of a sweep returns, read its W&B run file
back (the tests' own reader) and note which wandb-core processes this process has, so the test
can tell that each run was complete at that moment and that the jobs shared one service."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from tests.wandb_file import artifacts, read_records

PROBE_FILE = "probe.json"


def wandb_core_children(pid: int) -> list[int]:
    """The wandb-core processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        ppid = int(text[text.rindex(")") + 2 :].split()[1])
        if ppid == pid and name.startswith("wandb-core"):
            found.append(int(stat.parent.name))
    return sorted(found)


class ReadRunFileBack(Callback):
    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        job_dir = Path(config.hydra.runtime.output_dir)
        report = json.loads((job_dir / "getdata-report.json").read_text())
        probe: dict[str, Any] = {"pid": os.getpid(), "cores": wandb_core_children(os.getpid())}
        probe["status"] = report["status"]
        if report["status"] == "ok":
            run_file = next(Path(report["wandb"]).glob("run-*.wandb"))
            kinds = [r.WhichOneof("record_type") for r in read_records(run_file)]
            probe["records"] = kinds
            # The installed packages (read once per process, getdata/session.py), every run.
            requirements = Path(report["wandb"]) / "files" / "requirements.txt"
            probe["requirements"] = requirements.read_text().splitlines()
            probe["artifacts"] = [
                {"name": a.name, "digests": [e.digest for e in a.entries]}
                for a in artifacts(run_file)
            ]
        (job_dir / PROBE_FILE).write_text(json.dumps(probe))
