"""Run the readers where a native crash cannot take getdata down.

pyarrow is C++: a hostile file can abort or segfault it (parquet-testing's
encrypt_columns_plaintext_footer.parquet aborts in the footer's column metadata; a deeply
nested JSON Lines file overflows the JSON reader's stack). Describing therefore runs in a child
process, one per batch of files (a folder may hold thousands).

The children are forked by a helper (``serve`` below, run by ``python -c``), started once per
getdata process, a fresh single-threaded interpreter that imports pyarrow and the readers and
then forks one child per batch. Forking it costs about a millisecond; getdata's own threads
(wandb, the download pool) are never forked, and nothing of getdata's ``__main__`` is re-run (as
multiprocessing's spawn and forkserver methods do). The child sends each file's outcome as soon
as it is known; when it dies on a file, the helper reports how (signal, and the library's last
line on stderr), that file gets a one-line refusal and a new child takes the rest.

The readers' limits (getdata/formats/limits.py) are spent here: the child runs under the memory
cap and a timer per file, and a watchdog thread of getdata's ends a helper that says nothing
past the time limit. A file past a limit is kept undescribed (``limit`` in its data, one
warning), or refused with ``inspect.on_limit=refuse``.

The helper and its children never outlive getdata, however it ends (SIGINT, SIGTERM, kill -9):

* the helper runs in a process group of its own (a terminal's Ctrl-C goes to getdata's group
  only) and ignores SIGINT and SIGTERM: a Ctrl-C is getdata's to handle, no traceback comes
  from here;
* it exits when getdata's end of its pipe closes (its next read ends);
* while a child reads, the helper's process group (the helper and that child) owns the pipe
  for SIGIO (O_ASYNC): when getdata's end closes, the kernel ends both (SIGIO's default
  action); getdata sends nothing while a batch runs, so nothing else makes the pipe readable;
* each child asks the kernel for SIGKILL when the helper dies (PR_SET_PDEATHSIG).

All of it is set up by the helper, not in each child (but the parent-death signal, which fork
clears), and nothing waits on the way of a file: a select per message or per child, or each
child arming the pipe, cost 2-6 % of describing a Parquet footer (benchmarks/bench_limits.py).
A batch that getdata leaves half-way (an interruption) ends its helper, so a new one starts in
step.
"""

from __future__ import annotations

import atexit
import ctypes
import fcntl
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Optional

from ..errors import IntegrityError
from . import limits
from .describe import Options, describe, read_head
from .registry import kind

# Formats whose check alone reads everything the check is about (the footer): after a crash in
# their description, the file is checked again without it instead of being refused.
_FOOTER_FORMATS = ("parquet", "arrow")


@dataclass(frozen=True)
class Outcome:
    # The "data" metadata, when the file passed its check.
    data: Optional[dict[str, Any]] = None
    # The one-line refusal, when it did not.
    error: Optional[str] = None
    # Lines to log as warnings (what could not be described when the check is off).
    warnings: tuple[str, ...] = ()
    # The limit the file went past (its setting named), when it did (getdata's side turns it
    # into the kept-undescribed data or the refusal).
    limit: Optional[str] = None


@dataclass(frozen=True)
class Ending:
    """How a child (or the helper) ended before its batch was done."""

    # SIGSEGV, SIGABRT... and the library's last line on stderr.
    how: str
    # The limit that ended it (the timer, the memory cap), when one did.
    limit: Optional[str] = None


def run(items: list[tuple[Path, str]], opts: Options) -> list[Outcome]:
    """One outcome per (path, name), in order; a crash costs only the file it happened on."""
    outcomes: list[Outcome] = []
    while len(outcomes) < len(items):
        batch = items[len(outcomes) :]
        done, ending = _helper().batch(batch, opts)
        outcomes.extend(done)
        if len(done) < len(batch):
            path, name = batch[len(done)]
            ending = ending or Ending("it ended before its batch was done")
            if ending.limit is not None:
                outcomes.append(Outcome(limit=ending.limit))
            else:
                outcomes.append(_after_crash(path, name, opts, ending.how))
    return [
        _limited(path, name, opts, o.limit) if o.limit is not None else o
        for (path, name), o in zip(items, outcomes, strict=True)
    ]


def _limited(path: Path, name: str, opts: Options, limit: str) -> Outcome:
    """A file past a limit: kept with format and size and the limit named, or refused."""
    if opts.on_limit == "refuse":
        return Outcome(error=f"{name}: refused: {limit} (inspect.on_limit=refuse)")
    fmt, compression = kind(name)
    data: dict[str, Any] = {"format": fmt.name, "size": path.stat().st_size}
    if compression:
        data["compression"] = compression
    data.update(described=False, limit=limit)
    warning = f"{name}: kept undescribed: {limit} (inspect.on_limit=refuse refuses such a file)"
    return Outcome(data=data, warnings=(warning,))


