"""Helpers the tests share: run getdata in-process or as a subprocess, read back what W&B wrote."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from base64 import b64encode
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from getdata.cli.configs import register_configs
from getdata.config import config_dir, to_app_config
from getdata.pipeline.run import Result, run
from tests.wandb_file import LoggedArtifact, artifacts, find_run_files

register_configs()

REPO = Path(__file__).resolve().parent.parent


def data_dir(root: Path) -> Path:
    """The shared data folder of a test whose environment is :func:`wandb_env` (``root``)."""
    return root / "getdata-data"


def wandb_env(root: Path) -> dict[str, str]:
    """Environment for an offline wandb whose every folder is under ``root``, and getdata's
    shared data folder there too (:func:`data_dir`)."""
    return {
        "GETDATA_DATA_DIR": str(data_dir(root)),
        "WANDB_MODE": "offline",
        "WANDB_DIR": str(root / "wandb-dir"),
        "WANDB_DATA_DIR": str(root / "wandb-data"),
        "WANDB_CACHE_DIR": str(root / "wandb-cache"),
        "WANDB_CONFIG_DIR": str(root / "wandb-config"),
        "WANDB_SILENT": "true",
        "WANDB_DISABLE_GIT": "true",
        "WANDB_PROJECT": "getdata-tests",
    }


def run_in_process(run_dir: Path, *overrides: str) -> Result:
    """Compose the config like the app does and call ``getdata.pipeline.run.run``."""
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose(config_name="config", overrides=list(overrides))
    run_config = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    return run(to_app_config(cfg), run_dir, run_config)  # type: ignore[arg-type]


def run_cli(
    args: list[str], env: dict[str, str], cwd: Path, python: str = sys.executable
) -> subprocess.CompletedProcess[str]:
    """``python -m getdata ARGS`` in a subprocess, as a user runs it."""
    # The tests check the short, user-facing errors unless they ask for HYDRA_FULL_ERROR.
    full_env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    full_env.update(env)
    return subprocess.run(
        [python, "-m", "getdata", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def logged(root: Path) -> list[tuple[Path, LoggedArtifact]]:
    """Every artifact in every offline run file under ``root``'s wandb folder."""
    return [
        (run_file, artifact)
        for run_file in find_run_files(root / "wandb-dir")
        for artifact in artifacts(run_file)
    ]


def md5_b64(data: bytes) -> str:
    """The digest W&B records for a file entry: base64 of the raw MD5."""
    return b64encode(hashlib.md5(data).digest()).decode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def only(items: list[Any]) -> Any:
    assert len(items) == 1, f"expected exactly one, got {len(items)}: {items!r}"
    return items[0]


def compose_cfg(*overrides: str) -> Any:
    """The composed (untyped) config, as the Hydra app hands it to the job."""
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def leftovers(root: Path) -> list[Path]:
    """getdata's partial files and staging folders anywhere under ``root`` (there must never be
    any once a run has ended; the lock file ``.getdata.lock``, the record of the versions
    logged, ``.getdata-versions.json``, and the records of kept versions, ``.getdata-kept/``,
    are not)."""
    kept = (".getdata.lock", ".getdata-versions.json")
    return sorted(
        p for p in root.rglob(".getdata-*") if p.name not in kept and ".getdata-kept" not in p.parts
    )


def kept_path(data_dir: Path, artifact: str, name: str = "") -> Path:
    """The one kept version of ``artifact`` under ``data_dir`` (``<artifact>/<sha16>/``), or the
    file ``name`` in it."""
    versions = [p for p in (data_dir / artifact).iterdir() if not p.name.startswith(".")]
    return only(versions) / name if name else only(versions)


def killed_with_9(
    args: list[str], cwd: Path, env: dict[str, str], until: Callable[[], Any], timeout: float = 60
) -> Any:
    """Start ``python -m getdata ARGS`` in ``cwd``, wait until ``until()`` returns something
    true, kill the run with -9 (no clean-up of its own can run) and return what ``until`` said."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "getdata", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + timeout
        while not (found := until()):
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, f"not seen within {timeout} s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        return found
    finally:
        proc.kill()


def getdata_run(
    args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``python -m getdata ARGS`` in ``cwd`` to its end, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "getdata", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def part_map_claims(data_dir: Path) -> int:
    """How many bytes in all the part map of the one partial under ``data_dir`` claims are on
    disk (0 while there is none)."""
    for mapfile in data_dir.rglob("*.map"):
        blob = mapfile.read_bytes()
        if len(blob) < 12:
            return 0
        length = int.from_bytes(blob[8:12], "little")
        parts = len(json.loads(blob[12 : 12 + length])["parts"])
        slots = blob[len(blob) - 8 * parts :]
        return sum(int.from_bytes(slots[i : i + 8], "little") for i in range(0, len(slots), 8))
    return 0
