"""W&B artifact options: aliases, tags, TTL, Registry link, run name; read back from the offline
run file. Invalid values fail before anything is fetched."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from getdata import ConfigError
from tests.support import logged, only, run_in_process
from tests.wandb_file import run_info


def test_aliases_tags_ttl_and_run_name_are_in_the_run_file(wb: Path) -> None:
    result = run_in_process(
        wb / "run",
        "dataset=sample",
        "artifact.aliases=[prod,2024-06,prod]",
        "artifact.tags=[nightly,'raw data']",
        "artifact.ttl_days=7",
        "wandb.name=nightly-sample",
    )
    assert result.status == "ok"
    run_file, artifact = only(logged(wb))
    # W&B adds "latest"; a repeated alias is given once.
    assert sorted(artifact.aliases) == ["2024-06", "latest", "prod"]
    assert artifact.tags == ["nightly", "raw data"]
    assert artifact.ttl_seconds == 7 * 24 * 3600
    assert run_info(run_file)["display_name"] == "nightly-sample"


def test_no_options_means_latest_only_and_no_ttl(wb: Path) -> None:
    run_in_process(wb / "run", "dataset=sample")
    _, artifact = only(logged(wb))
    assert artifact.aliases == ["latest"]
    assert artifact.tags == [] and artifact.ttl_seconds is None


def test_link_to_offline_is_skipped_and_said(wb: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    result = run_in_process(
        wb / "run",
        "dataset=sample",
        "artifact.aliases=[prod]",
        "artifact.link_to=wandb-registry-dataset/music-genres",
    )
    assert result.status == "ok" and result.tracked is not None
    assert result.tracked.linked is None
    # wandb's own offline link_artifact would log the artifact a second time: getdata doesn't.
    _, artifact = only(logged(wb))
    assert "prod" in artifact.aliases
    warning = only([r.getMessage() for r in caplog.records if "link_to" in r.getMessage()])
    assert "not linked" in warning and ".link('wandb-registry-dataset/music-genres')" in warning


@pytest.mark.parametrize(
    ("override", "says"),
    [
        ("artifact.aliases=[a/b]", "'a/b' is not a valid alias"),
        ("artifact.aliases=['x:y']", "cannot contain '/' or ':'"),
        ("artifact.aliases=[v3]", "v<N> is the version name"),
        ("artifact.aliases=['']", "1 to 128 printable"),
        ("artifact.tags=['bad!']", "'bad!' is not a valid tag"),
        ("artifact.tags=['two  spaces']", "not a valid tag"),
        ("artifact.ttl_days=0", "artifact.ttl_days=0: use a number of days >= 1"),
        ("artifact.link_to=a/b/c/d", "expected [<org>/]wandb-registry-"),
        ("artifact.link_to='wandb-registry-x/coll:prod'", "artifact.link_to="),
        ("artifact.link_to=collection", "artifact.link_to="),
        ("artifact.name='../outside'", "artifact.name='../outside'"),
        ("wandb.name=' '", "wandb.name"),
    ],
)
def test_invalid_options_fail_before_the_fetch(wb: Path, override: str, says: str) -> None:
    with pytest.raises(ConfigError) as err:
        run_in_process(wb / "run", "dataset=sample", override)
    assert says in str(err.value)
    assert "\n" not in str(err.value)
    assert not (wb / "run").exists(), "nothing fetched"
    assert not (wb / "wandb-dir").exists(), "no W&B run started"
    assert not (wb / "state").exists()


@pytest.mark.parametrize(
    "target", ["wandb-registry-dataset/music", "my-org/wandb-registry-model/genre_model.v2"]
)
def test_registry_paths_accepted(wb: Path, target: str) -> None:
    from getdata.config import AppConfig, ArtifactConfig
    from getdata.config import check_config as validate

    validate(AppConfig(artifact=ArtifactConfig(link_to=target, ttl_days=1)))
