"""Every error in one line, as the user sees it: Hydra's own errors, interrupts, unwritable
folders. No traceback unless HYDRA_FULL_ERROR=1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import leftovers, only, run_cli, wandb_env

FAST = ["fetch.attempts=1", "fetch.progress=false"]


def one_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "HYDRA_FULL_ERROR" not in proc.stderr, proc.stderr
    return only([line for line in proc.stderr.splitlines() if line.strip()])


def cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        [*args, f"hydra.run.dir={tmp_path / 'run'}", *FAST],
        {**wandb_env(tmp_path), **env},
        cwd=tmp_path,
    )


def test_typo_in_a_key_names_the_key_and_no_plus_hint(tmp_path: Path) -> None:
    line = one_error(cli(tmp_path, "artifact.nmae=x"))
    assert line == (
        "getdata: unknown key artifact.nmae (did you mean artifact.name?): "
        "`getdata --cfg job` lists the settings there are"
    )
    assert "+artifact" not in line


def test_appended_unknown_key_is_one_line(tmp_path: Path) -> None:
    proc = cli(tmp_path, "+artifact.nmae=x")
    assert proc.returncode == 1
    line = only([ln for ln in proc.stderr.splitlines() if "ERROR" in ln])
    assert line.endswith(
        "unknown key artifact.nmae: see `getdata --cfg job` for the settings there are"
    )
    assert "Traceback" not in proc.stderr


def test_unquoted_url_names_the_key_and_the_quoted_form(tmp_path: Path) -> None:
    line = one_error(cli(tmp_path, "source=http", "source.url=http://127.0.0.1:1/x.csv?a=b"))
    assert line == (
        "getdata: cannot read the override for source.url (mismatched input '=' expecting <EOF>)"
        ": quote the value, e.g. \"source.url='http://127.0.0.1:1/x.csv?a=b'\" "
        "(double quotes for the shell, single for Hydra)"
    )


def test_quoted_form_masks_a_secret(tmp_path: Path) -> None:
    line = one_error(cli(tmp_path, "source=http", "source.url=http://h/x.csv?token=t0pS3cret&a=b"))
    assert "t0pS3cret" not in line and "token=***" in line


def test_wrong_type_names_the_key(tmp_path: Path) -> None:
    line = one_error(cli(tmp_path, "fetch.attempts=many"))
    assert line == (
        "getdata: fetch.attempts: Value 'many' of type 'str' could not be converted to Integer"
    )


def test_unknown_option_lists_the_choices(tmp_path: Path) -> None:
    line = one_error(cli(tmp_path, "source=htp"))
    assert (
        line == "getdata: source=htp: no such option; "
        "choose one of fsspec, hf, http, local, s3, sample"
    )


def test_full_error_still_shows_the_traceback(tmp_path: Path) -> None:
    proc = cli(tmp_path, "artifact.nmae=x", HYDRA_FULL_ERROR="1")
    assert proc.returncode == 1 and "Traceback" in proc.stderr


def test_unwritable_output_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    proc = run_cli(
        ["wandb.mode=disabled", f"hydra.run.dir={blocker / 'run'}"],
        wandb_env(tmp_path),
        cwd=tmp_path,
    )
    line = one_error(proc)
    assert line.startswith(f"getdata: {blocker}")
    assert line.endswith("(choose another folder with hydra.run.dir / hydra.sweep.dir)")


def test_ctrl_c_during_the_download_is_one_line(tmp_path: Path, http_server) -> None:
    url = http_server.add("/slow.bin", b"x" * 1000, stall=30)
    env = {**os.environ, **wandb_env(tmp_path)}
    env.pop("HYDRA_FULL_ERROR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "getdata", "source=http", f"source.url={url}",
         f"hydra.run.dir={tmp_path / 'run'}", "source.timeout=60"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not leftovers(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert leftovers(tmp_path), "the download started"
        time.sleep(0.2)  # well inside the download
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    line = only([ln for ln in stderr.splitlines() if "ERROR" in ln])
    assert line.endswith(
        "interrupted by Ctrl-C: the partial download and the unfinished W&B run were removed; "
        "nothing was logged"
    )
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("launcher", ["basic"])
def test_sweep_with_a_bad_override_is_one_line(tmp_path: Path, launcher: str) -> None:
    proc = run_cli(
        ["-m", "artifact.nmae=x,y", f"hydra/launcher={launcher}", f"hydra.sweep.dir={tmp_path}/s"],
        wandb_env(tmp_path),
        cwd=tmp_path,
    )
    line = one_error(proc)
    assert line.startswith("getdata: unknown key artifact.nmae")