def _after_crash(path: Path, name: str, opts: Options, crash: str) -> Outcome:
    fmt = kind(name)[0].name
    how = f"crashed ({crash})"
    checked = opts.check and fmt not in opts.unchecked
    if fmt in _FOOTER_FORMATS and checked and opts.describe:
        retry = replace(opts, describe=False)
        done, _ = _helper().batch([(path, name)], retry)
        if done and done[0].data is not None:
            data = {**done[0].data, "described": False}
            warning = f"{name}: the {fmt} reader {how} describing it; logged with format and size"
            return Outcome(data=data, warnings=(warning,))
    message = f"{name}: the {fmt} reader {how} on this file"
    if not checked:
        return Outcome(data={"format": fmt, "size": path.stat().st_size}, warnings=(message,))
    return Outcome(error=message)


# ---------------------------------------------------------------------------------------------
# getdata's side: one helper per process
# ---------------------------------------------------------------------------------------------


class _Helper:
    def __init__(self) -> None:
        env = {
            **os.environ,
            # The helper imports getdata from wherever this process did.
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
            # pyarrow's jemalloc starts a background thread at import; without it the helper
            # is single-threaded, so forking it is clean (tests/test_contained.py checks).
            "JE_ARROW_MALLOC_CONF": "background_thread:false",
        }
        # Started as "python -c", whose sys.path has getdata where this process has it, not
        # the current folder first ("-m" would import a getdata/ folder found there).
        start = "import sys; del sys.path[0]; import getdata.formats.contained as c; c.serve()"
        self.process = subprocess.Popen(
            [sys.executable, "-c", start],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            close_fds=True,
            # A process group of its own: a terminal's Ctrl-C (sent to getdata's group) never
            # reaches the helper, not even while it starts; getdata's pipe ends it.
            **_OWN_GROUP,  # type: ignore[arg-type]
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.send = Connection(os.dup(self.process.stdin.fileno()), readable=False)
        self.receive = Connection(os.dup(self.process.stdout.fileno()), writable=False)
        self.process.stdin.close()
        self.process.stdout.close()
        self.lock = threading.Lock()
        # When the helper must have said something (time.monotonic()); None: no limit.
        self.deadline: Optional[float] = None
        self.expired = False
        threading.Thread(target=self._watch, name="readers-watchdog", daemon=True).start()

    def _watch(self) -> None:
        """End the helper when it stays silent past its deadline (inspect.timeout and a grace
        period): getdata's read then ends, and the file is past the time limit."""
        while not self.send.closed:
            time.sleep(1.0)
            deadline = self.deadline
            if deadline is not None and time.monotonic() > deadline and not self.send.closed:
                self.expired = True
                self.process.kill()

    def batch(
        self, items: list[tuple[Path, str]], opts: Options, head: int = 0
    ) -> tuple[list[Outcome], Optional[Ending]]:
        """Outcomes of the files the child finished, and how it ended if it died before the end.

        ``head`` > 0: instead of describing, the child reads that many rows of each table.
        """
        # How long the helper may stay silent: the child's timer should end a stuck file first.
        patience = None if opts.timeout is None else opts.timeout + limits.GRACE_SECONDS
        with self.lock:
            done: list[Outcome] = []
            try:
                self.send.send((items, opts, head))
                while True:
                    if patience is not None:
                        self.deadline = time.monotonic() + patience
                    message = self.receive.recv()
                    if isinstance(message, Outcome):
                        done.append(message)
                    else:
                        return done, message if message.how or message.limit else None
            except (EOFError, OSError):  # the helper died (killed, out of memory, watchdog)
                self.end()
                if self.expired:
                    return done, Ending("no answer", limits.time_limit(opts.timeout))
                return done, Ending("the readers' helper ended")
            except BaseException:
                # Interrupted half-way (Ctrl-C): the helper is out of step with us; end it.
                self.end()
                raise
            finally:
                self.deadline = None

    def end(self) -> None:
        """Close our ends: the helper ends (and kills its child) as soon as it sees that."""
        self.send.close()
        self.receive.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    close = end


_helper_lock = threading.Lock()
_running: Optional[_Helper] = None


def warm_up() -> None:
    """Start the helper now (its imports take ~0.5 s), so it is ready when the first file has
    arrived instead of starting on the run's critical path."""
    _helper()


def _helper() -> _Helper:
    global _running
    with _helper_lock:
        if _running is None or _running.send.closed or _running.process.poll() is not None:
            _running = _Helper()
            atexit.register(_running.close)
        return _running


# ---------------------------------------------------------------------------------------------
# The helper's side
# ---------------------------------------------------------------------------------------------


def serve() -> None:
    """The helper: read batches from stdin; fork a child per batch; report how each ended."""
    # getdata handles Ctrl-C and SIGTERM; the helper ends when getdata's pipe closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    import pyarrow  # noqa: F401  (imported once here, so every child starts with it)
    import pyarrow.compute  # noqa: F401
    import pyarrow.csv  # noqa: F401
    import pyarrow.ipc  # noqa: F401
    import pyarrow.json  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    from . import arrow, delimited, jsondoc, jsonlines, parquet  # noqa: F401

    global _prctl
    _prctl = _find_prctl()
    receive = Connection(os.dup(0), writable=False)
    send = Connection(os.dup(1), readable=False)
    helper = os.getpid()
    memory: Optional[int] = None
    while True:
        try:
            items, opts, head = receive.recv()
        except (EOFError, OSError):  # getdata is done (or gone)
            return
        with tempfile.TemporaryFile() as stderr:
            if opts.max_memory != memory:  # the children inherit the limit
                limits.cap_memory(opts.max_memory)
                memory = opts.max_memory
            _watch_getdata(True)
            pid = os.fork()
            if pid == 0:  # the child
                _die_with(helper)
                os.dup2(stderr.fileno(), 2)
                if head > 0:
                    _heads(send, items, head, opts)
                else:
                    _describe_all(send, items, opts)
                os._exit(0)
            status = _wait(pid)
            stderr.seek(0)
            said = stderr.read()[-4096:]
        try:
            send.send(_ending(status, said, opts))
        except OSError:  # getdata is gone
            return


def _die_with(parent: int) -> None:
    """In a child: be killed when the helper dies, whatever kills it (Linux's parent-death
    signal); a helper already gone ends the child now."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def _find_prctl() -> Any:
    """libc's prctl, looked up once in the helper (not in every child), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # no prctl: the helper's own watch still applies
        return None


_PR_SET_PDEATHSIG = 1
_prctl: Any = None


def _watch_getdata(on: bool) -> None:
    """Arm (or disarm) getdata's pipe: once it closes, the kernel sends SIGIO to the helper's
    process group, which ends the helper and the child it waits for. A pipe already closed ends
    the helper now."""
    if os.getpgrp() != os.getpid():  # not a group of its own: SIGIO would reach others
        return
    try:
        fcntl.fcntl(0, fcntl.F_SETOWN, -os.getpid() if on else 0)
        flags = fcntl.fcntl(0, fcntl.F_GETFL)
        fcntl.fcntl(0, fcntl.F_SETFL, flags | os.O_ASYNC if on else flags & ~os.O_ASYNC)
    except OSError:
        return
    if on and select.select([0], [], [], 0)[0]:
        os._exit(0)


def _wait(pid: int) -> int:
    """The child's exit status (the pipe disarmed: data from getdata is no reason to stop)."""
    status = os.waitpid(pid, 0)[1]
    _watch_getdata(False)
    return status


def head_rows(path: Path, name: str, rows: int) -> tuple[Optional[Any], str]:
    """(the first ``rows`` rows as a pyarrow Table or None, "" or how the reader crashed)."""
    done, ending = _helper().batch([(path, name)], Options(), head=rows)
    if not done:
        assert ending is not None
        return None, ending.limit or ending.how
    if done[0].error is not None:
        return None, done[0].error
    return (done[0].data or {}).get("table"), ""


def _heads(send: Connection, items: list[tuple[Path, str]], rows: int, opts: Options) -> None:
    for path, name in items:
        limits.start_timer(opts.timeout)
        try:
            outcome = Outcome(data={"table": read_head(path, name, rows)})
        except Exception as exc:
            outcome = Outcome(error=f"{name}: no preview: {exc}")
        limits.stop_timer()
        send.send(outcome)


def _describe_all(send: Connection, items: list[tuple[Path, str]], opts: Options) -> None:
    for path, name in items:
        warnings: list[str] = []
        limits.start_timer(opts.timeout)
        try:
            outcome = Outcome(data=describe(path, name, opts, warnings), warnings=tuple(warnings))
        except limits.LimitError as exc:
            outcome = Outcome(limit=str(exc))
        except IntegrityError as exc:
            outcome = Outcome(error=str(exc))
        except Exception as exc:  # e.g. the file vanished: still one line, not a traceback
            if limits.out_of_memory(exc):
                outcome = Outcome(limit=limits.memory_limit(opts.max_memory))
            else:
                outcome = Outcome(error=f"{name}: could not be described: {exc}")
        limits.stop_timer()
        send.send(outcome)


def _ending(status: int, stderr: bytes, opts: Options) -> Ending:
    """How the child ended: Ending("") for a clean end; else SIGABRT, SIGSEGV... and the
    library's last line on stderr, and the limit when one ended it."""
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return Ending("")
    how = f"exit code {os.WEXITSTATUS(status)}"
    if os.WIFSIGNALED(status):
        if os.WTERMSIG(status) == signal.SIGALRM:
            return Ending("SIGALRM", limits.time_limit(opts.timeout))
        try:
            how = signal.Signals(os.WTERMSIG(status)).name
        except ValueError:
            how = f"signal {os.WTERMSIG(status)}"
    text = stderr.decode("utf-8", "replace")
    lines = [line.strip() for line in text.splitlines()]
    said = [line for line in lines if line][-1:]
    if opts.max_memory and limits.died_of_memory(text):
        return Ending(how, limits.memory_limit(opts.max_memory))
    return Ending(f"{how}: {said[0][:200]}" if said else how)


# A process group of the helper's own (Python 3.11+); a session of its own before.
_OWN_GROUP = {"process_group": 0} if sys.version_info >= (3, 11) else {"start_new_session": True}
