"""Where kept files live: ``<data dir>/<artifact name>/<first 16 hex of sha256>/<file or tree>``.

The folder of a kept version is named after its content, so a later fetch of the same artifact
never changes a file that an earlier (maybe not yet synced) W&B run references: new content gets
a new folder, the same content reuses the folder it already has.

While a run fetches, it holds a lock on the artifact's folder; its partial files and the folder
it assembles a tree in are its own (``.getdata-parts/``, ``.getdata-staging/``), removed when it
ends. A partial a killed run left is resumed by the next run of the same source
(getdata/transfer/).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
from pathlib import Path, PurePosixPath
from typing import IO, Optional

from ..errors import GetDataError
from ..names import UnsafeNameError, printable

# Hex digits of the content's sha256 that name a kept version's folder (64 bits).
VERSION_DIGITS = 16
# Names of getdata's own temporary files and folders (a reader can tell them from data).
TEMP_PREFIX = ".getdata-"
TEMP_SUFFIX = ".part"


def inside(root: Path, rel: PurePosixPath | str) -> Path:
    """``root / rel``, checked with resolved paths to stay inside ``root`` (links included)."""
    path = root / rel
    real_root = Path(os.path.realpath(root))
    if not Path(os.path.realpath(path)).is_relative_to(real_root):
        raise UnsafeNameError(f"{printable(str(rel))!r} would land outside {root}: refused")
    return path


def _same_file(handle: IO[bytes], path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
    except FileNotFoundError:
        return False


class BusyError(GetDataError):
    """Another run is fetching the same artifact into the same data folder."""


class Workspace:
    """The artifact's folder in the data folder, locked for one run."""

    def __init__(self, data_dir: Path, name: str) -> None:
        self.root = inside(data_dir, name)
        self.parts = self.root / ".getdata-parts"
        self.staging = self.root / ".getdata-staging"
        self._lock: Optional[IO[bytes]] = None
        # Version folders this run made (an earlier run's are never removed).
        self._new: list[Path] = []

    def __enter__(self) -> Workspace:
        while True:
            self.root.mkdir(parents=True, exist_ok=True)
            lock = self._lock_path.open("ab")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                raise BusyError(
                    f"{self.root} is in use by another getdata run fetching the same artifact; "
                    "wait for it to finish, or set data_dir to another folder"
                ) from None
            # The run before us may have removed the lock file between our open and our lock:
            # then we hold a lock nobody else can see, and must take the one on the path.
            if _same_file(lock, self._lock_path):
                break
            lock.close()
        self._lock = lock
        # Ours alone while we hold the lock: a tree half assembled by a killed run.
        shutil.rmtree(self.staging, ignore_errors=True)
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
        # Partials not resumed by this run are of no use to the next one.
        shutil.rmtree(self.parts, ignore_errors=True)
        if self._lock is None:
            return
        if [p.name for p in self.root.iterdir()] == [self._lock_path.name]:
            # Nothing kept (a failed first fetch): leave no empty folder behind.
            self._lock_path.unlink()
            self.root.rmdir()
        self._lock.close()  # releases the lock
        self._lock = None

    @property
    def _lock_path(self) -> Path:
        return self.root / ".getdata.lock"

    def partial(self, source_id: str) -> Path:
        """The partial file of one source (stable across runs, so a killed run's is resumed)."""
        return self.parts / f"{hashlib.sha256(source_id.encode()).hexdigest()[:24]}.part"

    def version(self, sha256: str) -> Path:
        """The folder a version with this content hash is kept in (noted as this run's when it
        does not exist yet)."""
        folder = inside(self.root, sha256[:VERSION_DIGITS])
        if not folder.exists() and folder not in self._new:
            self._new.append(folder)
        return folder

    def discard_new(self) -> None:
        """Remove the versions this run kept (a check after the fetch refused them)."""
        for folder in self._new:
            shutil.rmtree(folder, ignore_errors=True)
        self._new.clear()

    def staged(self, rel: PurePosixPath | str) -> Path:
        """Where a file of a tree goes while the tree is assembled."""
        return inside(self.staging, rel)

    def keep_tree(self, sha256: str) -> Path:
        """Move the assembled tree into its version folder (or drop it: the same content is
        already kept there) and return that folder."""
        final = self.version(sha256)
        if final.is_dir():
            shutil.rmtree(self.staging)
        else:
            os.rename(self.staging, final)
        return final
