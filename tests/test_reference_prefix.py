"""artifact.mode=reference on an S3 prefix or glob: one W&B reference per object (ETag as its
digest), named relative to the prefix, bounded by artifact.max_objects; nothing downloaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from getdata.errors import GetDataError
from tests.support import data_dir, logged, only, run_in_process


def put_lake(s3) -> dict[str, str]:
    s3.client.create_bucket(Bucket="lake")
    etags = {}
    for key, body in {
        "music/2024-01.csv": b"a\n1\n",
        "music/2024-02.csv": b"a\n2\n",
        "music/deep/notes.txt": b"hello",
        "other/x.csv": b"a\n3\n",
    }.items():
        s3.client.put_object(Bucket="lake", Key=key, Body=body)
        etags[key] = s3.client.head_object(Bucket="lake", Key=key)["ETag"].strip('"')
    return etags


def reference(wb: Path, s3, url: str, *more: str):
    return run_in_process(
        wb / "run",
        "source=s3",
        f"source.url={url}",
        f"source.endpoint_url={s3.endpoint_url}",
        "artifact.mode=reference",
        "artifact.name=music",
        *more,
    )


def test_reference_prefix(wb: Path, s3) -> None:
    etags = put_lake(s3)
    result = reference(wb, s3, "s3://lake/music/")
    assert result.status == "ok" and result.paths == []
    _, artifact = only(logged(wb))
    entries = {e.path: e for e in artifact.entries}
    assert set(entries) == {"2024-01.csv", "2024-02.csv", "deep/notes.txt"}
    for name, entry in entries.items():
        assert entry.ref == f"s3://lake/music/{name}"
        assert entry.digest == etags[f"music/{name}"]
    assert artifact.metadata["file_count"] == 3 and artifact.metadata["reference"] is True
    assert artifact.metadata["size"] == 4 + 4 + 5
    assert not data_dir(wb).exists(), "nothing was downloaded"


def test_reference_glob(wb: Path, s3) -> None:
    put_lake(s3)
    reference(wb, s3, "s3://lake/music/2024-*.csv")
    _, artifact = only(logged(wb))
    assert sorted(e.path for e in artifact.entries) == ["2024-01.csv", "2024-02.csv"]


def test_reference_prefix_over_the_bound_is_refused(wb: Path, s3) -> None:
    put_lake(s3)
    with pytest.raises(GetDataError, match=r"3 objects, more than artifact.max_objects=2"):
        reference(wb, s3, "s3://lake/music/", "artifact.max_objects=2")
    assert not (wb / "wandb-dir").exists()
