"""W&B failures never cost a download and never lose one.

A fake W&B server on 127.0.0.1 (started here) refuses, hangs, answers 500, rejects the key, or
accepts the preflight and then fails; the real wandb runs against it. (The guards on the wandb
internals getdata relies on are in tests/test_wandb_compat.py.)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from getdata.cli.report import EXIT_LOGGED_OFFLINE
from getdata.config import WandbConfig, WandbMode, check_artifact_name
from getdata.errors import GetDataError
from getdata.tracking.run import log_artifact
from getdata.tracking.settle import preflight, settle, wandb_host
from tests.servers import free_port
from tests.support import data_dir, logged, only, run_cli, wandb_env
from tests.wandb_file import find_run_files

DATA = b"id,value\n1,a\n2,b\n"
API_KEY = "0123456789abcdef0123456789abcdef01234567"
FAST = ["fetch.attempts=1", "fetch.progress=false", "source.timeout=5", "wandb.timeout=2"]

# Seconds each failure mode took, printed at the end of the module (pytest -s) for the notes.
TIMINGS: dict[str, float] = {}


# ---------------------------------------------------------------------------------------------
# A fake W&B server
# ---------------------------------------------------------------------------------------------


class FakeWandb:
    """``behaviour``: "500", "401", "nobody" (a valid answer, viewer null), "ok" (the preflight's
    viewer query answered, everything else 500: a server that goes away after the check),
    "hang" (accepts connections, never answers) or "refuse" (nothing listens)."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.requests: list[bytes] = []
        self._server: Any = None
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []

    def __enter__(self) -> FakeWandb:
        if self.behaviour == "refuse":
            self.port = free_port()
        elif self.behaviour == "hang":
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen(16)
            self._sockets.append(listener)
            self.port = listener.getsockname()[1]
        else:
            self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
            self.port = self._server.server_address[1]
            thread = threading.Thread(target=self._server.serve_forever, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for sock in self._sockets:
            sock.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.requests.append(body)
                viewer = b"viewer" in body and b"UpsertBucket" not in body
                if fake.behaviour == "401":
                    self._answer(401, b'{"errors": [{"message": "unauthorized"}]}')
                elif fake.behaviour == "nobody" and viewer:
                    self._answer(200, b'{"data": {"viewer": null}}')
                elif fake.behaviour == "ok" and viewer:
                    self._answer(200, b'{"data": {"viewer": {"id": "u1"}}}')
                else:
                    self._answer(500, b"")

            do_GET = do_PUT = do_POST

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


def online_env(tmp_path: Path, fake: FakeWandb, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in wandb_env(tmp_path).items() if k != "WANDB_MODE"}
    env.update(
        WANDB_API_KEY=API_KEY,
        WANDB_BASE_URL=fake.url,
        HOME=str(tmp_path / "home"),
        NETRC=str(tmp_path / "home" / ".netrc"),
        GETDATA_STATE_DIR=str(tmp_path / "state"),
    )
    env.update(extra)
    return env


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "ERROR" in line or line.startswith("getdata:")]


# ---------------------------------------------------------------------------------------------
# Checked before the download
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        ("refuse", "is unreachable (connection refused)"),
        ("hang", "did not answer within 2 s (wandb.timeout)"),
        ("500", "answered HTTP 500"),
        ("401", "rejected the API key from WANDB_API_KEY (HTTP 401)"),
        ("nobody", "rejected the API key from WANDB_API_KEY"),
    ],
)
def test_unusable_server_fails_before_the_download(
    tmp_path: Path, http_server, behaviour: str, expected: str
) -> None:
    url = http_server.add("/data.csv", DATA)
    with FakeWandb(behaviour) as fake:
        started = time.monotonic()
        proc = run_cli(
            ["source=http", f"source.url={url}", f"hydra.run.dir={tmp_path / 'run'}", *FAST],
            online_env(tmp_path, fake),
            cwd=tmp_path,
        )
        TIMINGS[behaviour] = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr
    line = only(errors(proc.stderr))
    assert f"W&B server {fake.url} {expected}" in line
    assert "nothing was fetched" in line
    assert "Traceback" not in proc.stderr and API_KEY not in proc.stderr
    assert http_server.count("/data.csv", None) == 0  # not a byte fetched
    assert not data_dir(tmp_path).exists()
    assert not (tmp_path / "wandb-dir").exists()


