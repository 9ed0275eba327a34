"""The original interface: `mlflow run . -P file_url=... -P artifact_name=...` and its CLI.

The first test runs the real `mlflow run` (mlflow-skinny, a file tracking store in tmp_path,
--env-manager local) against the local HTTP server and reads the artifact back from the offline
W&B run file. MLflow is in the `test` extra: without it that test fails, it does not skip.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from getdata.cli.mlproject import build_overrides, hydra_quote, local_path, source_kind
from getdata.config import bundled_data
from tests.support import (
    REPO,
    compose_cfg,
    data_dir,
    kept_path,
    logged,
    md5_b64,
    only,
    sha256_hex,
    wandb_env,
)
from tests.wandb_file import run_info

SAMPLE = Path(bundled_data("sample.parquet")).read_bytes()
CSV = b"id,genre\n" + b"".join(b"%d,genre %d\n" % (i, i % 7) for i in range(500))

# Values that break a naive `key=value` override: Hydra's grammar gives `=`, `,`, spaces,
# brackets, braces, parentheses, quotes and backslashes meanings; OmegaConf resolves `${...}`.
TRICKY = [
    "https://example.org/data/genres_mod.parquet?raw=true&x=1#frag",
    'It\'s "raw" data, as downloaded = 100% & more #1 ~home',
    "a [list], {a: dict}, (call) and key:value",
    "${oc.env:HOME} and \\${escaped} and \\\\${both}",
    "back\\slash\\",
    "\\'",
    "null",
    "true",
    "42",
    "  spaced  ",
    "tab\tand\nnewline",
    "ünïcödé ☃",
    "",
]


def mlflow_env(tmp_path: Path) -> dict[str, str]:
    """Environment for `mlflow run`: offline W&B and a file tracking store under tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "HYDRA_"))}
    env.update(wandb_env(tmp_path))
    env["MLFLOW_TRACKING_URI"] = (tmp_path / "mlruns").as_uri()
    # mlflow-skinny has no SQL store (the default sqlite:///mlflow.db needs full mlflow), and
    # MLflow 3 refuses the file store unless asked.
    env["MLFLOW_ALLOW_FILE_STORE"] = "true"
    # With --env-manager local, MLflow runs the entry point's `python` from PATH: this one.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def run_mlproject_cli(
    args: list[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "getdata.cli.mlproject", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


# ---------------------------------------------------------------------------------------------
# The real `mlflow run`
# ---------------------------------------------------------------------------------------------


def test_mlflow_run_logs_the_artifact(
    tmp_path: Path, http_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert importlib.util.find_spec("mlflow") is not None, (
        "MLflow is not installed: pip install -e '.[test]' (or '.[mlflow]')"
    )
    # The server only answers with the full query string, so a URL cut at `&` fails the run.
    http_server.add("/genres_mod.parquet?raw=true&x=1", SAMPLE)
    url = http_server.url("/genres_mod.parquet?raw=true&x=1") + "#frag"
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlflow",
            "run",
            str(REPO),
            "--env-manager",
            "local",
            "-P",
            f"file_url={url}",
            "-P",
            "artifact_name=raw_data.parquet",
            "-P",
            "artifact_type=raw_data",
            "-P",
            "artifact_description=Data as downloaded",
            "-P",
            f"hydra_options={shlex.join([f'hydra.run.dir={run_dir}'])}",
        ],
        cwd=tmp_path,
        env=mlflow_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_file, artifact = only(logged(tmp_path))
    assert artifact.name == "raw_data.parquet"
    assert artifact.type == "raw_data"
    assert artifact.description == "Data as downloaded"
    entry = only(artifact.entries)
    assert entry.path == "genres_mod.parquet"
    assert entry.digest == md5_b64(SAMPLE)
    assert artifact.metadata["sha256"] == sha256_hex(SAMPLE)
    assert artifact.metadata["source"]["kind"] == "http"
    info = run_info(run_file)
    assert info["project"] == "getdata-tests"  # $WANDB_PROJECT, as before
    assert info["job_type"] == "get_data"
    assert [r.query for r in http_server.requests_for("/genres_mod.parquet")] == ["raw=true&x=1"]
    assert (
        kept_path(data_dir(tmp_path), "raw_data.parquet", "genres_mod.parquet").read_bytes()
        == SAMPLE
    )

    # MLflow recorded the run with its parameters, finished.
    import mlflow

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client = mlflow.MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
    runs = client.search_runs(experiment_ids=["0"])
    mlflow_run = only(runs)
    assert mlflow_run.info.status == "FINISHED"
    # MLflow logs the parameters as it put them on the command line: shell-quoted.
    params = {k: shlex.split(v) for k, v in mlflow_run.data.params.items()}
    assert params["file_url"] == [url]
    assert params["artifact_name"] == ["raw_data.parquet"]
    assert params["artifact_type"] == ["raw_data"]
    assert params["artifact_description"] == ["Data as downloaded"]


# ---------------------------------------------------------------------------------------------
# The entry point's CLI, without MLflow: other source kinds, awkward values
# ---------------------------------------------------------------------------------------------


def test_cli_local_file_url_and_awkward_description(tmp_path: Path) -> None:
    data_file = tmp_path / "my data #1.csv"
    data_file.write_bytes(CSV)
    description = 'It\'s "raw" data = 100% & more #1 ~ ${oc.env:HOME} \\'
    proc = run_mlproject_cli(
        [
            "--file_url",
            data_file.as_uri(),  # file:///.../my%20data%20%231.csv
            "--artifact_name",
            "raw_data.csv",
            "--artifact_description",
            description,
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        wandb_env(tmp_path),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    _, artifact = only(logged(tmp_path))
    assert artifact.name == "raw_data.csv"
    assert artifact.type == "raw_data"  # the default, as in the MLproject
    assert artifact.description == description
    entry = only(artifact.entries)
    assert entry.path == "my data #1.csv"
    assert entry.digest == md5_b64(CSV)
    assert artifact.metadata["source"]["kind"] == "local"


def test_cli_s3_url_endpoint_from_aws_endpoint_url_s3(tmp_path: Path, s3) -> None:
    """botocore reads AWS_ENDPOINT_URL_S3 itself: an s3 URL needs no endpoint parameter."""
    url = s3.put("raw-bucket", "genres/part 1.csv", CSV)
    env = {**wandb_env(tmp_path), "AWS_ENDPOINT_URL_S3": s3.endpoint_url}
    proc = run_mlproject_cli(
        [
            "--file_url",
            url,
            "--artifact_name",
            "raw_data.csv",
            "--artifact_type",
            "raw_data",
            "--artifact_description",
            "From S3",
            "--hydra_options",
            f"hydra.run.dir={tmp_path / 'run'} wandb.group=nightly",
        ],
        env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    run_file, artifact = only(logged(tmp_path))
    assert artifact.metadata["source"]["kind"] == "s3"
    assert only(artifact.entries).digest == md5_b64(CSV)
    assert run_info(run_file)["group"] == "nightly"


def test_cli_error_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    proc = run_mlproject_cli(
        ["--file_url", str(missing), "--artifact_name", "x", f"hydra.run.dir={tmp_path / 'r'}"],
        wandb_env(tmp_path),
        cwd=tmp_path,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "not found" in proc.stderr


def test_dry_run_prints_the_getdata_command(tmp_path: Path) -> None:
    proc = run_mlproject_cli(
        [
            "--dry-run",
            "--file_url",
            "https://h/x.parquet?raw=true&x=1",
            "--artifact_name",
            "raw_data.parquet",
            "--artifact_description",
            "Data as downloaded",
        ],
        {},
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    argv = shlex.split(proc.stdout)
    assert argv[1:3] == ["-m", "getdata"]
    assert argv[3:] == [
        "source=http",
        "source.url='https://h/x.parquet?raw=true&x=1'",
        "artifact.name='raw_data.parquet'",
        "artifact.type='raw_data'",
        "artifact.description='Data as downloaded'",
    ]


# ---------------------------------------------------------------------------------------------
# Units: the source kind and the quoting
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://github.com/u/r/blob/master/genres_mod.parquet?raw=true", "http"),
        ("HTTP://example.org/a.csv", "http"),
        ("s3://bucket/key.csv", "s3"),
        ("s3a://bucket/key.csv", "s3"),
        ("/data/genres.parquet", "local"),
        ("data/genres.parquet", "local"),
        ("genres.parquet", "local"),
        ("~/genres.parquet", "local"),
        ("file:///data/genres.parquet", "local"),
        ("C:\\data\\genres.parquet", "local"),
        ("gs://bucket/a.csv", "fsspec"),
        ("az://container/a.csv", "fsspec"),
        ("memory://a.csv", "fsspec"),
        ("zip://a.csv::s3://bucket/archive.zip", "fsspec"),
        ("simplecache::https://example.org/a.csv", "fsspec"),
    ],
)
def test_source_kind(url: str, kind: str) -> None:
    assert source_kind(url) == kind


def test_local_path_from_file_url() -> None:
    assert local_path("file:///data/my%20file%231.csv") == "/data/my file#1.csv"
    assert local_path("file://localhost/data/a.csv") == "/data/a.csv"
    assert local_path("relative/a.csv") == "relative/a.csv"
    with pytest.raises(ValueError, match="on this machine"):
        local_path("file://otherhost/data/a.csv")


def test_overrides_per_kind() -> None:
    assert build_overrides("/d/a.csv", "a", "raw_data", "d")[:2] == [
        "source=local",
        "source.path='/d/a.csv'",
    ]
    assert build_overrides("s3://b/k.csv")[:2] == ["source=s3", "source.url='s3://b/k.csv'"]
    assert build_overrides("gs://b/k.csv")[:2] == ["source=fsspec", "source.url='gs://b/k.csv'"]
    # Empty name/description: getdata's defaults; extra overrides come last.
    assert build_overrides("s3://b/k.csv", "", "raw_data", "", ["wandb.group=g"]) == [
        "source=s3",
        "source.url='s3://b/k.csv'",
        "artifact.type='raw_data'",
        "wandb.group=g",
    ]
    with pytest.raises(ValueError):
        build_overrides("")


@pytest.mark.parametrize("value", TRICKY)
def test_quoted_values_reach_the_config_unchanged(value: str) -> None:
    cfg = compose_cfg(
        *build_overrides(
            "https://h/genres.parquet?raw=true&x=1#frag",
            artifact_name="raw_data.parquet",
            artifact_type="raw_data",
            artifact_description="x",
        ),
        f"artifact.description={hydra_quote(value)}",
    )
    resolved = OmegaConf.to_container(cfg, resolve=True)
    assert resolved["source"]["url"] == "https://h/genres.parquet?raw=true&x=1#frag"
    assert resolved["artifact"]["description"] == value


@pytest.mark.parametrize("value", TRICKY)
def test_quoted_values_as_urls_and_paths(value: str) -> None:
    url = "https://h/" + value
    cfg = compose_cfg(*build_overrides(url))
    assert OmegaConf.to_container(cfg, resolve=True)["source"]["url"] == url
    path = "/data/" + value
    cfg = compose_cfg(*build_overrides(path))
    assert OmegaConf.to_container(cfg, resolve=True)["source"]["path"] == path


def test_mlproject_file_declares_the_original_interface() -> None:
    import yaml

    project = yaml.safe_load((REPO / "MLproject").read_text())
    assert project["python_env"] == "python_env.yaml"
    assert (REPO / project["python_env"]).is_file()
    params = project["entry_points"]["main"]["parameters"]
    assert {"file_url", "artifact_name", "artifact_type", "artifact_description"} <= set(params)
    assert params["artifact_type"]["default"] == "raw_data"
    for required in ("file_url", "artifact_name", "artifact_description"):
        assert "default" not in params[required], f"{required} must be given, as before"
