"""The W&B run and artifact: with getdata/session.py (the service its runs share), the only
module that imports wandb.

Online when W&B credentials exist for the W&B server, offline otherwise, so getdata runs on a
machine with no account; ``WANDB_MODE`` and ``wandb.mode`` override that. :func:`preflight`
settles all of it, and checks that an online server answers, before the first byte is fetched.
One run per dataset, always finished; a run that could not be logged online is written offline
instead (``EXIT_LOGGED_OFFLINE``), so a fetch is never lost to W&B.
"""

from __future__ import annotations

import base64
import configparser
import json
import logging
import os
import secrets
import shutil
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Optional

from . import session
from .config import WandbConfig, WandbMode
from .errors import GetDataError, chain, explain
from .redact import redact, redact_metadata, redact_text, redact_url
from .runfile import last_record

log = logging.getLogger(__name__)

# Exit code of a run whose data was fetched and kept, but logged offline because W&B failed
# online: the run waits in the offline folder for `wandb sync`.
EXIT_LOGGED_OFFLINE = 4

# Modes wandb itself accepts in WANDB_MODE, and what they mean.
_MODE_NAMES = {"online": "online", "run": "online", "offline": "offline", "dryrun": "offline"}
_MODE_NAMES["disabled"] = "disabled"


@dataclass
class Tracked:
    mode: str
    run_id: str
    # Online: the run's page. Offline: the folder `wandb sync` uploads. Disabled: empty.
    location: str
    artifact: str
    # Why the run was written offline although it was to be online (None: as settled).
    fallback: Optional[str] = None
    # The Registry path the version was linked to (artifact.link_to); None when not linked.
    linked: Optional[str] = None


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
    import wandb

    return str(wandb.Settings().base_url).rstrip("/")


def _netrc_key(host: str) -> Optional[tuple[str, str]]:
    """(API key, netrc path) that `wandb login [--host]` stored for ``host``, if any."""
    try:
        # wandb's own reader also maps between its two names for W&B's cloud server.
        from wandb.sdk.lib.wbauth.wbnetrc import _get_netrc_file_path, read_netrc_auth
    except ImportError:  # guarded by tests/test_wandb_failures.py
        return _stdlib_netrc_key(host)
    try:
        key = read_netrc_auth(host=host)
    except Exception:  # an unreadable netrc or a malformed key: no usable credentials
        return None
    return (key, str(_get_netrc_file_path())) if key else None


def _stdlib_netrc_key(host: str) -> Optional[tuple[str, str]]:
    import netrc
    from urllib.parse import urlsplit

    path = os.environ.get("NETRC") or os.path.expanduser("~/.netrc")
    try:
        found = netrc.netrc(path).authenticators(urlsplit(host).netloc)
    except (OSError, netrc.NetrcParseError):
        return None
    return (found[2], path) if found and found[2] else None


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
        found = _netrc_key(host)
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
        _check_wandb_folder()
    if settled.mode == "online":
        _check_server(settled, cfg.timeout)
        log.info("W&B: online at %s (key from %s)", redact_url(settled.host), settled.key_source)
    elif settled.mode == "offline":
        auto = settled.chosen_by == "wandb.mode=auto"
        why = "no W&B credentials" if auto else settled.chosen_by
        log.info("W&B: offline (%s); the run can be uploaded later with `wandb sync`", why)
    if settled.mode != "disabled":
        # The run will be logged: wandb-core starts (or is kept) while the download runs.
        session.start(_quiet())
    return settled


# Free space the wandb folder needs for one run (config, manifest, logs): with less, wandb-core
# truncates the run file without an error (seen at 12 KiB free: a run file without its artifact).
MIN_FREE_BYTES = 1 << 20


def wandb_folder() -> Path:
    """Where wandb writes its runs: <WANDB_DIR or the working directory>/wandb."""
    return Path(os.environ.get("WANDB_DIR") or ".") / "wandb"


def _check_wandb_folder() -> None:
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


def _check_run_written(run_folder: Path) -> None:
    """wandb-core does not report a full disk: it logs it, or leaves a truncated run file."""
    log_file = run_folder / "logs" / "debug-internal.log"
    try:
        full = "no space left on device" in log_file.read_text(errors="replace")
        full = full or shutil.disk_usage(run_folder).free < 64 * 1024
    except OSError:
        full = False
    if full:
        raise OSError(28, "No space left on device", str(run_folder))


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


# ---------------------------------------------------------------------------------------------
# Logging the artifact
# ---------------------------------------------------------------------------------------------


