"""Where kept files live: ``<data dir>/<artifact name>/<first 16 hex of sha256>/<file or tree>``.

The folder of a kept version is named after its content, so a later fetch of the same artifact
never changes a file that an earlier (maybe not yet synced) W&B run references: new content gets
a new folder, the same content reuses the folder it already has.

While a run fetches, it holds a lock on the artifact's folder; its partial files and the folder
it assembles a tree in are its own (``.getdata-parts/``, ``.getdata-staging/``), removed when it
ends. A partial a killed run left is resumed by the next run of the same source
(getdata/transfer/). A version already kept is reused only when its bytes are proven the same
(getdata/store/keep.py); so is a file a refresh takes from an earlier version into the tree
it assembles (:meth:`Workspace.reuse`, a hard link: the bytes stay on disk once). No link is
ever followed in the folder's own structure: the artifact's folder may not be one, and a link
where getdata's own folder or file belongs is removed.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import shutil
from pathlib import Path, PurePosixPath
from typing import IO, Any, Optional

from ..errors import GetDataError
from ..names import UnsafeNameError, printable, safe_relpath
from .keep import RECORDS, Kept

log = logging.getLogger(__name__)

# Hex digits of the content's sha256 that name a kept version's folder (64 bits).
VERSION_DIGITS = 16
# Names of getdata's own temporary files and folders (a reader can tell them from data).
TEMP_PREFIX = ".getdata-"
TEMP_SUFFIX = ".part"


def is_version(name: str) -> bool:
    """A kept version's folder name: the first VERSION_DIGITS hex digits of its sha256."""
    return len(name) == VERSION_DIGITS and not name.strip("0123456789abcdef")


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
        self._made: list[Path] = []
        # Version folders this run made (an earlier run's are never removed).
        self._new: list[Path] = []
        # The records of kept versions, each read once (a tree's has a line per file).
        self._records: dict[str, Kept] = {}

    def __enter__(self) -> Workspace:
        if self.root.is_symlink():
            raise GetDataError(
                f"{self.root} is a link: getdata never follows links in its data folder; "
                "remove it, or set data_dir to the folder it points to"
            )
        # The folders above this one that this run makes (the data folder itself, the first
        # time): removed again on the way out when nothing was kept in them.
        self._made = [p for p in self.root.parents if not os.path.lexists(p)]
        while True:
            self.root.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(
                    self._lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666
                )
            except FileNotFoundError:
                continue  # another run removed the empty folder between our mkdir and open

            lock = os.fdopen(fd, "ab")
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
        # Ours alone while we hold the lock: a tree half assembled by a killed run; and where
        # a link stands for one of our folders, the link goes (never what it points to).
        _clear(self.staging)
        if self.parts.is_symlink() or (self.parts.exists() and not self.parts.is_dir()):
            _clear(self.parts)
        return self

    def __exit__(self, *exc: object) -> None:
        _clear(self.staging)
        # Partials not resumed by this run are of no use to the next one.
        _clear(self.parts)
        if self._lock is None:
            return
        records = self.root / RECORDS
        if records.is_dir() and not records.is_symlink() and not any(records.iterdir()):
            records.rmdir()
        if [p.name for p in self.root.iterdir()] == [self._lock_path.name]:
            # Nothing kept (a failed first fetch): leave no empty folder behind.
            self._lock_path.unlink()
            self.root.rmdir()
            for folder in self._made:  # deepest first
                try:
                    folder.rmdir()
                except OSError:
                    break  # not empty (another run's): it stays
        self._lock.close()  # releases the lock
        self._lock = None

    @property
    def _lock_path(self) -> Path:
        return self.root / ".getdata.lock"

    def partial(self, source_id: str) -> Path:
        """The partial file of one source (stable across runs, so a killed run's is resumed)."""
        self.parts.mkdir(exist_ok=True)
        return self.parts / f"{hashlib.sha256(source_id.encode()).hexdigest()[:24]}.part"

    def version(self, sha256: str) -> Path:
        """The folder a version with this content hash is kept in (noted as this run's when it
        does not exist yet)."""
        digits = sha256[:VERSION_DIGITS]
        if not is_version(digits):
            raise GetDataError(f"not a sha256: {printable(sha256)!r}")
        # A hex name: no need to resolve it (a link planted there is replaced, not followed).
        folder = self.root / digits
        if not os.path.lexists(folder) and folder not in self._new:
            self._new.append(folder)
        return folder

    def discard_new(self) -> None:
        """Remove the versions this run kept (a check after the fetch refused them)."""
        for folder in self._new:
            _clear(folder)
            self.record(folder.name).remove()
            self._records.pop(folder.name, None)
        self._new.clear()

    def record(self, version: str) -> Kept:
        """The record of the kept version ``version`` (its folder's name): getdata/store/keep.py."""
        if version not in self._records:
            self._records[version] = Kept(self.root, version)
        return self._records[version]

    def staged(self, rel: PurePosixPath | str) -> Path:
        """Where a file of a tree goes while the tree is assembled. The staging folder is this
        run's own (made afresh under the lock, no link in it but what getdata writes: none), so
        a name that is a safe relative path stays inside it without resolving every path
        (realpath per file cost 0.6 ms: over a second for a prefix of 2,000 files)."""
        return self.staging / safe_relpath(str(rel), "the file name")

    def reuse(self, version: str, files: dict[str, str]) -> dict[str, dict[str, Any]]:
        """Take ``files`` (path -> sha256) of the kept version ``version`` (its folder's name)
        into the tree being assembled, as hard links (the bytes stay on disk once), each only
        when its bytes are proven (getdata/store/keep.py) and the link made is that proven file.
        Returns the records (sha256, md5, what else is known) of those taken, each with the
        ``path`` it has in the tree; the others are the caller's to fetch."""
        if not is_version(version):
            return {}
        folder = self.root / version
        proven = self.record(version).proven(folder, files, md5=True)
        taken: dict[str, dict[str, Any]] = {}
        # Each folder of the tree checked once to stay inside the staging folder (a link never
        # follows a link in its own last part: what stands there already makes it fail).
        parents: dict[str, str] = {}
        source = str(folder)
        for name, record in proven.items():
            parent, _, base = name.rpartition("/")
            if parent not in parents:
                made = self.staged(parent) if parent else self.staging
                made.mkdir(parents=True, exist_ok=True)
                parents[parent] = str(made)
            target = os.path.join(parents[parent], base)
            try:
                os.link(os.path.join(source, name), target, follow_symlinks=False)
                now = os.lstat(target)
            except OSError as exc:
                if exc.errno not in (errno.EMLINK, errno.EPERM, errno.EXDEV, errno.ENOTSUP):
                    raise
                log.debug("%s/%s: no link (%s); fetched again", version, name, exc.strerror)
                continue
            # The link is the file proven a moment ago: same file, size and last write (the
            # link itself changes its ctime).
            if [now.st_dev, now.st_ino, now.st_size, now.st_mtime_ns] != record["identity"][:4]:
                os.unlink(target)
                continue
            taken[name] = {**record, "path": Path(target)}
        return taken

    def holding(self, version: str, files: dict[str, str]) -> Optional[dict[str, dict[str, Any]]]:
        """When the kept version ``version`` holds exactly ``files`` (path -> sha256), proven:
        their records, each with its ``path`` there (a refresh that changed nothing logs that
        version again, and links nothing); else None."""
        if not is_version(version):
            return None
        folder = self.root / version
        found = self.record(version).holding(folder, files)
        if found is None:
            return None
        return {name: {**record, "path": folder / name} for name, record in found.items()}

    def keep_file(self, partial: Path, sha256: str, name: str) -> Path:
        """Keep the fetched ``partial`` as ``<version>/<name>``. When that file is already kept
        with the same bytes (proven, getdata/store/keep.py) it is left untouched and the partial
        dropped, so a run that references it still finds the same file; a link, or other bytes,
        standing there are replaced."""
        folder = self.version(sha256)
        kept = self.record(folder.name)
        target = folder / name
        if kept.holds_file(folder, name, sha256):
            partial.unlink()
            return target
        if os.path.lexists(folder) and not (folder.is_dir() and not folder.is_symlink()):
            _clear(folder)
        folder.mkdir(exist_ok=True)
        if os.path.lexists(target):
            _clear(target)
        os.replace(partial, target)
        kept.save(folder, {name: sha256}, merge=True)
        return target

    def keep_tree(
        self,
        sha256: str,
        files: dict[str, str],
        extra: Optional[dict[str, dict[str, Any]]] = None,
    ) -> Path:
        """Move the assembled tree (``files``: path -> sha256) into its version folder, or drop
        it when that folder already holds exactly those bytes (proven); return the folder. A
        folder there that holds anything else (an edit, a link, a file too many) is replaced.
        ``extra`` is recorded with each file (its md5, its description: keep.py)."""
        final = self.version(sha256)
        kept = self.record(final.name)
        if kept.holds_tree(final, files):
            _clear(self.staging)
            if extra:
                kept.save(final, files, extra=extra)
            return final
        if not self.staging.is_dir():  # the tree was that version (holding): it changed since
            raise GetDataError(
                f"{final}: changed on disk while this run was using it; nothing was logged: "
                "run again"
            )
        _clear(final)
        os.rename(self.staging, final)
        kept.save(final, files, extra=extra)
        return final


def _clear(path: Path) -> None:
    """Remove getdata's own ``path`` (a link goes, never what it points to)."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)
