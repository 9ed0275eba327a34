"""Prove tests/wandb_file.py on real offline wandb runs (no network involved)."""

from __future__ import annotations

import base64
import hashlib
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import wandb

try:  # `python -m pytest` (the project's way) has the repo root on sys.path
    from tests.wandb_file import (
        BLOCK_SIZE,
        Record,
        all_text,
        artifacts,
        find_run_files,
        read_records,
        run_info,
    )
except ModuleNotFoundError:  # plain `pytest` only puts tests/ on sys.path
    from wandb_file import (  # type: ignore[import-not-found,no-redef,unused-ignore]
        BLOCK_SIZE,
        Record,
        all_text,
        artifacts,
        find_run_files,
        read_records,
        run_info,
    )

PAYLOAD = b"genre,tempo\nRap,92.5\nPop,120.0\n"
SECRET_LIKE = "not-a-secret-0123456789abcdef"


@pytest.fixture
def wandb_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point every wandb directory into tmp_path and force offline mode."""
    for name in list(os.environ):
        if name.startswith("WANDB_"):
            monkeypatch.delenv(name)
    dirs = {
        "WANDB_DIR": tmp_path / "wandb_dir",
        "WANDB_DATA_DIR": tmp_path / "wandb_data",
        "WANDB_CACHE_DIR": tmp_path / "wandb_cache",
        "WANDB_CONFIG_DIR": tmp_path / "wandb_config",
    }
    for name, folder in dirs.items():
        folder.mkdir()
        monkeypatch.setenv(name, str(folder))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DISABLE_GIT", "true")
    monkeypatch.setenv("WANDB_CONSOLE", "off")
    # wandb caches its settings in a process-wide singleton: drop any left by
    # an earlier test so that this test's environment is read.
    wandb.teardown()
    yield dirs["WANDB_DIR"]
    wandb.teardown()


def _artifact(tmp_path: Path, name: str, metadata: dict[str, Any]) -> wandb.Artifact:
    data_file = tmp_path / f"{name}.csv"
    data_file.write_bytes(PAYLOAD)
    art = wandb.Artifact(name, type="dataset", description=f"{name} rows", metadata=metadata)
    art.add_file(str(data_file), name="data.csv")
    return art


def _single_run_file(wandb_dir: Path) -> Path:
    files = find_run_files(wandb_dir)
    assert len(files) == 1, files
    assert files[0].parent.name.startswith("offline-run-")
    return files[0]


def test_offline_run_round_trip(wandb_dir: Path, tmp_path: Path) -> None:
    run = wandb.init(
        project="wandb-file-test",
        job_type="get_data",
        group="grp-1",
        tags=["t1", "t2"],
        config={"artifact": {"name": "x"}, "rows": 3},
    )
    metadata = {"rows": 3, "source": "unit-test", "nested": {"a": [1, 2.5, None]}}
    run.log_artifact(_artifact(tmp_path, "genres", metadata))
    run.config.update({"seed": 7})
    # wandb-core merges a dict update into the existing subtree (this is what
    # a sync of the run would upload), although run.config in Python replaces.
    run.config.update({"artifact": {"version": "v1"}}, allow_val_change=True)
    assert dict(run.config)["artifact"] == {"version": "v1"}
    run_id = run.id
    run.finish()
    wandb.teardown()  # finish() may return before wandb-core flushed the run file

    path = _single_run_file(wandb_dir)
    assert path.name == f"run-{run_id}.wandb"

    logged = artifacts(path)
    assert len(logged) == 1
    art = logged[0]
    assert art.name == "genres"
    assert art.type == "dataset"
    assert art.description == "genres rows"
    assert art.metadata == metadata
    assert art.digest
    assert len(art.entries) == 1
    entry = art.entries[0]
    assert entry.path == "data.csv"
    assert entry.digest == base64.b64encode(hashlib.md5(PAYLOAD).digest()).decode()
    assert entry.size == len(PAYLOAD)
    assert entry.ref == ""

    info = run_info(path)
    assert info["run_id"] == run_id
    assert info["project"] == "wandb-file-test"
    assert info["job_type"] == "get_data"
    assert info["group"] == "grp-1"
    assert info["tags"] == ["t1", "t2"]
    assert info["config"] == {
        "artifact": {"name": "x", "version": "v1"},
        "rows": 3,
        "seed": 7,
    }
    assert info["config"]["artifact"]["name"] == "x"
    assert info["exit_code"] == 0

    kinds = [r.WhichOneof("record_type") for r in read_records(path)]
    assert kinds[0] == "header"
    assert kinds.count("artifact") == 1
    assert "genres rows" in all_text(path)


def test_two_artifacts_and_multi_block_records(wandb_dir: Path, tmp_path: Path) -> None:
    # ~80 KB of metadata: this record spans three 32 KiB blocks, so it is
    # written as FIRST/MIDDLE/LAST chunks.
    big = {"blob": SECRET_LIKE.join(f"{i:07d}" for i in range(2500))}
    run = wandb.init(project="wandb-file-test", job_type="get_data")
    run.log_artifact(_artifact(tmp_path, "first", {"n": 1}))
    run.log_artifact(_artifact(tmp_path, "second", big))
    run.finish()
    wandb.teardown()  # finish() may return before wandb-core flushed the run file

    path = _single_run_file(wandb_dir)
    assert path.stat().st_size > 2 * BLOCK_SIZE
    logged = artifacts(path)
    assert [a.name for a in logged] == ["first", "second"]
    assert logged[0].metadata == {"n": 1}
    assert logged[1].metadata == big
    # The artifact digest covers the manifest (same file, same digest), not
    # the metadata.
    assert logged[0].digest == logged[1].digest
    assert all(a.entries[0].size == len(PAYLOAD) for a in logged)
    assert all_text(path).count(SECRET_LIKE) == 2499


def test_corruption_is_detected(wandb_dir: Path, tmp_path: Path) -> None:
    run = wandb.init(project="wandb-file-test", job_type="get_data")
    run.log_artifact(_artifact(tmp_path, "genres", {}))
    run.finish()
    wandb.teardown()  # finish() may return before wandb-core flushed the run file
    good = _single_run_file(wandb_dir).read_bytes()
    assert read_records(_single_run_file(wandb_dir))

    bad = tmp_path / "bad.wandb"
    flipped = bytearray(good)
    flipped[good.index(b"genres rows")] ^= 0x01  # inside a record payload
    bad.write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="crc mismatch"):
        read_records(bad)
    with pytest.raises(ValueError, match="crc mismatch"):
        all_text(bad)

    bad.write_bytes(b":W&X" + good[4:])
    with pytest.raises(ValueError, match="header"):
        read_records(bad)

    bad.write_bytes(good[:-3])
    with pytest.raises(ValueError, match="truncated"):
        read_records(bad)


def _encode(payloads: list[bytes]) -> bytes:
    """Write a .wandb file the way wandb-core's leveldb.Writer does."""
    out = bytearray(b":W&B\xe1\xbe\x00")
    for payload in payloads:
        first, rest = True, payload
        while True:
            left = BLOCK_SIZE - len(out) % BLOCK_SIZE
            if left < 7:
                out += bytes(left)  # zero padding up to the next block
                left = BLOCK_SIZE
            part, rest = rest[: left - 7], rest[left - 7 :]
            kind = (1 if first else 4) if not rest else (2 if first else 3)
            crc = zlib.crc32(bytes([kind]) + part)
            out += struct.pack("<IHB", crc, len(part), kind) + part
            first = False
            if not rest:
                break
    return bytes(out)


def test_block_tail_padding(tmp_path: Path) -> None:
    # First record leaves 3 bytes in block 0 (7 + 7 + 32751 = 32765): too few
    # for a chunk header, so they are padding and the next record starts in
    # block 1. The third record spans blocks 1 and 2.
    records = [
        Record(num=1, uuid="a" * (BLOCK_SIZE - 7 - 7 - 3 - 7)),  # 7: proto overhead
        Record(num=2, uuid="b"),
        Record(num=3, uuid="c" * (BLOCK_SIZE + 100)),
    ]
    payloads = [r.SerializeToString() for r in records]
    assert len(payloads[0]) == BLOCK_SIZE - 7 - 7 - 3
    path = tmp_path / "run-synthetic.wandb"
    data = _encode(payloads)
    assert data[BLOCK_SIZE - 3 : BLOCK_SIZE] == bytes(3)  # the padding
    path.write_bytes(data)
    assert read_records(path) == records
    assert find_run_files(tmp_path) == [path]
