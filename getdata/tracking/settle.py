"""Where the W&B run goes, settled before the first byte is fetched: the mode (online when
credentials exist for the W&B server, offline otherwise; ``WANDB_MODE`` and ``wandb.mode``
override that), the server and the credentials, and, online, a check that the server answers
and accepts the key within ``wandb.timeout`` seconds. wandb itself is not imported here unless
the default server must be asked for."""

from __future__ import annotations

import base64
import configparser
import json
import logging
import os
import shutil
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..config import WandbConfig, WandbMode
from ..errors import GetDataError
from ..redact import redact_text, redact_url
from . import service
from .compat import import_wandb, netrc_key

log = logging.getLogger(__name__)

# Modes wandb itself accepts in WANDB_MODE, and what they mean.
_MODE_NAMES = {"online": "online", "run": "online", "offline": "offline", "dryrun": "offline"}
_MODE_NAMES["disabled"] = "disabled"


@dataclass(frozen=True)
class Settled:
    """Where the run goes, decided before anything is fetched."""

    mode: str  # online | offline | disabled
    # The W&B server: WANDB_BASE_URL, else base_url of wandb's settings files (`wandb login
    # --host` writes it), else wandb's default.
    host: str
    # Where the credentials come from ("WANDB_API_KEY", the netrc path, ...); None: none found.
    key_source: Optional[str] = None
    api_key: Optional[str] = field(default=None, repr=False)
    # The words that chose the mode, for messages: "wandb.mode=online", "WANDB_MODE=offline", ...
    chosen_by: str = "wandb.mode=auto"


# ---------------------------------------------------------------------------------------------
# Settling mode, server and credentials
# ---------------------------------------------------------------------------------------------


def wandb_host() -> str:
    """The W&B server wandb.init() will talk to, found the way wandb finds it."""
    if os.environ.get("WANDB_BASE_URL"):
        return os.environ["WANDB_BASE_URL"].rstrip("/")
    # Later files win: the system file (~/.config/wandb/settings, or $WANDB_CONFIG_DIR/settings),
    # then the workspace file (<WANDB_DIR or .>/wandb/settings).
    config_dir = os.environ.get("WANDB_CONFIG_DIR") or os.path.expanduser("~/.config/wandb")
    workspace = os.path.join(os.environ.get("WANDB_DIR") or ".", "wandb", "settings")
    host = None
    for path in (os.path.join(config_dir, "settings"), workspace):
        parser = configparser.ConfigParser()
        try:
            parser.read(path)
        except (configparser.Error, OSError, UnicodeDecodeError):
            continue  # wandb skips a file it cannot read, and so do we
        host = parser.get("default", "base_url", fallback=None) or host
    if host:
        return host.rstrip("/")
    wandb = import_wandb()
    return str(wandb.Settings().base_url).rstrip("/")


def settle(cfg: WandbConfig) -> Settled:
    """Mode, server and credentials, without touching the network."""
    chosen = _chosen_mode(cfg)
    if chosen is not None and chosen[0] != "online":
        # Offline or disabled by choice: the server and the credentials play no part (and
        # finding wandb's default server would import wandb, 0.6 s, before the fetch).
        return Settled(chosen[0], "", chosen_by=chosen[1])
    host = wandb_host()
    key_source: Optional[str] = None
    api_key: Optional[str] = None
    if os.environ.get("WANDB_API_KEY"):
        key_source, api_key = "WANDB_API_KEY", os.environ["WANDB_API_KEY"]
    elif os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        key_source = "WANDB_IDENTITY_TOKEN_FILE"
    else:
        found = netrc_key(host)
        if found:
            api_key, key_source = found
    mode, chosen_by = chosen or ("online" if key_source else "offline", "wandb.mode=auto")
    if mode == "online" and not key_source:
        shown = redact_url(host)
        raise GetDataError(
            f"{chosen_by}, but there is no W&B API key for {shown}: set WANDB_API_KEY, run "
            f"`wandb login --host {shown}`, or use wandb.mode=offline (nothing was fetched)"
        )
    return Settled(mode, host, key_source, api_key, chosen_by)


