"""The user catalog ($GETDATA_CATALOG, searched before the bundled one), a catalog name that does
not exist, the optional fsspec extras, and fail_fast in a sweep."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from hydra.errors import MissingConfigException

from getdata.errors import MissingExtraError, explain
from tests.support import (
    compose_cfg,
    data_dir,
    kept_path,
    logged,
    only,
    run_cli,
    run_in_process,
    wandb_env,
)

ENTRY = "# @package _global_\ndefaults:\n  - override /source: {source}\n{body}"


def catalog(root: Path, **entries: str) -> Path:
    (root / "dataset").mkdir(parents=True, exist_ok=True)
    for name, text in entries.items():
        (root / "dataset" / f"{name}.yaml").write_text(text)
    return root


def test_user_catalog_is_searched_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "mine.csv"
    data.write_text("a\n1\n")
    root = catalog(
        tmp_path / "cat",
        mine=ENTRY.format(source="local", body=f"source:\n  path: {data}\n"),
        # Same name as a bundled entry: the user's wins.
        sample=ENTRY.format(source="sample", body="artifact:\n  name: my-sample\n"),
    )
    monkeypatch.setenv("GETDATA_CATALOG", str(root))
    assert compose_cfg("dataset=mine").source.path == str(data)
    assert compose_cfg("dataset=sample").artifact.name == "my-sample"
    assert compose_cfg("dataset=genres").artifact.name == "raw_data.parquet"  # still bundled
    monkeypatch.delenv("GETDATA_CATALOG")
    assert compose_cfg("dataset=sample").artifact.name == "sample.parquet"


def test_unknown_dataset_fails_instead_of_running_the_default() -> None:
    # It used to compose silently (an optional group) and log the bundled sample instead.
    with pytest.raises(MissingConfigException, match="dataset/typo"):
        compose_cfg("dataset=typo")


def test_missing_catalog_folder_is_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GETDATA_CATALOG", str(tmp_path / "missing"))
    assert compose_cfg("dataset=sample").artifact.name == "sample.parquet"
    err = capsys.readouterr().err
    assert f"GETDATA_CATALOG={tmp_path / 'missing'} is not a folder" in err


@pytest.mark.parametrize(
    ("url", "module", "extra"),
    [
        ("hf://datasets/org/name/data.parquet", "huggingface_hub", "hf"),
        ("gs://bucket/data.parquet", "gcsfs", "gcs"),
        ("az://container/data.parquet", "adlfs", "azure"),
    ],
)
def test_missing_backend_names_the_extra(wb: Path, url: str, module: str, extra: str) -> None:
    # The test environment deliberately lacks these optional back-ends.
    assert importlib.util.find_spec(module) is None, f"{module} is installed here"
    with pytest.raises(MissingExtraError) as err:
        run_in_process(wb / "run", "source=fsspec", f"source.url={url}")
    assert str(err.value).endswith(f"need {module}: pip install 'getdata[{extra}]'")
    assert not (wb / "wandb-dir").exists()


def test_explain_names_the_extra_for_a_raw_import_error() -> None:
    import fsspec

    with pytest.raises(ImportError) as err:
        fsspec.filesystem("hf")
    assert explain(err.value) == "hf:// URLs need huggingface_hub: pip install 'getdata[hf]'"


def test_fail_fast_sweep_skips_the_rest_and_keeps_paths(tmp_path: Path) -> None:
    root = catalog(
        tmp_path / "cat",
        broken=ENTRY.format(source="local", body=f"source:\n  path: {tmp_path / 'nope.csv'}\n"),
    )
    env = {**wandb_env(tmp_path), "GETDATA_CATALOG": str(root)}
    sweep_dir = tmp_path / "sweep"
    proc = run_cli(
        ["-m", "dataset=sample,broken,genres", "fail_fast=true", f"hydra.sweep.dir={sweep_dir}"],
        env,
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr
    summary = json.loads((sweep_dir / "summary.json").read_text())
    assert [d["status"] for d in summary["datasets"]] == ["ok", "failed", "skipped"]
    assert summary["skipped"] == 1 and summary["failed"] == 1
    assert "fail_fast" in summary["datasets"][2]["error"]
    # genres (which needs the network) was never tried; the sample's kept file is listed.
    _, artifact = only(logged(tmp_path))
    assert artifact.name == "sample.parquet"
    kept = Path(only(summary["datasets"][0]["paths"]))
    assert kept == kept_path(data_dir(tmp_path), "sample.parquet", "sample.parquet")
    assert kept.is_file()
