"""Every use of a private (``_``-prefixed or undocumented) name of wandb, in one place.

Each is guarded by tests/test_wandb_compat.py, which fails loudly when wandb changes it, and
pyproject.toml caps wandb to the versions those tests pass on. Where a public API does the job,
it is used instead (see each function for why it does not, here).
"""

from __future__ import annotations

import base64
import functools
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

log = logging.getLogger(__name__)


def import_wandb() -> Any:
    """``import wandb``, without its settings' field docstrings. wandb's pydantic models ask
    for them (``use_attribute_docstrings``), and pydantic finds them by parsing wandb's sources
    with ast and inspect: 0.25-0.3 s of CPU in every process that imports wandb, for help text
    getdata never shows. pydantic's lookup is switched off for that one import (a model defined
    afterwards, a user's included, gets its docstrings as before)."""
    if "wandb" in sys.modules:
        return sys.modules["wandb"]
    try:
        from pydantic._internal import _fields

        original = _fields.extract_docstrings_from_cls
    except (ImportError, AttributeError):  # guarded by tests/test_wandb_compat.py
        import wandb

        return wandb
    _fields.extract_docstrings_from_cls = _no_docstrings
    try:
        import wandb
    finally:
        _fields.extract_docstrings_from_cls = original
    return wandb


def _no_docstrings(cls: Any, use_inspect: bool = False) -> dict[str, str]:
    return {}


def netrc_key(host: str) -> Optional[tuple[str, str]]:
    """(API key, netrc path) that `wandb login [--host]` stored for ``host``, if any."""
    try:
        # wandb's own reader also maps between its two names for W&B's cloud server.
        from wandb.sdk.lib.wbauth.wbnetrc import _get_netrc_file_path, read_netrc_auth
    except ImportError:  # guarded by tests/test_wandb_compat.py
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


def preload_launch_inputs() -> None:
    """wandb.init() imports W&B Launch's input module (0.2 s, a third of an init) to apply the
    inputs a Launch agent may have staged (``Run._detect_and_apply_job_inputs``). It is imported
    here, on the thread that starts the service while the download runs, so that init finds it
    already imported. Nothing of wandb is replaced: a user's staged inputs are applied as ever."""
    try:
        import wandb.sdk.launch.inputs.internal  # noqa: F401
    except Exception as exc:  # wandb.init() imports it itself (and says what is wrong)
        log.debug("W&B Launch's input module was not imported ahead of the run: %s", exc)


def md5_handover_supported(artifact: Any) -> bool:
    """True when ``artifact`` labels a handed-over digest as MD5 (guarded by a test)."""
    algorithm = getattr(artifact, "digest_algorithm", None)
    return getattr(algorithm, "name", None) == "MANIFEST_MD5" and callable(
        getattr(artifact, "_add_local_file", None)
    )


def add_file(artifact: Any, path: Path, entry: str, md5: Optional[str]) -> None:
    """Add a file W&B reads where it is ("immutable": no copy into its staging folder; the file
    stays in the run folder, so a later `wandb sync` still finds it).

    add_file() would MD5 the whole file again (through mmap, so a 1 GiB file shows as 1 GiB of
    RSS); the MD5 computed while the bytes streamed is the same digest, so it is handed over via
    the method add_file() itself calls, but only to an artifact whose digest algorithm is MD5:
    that method labels the digest with the artifact's algorithm. Otherwise add_file() does the
    right thing, just slower. tests/test_wandb_compat.py fails loudly if wandb changes either.
    """
    if md5 and md5_handover_supported(artifact):
        digest = base64.b64encode(bytes.fromhex(md5)).decode()
        try:
            artifact._add_local_file(entry, str(path), digest=digest, policy="immutable")
            return
        except TypeError:
            pass
    artifact.add_file(str(path), name=entry, policy="immutable")


def run_settings(wandb: Any, timeout: float, mode: str) -> Any:
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
            init_timeout=max(30.0, timeout * 3),
            x_graphql_timeout_seconds=timeout,
            x_graphql_retry_max=2,
            x_graphql_retry_wait_max_seconds=2.0,
            x_file_stream_timeout_seconds=timeout,
            x_file_stream_retry_max=2,
            x_file_stream_retry_wait_max_seconds=2.0,
            x_file_transfer_retry_max=2,
        )
    return wandb.Settings(**values)


def read_installed_packages(wandb: Any) -> None:
    """Read the installed packages (importlib.metadata, 0.1 s) once per process, ahead of the
    run (on the service's start thread, while the download runs); see
    :func:`installed_packages_read_once`."""
    original = getattr(getattr(wandb, "util", None), "working_set", None)
    if original is not None and not getattr(original, "_getdata_cached", False):
        _packages(original)


@contextmanager
def installed_packages_read_once(wandb: Any) -> Iterator[None]:
    """During getdata's own wandb.init() only: wandb.util.working_set answers with the packages
    read once per process (wandb reads them for every run's requirements.txt, and they do not
    change while a getdata job runs). wandb.sdk.wandb_run imports ``working_set`` from
    wandb.util when a run starts (Run._on_start; tests/test_wandb_compat.py guards that this is
    still so); the original is put back when init returns, so no other wandb.init() in the
    process (a user's own runs) sees the cached list."""
    util = getattr(wandb, "util", None)
    original = getattr(util, "working_set", None)
    if original is None or getattr(original, "_getdata_cached", False):
        yield
        return
    packages = _packages(original)

    @functools.wraps(original)
    def cached() -> Iterator[Any]:
        return iter(packages)

    cached._getdata_cached = True  # type: ignore[attr-defined]
    util.working_set = cached  # type: ignore[union-attr]
    try:
        yield
    finally:
        if util.working_set is cached:  # type: ignore[union-attr]
            util.working_set = original  # type: ignore[union-attr]


@functools.cache
def _packages(original: Callable[[], Any]) -> list[Any]:
    return list(original())


# `wandb sync` marks a run file it uploaded with an empty ``<run file>.synced`` beside it
# (core/internal/runsync/runsyncer.go markSynced; wandb/cli/beta_sync.py _is_synced reads it).
SYNCED_SUFFIX = ".synced"


@dataclass(frozen=True)
class RecordView:
    """What getdata reads from one record of a run file."""

    # "run", "artifact", "exit", "environment", ...
    kind: str
    # An artifact record: the local files its manifest entries point at.
    local_paths: tuple[str, ...] = ()
    # An artifact record whose manifest wandb spilled to a gzipped JSON-lines file.
    manifest_file: str = ""


def read_record(payload: bytes) -> Optional[RecordView]:
    """One record of a run file: wandb's generated protobuf module is internal, and wandb has
    no public reader of run files (guarded by tests/test_wandb_compat.py)."""
    # The generated protobuf module has no type stubs.
    from wandb.proto.wandb_internal_pb2 import Record  # type: ignore[attr-defined,unused-ignore]

    record = Record()
    try:
        record.ParseFromString(payload)
    except Exception:  # google.protobuf's DecodeError: not a record
        return None
    kind = record.WhichOneof("record_type")
    if not kind:
        return None
    if kind != "artifact":
        return RecordView(str(kind))
    manifest = record.artifact.manifest
    paths = tuple(str(e.local_path) for e in manifest.contents if e.local_path)
    return RecordView(str(kind), paths, str(manifest.manifest_file_path))
