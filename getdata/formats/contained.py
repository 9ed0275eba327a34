"""Run the readers where a native crash cannot take getdata down.

pyarrow is C++: a hostile file can abort or segfault it (parquet-testing's
encrypt_columns_plaintext_footer.parquet aborts in the footer's column metadata; a deeply
nested JSON Lines file overflows the JSON reader's stack). Describing therefore runs in a child
process, one per batch of files (a folder may hold thousands).

The children are forked by a helper: ``python -m getdata.formats.contained``, started once per
getdata process, a fresh single-threaded interpreter that imports pyarrow and the readers and
then forks one child per batch. Forking it costs about a millisecond; getdata's own threads
(wandb, the download pool) are never forked, and nothing of getdata's ``__main__`` is re-run (as
multiprocessing's spawn and forkserver methods do). The child sends each file's outcome as soon
as it is known; when it dies on a file, the helper reports how (signal, and the library's last
line on stderr), that file gets a one-line refusal and a new child takes the rest. The helper
exits when getdata's end of its pipe closes, so it never outlives getdata.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Optional

from ..errors import IntegrityError
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


def run(items: list[tuple[Path, str]], opts: Options) -> list[Outcome]:
    """One outcome per (path, name), in order; a crash costs only the file it happened on."""
    outcomes: list[Outcome] = []
    while len(outcomes) < len(items):
        batch = items[len(outcomes) :]
        done, crash = _helper().batch(batch, opts)
        outcomes.extend(done)
        if len(done) < len(batch):
            path, name = batch[len(done)]
            outcomes.append(_after_crash(path, name, opts, crash))
    return outcomes


def _after_crash(path: Path, name: str, opts: Options, crash: str) -> Outcome:
    fmt = kind(name)[0].name
    how = f"crashed ({crash})"
    checked = opts.check and fmt not in opts.unchecked
    if fmt in _FOOTER_FORMATS and checked and opts.describe:
        retry = Options(describe=False, check=True, unchecked=opts.unchecked)
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
        self.process = subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            close_fds=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.send = Connection(os.dup(self.process.stdin.fileno()), readable=False)
        self.receive = Connection(os.dup(self.process.stdout.fileno()), writable=False)
        self.process.stdin.close()
        self.process.stdout.close()
        self.lock = threading.Lock()

    def batch(
        self, items: list[tuple[Path, str]], opts: Options, head: int = 0
    ) -> tuple[list[Outcome], str]:
        """Outcomes of the files the child finished, and how it ended if it died before the end.

        ``head`` > 0: instead of describing, the child reads that many rows of each table.
        """
        with self.lock:
            self.send.send((items, opts, head))
            done: list[Outcome] = []
            while True:
                message = self.receive.recv()
                if isinstance(message, Outcome):
                    done.append(message)
                else:
                    return done, message  # the child's end: "" when it finished

    def close(self) -> None:
        self.send.close()
        self.receive.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_helper_lock = threading.Lock()
_running: Optional[_Helper] = None


def warm_up() -> None:
    """Start the helper now (its imports take ~0.5 s), so it is ready when the first file has
    arrived instead of starting on the run's critical path."""
    _helper()


def _helper() -> _Helper:
    global _running
    with _helper_lock:
        if _running is None or _running.process.poll() is not None:
            _running = _Helper()
            atexit.register(_running.close)
        return _running


# ---------------------------------------------------------------------------------------------
# The helper's side
# ---------------------------------------------------------------------------------------------


def _serve() -> None:
    """Read batches from stdin; fork a child per batch; report how each child ended."""
    import pyarrow  # noqa: F401  (imported once here, so every child starts with it)
    import pyarrow.compute  # noqa: F401
    import pyarrow.csv  # noqa: F401
    import pyarrow.ipc  # noqa: F401
    import pyarrow.json  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    from . import arrow, delimited, jsondoc, jsonlines, parquet  # noqa: F401

    receive = Connection(os.dup(0), writable=False)
    send = Connection(os.dup(1), readable=False)
    while True:
        try:
            items, opts, head = receive.recv()
        except EOFError:  # getdata is done (or gone)
            return
        with tempfile.TemporaryFile() as stderr:
            pid = os.fork()
            if pid == 0:  # the child
                os.dup2(stderr.fileno(), 2)
                if head > 0:
                    _heads(send, items, head)
                else:
                    _describe_all(send, items, opts)
                os._exit(0)
            _, status = os.waitpid(pid, 0)
            stderr.seek(0)
            said = stderr.read()[-4096:]
        send.send(_ending(status, said))


def head_rows(path: Path, name: str, rows: int) -> tuple[Optional[Any], str]:
    """(the first ``rows`` rows as a pyarrow Table or None, "" or how the reader crashed)."""
    done, crash = _helper().batch([(path, name)], Options(), head=rows)
    if not done:
        return None, crash
    if done[0].error is not None:
        return None, done[0].error
    return (done[0].data or {}).get("table"), ""


def _heads(send: Connection, items: list[tuple[Path, str]], rows: int) -> None:
    for path, name in items:
        try:
            outcome = Outcome(data={"table": read_head(path, name, rows)})
        except Exception as exc:
            outcome = Outcome(error=f"{name}: no preview: {exc}")
        send.send(outcome)


def _describe_all(send: Connection, items: list[tuple[Path, str]], opts: Options) -> None:
    for path, name in items:
        warnings: list[str] = []
        try:
            outcome = Outcome(data=describe(path, name, opts, warnings), warnings=tuple(warnings))
        except IntegrityError as exc:
            outcome = Outcome(error=str(exc))
        except Exception as exc:  # e.g. the file vanished: still one line, not a traceback
            outcome = Outcome(error=f"{name}: could not be described: {exc}")
        send.send(outcome)


def _ending(status: int, stderr: bytes) -> str:
    """ "" for a clean end; else SIGABRT, SIGSEGV... and the library's last line on stderr."""
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return ""
    how = f"exit code {os.WEXITSTATUS(status)}"
    if os.WIFSIGNALED(status):
        try:
            how = signal.Signals(os.WTERMSIG(status)).name
        except ValueError:
            how = f"signal {os.WTERMSIG(status)}"
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    said = [line for line in lines if line][-1:]
    return f"{how}: {said[0][:200]}" if said else how


if __name__ == "__main__":
    # Run as the importable module, so that what is pickled names getdata.formats.contained.
    from getdata.formats import contained

    contained._serve()
