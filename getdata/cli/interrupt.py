"""Ctrl-C and SIGTERM: one line and exit 130/143, in a single run and in a sweep, with nothing
half-done left behind and no traceback from any of getdata's processes.

* A job (``job_signals`` around one dataset, in the process that runs it) takes the first SIGINT
  or SIGTERM as KeyboardInterrupt / SystemExit(128 + n) in its main thread: the pipeline's own
  clean-up runs (partial download and unfinished W&B run removed) and the job reports itself
  interrupted. Another signal while it unwinds is ignored in a sweep's worker (its parent may
  forward one more); in the process the user started it stops getdata at once (a user who
  presses Ctrl-C twice means it).
* In a sweep, the first signal also leaves a marker in the sweep folder (``mark``): every later
  job of the sweep, in any process, reports ``skipped`` without starting, and the summary says in
  one line that the sweep was interrupted (getdata/cli/callbacks.py).
* The sweep's parent (``watch_sweep``) takes the first signal it gets outside a job by marking
  the sweep and passing the signal on to its worker processes (joblib's: a SIGTERM sent to the
  parent alone stops the jobs cleanly too); a second one stops everything at once. With the
  basic and joblib launchers it keeps SIGINT and SIGTERM blocked in its main thread, so the
  workers it starts inherit them blocked: a signal that reaches a worker outside a job (starting
  up, between jobs) waits for the worker's next job, which sees the marker, instead of being a
  KeyboardInterrupt traceback from joblib's worker loop; a thread of the parent takes them
  (sigwait). Other launchers' processes (submitit, Ray) keep their own signal handling.

The readers' helper ignores SIGINT and dies with its parent (getdata/formats/contained.py).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Optional

from ..store.records import read_bytes, write_bytes

log = logging.getLogger("getdata")

SIGNALS = {signal.SIGINT, signal.SIGTERM}
# In a sweep folder: the sweep was interrupted (the signal's name inside).
MARKER = ".getdata-interrupted"


def signal_name(number: int) -> str:
    """Ctrl-C for SIGINT, else the signal's name (SIGTERM)."""
    if number == signal.SIGINT:
        return "Ctrl-C"
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        # The first SIGINT/SIGTERM this process took (None: none yet).
        self.signum: Optional[int] = None
        # The process the user started (the CLI): a second signal stops it at once.
        self.user_process = False
        # The sweep this process is the parent of (watch_sweep), or runs a job of.
        self.sweep_dir: Optional[Path] = None

    def first(self, signum: int) -> bool:
        """Record ``signum``; True when it is the first signal this process took."""
        with self.lock:
            if self.signum is not None:
                return False
            self.signum = signum
            return True


_state = _State()


def started_by_user() -> None:
    """Called first by the CLI: this process is the one the user started. Until a job (or a
    sweep) takes them over, SIGINT and SIGTERM raise KeyboardInterrupt, which the CLI turns into
    its one line with the signal's exit code."""
    _state.user_process = True
    if threading.current_thread() is not threading.main_thread():
        return
    for number in SIGNALS:
        if number != signal.SIGINT or _sigint_wanted():
            signal.signal(number, _outside_a_job)


def _outside_a_job(signum: int, frame: Any) -> None:
    if not _state.first(signum):
        _stop_now(signum)
    raise KeyboardInterrupt


def interrupted() -> Optional[int]:
    """The signal that interrupted this process, if one did."""
    return _state.signum


# ---------------------------------------------------------------------------------------------
# The sweep's marker
# ---------------------------------------------------------------------------------------------


def mark(sweep_dir: Path, signum: int) -> None:
    """Leave the marker: the sweep was interrupted by ``signum`` (its later jobs do not start)."""
    with suppress(OSError):
        write_bytes(sweep_dir / MARKER, f"{signum}\n".encode())


