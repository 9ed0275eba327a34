"""A catalog entry that cannot be read (issue 20, item 3): not UTF-8, not YAML, not a mapping.
Its job fails in one line naming the file; in a `dataset=glob(...)` sweep the other entries run
and that one is `failed` in summary.json (basic and joblib launchers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import getdata
from tests.support import logged, run_cli, wandb_env

ENTRY = "# @package _global_\ndefaults:\n  - override /source: local\n"


def entries(root: Path, data: Path) -> dict[str, Path]:
    folder = root / "dataset"
    folder.mkdir(parents=True)
    files = {
        "t_good": (ENTRY + f"source:\n  path: {data}\nartifact:\n  name: good\n").encode(),
        # Latin-1 é: a file saved by an old editor.
        "t_latin": (ENTRY + "artifact:\n  description: caf\xe9\n").encode("latin-1"),
        "t_yaml": (ENTRY + "artifact: [name\n  type: x: y\n").encode(),
        "t_list": b"- just\n- a list\n",
    }
    for name, raw in files.items():
        (folder / f"{name}.yaml").write_bytes(raw)
    return {name: folder / f"{name}.yaml" for name in files}


@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_a_sweep_runs_the_readable_entries_and_reports_the_others(
    tmp_path: Path, launcher: str
) -> None:
    data = tmp_path / "songs.csv"
    data.write_bytes(b"id\n1\n2\n")
    files = entries(tmp_path / "cat", data)
    sweep = tmp_path / "sweep"
    env = {**wandb_env(tmp_path), "GETDATA_CATALOG": str(tmp_path / "cat")}
    args = ["-m", "dataset=glob(t_*)", f"hydra/launcher={launcher}", f"hydra.sweep.dir={sweep}"]
    done = run_cli(args, env, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    summary = json.loads((sweep / "summary.json").read_text())
    assert (summary["jobs"], summary["ok"], summary["failed"]) == (4, 1, 3)
    by_name = {d["dataset"]: d for d in summary["datasets"]}
    assert by_name["t_good"]["status"] == "ok"
    expected = {
        "t_latin": "is not UTF-8 text (byte 0xe9 at position",
        "t_yaml": "is not valid YAML (line 5, column 7:",
        "t_list": "is not a mapping of settings",
    }
    for name, words in expected.items():
        error = by_name[name]["error"]
        assert by_name[name]["status"] == "failed"
        assert error.startswith(f"catalog entry {files[name]} {words}"), error
        # One line, naming the file, on the console too.
        lines = [line for line in done.stderr.splitlines() if str(files[name]) in line]
        assert lines and all(words in line for line in lines)
    assert [a.name for _, a in logged(tmp_path)] == ["good"]


def test_one_run_of_an_unreadable_entry_is_one_line(tmp_path: Path) -> None:
    files = entries(tmp_path / "cat", tmp_path / "none.csv")
    env = {**wandb_env(tmp_path), "GETDATA_CATALOG": str(tmp_path / "cat")}
    done = run_cli(["dataset=t_latin", f"hydra.run.dir={tmp_path / 'run'}"], env, cwd=tmp_path)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if "ERROR" in line or "getdata:" in line]
    assert len(errors) == 1 and f"catalog entry {files['t_latin']} is not UTF-8" in errors[0]
    assert "Traceback" not in done.stderr and not (tmp_path / "wandb-dir").exists()


def test_the_api_raises_the_config_error(
    tmp_path: Path, wb: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = entries(tmp_path / "cat", tmp_path / "none.csv")
    monkeypatch.setenv("GETDATA_CATALOG", str(tmp_path / "cat"))
    with pytest.raises(getdata.ConfigError, match="is not valid YAML") as caught:
        getdata.fetch(dataset="t_yaml", run_dir=wb / "run")
    assert str(files["t_yaml"]) in str(caught.value)