def test_online_without_a_key_fails_before_the_download(tmp_path: Path, http_server) -> None:
    url = http_server.add("/data.csv", DATA)
    with FakeWandb("ok") as fake:
        env = online_env(tmp_path, fake)
    del env["WANDB_API_KEY"]
    proc = run_cli(
        ["source=http", f"source.url={url}", "wandb.mode=online", f"hydra.run.dir={tmp_path}/r"],
        env,
        cwd=tmp_path,
    )
    assert proc.returncode == 1
    line = only(errors(proc.stderr))
    assert line.endswith(
        f"wandb.mode=online, but there is no W&B API key for {fake.url}: set WANDB_API_KEY, "
        f"run `wandb login --host {fake.url}`, or use wandb.mode=offline (nothing was fetched)"
    )
    assert "NotATerminalError" not in proc.stderr and "Traceback" not in proc.stderr
    assert http_server.count("/data.csv", None) == 0


def test_self_hosted_login_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`wandb login --host` writes the host to wandb's settings file and the key to ~/.netrc
    under that host: getdata goes online to that host (it used to look up api.wandb.ai only and
    go offline without a word)."""
    import wandb

    with FakeWandb("ok") as fake:
        config_dir = tmp_path / "wandb-config"
        config_dir.mkdir()
        (config_dir / "settings").write_text(f"[default]\nbase_url = {fake.url}\n")
        netrc = tmp_path / "netrc"
        netrc.write_text(f"machine 127.0.0.1:{fake.port}\n  login user\n  password {API_KEY}\n")
        netrc.chmod(0o600)
        for name in ("WANDB_API_KEY", "WANDB_BASE_URL", "WANDB_MODE", "WANDB_DIR"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("WANDB_CONFIG_DIR", str(config_dir))
        monkeypatch.setenv("NETRC", str(netrc))
        monkeypatch.chdir(tmp_path)
        # The same host wandb itself settles on (guards wandb_host() against a wandb change).
        wandb.teardown()
        try:
            assert wandb.setup().settings.base_url == fake.url
        finally:
            wandb.teardown()
        assert wandb_host() == fake.url
        settled = preflight(WandbConfig(mode=WandbMode.auto, timeout=2))
        assert (settled.mode, settled.host, settled.key_source) == ("online", fake.url, str(netrc))
        assert len(fake.requests) == 1  # the preflight's viewer query
        monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:1")
        assert wandb_host() == "http://127.0.0.1:1"  # the environment wins, as in wandb


def test_wandb_mode_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", "/nonexistent/netrc")
    monkeypatch.setenv("WANDB_MODE", "dryrun")
    assert settle(WandbConfig()).mode == "offline"
    monkeypatch.setenv("WANDB_MODE", "sometimes")
    with pytest.raises(GetDataError, match="WANDB_MODE='sometimes' is not a W&B mode"):
        settle(WandbConfig())
    assert settle(WandbConfig(mode=WandbMode.disabled)).mode == "disabled"


def test_wandb_folder_without_room_fails_before_the_download(tmp_path: Path, http_server) -> None:
    url = http_server.add("/data.csv", DATA)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = {**wandb_env(tmp_path), "WANDB_DIR": str(blocker / "sub")}
    proc = run_cli(
        ["source=http", f"source.url={url}", f"hydra.run.dir={tmp_path / 'run'}", *FAST],
        env,
        cwd=tmp_path,
    )
    assert proc.returncode == 1
    line = only(errors(proc.stderr))
    assert f"W&B's folder {blocker / 'sub' / 'wandb'} cannot be written" in line
    assert http_server.count("/data.csv", None) == 0


def test_disabled_says_nothing_was_logged(tmp_path: Path) -> None:
    proc = run_cli(
        ["wandb.mode=disabled", f"hydra.run.dir={tmp_path / 'run'}"],
        wandb_env(tmp_path),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "wandb.mode=disabled: nothing logged" in proc.stderr
    assert "logged artifact" not in proc.stderr
    assert not (tmp_path / "wandb-dir").exists()


# ---------------------------------------------------------------------------------------------
# Failing after the download: offline instead, never lost
# ---------------------------------------------------------------------------------------------


def test_server_gone_after_the_check_logs_offline(tmp_path: Path, http_server) -> None:
    url = http_server.add("/data.csv", DATA)
    with FakeWandb("ok") as fake:
        started = time.monotonic()
        proc = run_cli(
            ["source=http", f"source.url={url}", f"hydra.run.dir={tmp_path / 'run'}", *FAST],
            online_env(tmp_path, fake),
            cwd=tmp_path,
        )
        TIMINGS["ok, then 500 (fallback to offline)"] = time.monotonic() - started
    assert proc.returncode == EXIT_LOGGED_OFFLINE, proc.stderr
    assert http_server.count("/data.csv") == 1
    run_file, artifact = only(logged(tmp_path))
    assert artifact.name == "data.csv" and run_file.parent.name.startswith("offline-run-")
    # The failed online run left no folder behind, the offline one is complete.
    runs = sorted(p.name for p in (tmp_path / "wandb-dir" / "wandb").glob("*run-*"))
    assert runs == [run_file.parent.name]
    report = json.loads((tmp_path / "run" / "getdata-report.json").read_text())
    assert report["status"] == "ok"
    assert report["warning"].endswith(f"upload it with: wandb sync {run_file.parent}")
    assert f"could not log data.csv online to {fake.url}" in proc.stderr
    assert "Traceback" not in proc.stderr and API_KEY not in proc.stderr


@contextlib.contextmanager
def tiny_disk(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` at ``path`` (a full disk for real). The tests and CI run as root
    here; where mounting is not allowed the test fails rather than skips (a skip proves
    nothing)."""
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    assert mounted.returncode == 0, f"cannot mount a tmpfs here: {mounted.stderr.strip()}"
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def log_offline(data: Path) -> Any:
    """Log ``data`` (holding DATA) offline as the artifact data.csv."""
    return log_artifact(
        WandbConfig(project="getdata-tests", mode=WandbMode.offline),
        run_config={},
        name="data.csv",
        type="raw_data",
        description="d",
        metadata={},
        files=[(data, "data.csv", hashlib.md5(DATA).hexdigest())],
    )


