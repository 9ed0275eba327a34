"""The Python API: getdata.fetch(*overrides, **settings) runs one dataset as the CLI does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import getdata
from getdata.config import bundled_data
from getdata.errors import SourceError
from tests.support import data_dir, logged, md5_b64, only, sha256_hex

SAMPLE = Path(bundled_data("sample.parquet")).read_bytes()


def test_fetch_returns_a_typed_result(wb: Path) -> None:
    run_dir = wb / "run"
    result = getdata.fetch(
        "dataset=sample", "artifact.tags=[api]", run_dir=run_dir, artifact__aliases=["prod"]
    )
    assert isinstance(result, getdata.FetchResult)
    assert result.status == "ok" and result.artifact == "sample.parquet"
    assert result.aliases == ["prod"]
    assert result.size == len(SAMPLE) and result.sha256 == sha256_hex(SAMPLE)
    kept = data_dir(wb).resolve() / "sample.parquet" / sha256_hex(SAMPLE)[:16]
    assert result.path == kept / "sample.parquet"
    assert result.path.read_bytes() == SAMPLE
    assert result.wandb_mode == "offline"
    run_file, artifact = only(logged(wb))
    assert result.wandb_location == str(run_file.parent)
    assert result.wandb_run_id and result.wandb_run_id in run_file.name
    assert only(artifact.entries).digest == md5_b64(SAMPLE)
    assert "prod" in artifact.aliases and artifact.tags == ["api"]
    # The same files as the CLI: the job log and the report (with the kept paths).
    report = json.loads((run_dir / "getdata-report.json").read_text())
    assert report["status"] == "ok" and report["paths"] == [str(result.path)]
    assert "logged artifact sample.parquet" in (run_dir / "getdata.log").read_text()


def test_keyword_values_are_taken_literally(wb: Path, tmp_path: Path) -> None:
    data = tmp_path / "songs.csv"
    data.write_bytes(b"a,b\n1,2\n")
    result = getdata.fetch(
        source="local",
        source__path=data,
        artifact__name="songs",
        artifact__description="costs ${oc.env:HOME}, 'quoted', a=b",
        run_dir=wb / "run",
    )
    assert result.status == "ok"
    _, artifact = only(logged(wb))
    assert artifact.name == "songs"
    assert artifact.description == "costs ${oc.env:HOME}, 'quoted', a=b"


def test_errors_are_typed_and_one_line(wb: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(SourceError) as err:
        getdata.fetch("source=local", f"source.path={missing}", run_dir=wb / "run")
    assert "not found" in str(err.value) and "\n" not in str(err.value)
    report = json.loads((wb / "run" / "getdata-report.json").read_text())
    assert report["status"] == "failed" and "not found" in report["error"]
    assert not (wb / "wandb-dir").exists()

    with pytest.raises(getdata.ConfigError, match="artifact.nmae"):
        getdata.fetch("artifact.nmae=x", run_dir=wb / "run2")
    with pytest.raises(getdata.ConfigError, match="dataset/no_such_entry"):
        getdata.fetch(dataset="no_such_entry", run_dir=wb / "run3")
    with pytest.raises(getdata.ConfigError, match="missing value for source.url"):
        getdata.fetch(source="http", run_dir=wb / "run4")
    with pytest.raises(getdata.ConfigError, match="not a valid alias"):
        getdata.fetch(artifact__aliases=["a:b"], run_dir=wb / "run5")
    with pytest.raises(getdata.ConfigError, match="name a source entry"):
        getdata.fetch(source="http extra=1", run_dir=wb / "run6")
    assert not (wb / "wandb-dir").exists()


def test_fetch_inside_a_hydra_app_gives_its_hydra_back(wb: Path, tmp_path: Path) -> None:
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    (tmp_path / "app_conf").mkdir()
    with initialize_config_dir(config_dir=str(tmp_path / "app_conf"), version_base="1.3"):
        before = GlobalHydra.instance().hydra
        result = getdata.fetch("dataset=sample", run_dir=wb / "run")
        assert result.status == "ok"
        assert GlobalHydra.instance().hydra is before


def test_fetch_from_six_threads_at_once(wb: Path, tmp_path: Path) -> None:
    """Six threads call getdata.fetch together: every call succeeds (they take turns: Hydra's
    config state and wandb's run are the process's), each logs its own artifact, and each run
    folder's getdata.log holds its own dataset's lines only."""
    import threading

    files = {}
    for i in range(6):
        files[i] = tmp_path / f"part{i}.csv"
        files[i].write_bytes(b"id,n\n" + b"".join(b"%d,%d\n" % (j, i) for j in range(50 + i)))
    results: dict[int, object] = {}
    start = threading.Barrier(6)

    def call(i: int) -> None:
        start.wait()
        try:
            results[i] = getdata.fetch(
                source="local", source__path=files[i], run_dir=wb / f"run{i}"
            )
        except Exception as exc:  # noqa: BLE001 - recorded, asserted below
            results[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads)
    failures = {i: r for i, r in results.items() if not isinstance(r, getdata.FetchResult)}
    assert failures == {}
    for i, result in results.items():
        assert isinstance(result, getdata.FetchResult)
        assert result.status == "ok" and result.artifact == f"part{i}.csv"
        assert result.sha256 == sha256_hex(files[i].read_bytes())
        log = (wb / f"run{i}" / "getdata.log").read_text()
        assert f"logged artifact part{i}.csv" in log
        others = [f"part{j}.csv" for j in range(6) if j != i]
        assert not any(other in log for other in others), log
    found = logged(wb)
    assert sorted(a.name for _, a in found) == [f"part{i}.csv" for i in range(6)]
    assert len({run_file for run_file, _ in found}) == 6, "one W&B run per call"


def test_every_invalid_setting_is_the_one_config_error(wb: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(getdata.ConfigError, match="fetch.workers=0 is out of range"):
        getdata.fetch(fetch__workers=0, run_dir=wb / "run1")
    with pytest.raises(getdata.ConfigError, match="data_dir="):
        getdata.fetch(data_dir=str(blocked / "data"), run_dir=wb / "run2")
    with pytest.raises(getdata.ConfigError, match="inspect.timeout=0.0 is out of range"):
        getdata.fetch(inspect__timeout=0, run_dir=wb / "run3")
    assert getdata.ConfigError is getdata.errors.ConfigError
