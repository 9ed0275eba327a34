"""Shared pytest fixtures for getdata's tests.

Sections:
  * environment hygiene (autouse)
  * HTTP file server   -- ``http_server``
  * S3 server (moto)   -- ``s3_server`` (session), ``s3`` (per test, reset)
  * nginx, SeaweedFS   -- ``nginx``, ``nginx_gzip``, ``seaweed`` (tests/realservers.py)

Add new fixtures in their own commented section below.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import FAKE_AWS_ENV, FileServer, S3Server
from tests.support import wandb_env

# Real nginx (one per test) and SeaweedFS (one per session): tests/realservers.py; a server
# whose every answer a test writes: tests/scripted.py (``scripted``).
pytest_plugins = ["tests.realservers", "tests.scripted"]

# --------------------------------------------------------------------------
# Environment hygiene
# --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never talk to EC2 instance metadata nor use a real AWS profile."""
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_PROFILE", raising=False)


# --------------------------------------------------------------------------
# HTTP file server
# --------------------------------------------------------------------------


@pytest.fixture
def http_server() -> Iterator[FileServer]:
    """A fresh scriptable HTTP server per test (starts/stops in a few ms)."""
    with FileServer() as server:
        yield server
    assert not server.errors, f"test HTTP server crashed: {server.errors!r}"


# --------------------------------------------------------------------------
# S3 server (moto server mode)
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One moto server for the session, with fake AWS credentials in os.environ.

    Use the function-scoped ``s3`` fixture in tests to get a clean state.
    """
    with pytest.MonkeyPatch.context() as mp:
        for name, value in FAKE_AWS_ENV.items():
            mp.setenv(name, value)
        for name in (
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_S3",
        ):
            mp.delenv(name, raising=False)
        with S3Server() as server:
            yield server


@pytest.fixture
def s3(s3_server: S3Server) -> Iterator[S3Server]:
    """The session moto server, emptied before and after the test."""
    _reset_s3(s3_server)
    yield s3_server
    _reset_s3(s3_server)


def _reset_s3(server: S3Server) -> None:
    server.reset()
    try:
        import s3fs
    except ImportError:
        return
    s3fs.S3FileSystem.clear_instance_cache()  # cached instances cache listings


# --------------------------------------------------------------------------
# W&B offline, in the test's own folder
# --------------------------------------------------------------------------


@pytest.fixture
def wb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An offline wandb (and getdata state folder) under ``tmp_path``, which it yields."""
    import wandb

    for key, value in wandb_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GETDATA_STATE_DIR", str(tmp_path / "state"))
    # wandb keeps its settings (WANDB_DIR included) process-wide until teardown.
    wandb.teardown()
    yield tmp_path
    wandb.teardown()