def test_full_disk_keeps_the_data_and_says_how_to_log_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk of WANDB_DIR fills up between the check and the run: wandb-core truncates its
    run file without an error; getdata notices, removes that run and keeps the data, with the
    command that logs it without downloading again."""
    import wandb

    with tiny_disk(tmp_path / "disk", "2m") as disk:
        (disk / "filler").write_bytes(b"\0" * (2048 - 24) * 1024)  # ~24 KiB left
        data = tmp_path / "data" / "data.csv"
        data.parent.mkdir()
        data.write_bytes(DATA)
        for key, value in wandb_env(tmp_path).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("WANDB_DIR", str(disk))
        wandb.teardown()
        with pytest.raises(GetDataError) as caught:
            log_offline(data)
        message = str(caught.value)
        assert "\n" not in message
        assert message == (
            "W&B could not log data.csv (no space left on the device (WANDB_DIR)); the data is "
            f"kept in {data}: log it without downloading again with: python -m getdata "
            f"source=local \"source.path='{data}'\" artifact.name=data.csv wandb.mode=offline"
        )
        assert data.read_bytes() == DATA
        assert find_run_files(disk) == []  # no truncated run left to sync


def test_an_incomplete_run_file_is_logged_again_in_a_new_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A run file without its exit record even after the service was torn down (a killed or
    stuck wandb-core). The first run is declared unfinished here (the one fault injected: the
    read-back says so, before and after the teardown); its folder goes, and the artifact is in
    a second, finished run."""
    import wandb

    from getdata.tracking import service as session
    from getdata.tracking.runfile import RunFile

    data = tmp_path / "data.csv"
    data.write_bytes(DATA)
    for key, value in wandb_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    wandb.teardown()
    real = session.wait_written
    said_unfinished: list[Path] = []

    def first_run_unfinished(run_file: Path, **kw: Any) -> RunFile:
        if not said_unfinished or said_unfinished[0] == run_file:
            said_unfinished.append(run_file)
            return RunFile()
        return real(run_file, **kw)

    monkeypatch.setattr(session, "wait_written", first_run_unfinished)
    with caplog.at_level(logging.WARNING):
        tracked = log_offline(data)
    assert "stopping the W&B service, which writes it" in caplog.text
    assert "logging data.csv again in a new run" in caplog.text
    assert said_unfinished == [said_unfinished[0]] * 2  # read before and after the teardown
    assert not said_unfinished[0].parent.exists()  # the unfinished run's folder is gone
    run_file, artifact = only(logged(tmp_path))
    assert tracked.run_id in run_file.name
    assert only(artifact.entries).path == "data.csv"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_the_wandb_phase(tmp_path: Path, http_server, sig: signal.Signals) -> None:
    """SIGTERM/Ctrl-C while wandb talks to a server that stopped answering: one line saying
    what was removed, the report written, no run file left, exit 128+signal."""
    url = http_server.add("/data.csv", DATA)
    with FakeWandb("ok") as fake:
        fake.behaviour = "ok"
        env = {**os.environ, **online_env(tmp_path, fake)}
        env.pop("HYDRA_FULL_ERROR", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "getdata", "source=http", f"source.url={url}",
             f"hydra.run.dir={tmp_path / 'run'}", *FAST, "wandb.timeout=30"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            # The preflight's query, then wandb's own: the W&B phase has begun.
            while len(fake.requests) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(fake.requests) >= 2
            proc.send_signal(sig)
            _, stderr = proc.communicate(timeout=60)
        finally:
            proc.kill()
    assert proc.returncode == 128 + sig, stderr
    name = "Ctrl-C" if sig == signal.SIGINT else "SIGTERM"
    line = only(errors(stderr))
    assert line.endswith(
        f"interrupted by {name}: the partial download and the unfinished W&B run were removed; "
        "nothing was logged"
    )
    assert "Traceback" not in stderr
    report = json.loads((tmp_path / "run" / "getdata-report.json").read_text())
    assert report["status"] == "failed" and name in report["error"]
    assert find_run_files(tmp_path / "wandb-dir") == []


# ---------------------------------------------------------------------------------------------
# The artifact name, checked before the download
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a/b", "x:latest", "has space", "é", "n" * 129, "a\nb"])
def test_artifact_names_wandb_refuses(name: str) -> None:
    import wandb

    with pytest.raises(ValueError):
        wandb.Artifact(name=name, type="raw_data")
    with pytest.raises(GetDataError) as caught:
        check_artifact_name(name)
    assert str(caught.value).startswith("artifact.name")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", ["songs", "songs-2024.v1_raw", "n" * 128])
def test_artifact_names_wandb_accepts(name: str) -> None:
    import wandb

    wandb.Artifact(name=name, type="raw_data")
    assert check_artifact_name(name) == name


def test_getdata_accepts_exactly_the_artifact_name_characters_wandb_accepts() -> None:
    """getdata checks names without importing wandb (before the fetch): its rule must be
    wandb's, character for character. This fails loudly when wandb changes its rule."""
    import wandb

    def wandb_ok(name: str) -> bool:
        try:
            wandb.Artifact(name=name, type="raw_data")
        except ValueError:
            return False
        return True

    def ours_ok(name: str) -> bool:
        try:
            check_artifact_name(name)
        except GetDataError:
            return False
        return True

    for code in range(1, 0x250):
        name = f"a{chr(code)}b"
        # (getdata also refuses '.' and '..', which cannot be folder names.)
        assert ours_ok(name) == wandb_ok(name), name
    assert ours_ok("x" * 128) and wandb_ok("x" * 128)
    assert not ours_ok("x" * 129) and not wandb_ok("x" * 129)


def teardown_module() -> None:
    if TIMINGS:
        print("\nW&B failure modes (wandb.timeout=2), whole `python -m getdata` run:")
        for behaviour, seconds in TIMINGS.items():
            print(f"  {behaviour:40s} {seconds:5.1f} s")
