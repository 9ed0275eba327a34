"""Run the readers where a native crash cannot take getdata down.

pyarrow is C++: a hostile file can abort or segfault it (parquet-testing's
encrypt_columns_plaintext_footer.parquet aborts in the footer's column metadata; a deeply
nested JSON Lines file overflows the JSON reader's stack). Describing therefore runs in a child
process, one per batch of files (a folder may hold thousands). The child is forked from
multiprocessing's fork server, a fresh single-threaded interpreter that imported pyarrow and the
readers once; forking it costs milliseconds, and getdata's own threads (wandb, the download
pool) are never forked. When the child dies on a file, that file gets a one-line refusal and a
new child takes the rest.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import tempfile
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Optional

from ..errors import IntegrityError
from .describe import Options, describe
from .registry import kind

# Imported once by the fork server, so that each child starts with them loaded.
_PRELOAD = [
    "pyarrow",
    "pyarrow.compute",
    "pyarrow.csv",
    "pyarrow.ipc",
    "pyarrow.json",
    "pyarrow.parquet",
    "getdata.formats.describe",
    "getdata.formats.parquet",
    "getdata.formats.arrow",
    "getdata.formats.delimited",
    "getdata.formats.jsonlines",
    "getdata.formats.jsondoc",
]
# Formats whose check alone reads everything the check is about (the footer): after a crash in
# their description, the file is checked again without it instead of being refused.
_FOOTER_FORMATS = ("parquet", "arrow")

_context: Optional[Any] = None


@dataclass(frozen=True)
class Outcome:
    # The "data" metadata, when the file passed its check.
    data: Optional[dict[str, Any]] = None
    # The one-line refusal, when it did not.
    error: Optional[str] = None
    # Lines to log as warnings (what could not be described when the check is off).
    warnings: tuple[str, ...] = ()


def _forkserver() -> Any:
    global _context
    if _context is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        _context = context
    return _context


def run(items: list[tuple[Path, str]], opts: Options) -> list[Outcome]:
    """One outcome per (path, name), in order; a crash costs only the file it happened on."""
    outcomes: list[Outcome] = []
    while len(outcomes) < len(items):
        batch = items[len(outcomes) :]
        done, crash = _child(batch, opts)
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
        done, _ = _child([(path, name)], retry)
        if done and done[0].data is not None:
            data = {**done[0].data, "described": False}
            warning = f"{name}: the {fmt} reader {how} describing it; logged with format and size"
            return Outcome(data=data, warnings=(warning,))
    message = f"{name}: the {fmt} reader {how} on this file; nothing was logged"
    if not checked:
        return Outcome(data={"format": fmt, "size": path.stat().st_size}, warnings=(message,))
    return Outcome(error=message)


def _crash(exitcode: Optional[int], stderr: bytes) -> str:
    """SIGABRT, SIGSEGV... and the C++ library's last word on stderr, if it left one."""
    how = f"exit code {exitcode}"
    if exitcode is not None and exitcode < 0:
        try:
            how = signal.Signals(-exitcode).name
        except ValueError:
            pass
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    said = [line for line in lines if line][-1:]
    return f"{how}: {said[0][:200]}" if said else how


def _child(batch: list[tuple[Path, str]], opts: Options) -> tuple[list[Outcome], str]:
    """Outcomes of the files the child finished, and how it ended if it died before the end."""
    context = _forkserver()
    receive, send = context.Pipe(duplex=False)
    # The child's stderr goes to a file we read after a crash (abort() messages land there).
    with tempfile.NamedTemporaryFile(prefix="getdata-stderr-") as stderr:
        process = context.Process(
            target=_serve, args=(send, batch, opts, stderr.name), daemon=True
        )
        process.start()
        send.close()
        done: list[Outcome] = []
        try:
            while len(done) < len(batch):
                try:
                    done.append(receive.recv())
                except EOFError:  # the child died
                    break
            process.join()
        finally:
            receive.close()
            if process.is_alive():  # interrupted (Ctrl-C): leave no child behind
                process.kill()
                process.join()
        if len(done) == len(batch):
            return done, ""
        stderr.seek(0)
        return done, _crash(process.exitcode, stderr.read()[-4096:])


def _serve(send: Connection, batch: list[tuple[Path, str]], opts: Options, stderr: str) -> None:
    """The child: describe each file, send each outcome as soon as it is known."""
    with open(stderr, "wb") as err:
        os.dup2(err.fileno(), 2)
    for path, name in batch:
        warnings: list[str] = []
        try:
            outcome = Outcome(data=describe(path, name, opts, warnings), warnings=tuple(warnings))
        except IntegrityError as exc:
            outcome = Outcome(error=str(exc))
        except Exception as exc:  # e.g. the file vanished: still one line, not a traceback
            outcome = Outcome(error=f"{name}: could not be described: {exc}")
        send.send(outcome)
    send.close()
