"""Schema drift: recorded in the state folder after each fetch, compared on the next, reported in
the log and under the artifact metadata key "drift"; inspect.on_drift=fail refuses the version."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import wandb

from getdata.cli.report import run_job
from getdata.pipeline.drift import DriftError
from getdata.store.versions import version_folders
from getdata.store.workspace import VERSION_DIGITS
from tests.support import compose_cfg, data_dir, logged, run_in_process


def write_parquet(path: Path, columns: dict[str, list]) -> None:
    pq.write_table(pa.table(columns), path)


def test_single_file_drift_warns_then_fails(
    wb: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "songs.parquet"
    write_parquet(data, {"key": [1, 2, 3], "tempo": [1.0, 2.0, 3.0], "genre": ["a", "b", "c"]})
    base = ["source=local", f"source.path={data}", "artifact.name=songs"]
    first = run_in_process(wb / "r1", *base)
    assert first.drift is None, "nothing to compare the first fetch with"
    record = json.loads((wb / "state" / "schema" / "songs.json").read_text())
    assert record["files"]["songs.parquet"]["columns"] == {
        "key": "int64",
        "tempo": "double",
        "genre": "string",
    }
    wandb.teardown()

    # Upstream drops "key", turns "tempo" into text, adds "year" and loses a row.
    write_parquet(data, {"tempo": ["1", "2"], "genre": ["a", "b"], "year": [2020, 2021]})
    caplog.set_level(logging.INFO)
    second = run_in_process(wb / "r2", *base)
    assert second.status == "ok"
    # The second run's artifact (run folders of the same second sort by their random id).
    run_id = second.tracked.run_id if second.tracked else "?"
    (artifact,) = [a for f, a in logged(wb) if run_id in f.name]
    drift = artifact.metadata["drift"]
    assert drift["changed"] is True
    assert drift["columns_removed"] == [{"name": "key", "type": "int64"}]
    assert drift["columns_retyped"] == [{"name": "tempo", "from": "double", "to": "string"}]
    assert drift["columns_added"] == [{"name": "year", "type": "int64"}]
    assert drift["rows"] == {"before": 3, "after": 2, "delta": -1}
    line = [r.getMessage() for r in caplog.records if "schema drift" in r.getMessage()]
    assert line and "removed key (int64)" in line[0] and "tempo double -> string" in line[0]
    wandb.teardown()

    # on_drift=fail: the next change is refused, nothing logged, the file not kept, and the
    # record still describes the last logged version.
    write_parquet(data, {"tempo": ["1"], "genre": [7]})
    report = run_job(compose_cfg(*base, "inspect.on_drift=fail"), wb / "r3", None)
    assert report.status == "failed"
    assert "schema drift" in report.error and "genre string -> int64" in report.error
    assert "removed year (int64)" in report.error
    assert len(logged(wb)) == 2
    # Only the two logged versions are kept in the shared data folder, not the refused one.
    refused = hashlib.sha256(data.read_bytes()).hexdigest()[:VERSION_DIGITS]
    assert sorted(version_folders(data_dir(wb) / "songs")) == sorted(
        {first.sha256[:VERSION_DIGITS], second.sha256[:VERSION_DIGITS]}  # type: ignore[index]
    )
    assert refused not in version_folders(data_dir(wb) / "songs")
    kept = json.loads((wb / "state" / "schema" / "songs.json").read_text())
    assert set(kept["files"]["songs.parquet"]["columns"]) == {"tempo", "genre", "year"}


def test_same_columns_more_rows_is_not_drift(wb: Path, tmp_path: Path) -> None:
    data = tmp_path / "t.csv"
    data.write_text("a,b\n1,x\n")
    base = ["source=local", f"source.path={data}", "inspect.on_drift=fail"]
    run_in_process(wb / "r1", *base)
    wandb.teardown()
    data.write_text("a,b\n1,x\n2,y\n3,z\n")
    result = run_in_process(wb / "r2", *base)
    assert result.drift is not None and result.drift["changed"] is False
    assert result.drift["rows"]["delta"] == 2


def test_folder_of_tables(wb: Path, tmp_path: Path) -> None:
    folder = tmp_path / "lake"
    folder.mkdir()
    write_parquet(folder / "2024-01.parquet", {"id": [1], "v": [1.0]})
    write_parquet(folder / "2024-02.parquet", {"id": [2], "v": [2.0]})
    base = ["source=local", f"source.path={folder}", "artifact.name=lake"]
    run_in_process(wb / "r1", *base)
    wandb.teardown()
    # A new partition with the same columns is no drift; a retyped column in an old one is.
    write_parquet(folder / "2024-03.parquet", {"id": [3], "v": [3.0]})
    write_parquet(folder / "2024-02.parquet", {"id": ["2"], "v": [2.0]})
    result = run_in_process(wb / "r2", *base)
    # The second run's artifact (run folders of the same second sort by their random id).
    (artifact,) = [a for f, a in logged(wb) if result.tracked and result.tracked.run_id in f.name]
    drift = artifact.metadata["drift"]
    assert drift == result.drift
    assert drift["files_added"] == ["2024-03.parquet"] and drift["files_removed"] == []
    assert drift["columns_retyped"] == [
        {"file": "2024-02.parquet", "name": "id", "from": "int64", "to": "string"}
    ]
    assert drift["columns_added"] == [] and drift["columns_removed"] == []
    assert drift["rows"] == {"before": 2, "after": 3, "delta": 1}
    wandb.teardown()
    write_parquet(folder / "2024-04.parquet", {"id": [4]})
    with pytest.raises(DriftError, match="removed 2024-04.parquet:v"):
        run_in_process(wb / "r3", *base, "inspect.on_drift=fail")
    # The refused tree is not kept: the two logged versions are, nothing else.
    assert len(version_folders(data_dir(wb) / "lake")) == 2
