"""Runs of getdata's transfer against the fault model (tests/faultmodel.py), in this process or
in a child killed with -9 at a random moment, each checked against the invariant.

The transfer runs as the pipeline runs it (getdata/pipeline/collect.py): ``fetch`` into the
artifact's workspace, kept in its content-named folder. The part sizes are shrunk (64 KiB parts,
16 KiB map pieces) so that objects of a few hundred KiB exercise many parts; the logic does not
depend on the sizes.

``python -m tests.faultrun URL DATA_DIR CONNECTIONS`` is the child of a kill run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

from tests.faultmodel import ModelServer, Outcome, Plan, check, map_claims

KiB = 1024
# Exceptions that are bugs in getdata, never a server's fault: a run that ends in one of these
# breaks the invariant even if the message is one line.
BUGS = (AssertionError, TypeError, AttributeError, NameError, KeyError, IndexError)


def shrink() -> None:
    """Small parts and map pieces (the logic is the same at 8 MiB)."""
    from getdata.store import partmap
    from getdata.transfer import fetch, parts

    parts.MIN_PART = parts.FIRST_PART = fetch.FIRST_PART = 64 * KiB
    parts.MAX_PART = 256 * KiB
    parts.AUTO_MIN_SIZE = 128 * KiB
    parts.AUTO_PART = parts.MIN_CONNECTION_BYTES = 64 * KiB
    partmap.PIECE = 16 * KiB


def fetch_once(url: str, data_dir: Path, connections: int) -> Outcome:
    """One fetch of ``url`` into ``data_dir`` as the pipeline does it; what it said."""
    from getdata.errors import GetDataError, describe
    from getdata.sources import resolve
    from getdata.sources.http import HttpSource
    from getdata.store.workspace import Workspace
    from getdata.transfer.fetch import fetch
    from getdata.transfer.policy import Limits, Retry
    from getdata.transfer.stream import source_id

    source = resolve(HttpSource(url=url, timeout=0.5))
    outcome = Outcome()
    try:
        with Workspace(data_dir, "object") as ws, describe(source.display):
            got = fetch(
                source,
                ws.partial(source_id(source)),
                lambda f: ws.keep_file(f.path, f.sha256, source.basename),
                chunk_size=64 * KiB,
                retry=Retry(attempts=5, backoff=0.001, backoff_max=0.01),
                progress=False,
                limits=Limits(max_bytes=64 * 2**20, deadline=60, min_free_bytes=0),
                connections=connections,
            )
            outcome = Outcome(
                kept=got.path,
                sha256=got.sha256,
                size=got.size,
                etag=got.info.etag,
                encoding=got.info.content_encoding,
            )
    except GetDataError as exc:
        if isinstance(exc.__cause__, BUGS):
            raise exc.__cause__ from None
        outcome = Outcome(error=str(exc))
    outcome.files = sorted(p for p in data_dir.rglob("*") if p.is_file())
    return outcome


def run(seed: int, root: Path, kill: bool = False) -> list[str]:
    """One seeded run (with a kill -9 and a second run when ``kill``); the invariant's
    violations, each prefixed with the seed."""
    plan = Plan.draw(seed, kill=kill)
    data_dir = root / f"seed-{seed}"
    problems: list[str] = []
    with ModelServer(plan) as server:
        if kill:
            problems += _killed(plan, server, data_dir)
        try:
            outcome = fetch_once(server.url, data_dir, plan.connections)
        except BUGS as exc:
            problems.append(f"getdata raised {type(exc).__name__}: {exc}")
        else:
            problems += check(server, outcome, killed=kill)
            leftover = [p for p in outcome.files if ".getdata-parts" in str(p)]
            if leftover:
                problems.append(f"partials left after the run: {leftover}")
    shutil.rmtree(data_dir, ignore_errors=True)
    return [f"seed {seed}{' (kill -9)' if kill else ''}: {p} [{plan}]" for p in problems]


def _killed(plan: Plan, server: ModelServer, data_dir: Path) -> list[str]:
    """A child fetches until it is killed with -9; what its part map claims must be there."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.faultrun", server.url, str(data_dir), str(plan.connections)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while not server.log and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(plan.kill_after or 0)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    return _map_problems(server, data_dir)


def _map_problems(server: ModelServer, data_dir: Path) -> list[str]:
    from getdata.store.partmap import PartMap

    problems = []
    for mapfile in data_dir.rglob("*.map"):
        partial = mapfile.with_suffix(".part")
        header = _header(mapfile)
        if header is None:
            continue
        pmap = PartMap.load(mapfile, header["source"], partial)
        if pmap is None:
            continue  # not a map the next run would trust: it starts over
        claims = [(a, a + d) for (a, _), d in zip(pmap.parts, pmap.done, strict=True)]
        pin = pmap.pin
        validator = pin.get("etag") or pin.get("last_modified")
        problems += map_claims(server, partial, claims, validator)
    return problems


def _header(mapfile: Path) -> Optional[dict[str, Any]]:
    import struct

    blob = mapfile.read_bytes()
    if len(blob) < 12:
        return None
    length = struct.unpack_from("<I", blob, 8)[0]
    try:
        return dict(json.loads(blob[12 : 12 + length]))
    except ValueError:
        return None


if __name__ == "__main__":
    shrink()
    url, folder, connections = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    fetch_once(url, folder, connections)
