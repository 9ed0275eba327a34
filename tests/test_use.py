"""The next step: getdata.use("<artifact>:<alias or version>") -> the local path of that version,
offline from getdata's own record (store/versions.py), online through run.use_artifact; the CLI
form `getdata use`; the README's snippet as written; one copy per content."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import getdata
from getdata.errors import GetDataError
from getdata.pipeline.use import split_reference
from getdata.store.versions import RECORD, UnknownVersion
from tests.support import REPO, data_dir, only, run_cli, sha256_hex, wandb_env

ONE = b"id,genre\n1,rock\n2,jazz\n"
TWO = b"id,genre\n1,rock\n2,jazz\n3,folk\n"
THREE = b"id,genre\n9,pop\n"


def fetch(wb: Path, source: Path, *overrides: str) -> Any:
    return getdata.fetch(
        "source=local", f"source.path={source}", "artifact.name=songs", *overrides, run_dir=wb / "r"
    )


def test_use_offline_by_alias_latest_and_version(wb: Path, tmp_path: Path) -> None:
    source = tmp_path / "songs.csv"
    source.write_bytes(ONE)
    first = fetch(wb, source, "artifact.aliases=[prod]")
    source.write_bytes(TWO)
    second = fetch(wb, source)
    assert (first.version, second.version) == ("v0", "v1")
    assert getdata.use("songs:prod") == first.path
    assert getdata.use("songs:latest") == getdata.use("songs") == second.path
    assert getdata.use("songs:v0").read_bytes() == ONE
    assert getdata.use("songs:v1").read_bytes() == TWO
    # An alias names the version it was given to last; the same content is the same version.
    source.write_bytes(ONE)
    again = fetch(wb, source, "artifact.aliases=[staging]")
    assert again.version == "v0" and again.path == first.path
    assert getdata.use("songs:latest") == first.path
    source.write_bytes(TWO)
    fetch(wb, source, "artifact.aliases=[prod]")
    assert getdata.use("songs:prod") == second.path
    assert getdata.use("songs:staging") == first.path
    record = json.loads((data_dir(wb) / "songs" / RECORD).read_text())
    assert record["latest"] == "v1"
    assert {v["version"]: v["aliases"] for v in record["versions"]} == {
        "v0": ["staging"],
        "v1": ["prod"],
    }
    # The paths are absolute (a shell step may run from elsewhere), and the report lists them.
    assert getdata.use("songs:prod").is_absolute()
    report = json.loads((wb / "r" / "getdata-report.json").read_text())
    assert report["version"] == "v1" and report["paths"] == [str(second.path)]


def test_unknown_references_are_one_line_naming_what_there_is(wb: Path, tmp_path: Path) -> None:
    source = tmp_path / "songs.csv"
    source.write_bytes(ONE)
    fetch(wb, source, "artifact.aliases=[prod]")
    with pytest.raises(UnknownVersion) as caught:
        getdata.use("songs:nightly")
    assert str(caught.value) == (
        f"songs:nightly: no such version or alias in {(data_dir(wb) / 'songs').resolve()} "
        "(known: latest, v0, prod)"
    )
    with pytest.raises(UnknownVersion, match=r"^songs:v1: no such version"):
        getdata.use("songs:v1")
    with pytest.raises(UnknownVersion, match=r"^other: getdata has logged no version of it in"):
        getdata.use("other:latest")
    for bad in ["", "a/b:", "songs:", "songs:a:b", "songs: x", "../x", "songs:a/b"]:
        with pytest.raises(GetDataError) as caught:
            getdata.use(bad)
        assert "\n" not in str(caught.value)
    assert split_reference("team/proj/songs:prod") == ("songs", "prod")


def test_use_says_when_the_files_are_gone_or_changed(wb: Path, tmp_path: Path) -> None:
    source = tmp_path / "songs.csv"
    source.write_bytes(ONE)
    result = fetch(wb, source)
    result.path.write_bytes(b"edited")
    with pytest.raises(UnknownVersion, match=r"songs:v0: its files are no longer as getdata kept"):
        getdata.use("songs")
    result.path.unlink()
    with pytest.raises(UnknownVersion, match="fetch it again"):
        getdata.use("songs")


def test_a_hostile_record_is_refused_in_one_line(wb: Path) -> None:
    """The record is data from disk: a path out of the artifact folder, a link, or garbage is
    never followed or trusted."""
    folder = data_dir(wb) / "songs"
    folder.mkdir(parents=True)
    secret = wb / "secret.txt"
    secret.write_text("s")
    version = {
        "version": "v0",
        "sha256": "0" * 64,
        "path": "../../secret.txt",
        "folder": False,
        "size": 1,
        "aliases": [],
        "logged_at": "",
        "order": 1,
        "runs": [],
        "removed": "",
    }
    (folder / RECORD).write_text(json.dumps({"latest": "v0", "versions": [version]}))
    with pytest.raises(GetDataError, match="would land outside"):
        getdata.use("songs")
    (folder / RECORD).write_text("not json")
    with pytest.raises(UnknownVersion, match="getdata has logged no version"):
        getdata.use("songs")
    (folder / RECORD).unlink()
    (folder / RECORD).symlink_to(secret)
    with pytest.raises(UnknownVersion, match="getdata has logged no version"):
        getdata.use("songs")


def test_a_folder_artifact_gives_its_folder(wb: Path, tmp_path: Path) -> None:
    folder = tmp_path / "lake"
    (folder / "deep").mkdir(parents=True)
    (folder / "a.csv").write_bytes(ONE)
    (folder / "deep" / "b.csv").write_bytes(TWO)
    getdata.fetch("source=local", f"source.path={folder}", run_dir=wb / "r")
    path = getdata.use("lake:latest")
    assert path.is_dir()
    assert (path / "a.csv").read_bytes() == ONE and (path / "deep" / "b.csv").read_bytes() == TWO


def test_nothing_is_recorded_when_nothing_was_logged(wb: Path, tmp_path: Path) -> None:
    source = tmp_path / "songs.csv"
    source.write_bytes(ONE)
    result = fetch(wb, source, "wandb.mode=disabled")
    assert result.version is None and result.path is not None and result.path.is_file()
    with pytest.raises(UnknownVersion, match="getdata has logged no version"):
        getdata.use("songs")


def test_the_same_content_fetched_twice_is_kept_once(wb: Path, tmp_path: Path) -> None:
    """The default data folder is shared: a second fetch of the same bytes keeps no second copy
    and leaves the first run's file as it was (an unsynced run still points at valid bytes)."""
    source = tmp_path / "songs.csv"
    source.write_bytes(ONE * 1000)
    first = getdata.fetch("source=local", f"source.path={source}", run_dir=wb / "r1")
    before = os.stat(first.path)
    second = getdata.fetch("source=local", f"source.path={source}", run_dir=wb / "r2")
    assert second.path == first.path
    after = os.stat(first.path)
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (
        before.st_ino,
        before.st_mtime_ns,
        before.st_size,
    )
    files = [p for p in data_dir(wb).rglob("*") if p.is_file() and p.name == "songs.csv"]
    assert files == [first.path]
    assert first.path.parent.name == sha256_hex(ONE * 1000)[:16]


