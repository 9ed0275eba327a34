"""Processes a test started, found from /proc: who is whose child, and what is left afterwards.

Tests that signal or kill getdata use these to check what really happened (no mocks): which
processes of getdata's were running, and that none survives it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

# Run by the test's child before getdata: a test suite started in the background (`cmd &`)
# has SIGINT ignored, and a program inherits that; getdata as a user runs it has the default.
RESET_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "signal.pthread_sigmask(signal.SIG_SETMASK, set()); "
    "os.execv(sys.executable, [sys.executable] + sys.argv[1:])"
)


def getdata_argv(*args: str) -> list[str]:
    """``python -m getdata ARGS`` with SIGINT at its default, as from a terminal."""
    return [sys.executable, "-c", RESET_SIGINT, "-m", "getdata", *args]


def start_getdata(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """getdata in a session of its own (so a test can signal its whole group as a terminal's
    Ctrl-C does), stdout and stderr captured."""
    full_env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    full_env.update(env)
    return subprocess.Popen(
        getdata_argv(*args),
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _stat(pid: int) -> Optional[tuple[str, int]]:
    """(state, parent pid) of ``pid``, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2 :].split()
    return fields[0].decode(), int(fields[1])


def alive(pid: int) -> bool:
    found = _stat(pid)
    return found is not None and found[0] != "Z"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def children(pid: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            info = _stat(int(entry.name))
            if info is not None and info[1] == pid and info[0] != "Z":
                found.append(int(entry.name))
    return sorted(found)


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
            out.append(child)
            todo.append(child)
    return out


def with_marker(marker: str) -> list[int]:
    """Processes (other than this one) whose environment holds ``marker``."""
    needle = marker.encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in Path(entry.path, "environ").read_bytes() and alive(int(entry.name)):
                found.append(int(entry.name))
        except OSError:
            continue
    return sorted(found)


def wait_for(predicate, timeout: float = 120.0, pause: float = 0.1) -> bool:  # noqa: ANN001
    """Poll ``predicate`` until it is true (True) or ``timeout`` seconds passed (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(pause)


def helpers_of(pid: int) -> list[int]:
    """The readers' helpers (python -m getdata.formats.contained) below ``pid``."""
    return [p for p in descendants(pid) if "getdata.formats.contained" in cmdline(p)]


@contextlib.contextmanager
def reaped(marker: str) -> Iterator[None]:
    """Whatever carries ``marker`` in its environment is killed when the block ends (a test
    that fails must not leave processes running)."""
    try:
        yield
    finally:
        for pid in with_marker(marker):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
