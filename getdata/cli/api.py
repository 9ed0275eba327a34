"""The Python API: ``getdata.fetch(*overrides, **settings)`` runs one dataset as the CLI does.

Same config (Hydra compose of the same conf/, catalog and $GETDATA_CATALOG included), same
validation, same files (``getdata.log``, ``getdata-report.json`` in the run folder; the data in
the data folder), same W&B behaviour. It returns a :class:`FetchResult` or raises a
:class:`~getdata.errors.GetDataError` subclass whose message is the one line the CLI would print
(every invalid setting: the one :class:`~getdata.errors.ConfigError`).

Safe to call from several threads: Hydra's configuration state (GlobalHydra) and wandb's run
(one current run per process, started with the process's environment and command line) are the
process's, so calls run one at a time, each whole; each call's ``getdata.log`` holds its own
lines. For datasets fetched in parallel, use a sweep (``-m`` with the joblib launcher).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from ..config import config_dir, to_app_config
from ..errors import ConfigError, GetDataError, explain
from ..pipeline.run import Result, run
from ..redact import RedactFilter, redact_text
from .configs import register_configs
from .report import REPORT_FILE, JobReport, report_of, write_report

log = logging.getLogger("getdata")

# One call at a time per process (see above).
_ONE_AT_A_TIME = threading.Lock()

# Config groups: a keyword for one of these picks an entry, like `source=http` on the CLI.
GROUPS = ("source", "dataset")
_CHOICE = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class FetchResult:
    # "ok" (logged), "unchanged" (skip_unchanged), or check_only's "new" | "changed" | "unchanged"
    status: str
    # The W&B artifact name; the next step uses "<artifact>:<alias>".
    artifact: str
    # The aliases given (W&B adds "latest" and the version, v0, v1, ...).
    aliases: list[str]
    size: Optional[int]
    sha256: Optional[str]
    # The kept files, absolute; empty for a reference artifact or a check.
    paths: list[Path]
    # The job's folder: getdata.log, getdata-report.json (and data/ with data_dir=null).
    run_dir: Path
    # "online" | "offline" | "disabled"; None when nothing was logged.
    wandb_mode: Optional[str] = None
    # Online: the run's page; offline: the folder `wandb sync` uploads.
    wandb_location: Optional[str] = None
    wandb_run_id: Optional[str] = None
    # The Registry path it was linked to (artifact.link_to, online only).
    linked: Optional[str] = None
    # The metadata key "drift" (None: nothing recorded to compare with).
    drift: Optional[dict[str, Any]] = field(default=None)
    # The version as getdata counts them in the data folder (v0, v1, ...): what
    # getdata.use("<artifact>:<version>") names; None when nothing was logged.
    version: Optional[str] = None

    @property
    def path(self) -> Optional[Path]:
        """The single kept file (or the first of a folder)."""
        return self.paths[0] if self.paths else None


def fetch(*overrides: str, run_dir: Optional[str | Path] = None, **settings: Any) -> FetchResult:
    """Fetch one dataset and log it, exactly as ``python -m getdata OVERRIDES`` would.

    ``overrides`` are Hydra override strings (``"dataset=genres"``, ``"artifact.aliases=[prod]"``).
    ``settings`` are the same as Python values: ``source``/``dataset`` pick a config entry, other
    keys are config keys with ``__`` for ``.`` (``artifact__aliases=["prod"]``); their values are
    taken literally (``${...}`` is not interpolated). ``run_dir`` defaults to the CLI's
    ``outputs/<date>/<time>``. Calls from several threads run one after the other.
    """
    with _ONE_AT_A_TIME:
        return _fetch(overrides, run_dir, settings)


def _fetch(
    overrides: tuple[str, ...], run_dir: Optional[str | Path], settings: dict[str, Any]
) -> FetchResult:
    register_configs()
    choices = [_choice(k, v) for k, v in settings.items() if k in GROUPS]
    values = {k.replace("__", "."): v for k, v in settings.items() if k not in GROUPS}
    cfg, default_dir = _compose([*overrides, *choices], values)
    folder = Path(run_dir) if run_dir is not None else Path(default_dir)
    dataset = _dataset_name(cfg, [*overrides, *choices])
    with _job_log(folder):
        try:
            run_config: Any = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
            result = run(to_app_config(cfg), folder, run_config)
        except Exception as exc:
            error = _typed(exc)
            log.error("%s", error)
            write_report(folder, JobReport(dataset=dataset, status="failed", error=str(error)))
            raise error from exc
    write_report(folder, report_of(dataset, result))
    return _result(result, folder, cfg)


def _choice(group: str, value: Any) -> str:
    if not isinstance(value, str) or not _CHOICE.match(value):
        raise ConfigError(f"{group}={value!r}: name a {group} entry (letters, digits, . _ -)")
    return f"{group}={value}"


def _compose(overrides: list[str], values: dict[str, Any]) -> tuple[DictConfig, str]:
    """The job's config (without the hydra node) and the CLI's run folder for it."""
    try:
        with _own_hydra(), initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
            full = compose(config_name="config", overrides=overrides, return_hydra_config=True)
        run_dir = str(full.hydra.run.dir)
        with open_dict(full):
            del full["hydra"]
        for key, value in values.items():
            OmegaConf.update(full, key, _literal(value), merge=False)
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        raise ConfigError(redact_text(_first_line(str(exc)) or type(exc).__name__)) from exc
    return full, run_dir


def _literal(value: Any) -> Any:
    """A Python value as OmegaConf keeps it verbatim: ``${`` escaped, containers walked."""
    if isinstance(value, str):
        return value.replace("${", "\\${")
    if isinstance(value, Path):
        return _literal(str(value))
    if isinstance(value, (list, tuple)):
        return [_literal(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _literal(v) for k, v in value.items()}
    return value


@contextmanager
def _own_hydra() -> Iterator[None]:
    """Compose even when called from inside a running Hydra app (whose GlobalHydra is set),
    and give that app its GlobalHydra back afterwards."""
    saved = GlobalHydra.instance().hydra
    GlobalHydra.instance().clear()
    try:
        yield
    finally:
        # initialize_config_dir swaps the singleton for a backup copy on exit: ask again.
        current = GlobalHydra.instance()
        current.clear()
        if saved is not None:
            current.initialize(saved)


@contextmanager
def _job_log(folder: Path) -> Iterator[None]:
    """The CLI's ``<run dir>/getdata.log`` (INFO and up, secrets masked) for this call."""
    folder.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(folder / "getdata.log")
    handler.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
    handler.addFilter(RedactFilter())
    level = log.level
    log.addHandler(handler)
    if log.getEffectiveLevel() > logging.INFO:
        log.setLevel(logging.INFO)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
        handler.close()


def _typed(exc: Exception) -> GetDataError:
    if isinstance(exc, GetDataError):
        return exc
    if isinstance(exc, (HydraException, OmegaConfBaseException)):
        return ConfigError(redact_text(_first_line(str(exc)) or type(exc).__name__))
    return GetDataError(redact_text(f"unexpected error: {explain(exc)}"))


def _first_line(text: str) -> str:
    """Hydra's message on one line (it spreads one over several: what, why, what to try)."""
    return " ".join(line.strip() for line in text.splitlines() if line.strip())[:500]


def _dataset_name(cfg: DictConfig, overrides: list[str]) -> str:
    for item in reversed(overrides):
        if item.startswith("dataset="):
            return item.split("=", 1)[1]
    source = OmegaConf.select(cfg, "source.url") or OmegaConf.select(cfg, "source.path")
    return redact_text(str(source))


def _result(result: Result, folder: Path, cfg: DictConfig) -> FetchResult:
    tracked = result.tracked
    return FetchResult(
        status=result.status,
        artifact=result.artifact,
        aliases=[str(a) for a in cfg.artifact.aliases],
        size=result.size,
        sha256=result.sha256,
        paths=[Path(p) for p in result.paths],
        run_dir=folder.resolve(),
        wandb_mode=tracked.mode if tracked else None,
        wandb_location=tracked.location if tracked else None,
        wandb_run_id=tracked.run_id if tracked else None,
        linked=tracked.linked if tracked else None,
        drift=result.drift,
        version=result.version,
    )


__all__ = ["ConfigError", "FetchResult", "REPORT_FILE", "fetch"]
