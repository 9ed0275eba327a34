"""getdata gc: the versions in the shared data folder that nothing needs go; what `getdata use`
names (latest, an alias, the last logged), what an unsynced offline run refers to, and whatever
a run is using stay, as they are."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path

import pytest

import getdata
from getdata.store.versions import RECORD, UnknownVersion, version_folders
from tests.support import data_dir, run_cli, wandb_env
from tests.wandb_file import find_run_files

CONTENTS = [b"id,n\n%d,%d\n" % (i, i * i) * (i + 1) for i in range(4)]


def fetch(wb: Path, source: Path, data: bytes, *overrides: str) -> getdata.FetchResult:
    source.write_bytes(data)
    return getdata.fetch(
        "source=local", f"source.path={source}", "artifact.name=songs", *overrides, run_dir=wb / "r"
    )


def mark_synced(result: getdata.FetchResult) -> None:
    """What `wandb sync` leaves beside a run file it uploaded."""
    run_file = Path(str(result.wandb_location)) / f"run-{result.wandb_run_id}.wandb"
    assert run_file.is_file()
    Path(f"{run_file}.synced").touch()


def folders(wb: Path) -> set[str]:
    return set(version_folders(data_dir(wb) / "songs"))


def test_gc_removes_only_what_nothing_needs(wb: Path, tmp_path: Path) -> None:
    source = tmp_path / "songs.csv"
    v0 = fetch(wb, source, CONTENTS[0], "artifact.aliases=[prod]")
    v1 = fetch(wb, source, CONTENTS[1])
    v2 = fetch(wb, source, CONTENTS[2])
    never = fetch(wb, source, CONTENTS[3], "wandb.mode=disabled")
    assert [r.version for r in (v0, v1, v2, never)] == ["v0", "v1", "v2", None]
    everything = folders(wb)
    assert len(everything) == 4
    internals = sorted(p.name for p in (data_dir(wb) / "songs").iterdir() if p.name[0] == ".")

    dry = getdata.gc(dry_run=True)
    assert [(r.artifact, r.versions) for r in dry.removed] == [("songs", [])]
    assert folders(wb) == everything
    # Never logged: nothing refers to it.
    done = getdata.gc()
    assert [r.folder for r in done.removed] == [never.path.parent.name]  # type: ignore[union-attr]
    assert done.freed == len(CONTENTS[3]) and done.kept == 3

    # v1 is neither latest nor aliased, but its offline run is not synced yet: kept, until it is.
    assert getdata.gc().removed == []
    mark_synced(v1)
    assert [r.versions for r in getdata.gc().removed] == [["v1"]]
    assert folders(wb) == {r.path.parent.name for r in (v0, v2)}  # type: ignore[union-attr]
    with pytest.raises(UnknownVersion, match=r"^songs:v1: its files were removed by getdata gc"):
        getdata.use("songs:v1")
    assert getdata.use("songs:prod").read_bytes() == CONTENTS[0]
    assert getdata.use("songs:latest").read_bytes() == CONTENTS[2]
    record = json.loads((data_dir(wb) / "songs" / RECORD).read_text())
    assert [bool(v["removed"]) for v in record["versions"]] == [False, True, False]
    # getdata's own files are left as they are (the lock, the record).
    assert sorted(p.name for p in (data_dir(wb) / "songs").iterdir() if p.name[0] == ".") == (
        internals
    )

    # Fetched again, a removed version is kept again (same version name).
    again = fetch(wb, source, CONTENTS[1])
    assert again.version == "v1" and getdata.use("songs:v1").read_bytes() == CONTENTS[1]


def test_keep_last_keeps_the_versions_logged_last(wb: Path, tmp_path: Path) -> None:
    source = tmp_path / "songs.csv"
    results = [fetch(wb, source, data) for data in CONTENTS[:3]]
    for result in results:
        mark_synced(result)
    assert [r.versions for r in getdata.gc(keep_last=2).removed] == [["v0"]]
    assert [r.versions for r in getdata.gc().removed] == [["v1"]]
    assert folders(wb) == {results[2].path.parent.name}  # type: ignore[union-attr]


def test_an_unsynced_run_in_the_wandb_folder_keeps_its_files_without_a_record(
    wb: Path, tmp_path: Path
) -> None:
    """getdata's record lost (or never written): the unsynced offline runs in the W&B folder
    still keep the files they refer to (read from their manifests); once synced, they go."""
    source = tmp_path / "songs.csv"
    results = [fetch(wb, source, data) for data in CONTENTS[:2]]
    (data_dir(wb) / "songs" / RECORD).unlink()
    assert getdata.gc().removed == [] and len(folders(wb)) == 2
    for result in results:
        mark_synced(result)
    assert len(getdata.gc().removed) == 2 and folders(wb) == set()
    assert len(find_run_files(wb / "wandb-dir")) == 2  # W&B's own files are not gc's to remove


def test_an_artifact_a_run_is_using_is_skipped_whole(wb: Path, tmp_path: Path) -> None:
    source = tmp_path / "songs.csv"
    fetch(wb, source, CONTENTS[0])
    never = fetch(wb, source, CONTENTS[1], "wandb.mode=disabled")
    folder = data_dir(wb) / "songs"
    # A run in progress: its lock, its partial file.
    (folder / ".getdata-parts").mkdir()
    (folder / ".getdata-parts" / "x.part").write_bytes(b"half")
    with (folder / ".getdata.lock").open("ab") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        busy = getdata.gc()
        assert busy.busy == ["songs"] and busy.removed == []
        assert never.path is not None and never.path.is_file()
    assert (folder / ".getdata-parts" / "x.part").read_bytes() == b"half"
    assert [r.versions for r in getdata.gc().removed] == [[]]
    assert (folder / ".getdata-parts" / "x.part").read_bytes() == b"half"


def test_the_gc_command(tmp_path: Path) -> None:
    source = tmp_path / "songs.csv"
    env = wandb_env(tmp_path)
    for data, mode in ((CONTENTS[0], "offline"), (CONTENTS[1], "disabled")):
        source.write_bytes(data)
        proc = run_cli(
            ["source=local", f"source.path={source}", f"wandb.mode={mode}"], env, tmp_path
        )
        assert proc.returncode == 0, proc.stderr
    dry = run_cli(["gc", "--dry-run"], env, tmp_path)
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    size = len(CONTENTS[1])
    assert lines[0].startswith("gc: would remove songs.csv/")
    assert lines[0].endswith(f"(never logged, {size} B)")
    assert lines[1].startswith(f"gc: would free {size} B in 1 version folder(s) of ")
    assert len(version_folders(data_dir(tmp_path) / "songs.csv")) == 2
    done = run_cli(["gc"], env, tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("gc: removing songs.csv/")
    assert len(version_folders(data_dir(tmp_path) / "songs.csv")) == 1
    bad = run_cli(["gc", "--keep-last", "x"], env, tmp_path)
    assert bad.returncode == 2 and "invalid int value" in bad.stderr
