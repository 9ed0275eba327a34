"""check_only=true: new / changed / unchanged from the source and the state folder, nothing
downloaded or logged; exit codes a scheduler can branch on (0 unchanged, 3 new/changed, 1 failed).
"""

from __future__ import annotations

import json
from pathlib import Path

import wandb

from getdata.cli.report import run_job
from tests.support import compose_cfg, logged, run_cli, wandb_env


def test_check_only_http(wb: Path, http_server) -> None:
    url = http_server.add("/daily.csv", b"a,b\n1,2\n")
    base = ["source=http", f"source.url={url}"]
    check = [*base, "check_only=true"]
    # Never fetched: new (and nothing downloaded, logged or recorded).
    assert run_job(compose_cfg(*check), wb / "c1", None).status == "new"
    assert http_server.count("/daily.csv", "GET") == 0
    assert not (wb / "wandb-dir").exists() and not (wb / "state").exists()
    # A plain fetch (no skip_unchanged) records the source as it was.
    assert run_job(compose_cfg(*base), wb / "run1", None).status == "ok"
    wandb.teardown()
    state = json.loads((wb / "state" / "daily.csv.json").read_text())
    assert state["fingerprint"]["etag"] and state["source"] == url
    report = run_job(compose_cfg(*check), wb / "c2", None)
    assert report.status == "unchanged" and report.paths == []
    # The source changes: changed; still nothing downloaded or logged.
    http_server.add("/daily.csv", b"a,b\n1,2\n3,4\n")
    assert run_job(compose_cfg(*check), wb / "c3", None).status == "changed"
    assert http_server.count("/daily.csv", "GET") == 1
    assert len(logged(wb)) == 1
    saved = json.loads((wb / "c3" / "getdata-report.json").read_text())
    assert saved["status"] == "changed" and saved["artifact"] == "daily.csv"


def test_check_only_without_validators_is_never_unchanged(wb: Path, http_server) -> None:
    url = http_server.add("/anon.csv", b"a\n1\n", etag=None, last_modified=None)
    base = ["source=http", f"source.url={url}"]
    assert run_job(compose_cfg(*base, "artifact.name=anon"), wb / "r", None).status == "ok"
    wandb.teardown()
    # Nothing to compare with: never "unchanged", so a scheduler fetches.
    report = run_job(compose_cfg(*base, "artifact.name=anon", "check_only=true"), wb / "c", None)
    assert report.status == "new"


def test_check_only_folder(wb: Path, tmp_path: Path) -> None:
    folder = tmp_path / "songs"
    folder.mkdir()
    (folder / "a.csv").write_text("x\n1\n")
    base = ["source=local", f"source.path={folder}", "artifact.name=songs"]
    assert run_job(compose_cfg(*base), wb / "r1", None).status == "ok"
    wandb.teardown()
    assert run_job(compose_cfg(*base, "check_only=true"), wb / "c1", None).status == "unchanged"
    (folder / "b.csv").write_text("x\n2\n")
    assert run_job(compose_cfg(*base, "check_only=true"), wb / "c2", None).status == "changed"


def test_exit_codes_single_and_sweep(tmp_path: Path, http_server) -> None:
    env = {**wandb_env(tmp_path), "GETDATA_STATE_DIR": str(tmp_path / "state")}
    catalog = tmp_path / "catalog" / "dataset"
    catalog.mkdir(parents=True)
    for name in ("one", "two"):
        url = http_server.add(f"/{name}.csv", b"a\n1\n")
        (catalog / f"{name}.yaml").write_text(
            f"# @package _global_\ndefaults:\n  - override /source: http\nsource:\n  url: {url}\n"
        )
    env["GETDATA_CATALOG"] = str(tmp_path / "catalog")
    # Fetch "one" for real, then ask about both.
    fetched = run_cli(["dataset=one", f"hydra.run.dir={tmp_path / 'r'}"], env, cwd=tmp_path)
    assert fetched.returncode == 0, fetched.stderr
    single = run_cli(
        ["dataset=one", "check_only=true", f"hydra.run.dir={tmp_path / 'c'}"], env, cwd=tmp_path
    )
    assert single.returncode == 0, single.stderr
    assert "is unchanged" in single.stderr
    new = run_cli(
        ["dataset=two", "check_only=true", f"hydra.run.dir={tmp_path / 'n'}"], env, cwd=tmp_path
    )
    assert new.returncode == 3, new.stderr
    sweep_dir = tmp_path / "sweep"
    sweep = run_cli(
        ["-m", "dataset=one,two", "check_only=true", f"hydra.sweep.dir={sweep_dir}"],
        env,
        cwd=tmp_path,
    )
    assert sweep.returncode == 3, sweep.stderr
    summary = json.loads((sweep_dir / "summary.json").read_text())
    assert [d["status"] for d in summary["datasets"]] == ["unchanged", "new"]
    assert summary["new"] == 1 and summary["unchanged"] == 1 and summary["failed"] == 0
    assert http_server.count("/two.csv", "GET") == 0
    assert len(logged(tmp_path)) == 1, "only the real fetch logged anything"
