"""getdata as a user runs it: `python -m getdata …` in a subprocess, single runs and sweeps."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from getdata.config import bundled_data
from tests.support import (
    REPO,
    data_dir,
    kept_path,
    logged,
    md5_b64,
    only,
    run_cli,
    sha256_hex,
    wandb_env,
)
from tests.wandb_file import run_info

SAMPLE = Path(bundled_data("sample.parquet")).read_bytes()


def test_default_run_logs_the_bundled_sample(tmp_path: Path) -> None:
    proc = run_cli([f"hydra.run.dir={tmp_path / 'run'}"], wandb_env(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run_file, artifact = only(logged(tmp_path))
    assert artifact.name == "sample.parquet"
    assert only(artifact.entries).digest == md5_b64(SAMPLE)
    assert artifact.metadata["sha256"] == sha256_hex(SAMPLE)
    assert run_info(run_file)["job_type"] == "get_data"
    # One closing line names the artifact, size, sha256 and where the run went; the job log in
    # the run folder holds the same lines.
    closing = [line for line in proc.stderr.splitlines() if "logged artifact" in line]
    assert len(closing) == 1
    assert "sample.parquet" in closing[0] and sha256_hex(SAMPLE) in closing[0]
    assert str(run_file.parent) in closing[0]
    assert "wandb sync" in proc.stderr
    log = (tmp_path / "run" / "getdata.log").read_text()
    assert "logged artifact sample.parquet" in log


def test_bad_source_exits_non_zero_with_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    proc = run_cli(
        ["source=local", f"source.path={missing}", f"hydra.run.dir={tmp_path / 'run'}"],
        wandb_env(tmp_path),
        cwd=tmp_path,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if str(missing) in line]
    assert errors and "not found" in errors[-1]
    assert not (tmp_path / "wandb-dir").exists(), "a failed fetch starts no W&B run"
    assert list(data_dir(tmp_path).glob("*")) == []


def test_missing_value_exits_non_zero(tmp_path: Path) -> None:
    proc = run_cli(["source=http"], wandb_env(tmp_path), cwd=tmp_path)
    assert proc.returncode == 1
    assert "missing value for source.url" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_sweep_two_datasets(tmp_path: Path, http_server, launcher: str) -> None:
    csv = b"a,b\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(1000))
    http_server.add("/squares.csv", csv)
    # A second catalog entry in a catalog of the user's own (hydra.searchpath), next to ours.
    catalog = tmp_path / "my_conf" / "dataset"
    catalog.mkdir(parents=True)
    (catalog / "squares.yaml").write_text(
        "# @package _global_\n"
        "defaults:\n  - override /source: http\n"
        f"source:\n  url: {http_server.url('/squares.csv')}\n"
        "artifact:\n  name: squares.csv\n  description: Squares\n"
    )
    sweep_dir = tmp_path / "sweep"
    proc = run_cli(
        [
            "-m",
            "dataset=sample,squares",
            f"hydra/launcher={launcher}",
            f"hydra.sweep.dir={sweep_dir}",
            f"hydra.searchpath=[file://{tmp_path / 'my_conf'}]",
        ],
        wandb_env(tmp_path),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    found = logged(tmp_path)
    runs = {run_file for run_file, _ in found}
    assert len(runs) == 2, "one W&B run per dataset"
    by_name = {artifact.name: artifact for _, artifact in found}
    assert set(by_name) == {"sample.parquet", "squares.csv"}
    assert only(by_name["squares.csv"].entries).digest == md5_b64(csv)
    assert only(by_name["sample.parquet"].entries).digest == md5_b64(SAMPLE)
    # Each job has its own sweep subfolder with its log; the data is in the shared data folder.
    assert kept_path(data_dir(tmp_path), "sample.parquet", "sample.parquet").read_bytes() == SAMPLE
    assert kept_path(data_dir(tmp_path), "squares.csv", "squares.csv").read_bytes() == csv
    assert (sweep_dir / "0" / "getdata.log").is_file()


def test_installed_wheel_runs_from_another_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain (non-editable) install: configs and the sample ship inside the package."""
    # A source tree on PYTHONPATH (how a worktree is tested) would shadow the install.
    monkeypatch.delenv("PYTHONPATH", raising=False)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    # Dependencies come from the test environment (a path line, not a site dir, so its editable
    # getdata is not visible); getdata itself is built and installed from the source tree.
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run(
        [python, "-c", "import getdata; print(getdata.__file__)"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where.startswith(site), f"getdata imported from {where}, not the install"
    # A catalog entry of the user's own ($GETDATA_CATALOG) next to the packaged catalog, whose
    # configs and sample data ship in the wheel.
    user_catalog = tmp_path / "my-catalog"
    (user_catalog / "dataset").mkdir(parents=True)
    (user_catalog / "dataset" / "mine.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /source: sample\n"
        "artifact:\n  name: mine.parquet\n"
    )
    # GETDATA_DATA_DIR unset: the default data folder, .getdata/data below the working folder.
    env = {**wandb_env(tmp_path), "GETDATA_CATALOG": str(user_catalog)}
    del env["GETDATA_DATA_DIR"]
    proc = run_cli(["dataset=mine"], env, cwd=elsewhere, python=str(python))
    assert proc.returncode == 0, proc.stderr
    _, artifact = only(logged(tmp_path))
    assert artifact.name == "mine.parquet"
    assert only(artifact.entries).digest == md5_b64(SAMPLE)
    # The run folder and the data folder are under the directory the user ran from.
    assert list((elsewhere / "outputs").rglob("getdata-report.json"))
    kept = [p for p in elsewhere.rglob("sample.parquet") if p.is_file()]
    assert [p.relative_to(elsewhere).parts for p in kept] == [
        (".getdata", "data", "mine.parquet", hashlib.sha256(SAMPLE).hexdigest()[:16], p.name)
        for p in kept
    ]
    assert len(kept) == 1
    script = env_dir / "bin" / "getdata"
    cfg = subprocess.run(
        [script, "--cfg", "job"], cwd=elsewhere, capture_output=True, text=True, check=True
    )
    assert "job_type: get_data" in cfg.stdout


def test_help_names_the_app_and_its_choices(tmp_path: Path) -> None:
    proc = run_cli(["--help"], wandb_env(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("getdata: fetch a dataset")
    assert "dataset: genres, sample" in proc.stdout
    assert "source: fsspec, hf, http, local, s3, sample" in proc.stdout