def marked(sweep_dir: Path) -> Optional[int]:
    """The signal the sweep in ``sweep_dir`` was interrupted by, or None."""
    data = read_bytes(sweep_dir / MARKER, "the interruption marker", max_bytes=64)
    if data is None:
        return None
    text = data.decode("ascii", "replace").strip()
    return int(text) if text.isdigit() and int(text) in (signal.SIGINT, signal.SIGTERM) else None


def clear(sweep_dir: Path) -> None:
    """Remove the marker (a new sweep in the folder of an interrupted one starts afresh)."""
    with suppress(OSError):
        (sweep_dir / MARKER).unlink(missing_ok=True)


def not_run(signum: int) -> str:
    return f"not run: the sweep was interrupted by {signal_name(signum)}"


# ---------------------------------------------------------------------------------------------
# One job
# ---------------------------------------------------------------------------------------------


@contextmanager
def job_signals(sweep_dir: Optional[Path]) -> Iterator[None]:
    """Around one job in the main thread: the first SIGINT/SIGTERM interrupts it (see above).

    SIGINT is left alone when it was ignored from the start (a background job of a shell).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _state.sweep_dir = sweep_dir
    wanted = {s for s in SIGNALS if s != signal.SIGINT or _sigint_wanted()}
    previous = {s: signal.getsignal(s) for s in wanted}
    for number in wanted:
        signal.signal(number, _job_signal)
    mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, wanted)
    try:
        yield
    finally:
        # Outside a job the signals wait (blocked) where they were blocked before.
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for number, handler in previous.items():
            signal.signal(number, handler)


def _sigint_wanted() -> bool:
    return signal.getsignal(signal.SIGINT) is not signal.SIG_IGN


def _job_signal(signum: int, frame: Any) -> None:
    if not _state.first(signum):
        if _state.user_process:
            _stop_now(signum)
        return  # a worker unwinding its job: the clean-up must finish
    if _state.sweep_dir is not None:
        mark(_state.sweep_dir, signum)
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(128 + signum)


def _stop_now(signum: int) -> None:
    """A second signal: stop getdata now, with its worker processes (no clean-up)."""
    for child in multiprocessing.active_children():
        with suppress(OSError):
            os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
    with suppress(OSError):
        sys.stderr.write(f"getdata: interrupted again by {signal_name(signum)}: stopped at once\n")
        sys.stderr.flush()
    os._exit(128 + signum)


# ---------------------------------------------------------------------------------------------
# The sweep's parent
# ---------------------------------------------------------------------------------------------


def watch_sweep(sweep_dir: Path, block: bool) -> None:
    """In the sweep's parent, before its jobs start (see above); ``block``: the launcher's
    workers (or jobs) are this process's own (basic, joblib)."""
    clear(sweep_dir)
    if threading.current_thread() is not threading.main_thread() or _state.sweep_dir is not None:
        return
    _state.sweep_dir = sweep_dir
    wanted = {s for s in SIGNALS if s != signal.SIGINT or _sigint_wanted()}
    for number in wanted:
        # Signals the kernel hands to the main thread or to a thread that has them unblocked
        # (one a job started) run here, in the main thread, between jobs.
        signal.signal(number, _sweep_signal)
    if block:
        threading.Thread(target=_watch, args=(wanted,), name="getdata-signals", daemon=True).start()
        signal.pthread_sigmask(signal.SIG_BLOCK, wanted)


def _watch(wanted: set[int]) -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
    while True:
        _sweep_signal(signal.sigwait(wanted), None)


def _sweep_signal(signum: int, frame: Any) -> None:
    """The sweep's parent took ``signum`` outside a job: mark, forward to the workers; a second
    one stops everything at once."""
    if not _state.first(signum):
        _stop_now(signum)
    if _state.sweep_dir is not None:
        mark(_state.sweep_dir, signum)
    for child in multiprocessing.active_children():
        with suppress(OSError):
            os.kill(child.pid, signum)  # type: ignore[arg-type]