@dataclass
class _Artifact:
    """Everything that goes into the artifact: the one place an option is added."""

    name: str
    type: str
    description: str
    metadata: dict[str, Any]
    files: Sequence[tuple[Path, str, Optional[str]]]
    references: Sequence[tuple[str, str]]
    reference_env: dict[str, str]
    preview: Optional[Any]
    # W&B options for the logged version (artifact.aliases/tags/ttl_days/link_to).
    aliases: Sequence[str] = ()
    tags: Sequence[str] = ()
    ttl_days: Optional[int] = None
    link_to: Optional[str] = None


def log_artifact(
    cfg: WandbConfig,
    *,
    run_config: dict[str, Any],
    name: str,
    type: str,
    description: str,
    metadata: dict[str, Any],
    files: Sequence[tuple[Path, str, Optional[str]]] = (),
    references: Sequence[tuple[str, str]] = (),
    reference_env: Optional[dict[str, str]] = None,
    preview: Optional[Any] = None,
    run_name: Optional[str] = None,
    aliases: Sequence[str] = (),
    tags: Sequence[str] = (),
    ttl_days: Optional[int] = None,
    link_to: Optional[str] = None,
) -> Tracked:
    """Start a run, log artifact ``name`` in it, finish the run.

    ``files`` are (local path, name in the artifact, its MD5 as hex if already known);
    ``references`` are (URI, name) that W&B records with their ETag/version as checksum,
    without the bytes; ``preview`` is a pyarrow table logged as a wandb.Table in the same run.

    Online, a failure to log falls back to an offline run (``Tracked.fallback`` says why);
    when even that fails, the error says where the data is and how to log it without fetching
    it again.
    """
    settled = settle(cfg)
    if settled.mode == "disabled":
        return Tracked(mode="disabled", run_id="", location="", artifact=name)
    item = _Artifact(
        name=name,
        type=type,
        description=redact_text(description),
        metadata=redact_metadata(metadata),
        files=files,
        references=references,
        reference_env=reference_env or {},
        preview=preview,
        aliases=aliases,
        tags=tags,
        ttl_days=ttl_days,
        link_to=link_to,
    )
    run_config = redact(run_config)
    fallback = None
    with _wandb_logs_to_its_own_file():
        if settled.mode == "online":
            try:
                return _log_checked(cfg, "online", item, run_config, run_name)
            except Exception as exc:
                fallback = _wandb_failure(exc)
                log.warning(
                    "W&B: could not log %s online to %s (%s); writing the run offline instead",
                    name,
                    redact_url(settled.host),
                    fallback,
                )
        try:
            tracked = _log_checked(cfg, "offline", item, run_config, run_name)
        except Exception as exc:
            raise GetDataError(_kept_message(item, _wandb_failure(exc))) from exc
    tracked.fallback = fallback
    return tracked


def _log(
    cfg: WandbConfig, mode: str, item: _Artifact, run_config: dict[str, Any], run_name: Any
) -> Tracked:
    import wandb

    _skip_launch_inputs(wandb)
    # Our own run id, so that the folder of a run that failed (even in init) is known to be ours
    # and can be removed, also when parallel jobs of a sweep share the wandb folder.
    run_id = secrets.token_hex(4)
    quiet = _quiet()
    session.ready(quiet)  # the service started during the download, or a new one
    try:
        with _argv_redacted(), _environment(quiet), session.own_address():
            run = wandb.init(
                id=run_id,
                project=cfg.project,
                entity=cfg.entity,
                job_type=cfg.job_type,
                group=cfg.group,
                tags=list(cfg.tags) or None,
                name=run_name,
                mode=mode,  # type: ignore[arg-type]
                config=run_config,
                # A multirun job must never continue the previous job's run.
                reinit="finish_previous",
                settings=_settings(wandb, cfg, mode),
            )
    except BaseException:
        wandb.teardown()
        _remove_run_folders(run_id)
        raise
    logged_ok = False
    try:
        artifact = _new_artifact(wandb, item)
        if item.preview is not None:
            run.log({"preview": wandb.Table(dataframe=item.preview.to_pandas())})
        logged = run.log_artifact(
            artifact, aliases=list(item.aliases) or None, tags=list(item.tags) or None
        )
        if mode == "online":
            # Offline there is no server to wait for (and wait() raises).
            logged.wait(timeout=max(60, int(cfg.timeout * 6)))
        linked = _link(run, logged, mode, item.link_to, item.aliases)
        location = run.url if mode == "online" and run.url else str(run.settings.sync_dir)
        logged_ok = True
        return Tracked(
            mode=mode, run_id=run.id, location=location, artifact=item.name, linked=linked
        )
    finally:
        try:
            run.finish(exit_code=0 if logged_ok else 1)
            if logged_ok:
                _wait_written(wandb, Path(str(run.settings.sync_file)))
        except BaseException:
            logged_ok = False
            raise
        finally:
            # A run without its artifact (failed, interrupted, SIGTERM, disk full) is nothing to
            # sync: the service is torn down (its writer closes the file) and no empty or
            # header-only run folder stays. The next job starts a fresh service.
            if not logged_ok:
                try:
                    wandb.teardown()
                finally:
                    _remove_run_folders(run_id)