def _chosen_mode(cfg: WandbConfig) -> Optional[tuple[str, str]]:
    """The mode wandb.mode or WANDB_MODE asks for, and the words that asked; None for auto."""
    if cfg.mode is not WandbMode.auto:
        return cfg.mode.value, f"wandb.mode={cfg.mode.value}"
    value = os.environ.get("WANDB_MODE")
    if not value:
        return None
    if value.lower() not in _MODE_NAMES:
        raise GetDataError(
            f"WANDB_MODE={value!r} is not a W&B mode: use online, offline or disabled"
        )
    return _MODE_NAMES[value.lower()], f"WANDB_MODE={value}"


def preflight(cfg: WandbConfig) -> Settled:
    """Settle mode and credentials and, online, check that the server answers and accepts the
    key within ``wandb.timeout`` seconds: called before anything is fetched, so a W&B problem
    costs no download."""
    settled = settle(cfg)
    if settled.mode != "disabled":
        check_wandb_folder()
    if settled.mode == "online":
        _check_server(settled, cfg.timeout)
        log.info("W&B: online at %s (key from %s)", redact_url(settled.host), settled.key_source)
    elif settled.mode == "offline":
        auto = settled.chosen_by == "wandb.mode=auto"
        why = "no W&B credentials" if auto else settled.chosen_by
        log.info("W&B: offline (%s); the run can be uploaded later with `wandb sync`", why)
    if settled.mode != "disabled":
        # The run will be logged: wandb-core starts (or is kept) while the download runs.
        service.start(service.quiet())
    return settled


# Free space the wandb folder needs for one run (config, manifest, logs): with less, wandb-core
# truncates the run file without an error (seen at 12 KiB free: a run file without its artifact).
MIN_FREE_BYTES = 1 << 20


def wandb_folder() -> Path:
    """Where wandb writes its runs: <WANDB_DIR or the working directory>/wandb."""
    return Path(os.environ.get("WANDB_DIR") or ".") / "wandb"


def check_wandb_folder() -> None:
    """The wandb folder can be written and has room, checked without creating anything."""
    folder = wandb_folder()
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    advice = "set WANDB_DIR to a folder with room (nothing was fetched)"
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise GetDataError(f"W&B's folder {folder} cannot be written ({existing}): {advice}")
    free = shutil.disk_usage(existing).free
    if free < MIN_FREE_BYTES:
        raise GetDataError(
            f"W&B's folder {folder} has only {free // 1024} KiB free "
            f"(a run needs {MIN_FREE_BYTES // 1024} KiB): {advice}"
        )


# The query the W&B client itself asks first: who does this key belong to.
_VIEWER_QUERY = json.dumps({"query": "query Viewer { viewer { id } }"}).encode()


def _check_server(settled: Settled, timeout: float) -> None:
    host = redact_url(settled.host)
    advice = (
        "check WANDB_BASE_URL / `wandb login --host`, or use wandb.mode=offline "
        "(nothing was fetched)"
    )
    request = urllib.request.Request(
        f"{settled.host}/graphql",
        data=_VIEWER_QUERY,
        headers={"Content-Type": "application/json", "User-Agent": "getdata"},
        method="POST",
    )
    if settled.api_key:
        token = base64.b64encode(f"api:{settled.api_key}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(1 << 20)
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise GetDataError(
                f"W&B server {host} rejected the API key from {settled.key_source} "
                f"(HTTP {exc.code}): check the key, or use wandb.mode=offline (nothing was fetched)"
            ) from None
        raise GetDataError(f"W&B server {host} answered HTTP {exc.code}: {advice}") from None
    except TimeoutError as exc:
        raise GetDataError(
            f"W&B server {host} did not answer within {timeout:g} s (wandb.timeout): {advice}"
        ) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise GetDataError(f"W&B server {host} is unreachable ({_reason(exc)}): {advice}") from None
    if settled.api_key is None:
        return  # identity-token logins: the server answered, the key is wandb's business
    try:
        viewer = json.loads(body)["data"]["viewer"]
    except (ValueError, KeyError, TypeError):
        raise GetDataError(
            f"W&B server {host} did not answer like a W&B server: {advice}"
        ) from None
    if not viewer:
        raise GetDataError(
            f"W&B server {host} rejected the API key from {settled.key_source}: "
            "check the key, or use wandb.mode=offline (nothing was fetched)"
        )
    log.debug("W&B server %s answered in %.2f s", host, time.monotonic() - started)


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return "unknown host"
    text = str(reason).strip().splitlines()
    return redact_text(text[0]) if text else type(reason).__name__
