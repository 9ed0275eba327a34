"""Sweeps beyond one process: Hydra's submitit launcher (locally) and Ray launcher (local Ray).

Each test runs `python -m getdata -m ...` as a user would, over two datasets made on the fly
(two local CSV files: `source=local source.path=A,B`), and finds one W&B run per dataset, with
its artifact, in the offline W&B folder.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from getdata.config import config_dir
from tests.support import data_dir, kept_path, logged, md5_b64, only, run_cli, wandb_env

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
    # Each job ran in its own sweep subfolder, as with the basic launcher; the data is in the
    # shared data folder.
    assert kept_path(data_dir(tmp_path), "one.csv", "one.csv").read_bytes() == ONE
    assert kept_path(data_dir(tmp_path), "two.csv", "two.csv").read_bytes() == TWO
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
    # The job's error line reaches the console (the job's own output stays in .submitit/).
    assert "missing.csv: not found" in proc.stderr
    # The good dataset is still logged.
    assert [a.name for _, a in logged(tmp_path)] == ["one.csv"]


def test_slurm_example_config_composes() -> None:
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

# hydra-ray-launcher needs cloudpickle<3, which the pinned joblib does not allow, so Ray lives in a
# virtual environment of its own that scripts/test.sh builds (.venv-ray, constraints-ray.txt).
RAY_PYTHON = os.environ.get(
    "GETDATA_RAY_PYTHON", str(Path(__file__).parents[1] / ".venv-ray/bin/python")
)


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


def listening_sockets(pids: list[int]) -> set[str]:
    """Addresses the given processes listen on (TCP, IPv4 and IPv6), from /proc."""
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[len("socket:[") : -1])
        except OSError:
            continue
    addresses = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(local.split(":")[0])
            # The kernel prints each 32-bit word in host (little-endian) order.
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            address = ipaddress.ip_address(socket.inet_ntop(family, raw))
            mapped = getattr(address, "ipv4_mapped", None)
            addresses.add(str(mapped or address))
    return addresses


class ListenWatcher:
    """Records, while active, every address a marked process listens on."""

    def __init__(self, marker_value: str) -> None:
        self.marker = f"GETDATA_TEST_RAY={marker_value}"
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            self.seen |= listening_sockets(processes_with(self.marker))

    def __enter__(self) -> ListenWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def ray_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for a Ray sweep: loopback only, no usage report, nothing left running."""
    mark = uuid.uuid4().hex
    marker = f"GETDATA_TEST_RAY={mark}"
    # Ray's session folder holds Unix sockets, whose paths must stay under ~107 bytes.
    ray_tmp = tempfile.mkdtemp(prefix="gdray", dir="/tmp")
    env = {
        **wandb_env(tmp_path),
        # Every process the sweep starts inherits this: how the test finds them afterwards.
        "GETDATA_TEST_RAY": mark,
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
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(ray_tmp, ignore_errors=True)
    assert not left, f"Ray processes still running after the sweep: {left}"


def test_ray_local_sweep(tmp_path: Path, ray_env: dict[str, str]) -> None:
    assert Path(RAY_PYTHON).is_file(), f"no Ray environment at {RAY_PYTHON}: run scripts/test.sh"
    one, two = two_datasets(tmp_path)
    sweep_dir = tmp_path / "sweep"
    with ListenWatcher(ray_env["GETDATA_TEST_RAY"]) as watcher:
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
            python=RAY_PYTHON,
        )
    assert proc.returncode == 0, proc.stderr
    assert "Started a local Ray instance" in proc.stderr
    # Ray's servers (GCS, raylet, workers, agents) listened, and on the loopback address only.
    assert watcher.seen, "saw no listening socket: the check did not work"
    assert all(ipaddress.ip_address(a).is_loopback for a in watcher.seen), watcher.seen
    check_two_artifacts(tmp_path, sweep_dir)
