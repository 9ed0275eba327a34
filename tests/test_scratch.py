"""No leftovers (issue 20, item 8): the $TMPDIR/getdata-* folder of a getdata process that no
longer runs (kill -9) is removed by the next run; only getdata's own, proven by the owner record
inside (pid, its start time from /proc, boot and pid namespace), never another program's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from tests import procs
from tests.servers import FileServer
from tests.support import run_cli, wandb_env

OWNER = ".getdata-owner.json"


def folder(base: Path, name: str, owner: object = None) -> Path:
    path = base / name
    path.mkdir()
    (path / "wandb-media").mkdir()
    (path / "wandb-media" / "table.json").write_text("{}")
    if owner is not None:
        (path / OWNER).write_text(json.dumps(owner))
    return path


def ended_process() -> dict:
    """The owner record of a process that ran and ended."""
    from getdata.store.scratch import owner_record

    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    record = owner_record(child.pid)
    child.communicate(b"")
    assert record is not None
    return record


def test_only_folders_of_ended_getdata_processes_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from getdata.store.scratch import owner_record, private_tmpdir

    base = tmp_path / "tmp"
    base.mkdir()
    here = owner_record(os.getpid())
    assert here is not None
    ended = folder(base, "getdata-ended", ended_process())
    reused = folder(base, "getdata-reused", {**here, "start": here["start"] - 1})  # pid reused
    rebooted = folder(base, "getdata-rebooted", {**here, "boot": "another-boot"})
    running = folder(base, "getdata-running", here)
    elsewhere = folder(base, "getdata-elsewhere", {**ended_process(), "pid_namespace": "pid:[1]"})
    unproven = folder(base, "getdata-cache")  # no owner record: another program's
    garbled = folder(base, "getdata-garbled")
    (garbled / OWNER).write_text('{"pid": "1"}')
    fifo = folder(base, "getdata-fifo")
    os.mkfifo(fifo / OWNER)
    other = folder(base, "wandb-ended", ended_process())  # not getdata's name
    target = folder(tmp_path, "getdata-target", ended_process())
    (base / "getdata-link").symlink_to(target)  # a link: never followed
    (base / "getdata-file").write_text("x")
    monkeypatch.setenv("TMPDIR", str(base))
    monkeypatch.setattr(tempfile, "tempdir", None)
    with private_tmpdir() as mine:
        assert json.loads((Path(mine) / OWNER).read_text())["pid"] == os.getpid()
        left = sorted(p.name for p in base.iterdir())
    assert not ended.exists() and not reused.exists() and not rebooted.exists()
    assert left == sorted(
        [
            running.name,
            elsewhere.name,
            unproven.name,
            garbled.name,
            fifo.name,
            other.name,
            "getdata-link",
            "getdata-file",
            Path(mine).name,
        ]
    )
    assert target.exists() and (target / OWNER).exists()
    assert sorted(p.name for p in base.iterdir()) == sorted(set(left) - {Path(mine).name})


def test_the_folder_a_killed_getdata_left_is_removed_by_the_next_run(tmp_path: Path) -> None:
    base = tmp_path / "tmp"
    base.mkdir()
    foreign = folder(base, "getdata-foreign")  # another program's, by the same prefix
    marker = uuid.uuid4().hex
    env = {**wandb_env(tmp_path), "TMPDIR": str(base), "GETDATA_TEST_PROCS": marker}
    with FileServer() as server, procs.reaped(f"GETDATA_TEST_PROCS={marker}"):
        url = server.add("/slow.csv", b"a\n1\n", stall=120)
        killed = procs.start_getdata(
            ["source=http", f"source.url={url}", f"hydra.run.dir={tmp_path / 'r1'}"], env, tmp_path
        )
        assert procs.wait_for(lambda: len(server.requests) > 0), "getdata never asked"
        (left,) = [p for p in base.iterdir() if p != foreign]
        os.kill(killed.pid, signal.SIGKILL)
        killed.communicate(timeout=60)
        assert left.is_dir(), "kill -9 leaves the folder (nothing can remove it then)"
        # wandb-core and the readers' helper end with it (they watch it); then the next run.
        assert procs.wait_for(lambda: procs.with_marker(marker) == [], 60)
        done = run_cli([f"hydra.run.dir={tmp_path / 'r2'}"], env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not left.exists()
    assert sorted(p.name for p in base.iterdir()) == ["getdata-foreign"]


def test_a_folder_written_into_while_it_is_removed_keeps_its_owner_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thread or child still writing into the private folder as it is removed (wandb's media
    folders): the folder stays with its owner record, so the next run, once this process has
    ended, proves it stale and removes it (without the record it would stay for ever)."""
    import shutil

    from getdata.store import scratch

    base = tmp_path / "tmp"
    base.mkdir()
    monkeypatch.setenv("TMPDIR", str(base))
    monkeypatch.setattr(tempfile, "tempdir", None)
    real_rmtree = shutil.rmtree
    private: list[Path] = []
    late: list[Path] = []

    def rmtree_then_a_late_write(path: str, *args: object, **kwargs: object) -> None:
        real_rmtree(path, *args, **kwargs)  # type: ignore[arg-type]
        if not late:  # the writer makes one more folder in there after the first removal
            late.append(private[0] / "tmp-late-wandb-media")
            late[0].mkdir(parents=True)

    monkeypatch.setattr(scratch.shutil, "rmtree", rmtree_then_a_late_write)
    with scratch.private_tmpdir() as made:
        private.append(Path(made))
        (Path(made) / "wandb-media").mkdir()
    left = Path(made)
    assert sorted(p.name for p in left.iterdir()) == [OWNER, "tmp-late-wandb-media"]
    monkeypatch.setattr(scratch.shutil, "rmtree", real_rmtree)
    # This process still runs: the next run leaves the folder alone ...
    assert scratch.remove_stale(base) == []
    # ... and once the process it names has ended, removes it whole.
    (left / OWNER).write_text(json.dumps(ended_process()))
    assert scratch.remove_stale(base) == [left]
    assert not left.exists()