class StandInArtifact:
    """What run.use_artifact returns, as far as getdata.use reads it."""

    def __init__(self, root: Path, entries: dict[str, bytes], metadata: dict[str, Any]) -> None:
        self.root, self.metadata = root, metadata
        self.manifest = type("Manifest", (), {"entries": dict.fromkeys(entries)})()
        self._entries = entries
        self.calls: list[str] = []

    def download(self) -> str:
        self.calls.append("download")
        for name, data in self._entries.items():
            (self.root / name).parent.mkdir(parents=True, exist_ok=True)
            (self.root / name).write_bytes(data)
        return str(self.root)

    def file(self) -> str:
        self.calls.append("file")
        return str(Path(self.download()) / only(list(self._entries)))


class StandInRun:
    """An online run as getdata.use sees it (no W&B server here: see the module docstring)."""

    offline = False
    disabled = False

    def __init__(self, artifact: Any) -> None:
        self.artifact = artifact
        self.used: list[str] = []

    def use_artifact(self, reference: str) -> Any:
        self.used.append(reference)
        if isinstance(self.artifact, Exception):
            raise self.artifact
        return self.artifact


def test_online_goes_through_run_use_artifact(tmp_path: Path) -> None:
    """With an online run, getdata.use is run.use_artifact (lineage) then file() for a file
    artifact, download() for a folder one (a getdata folder says file_count, even with one
    file). Untested here: a real W&B server (none on 127.0.0.1)."""
    single = StandInArtifact(tmp_path / "a", {"songs.csv": ONE}, {"sha256": "x"})
    run = StandInRun(single)
    path = getdata.use("team/proj/songs:prod", run=run)
    assert run.used == ["team/proj/songs:prod"] and single.calls[0] == "file"
    assert path.read_bytes() == ONE
    folder = StandInArtifact(tmp_path / "b", {"only.csv": ONE}, {"file_count": 1})
    assert getdata.use("lake:v2", run=StandInRun(folder)) == tmp_path / "b"
    assert folder.calls == ["download"]
    failing = StandInRun(RuntimeError("artifact 'songs:prod' not found\nmore"))
    with pytest.raises(UnknownVersion) as caught:
        getdata.use("songs:prod", run=failing)
    assert str(caught.value) == (
        "songs:prod: W&B could not use it (artifact 'songs:prod' not found); an artifact "
        "logged offline is there only after `wandb sync`"
    )


