"""A private temporary folder for one getdata process, removed when it ends, and the folders of
getdata processes that ended without removing theirs (kill -9) removed by the next run.

wandb keeps module-level temporary folders (``wandb-media``, ``wandb-artifacts``, a table's JSON)
that only its interpreter-exit hooks remove; getdata ends a single run with ``os._exit`` (see
``cli/main.py``), which skips them. So the process, and every child it starts (wandb-core), gets
a temporary folder of its own inside TMPDIR, removed on the way out: TMPDIR is as it was.

A process killed with SIGKILL cannot remove its folder. Each folder therefore holds an owner
record (``.getdata-owner.json``: the process id, its start time and the boot it ran in, from
/proc); the next run removes a ``getdata-*`` folder of TMPDIR only when its record proves it
getdata's and its process gone: the folder is this user's, not a link, its record is a regular
file of that shape, and no process with that id and start time runs (a pid reused by another
program is not mistaken for the owner). Anything else (another program's folder, a record
written in another pid namespace, no /proc) is left alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

from .records import read_json, write_json

log = logging.getLogger(__name__)

PREFIX = "getdata-"
OWNER = ".getdata-owner.json"


@contextmanager
def private_tmpdir() -> Iterator[str]:
    base = tempfile.gettempdir()
    remove_stale(Path(base))
    folder = tempfile.mkdtemp(prefix=PREFIX, dir=base)
    owner = owner_record(os.getpid())
    if owner is not None:
        write_json(Path(folder) / OWNER, owner)
    saved_env, saved_default = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"] = folder
    tempfile.tempdir = folder
    try:
        yield folder
    finally:
        tempfile.tempdir = saved_default
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env
        remove_folder(Path(folder), owner)


def remove_folder(folder: Path, owner: Optional[dict[str, Any]]) -> bool:
    """Remove ``folder``, its owner record last. A folder that cannot be emptied (a thread or a
    child process still writing into it) keeps its record, ``owner`` written back if it was
    already gone, so that the next run can prove it stale and remove it: a folder without a
    record is never touched. True when the folder is gone."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return not os.path.lexists(folder)
    for entry in entries:
        if entry.name == OWNER:
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
    with contextlib.suppress(OSError):
        if not [name for name in os.listdir(folder) if name != OWNER]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(folder / OWNER)
            os.rmdir(folder)
            return True
    if owner is not None and not os.path.lexists(folder / OWNER):
        with contextlib.suppress(OSError):
            write_json(folder / OWNER, owner)
    return False


def owner_record(pid: int) -> Optional[dict[str, Any]]:
    """Who ``pid`` is, in a way a reused pid cannot match: None without /proc."""
    started = start_time(pid)
    boot, namespace = _read("/proc/sys/kernel/random/boot_id"), _namespace()
    if started is None or boot is None or namespace is None:
        return None
    return {"pid": pid, "start": started, "boot": boot, "pid_namespace": namespace}


def start_time(pid: int) -> Optional[int]:
    """When ``pid`` started, in clock ticks since boot (/proc/<pid>/stat, field 22); None when
    no such process runs."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
        return int(raw[raw.rindex(b")") + 2 :].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _read(path: str) -> Optional[str]:
    try:
        return Path(path).read_text().strip() or None
    except OSError:
        return None


def _namespace() -> Optional[str]:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def _valid_owner(record: Any) -> bool:
    return (
        isinstance(record, dict)
        and isinstance(record.get("pid"), int)
        and isinstance(record.get("start"), int)
        and isinstance(record.get("boot"), str)
        and isinstance(record.get("pid_namespace"), str)
    )


def gone(record: dict[str, Any]) -> bool:
    """True when the process the record names is proven to have ended (or the machine
    rebooted since); False when it runs, or when this process cannot tell."""
    here = owner_record(os.getpid())
    if here is None or record["pid_namespace"] != here["pid_namespace"]:
        return False
    if record["boot"] != here["boot"]:
        return True
    return start_time(record["pid"]) != record["start"]


def remove_stale(base: Path) -> list[Path]:
    """Remove the private folders of getdata processes that no longer run (see above); the
    folders removed."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(base))
    except OSError:
        return removed
    uid = os.getuid()
    for entry in entries:
        if not entry.name.startswith(PREFIX):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid:
            continue  # a link, a file, or another user's: never ours to remove
        folder = Path(entry.path)
        record = read_json(folder / OWNER, f"the owner record of {folder}", _valid_owner)
        if record is None or not gone(record):
            continue
        if not remove_folder(folder, record):
            continue
        removed.append(folder)
        log.debug(
            "removed %s, left by getdata process %s (no longer running)", folder, record["pid"]
        )
    return removed
