"""Config logic through Hydra's compose API: defaults, catalog, source kinds, validation."""

from __future__ import annotations

import re
import sys

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf
from omegaconf.errors import ValidationError

from getdata.cli.configs import register_configs
from getdata.config import AppConfig, WandbMode, config_dir, to_app_config
from getdata.pipeline.run import artifact_name
from getdata.sources.http import HttpSource
from getdata.sources.local import LocalSource
from getdata.sources.s3 import S3Source

register_configs()


def load(*overrides: str) -> AppConfig:
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        return to_app_config(compose(config_name="config", overrides=list(overrides)))


def test_default_is_the_bundled_sample() -> None:
    cfg = load()
    assert isinstance(cfg.source, LocalSource)
    assert cfg.source.path.endswith("getdata/data/sample.parquet")
    assert cfg.artifact.type == "raw_data"
    assert cfg.wandb.job_type == "get_data"
    assert cfg.wandb.mode is WandbMode.auto


def test_http_source_from_overrides() -> None:
    url = "https://example.org/path/genres_mod.parquet?raw=true"
    cfg = load("source=http", f"source.url='{url}'", "source.timeout=5", "artifact.name=raw")
    assert isinstance(cfg.source, HttpSource)
    assert cfg.source.url == url
    assert cfg.source.timeout == 5.0
    assert cfg.artifact.name == "raw"


def test_s3_source_fields() -> None:
    cfg = load(
        "source=s3",
        "source.url=s3://bucket/key.parquet",
        "source.endpoint_url=http://127.0.0.1:9000",
        "source.version_id=v1",
    )
    assert isinstance(cfg.source, S3Source)
    assert cfg.source.endpoint_url == "http://127.0.0.1:9000"
    assert cfg.source.anon is False
    assert cfg.source.version_id == "v1"


def test_catalog_entry_sets_source_and_artifact() -> None:
    cfg = load("dataset=genres")
    assert isinstance(cfg.source, HttpSource)
    assert cfg.source.url.endswith("genres_mod.parquet?raw=true")
    assert cfg.artifact.name == "raw_data.parquet"
    assert cfg.artifact.description == "Data as downloaded"
    sample = load("dataset=sample")
    assert isinstance(sample.source, LocalSource)
    assert sample.artifact.name == "sample.parquet"


def test_project_defaults_to_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    assert load().wandb.project == "getdata"
    monkeypatch.setenv("WANDB_PROJECT", "genre_classification")
    assert load().wandb.project == "genre_classification"


def test_missing_value_is_one_clear_line() -> None:
    with pytest.raises(ConfigCompositionException, match=r"missing value for source\.url"):
        load("source=http")


def test_wrong_type_is_rejected() -> None:
    with pytest.raises(ConfigCompositionException) as info:
        load("source=http", "source.url=http://127.0.0.1/x", "source.timeout=soon")
    assert isinstance(info.value.__cause__, ValidationError)


@pytest.mark.parametrize("override", ["source.bogus=1", "+source.bogus=1", "artifact.nmae=x"])
def test_unknown_key_is_rejected(override: str) -> None:
    with pytest.raises(ConfigCompositionException) as info:
        load(override)
    assert re.search(r"not in '|unknown key", f"{info.value} {info.value.__cause__}")


def test_unknown_top_level_key_is_rejected() -> None:
    # Hydra accepts `+key=value` at the root; getdata must not silently drop it.
    with pytest.raises(ConfigCompositionException, match="unknown key colour"):
        load("+colour=red")


def test_unknown_source_kind_is_rejected() -> None:
    with pytest.raises(Exception, match=r"Could not find 'source/ftp'"):
        load("source=ftp")


def test_bad_wandb_mode_is_rejected() -> None:
    with pytest.raises(ConfigCompositionException):
        load("wandb.mode=sometimes")


def test_every_catalog_entry_composes() -> None:
    from pathlib import Path

    names = sorted(p.stem for p in (Path(config_dir()) / "dataset").glob("*.yaml"))
    assert {"sample", "genres"} <= set(names)
    for name in names:
        cfg = load(f"dataset={name}")
        assert OmegaConf.is_missing(OmegaConf.structured(cfg), "artifact.type") is False


@pytest.mark.parametrize(
    ("basename", "expected"),
    [
        ("genres_mod.parquet", "genres_mod.parquet"),
        ("my data (v2).csv", "my_data_v2_.csv"),
        ("..hidden", "hidden"),
        ("", "data"),
    ],
)
def test_artifact_name_is_valid_for_wandb(basename: str, expected: str) -> None:
    assert artifact_name(basename) == expected


def test_source_kinds_are_plug_in_modules() -> None:
    from getdata.sources import kinds
    from getdata.sources.hf import HfSource

    found = kinds()
    assert set(found) >= {"http", "s3", "local", "fsspec", "hf"}
    assert found["hf"] is HfSource
    cfg = load("source=hf", "source.repo=datasets/someone/songs", "source.path=data/*.parquet")
    assert isinstance(cfg.source, HfSource)
    assert cfg.source._target_ == "getdata.sources.hf.build"


def test_a_missing_extra_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from getdata.errors import SourceError
    from getdata.sources import resolve

    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # as if not installed
    cfg = load("source=hf", "source.repo=datasets/someone/songs")
    with pytest.raises(SourceError, match=r"pip install 'getdata\[hf\]'"):
        resolve(cfg.source)