def test_an_offline_run_reads_getdatas_record(wb: Path, tmp_path: Path) -> None:
    import wandb

    source = tmp_path / "songs.csv"
    source.write_bytes(ONE)
    result = fetch(wb, source, "artifact.aliases=[prod]")
    with wandb.init(project="next-step", mode="offline") as run:
        assert getdata.use("songs:prod", run=run) == result.path


def test_the_cli_prints_the_path_or_one_line(tmp_path: Path) -> None:
    source = tmp_path / "songs.csv"
    source.write_bytes(ONE)
    env = wandb_env(tmp_path)
    fetched = run_cli(
        ["source=local", f"source.path={source}", "artifact.aliases=[prod]"], env, cwd=tmp_path
    )
    assert fetched.returncode == 0, fetched.stderr
    proc = run_cli(["use", "songs.csv:prod"], env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    path = Path(proc.stdout.strip())
    assert path.read_bytes() == ONE and path.is_absolute()
    unknown = run_cli(["use", "songs.csv:nightly"], env, cwd=tmp_path)
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert unknown.stderr.splitlines() == [
        f"getdata: songs.csv:nightly: no such version or alias in "
        f"{(data_dir(tmp_path) / 'songs.csv').resolve()} (known: latest, v0, prod)"
    ]
    other = run_cli(["use", "songs.csv:prod", "--data-dir", str(tmp_path / "none")], env, tmp_path)
    assert other.returncode == 1 and other.stderr.startswith("getdata: songs.csv: getdata has")


def readme_blocks(section: str, language: str) -> list[str]:
    text = (REPO / "README.md").read_text()
    start = text.index(section)
    end = text.index("\n## ", start)
    return re.findall(rf"```{language}\n(.*?)```", text[start:end], re.S)


def test_the_readmes_next_step_runs_as_written(tmp_path: Path) -> None:
    """The README's snippet, verbatim, after the README's own kind of fetch (offline: no W&B
    account here, so its `with wandb.init()` block runs offline and reads getdata's record)."""
    python_block = only(readme_blocks("### The next step", "python"))
    shell_block = only(readme_blocks("### The next step", "bash"))
    env = {**os.environ, **wandb_env(tmp_path)}
    env.pop("HYDRA_FULL_ERROR", None)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    fetched = subprocess.run(
        [sys.executable, "-m", "getdata", "dataset=sample", "artifact.name=raw_data.parquet",
         "artifact.aliases=[prod]"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert fetched.returncode == 0, fetched.stderr
    kept = getdata.use("raw_data.parquet:prod", data_dir=data_dir(tmp_path))
    ran = subprocess.run(
        [sys.executable, "-c", python_block + "\nprint(path, len(df))"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == [str(kept), "500"]
    first_line = shell_block.splitlines()[0].split("#")[0].strip()
    assert first_line == "getdata use raw_data.parquet:prod"
    shell = subprocess.run(
        ["bash", "-c", first_line], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.strip() == str(kept)


def test_a_record_that_cannot_be_written_costs_the_record_not_the_run(
    wb: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = tmp_path / "songs.csv"
    source.write_bytes(ONE)
    (data_dir(wb) / "songs" / RECORD).mkdir(parents=True)  # where the record goes: a folder
    result = fetch(wb, source)
    assert result.status == "ok" and result.version is None and result.path.read_bytes() == ONE
    assert "songs is logged, but getdata could not note it in" in caplog.text
