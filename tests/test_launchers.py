"""Sweeps beyond one process: Hydra's submitit launcher (locally) and Ray launcher (local Ray).

Each test runs `python -m getdata -m ...` as a user would, over two datasets made on the fly
(two local CSV files: `source=local source.path=A,B`), and finds one W&B run per dataset, with
its artifact, in the offline W&B folder.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from getdata.config import config_dir
from tests.support import logged, md5_b64, only, run_cli, wandb_env

ONE = b"id,genre\n" + b"".join(b"%d,rock\n" % i for i in range(300))
TWO = b"id,tempo\n" + b"".join(b"%d,%d.5\n" % (i, 60 + i % 120) for i in range(400))


def two_datasets(tmp_path: Path) -> tuple[Path, Path]:
    one, two = tmp_path / "data" / "one.csv", tmp_path / "data" / "two.csv"
    one.parent.mkdir()
    one.write_bytes(ONE)
    two.write_bytes(TWO)
    return one, two


def check_two_artifacts(tmp_path: Path, sweep_dir: Path) -> None:
    found = logged(tmp_path)
    assert len({run_file for run_file, _ in found}) == 2, "one W&B run per dataset"
    by_name = {artifact.name: artifact for _, artifact in found}
    assert set(by_name) == {"one.csv", "two.csv"}
    assert only(by_name["one.csv"].entries).digest == md5_b64(ONE)
    assert only(by_name["two.csv"].entries).digest == md5_b64(TWO)
    # Each job ran in its own sweep subfolder, as with the basic launcher.
    assert (sweep_dir / "0" / "data" / "one.csv").read_bytes() == ONE
    assert (sweep_dir / "1" / "data" / "two.csv").read_bytes() == TWO
    assert "logged artifact one.csv" in (sweep_dir / "0" / "getdata.log").read_text()


# ---------------------------------------------------------------------------------------------
# submitit
# ---------------------------------------------------------------------------------------------


def test_submitit_local_sweep(tmp_path: Path) -> None:
    one, two = two_datasets(tmp_path)
    sweep_dir = tmp_path / "sweep"
    proc = run_cli(
        [
            "-m",
            "source=local",
            f"source.path={one},{two}",
            "hydra/launcher=submitit_local",
            "hydra.launcher.timeout_min=5",
            f"hydra.sweep.dir={sweep_dir}",
        ],
        wandb_env(tmp_path),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    check_two_artifacts(tmp_path, sweep_dir)
    # submitit ran each job in a process of its own and kept its output next to the sweep.
    job_logs = sorted((sweep_dir / ".submitit").glob("*/*_log.err"))
    assert len(job_logs) == 2
    assert "logged artifact" in "".join(p.read_text() for p in job_logs)


def test_submitit_failed_job_fails_the_sweep(tmp_path: Path) -> None:
    one, _ = two_datasets(tmp_path)
    missing = tmp_path / "data" / "missing.csv"
    proc = run_cli(
        [
            "-m",
            "source=local",
            f"source.path={one},{missing}",
            "hydra/launcher=submitit_local",
            f"hydra.sweep.dir={tmp_path / 'sweep'}",
        ],
        wandb_env(tmp_path),
        cwd=tmp_path,
    )
    assert proc.returncode != 0
    # The good dataset is still logged.
    assert [a.name for _, a in logged(tmp_path)] == ["one.csv"]


def test_slurm_example_config_composes() -> None:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose(
            config_name="config",
            overrides=["hydra/launcher=slurm_example"],
            return_hydra_config=True,
        )
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert launcher.timeout_min == 120
    assert launcher.array_parallelism == 8


# ---------------------------------------------------------------------------------------------
# Ray
# ---------------------------------------------------------------------------------------------

HAS_RAY_LAUNCHER = importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is not None


def processes_with(marker: str) -> list[int]:
    """Processes whose environment holds ``marker``: everything a test's subprocess started."""
    found = []
    needle = marker.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:  # gone, or not ours to read
            continue
    return found


@pytest.fixture
def ray_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for a Ray sweep: loopback only, no usage report, nothing left running."""
    marker = f"GETDATA_TEST_RAY={uuid.uuid4().hex}"
    # Ray's session folder holds Unix sockets, whose paths must stay under ~107 bytes.
    ray_tmp = tempfile.mkdtemp(prefix="gdray", dir="/tmp")
    env = {
        **wandb_env(tmp_path),
        marker.split("=")[0]: marker.split("=")[1],
        # On Linux Ray takes the host's address and listens on it; this makes the node's address
        # 127.0.0.1 and every Ray server listen there only.
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_USAGE_STATS_ENABLED": "0",
        # Token auth stays on, with a token of this test's own (not written to ~/.ray).
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": uuid.uuid4().hex,
        "GETDATA_TEST_RAY_TMP": ray_tmp,
    }
    yield env
    deadline = time.monotonic() + 15
    left = processes_with(marker)
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = processes_with(marker)
    for pid in left:  # ours (they carry the marker): don't let them outlive the test
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    shutil.rmtree(ray_tmp, ignore_errors=True)
    assert not left, f"Ray processes still running after the sweep: {left}"


@pytest.mark.skipif(
    not HAS_RAY_LAUNCHER,
    reason="hydra-ray-launcher is not installed (the `ray` extra; not in `test`: it needs "
    "cloudpickle<3, which the pinned joblib 1.6 does not allow)",
)
def test_ray_local_sweep(tmp_path: Path, ray_env: dict[str, str]) -> None:
    one, two = two_datasets(tmp_path)
    sweep_dir = tmp_path / "sweep"
    proc = run_cli(
        [
            "-m",
            "source=local",
            f"source.path={one},{two}",
            "hydra/launcher=ray",
            "+hydra.launcher.ray.init.num_cpus=2",
            "+hydra.launcher.ray.init.include_dashboard=false",
            f"+hydra.launcher.ray.init._temp_dir={ray_env['GETDATA_TEST_RAY_TMP']}",
            f"hydra.sweep.dir={sweep_dir}",
        ],
        ray_env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Started a local Ray instance" in proc.stderr
    check_two_artifacts(tmp_path, sweep_dir)