def _quiet() -> dict[str, str]:
    """wandb's console lines off, unless the user asked for them (WANDB_SILENT)."""
    return {} if os.environ.get("WANDB_SILENT") else {"WANDB_SILENT": "true"}


def _wait_written(wandb: Any, run_file: Path) -> None:
    """The run file is complete on disk when the job returns, and the service lives on for the
    next job (getdata/session.py). finish() can return before wandb-core has flushed the file;
    it is read back until its exit record is there; should that take longer than
    session.WRITE_TIMEOUT, the service is torn down, which always writes it."""
    folder = run_file.parent
    if not session.wait_written(run_file, check=lambda: _check_run_written(folder)):
        log.debug(
            "W&B: %s incomplete after %.0f s: tearing the service down",
            run_file,
            session.WRITE_TIMEOUT,
        )
        wandb.teardown()
    _check_run_written(folder)
    if not session.wait_written(run_file, timeout=1.0):
        size = run_file.stat().st_size if run_file.exists() else None
        raise RunFileIncomplete(
            f"wandb-core did not finish writing {run_file} ({size} bytes, last record: "
            f"{last_record(run_file)})"
        )


class RunFileIncomplete(GetDataError):
    """wandb-core left a run file without the records after its header, even after a teardown.
    Rare (one run of about 500 in a CI run of the suite, under load), and a run file like that
    cannot be synced: the artifact is logged once more, in a new run."""


def _log_checked(
    cfg: WandbConfig, mode: str, item: _Artifact, run_config: dict[str, Any], run_name: Any
) -> Tracked:
    """:func:`_log`, once more in a new run if the first run's file came out incomplete (its
    folder is already removed then: nothing incomplete is left to sync)."""
    try:
        return _log(cfg, mode, item, run_config, run_name)
    except RunFileIncomplete as exc:
        log.warning("W&B: %s; logging %s again in a new run", exc, item.name)
        return _log(cfg, mode, item, run_config, run_name)


def _remove_run_folders(run_id: str) -> None:
    for folder in wandb_folder().glob(f"*run-*-{run_id}"):
        shutil.rmtree(folder, ignore_errors=True)


def _settings(wandb: Any, cfg: WandbConfig, mode: str) -> Any:
    values: dict[str, Any] = {
        # getdata's output is already in Hydra's job log; don't mirror the console to W&B.
        "console": "off",
        # No system-metrics sampler: a download step has no GPU/CPU curves worth keeping, and
        # starting one costs a process and 0.08 s.
        "x_disable_stats": True,
        # wandb's own console lines would repeat (or drown) getdata's one line per outcome.
        "silent": True,
    }
    if mode == "online":
        # Bounded waits on a server that went away after the preflight, so the fallback to an
        # offline run comes in tens of seconds, not minutes (wandb's defaults retry for long).
        values.update(
            init_timeout=max(30.0, cfg.timeout * 3),
            x_graphql_timeout_seconds=cfg.timeout,
            x_graphql_retry_max=2,
            x_graphql_retry_wait_max_seconds=2.0,
            x_file_stream_timeout_seconds=cfg.timeout,
            x_file_stream_retry_max=2,
            x_file_stream_retry_wait_max_seconds=2.0,
            x_file_transfer_retry_max=2,
        )
    return wandb.Settings(**values)


def _new_artifact(wandb: Any, item: _Artifact) -> Any:
    # MD5 named explicitly: the digests handed over below are MD5s (wandb may change its default).
    artifact = wandb.Artifact(
        name=item.name,
        type=item.type,
        description=item.description,
        metadata=item.metadata,
        digest_algorithm="MD5",
    )
    if item.ttl_days is not None:
        artifact.ttl = timedelta(days=item.ttl_days)
    for path, entry, md5 in item.files:
        _add_file(artifact, path, entry, md5)
    with _environment(item.reference_env):
        for uri, entry in item.references:
            artifact.add_reference(uri, name=entry, checksum=True)
    return artifact


def _wandb_failure(exc: BaseException) -> str:
    """wandb's failure in one line, secrets masked (its messages can be pages long)."""
    for item in chain(exc):
        if isinstance(item, OSError) and item.errno == 28:
            return "no space left on the device (WANDB_DIR)"
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return redact_text(f"{type(exc).__name__}: {first[:300]}" if first else type(exc).__name__)


