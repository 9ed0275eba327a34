"""The W&B service a process shares across the jobs it runs (with getdata/tracking/, the only
modules that import wandb).

wandb.init() starts wandb-core, a service process, on first use (0.15-0.2 s, mostly waiting for
it to listen), and wandb.teardown() stops it. getdata used to tear it down after every job
because run.finish() can return before wandb-core has written the offline run file to disk
(run.finish() waits until wandb-core has the exit record, not until it is on disk; seen: 1 run in
25 with only its header); teardown waits for that. Instead, each job waits for its own run file
to read back finished (:func:`wait_written`, for as long as wandb-core makes progress), and the
service lives on:

* it is started early, on a thread, by :func:`start` (called once the run is known to be logged,
  before the fetch), so its start-up overlaps the download;
* the next job of a sweep (basic launcher, or a joblib worker's next job) reuses it, unless the
  W&B environment variables or the working directory changed (wandb reads them once per session,
  so then the session is renewed: :func:`ready`);
* it is torn down once: by :func:`close` when the CLI's jobs are done (inside its private
  TMPDIR, and before os._exit, which would skip wandb's atexit hook), else by that hook (the
  Python API, a joblib worker).

While the service starts, the thread also reads the installed packages wandb records with every
run (requirements.txt, 0.1 s) and imports W&B Launch's input module (0.2 s), both of which
wandb.init() would otherwise do after the download (getdata/tracking/compat.py).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

from .compat import import_wandb, preload_launch_inputs, read_installed_packages
from .runfile import RunFile, read_run_file

log = logging.getLogger(__name__)

# How long a job waits for its run file to be finished while the file does not change, before
# tearing the service down. wandb-core writes the file when the run's stream closes (right after
# run.finish(); measured: under 0.12 s with two busy loops on 2 cores) and, whatever happens, at
# least every 15 s (its writer's flush interval): a minute without a change is a stuck service.
WRITE_PATIENCE = 60.0
# After a teardown: wandb-core has exited and written everything, unless the service was
# inherited from a parent process (WANDB_SERVICE), which still flushes every 15 s.
AFTER_TEARDOWN = 20.0

_lock = threading.Lock()
_starting: Optional[threading.Thread] = None
# What wandb read when its session started: its environment variables and the working directory.
_started_with: Optional[tuple[frozenset[tuple[str, str]], str]] = None


def _fingerprint(env: dict[str, str]) -> tuple[frozenset[tuple[str, str]], str]:
    """The W&B environment variables as wandb.init() will see them (``env`` set over
    os.environ) and the working directory. WANDB_SERVICE is the session's own address (wandb
    leaves it out of its comparison too)."""
    names = {k: v for k, v in os.environ.items() if k.startswith("WANDB_") and k != "WANDB_SERVICE"}
    return frozenset({**names, **env}.items()), os.getcwd()


def start(env: dict[str, str]) -> None:
    """Start (or keep) the W&B service on a thread while the caller goes on.

    ``env`` is what the job sets around wandb.init() (WANDB_SILENT). The thread changes no
    environment variable of its own (wandb.setup() sets and getdata removes WANDB_SERVICE).
    """
    global _starting
    # wandb is imported by the thread (0.6 s), while this one goes on downloading: CPython's
    # imports are thread-safe (a lock per module; a cycle raises instead of hanging), and if
    # the thread fails, wandb.init() imports it and reports what went wrong.
    with _lock:
        if _starting is not None:
            return
        renew = _changed(env)
        _starting = threading.Thread(target=_start, args=(renew,), name="wandb-start", daemon=True)
        _starting.start()


def _start(renew: bool) -> None:
    try:
        wandb = import_wandb()
        if renew:
            wandb.teardown()
        with own_address():
            # Silent like the runs (the job sets WANDB_SILENT only around wandb.init()).
            wandb.setup(settings=wandb.Settings(silent=True))
        preload_launch_inputs()
        read_installed_packages(wandb)
    except Exception as exc:  # wandb.init() starts it again, and reports what goes wrong
        log.debug("the W&B service did not start ahead of the run: %s", exc)


def ready(env: dict[str, str]) -> None:
    """Before wandb.init(): the early start has finished, and the session still matches the W&B
    environment variables and the working directory (else it is renewed)."""
    global _starting
    with _lock:
        thread, _starting = _starting, None
    if thread is not None:
        thread.join()
    wandb = import_wandb()

    if _changed(env):
        wandb.teardown()


def _changed(env: dict[str, str]) -> bool:
    """wandb reads its environment variables once per session (and ignores later changes): a
    job whose W&B environment differs from the session's needs a new session. Remembers the
    job's, for the next."""
    global _started_with
    now = _fingerprint(env)
    changed = _started_with is not None and now != _started_with
    if changed:
        log.debug("the W&B environment changed since the service started: renewing it")
    _started_with = now
    return changed


@contextmanager
def own_address() -> Iterator[None]:
    """wandb.setup() and wandb.init() leave the service's address in WANDB_SERVICE for child
    processes to share; getdata's children (the formats helper, whatever a user of the Python
    API starts next) are not runs of this process and must not end up in its service. An
    address inherited from a parent process is left alone."""
    from wandb import env as wandb_env

    inherited = os.environ.get(wandb_env.SERVICE)
    try:
        yield
    finally:
        if inherited is None:
            os.environ.pop(wandb_env.SERVICE, None)


def wait_written(
    run_file: Path, patience: float = WRITE_PATIENCE, check: Optional[Callable[[], None]] = None
) -> RunFile:
    """After run.finish(): read ``run_file`` back until it is finished (its exit record there,
    nothing torn; getdata/tracking/runfile.py), waiting as long as wandb-core makes progress:
    it gives up only after ``patience`` seconds in which the file did not change. ``check``
    runs between reads and may raise (a full disk). Returns what was read last."""
    pause = 0.002
    seen = read_run_file(run_file)
    changed_at = time.monotonic()
    while not seen.finished:
        if check is not None:
            check()
        if time.monotonic() - changed_at >= patience:
            break
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
        if _size(run_file) != seen.size:  # read again only what changed
            seen = read_run_file(run_file)
            changed_at = time.monotonic()
    return seen


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def close() -> None:
    """Tear the service down now: the CLI leaves through os._exit, which skips wandb's atexit
    hook (wandb-core would notice its parent gone, but later)."""
    global _starting, _started_with
    with _lock:
        thread, _starting = _starting, None
    if thread is not None:
        thread.join()
    _started_with = None
    if "wandb" not in sys.modules:
        return
    # The process is ending: wandb's client threads log the closed connection ("Reached EOF")
    # to its debug.log, also after teardown returned; never to the terminal.
    logging.getLogger("wandb").propagate = False
    try:
        sys.modules["wandb"].teardown()
    except (Exception, SystemExit) as exc:  # every run was already read back complete
        log.warning("W&B: stopping its service failed (%s); the logged runs are complete", exc)


def quiet() -> dict[str, str]:
    """wandb's console lines off, unless the user asked for them (WANDB_SILENT)."""
    return {} if os.environ.get("WANDB_SILENT") else {"WANDB_SILENT": "true"}