def _kept_message(item: _Artifact, reason: str) -> str:
    """W&B failed even offline: the data stays where it is, and this is how to log it."""
    paths = [str(path) for path, _, _ in item.files]
    if not paths:
        return f"W&B could not log {item.name} ({reason}); nothing was downloaded, run it again"
    where = paths[0] if len(paths) == 1 else os.path.commonpath(paths)
    return (
        f"W&B could not log {item.name} ({reason}); the data is kept in {where}: log it "
        f"without downloading again with: python -m getdata source=local "
        f"\"source.path='{where}'\" artifact.name={item.name} wandb.mode=offline"
    )


def _link(
    run: Any, logged: Any, mode: str, target: Optional[str], aliases: Sequence[str]
) -> Optional[str]:
    """Link the logged version into the W&B Registry (artifact.link_to), online only.

    wandb 0.31 raises NotImplementedError for run.link_artifact in an offline run, after logging
    the artifact a second time, and `wandb sync` has nothing to replay; so offline the link is
    skipped, and said so with the call that links it once the run is synced.
    """
    if not target:
        return None
    if mode != "online":
        log.warning(
            "artifact.link_to=%s: not linked: W&B links only online (an offline run cannot, and "
            "`wandb sync` does not); after the sync: "
            "wandb.Api().artifact('<entity>/%s/%s:%s').link('%s')",
            target,
            run.project,
            logged.name.split(":")[0],  # the artifact's name, without a version
            aliases[0] if aliases else "latest",
            target,
        )
        return None
    try:
        run.link_artifact(logged, target, list(aliases) or None)
    except Exception as exc:  # no such registry, no permission, ...: the version stays logged
        raise GetDataError(
            f"logged {logged.name} but could not link it to {target}: {explain(exc)}"
        ) from exc
    return target


def _skip_launch_inputs(wandb: Any) -> None:
    """wandb.init() imports W&B Launch's input machinery (0.24 s, a third of init) to apply
    inputs a Launch agent may have staged; staging needs that same module already imported, so
    when it is not, there is nothing to apply and the import is skipped."""
    run_class = getattr(getattr(wandb.sdk, "wandb_run", None), "Run", None)
    if (
        run_class is not None
        and "wandb.sdk.launch" not in sys.modules
        and hasattr(run_class, "_detect_and_apply_job_inputs")
    ):
        run_class._detect_and_apply_job_inputs = lambda self: None


def md5_handover_supported(artifact: Any) -> bool:
    """True when ``artifact`` labels a handed-over digest as MD5 (guarded by a test)."""
    algorithm = getattr(artifact, "digest_algorithm", None)
    return getattr(algorithm, "name", None) == "MANIFEST_MD5" and callable(
        getattr(artifact, "_add_local_file", None)
    )


def _add_file(artifact: Any, path: Path, entry: str, md5: Optional[str]) -> None:
    """Add a file W&B reads where it is ("immutable": no copy into its staging folder; the file
    stays in the run folder, so a later `wandb sync` still finds it).

    add_file() would MD5 the whole file again (through mmap, so a 1 GiB file shows as 1 GiB of
    RSS); the MD5 computed while the bytes streamed is the same digest, so it is handed over via
    the method add_file() itself calls, but only to an artifact whose digest algorithm is MD5:
    that method labels the digest with the artifact's algorithm. Otherwise add_file() does the
    right thing, just slower. tests/test_wandb_failures.py fails loudly if wandb changes either.
    """
    if md5 and md5_handover_supported(artifact):
        digest = base64.b64encode(bytes.fromhex(md5)).decode()
        try:
            artifact._add_local_file(entry, str(path), digest=digest, policy="immutable")
            return
        except TypeError:
            pass
    artifact.add_file(str(path), name=entry, policy="immutable")


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def _wandb_logs_to_its_own_file() -> Iterator[None]:
    """wandb's Python loggers write to its debug.log; propagated to the root logger (Hydra's
    console handler) a full disk showed as ~1000 lines of tracebacks in the user's terminal."""
    logger = logging.getLogger("wandb")
    saved = logger.propagate
    logger.propagate = False
    try:
        yield
    finally:
        logger.propagate = saved


@contextmanager
def _argv_redacted() -> Iterator[None]:
    """W&B records the command line (sys.argv) in the run's metadata; overrides may hold a
    signed URL or a header, so it sees them masked."""
    saved = sys.argv[:]
    sys.argv[1:] = [redact_text(arg) for arg in saved[1:]]
    try:
        yield
    finally:
        sys.argv[:] = saved
