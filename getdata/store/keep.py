"""Whether what is already kept is what it claims to be: reuse only what is proven.

A kept version is reused (a fetch of the same content, a refresh that keeps a file) only when
its bytes are proven the same: a regular file, never a link, whose sha256 is the expected one.
Re-hashing proves it; cheaper, a record written when the file was kept holds the file's identity
and its last change (device, inode, size, mtime, ctime): an edit in place changes ctime (a user
cannot set it back), a replacement changes the inode, so a record that still matches is as good
as a re-hash. When it does not match, the file is hashed again.

A record may also hold, per file, what else is known of those bytes (their md5, their
description): a refresh that takes a file from an earlier version (getdata/store/workspace.py,
``reuse``) takes them too, once the bytes are proven.

The records are ``<artifact folder>/.getdata-kept/<version>.json``, written whole by rename.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path
from typing import Any, Optional

from .records import read_json, write_json

# The folder, in an artifact's folder, that holds the record of each kept version.
RECORDS = ".getdata-kept"


def identity(path: Path | str) -> Optional[list[int]]:
    """What changes when a file is edited in place or replaced; None for what is not a
    regular file (a link is never followed)."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def sha256_of(path: Path) -> Optional[str]:
    """The sha256 of a regular file (a link is never followed), None when it is not one."""
    hashes = hashes_of(path)
    return hashes[0] if hashes else None


def hashes_of(path: Path | str) -> Optional[tuple[str, str]]:
    """The sha256 and md5 of a regular file (a link is never followed), None when it is not
    one."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        sha256, md5 = hashlib.sha256(), hashlib.md5()
        while block := os.read(fd, 4 * 2**20):
            sha256.update(block)
            md5.update(block)
        return sha256.hexdigest(), md5.hexdigest()
    finally:
        os.close(fd)


def listing_digest(files: dict[str, str]) -> str:
    """A tree's digest (what names its version folder): the sha256 of its sorted
    "<sha256>  <path>" lines, as ``sha256sum`` prints them."""
    listing = "".join(f"{files[name]}  {name}\n" for name in sorted(files))
    return hashlib.sha256(listing.encode()).hexdigest()


class Kept:
    """The record of one kept version: for each file (its path in the version), its sha256 and
    its identity when it was kept."""

    def __init__(self, artifact_root: Path, version: str) -> None:
        self.path = artifact_root / RECORDS / f"{version}.json"
        # The record as this object last read or wrote it (a tree's is one line per file).
        self.known: Optional[dict[str, Any]] = None

    def load(self) -> dict[str, Any]:
        if self.known is None:
            found = read_json(self.path, "the record of a kept version", _valid)
            self.known = found["files"] if found else {}
        return dict(self.known)

    def _write(self, record: dict[str, Any]) -> None:
        # Compact: a tree's record has a line per file, and it is written at every keep.
        write_json(self.path, {"files": record}, indent=None)
        self.known = record

    def save(
        self,
        folder: Path,
        files: dict[str, str],
        merge: bool = False,
        extra: Optional[dict[str, dict[str, Any]]] = None,
    ) -> None:
        """Record ``files`` (path in the version -> sha256) as kept in ``folder`` now (with
        ``merge``, beside the files already recorded), with what ``extra`` knows of each (its
        md5, its description)."""
        record = self.load() if merge else {}
        extra = extra or {}
        base = str(folder)
        record.update(
            {
                name: {
                    **extra.get(name, {}),
                    "sha256": sha,
                    "identity": identity(os.path.join(base, name)),
                }
                for name, sha in files.items()
            }
        )
        self._write(record)

    def holds_file(self, folder: Path, name: str, sha256: str) -> bool:
        """``folder/name`` is a regular file (not a link, in a real folder) with those bytes."""
        return _real_folder(folder) and self._proven(folder, {name: sha256})

    def holds_tree(self, folder: Path, files: dict[str, str]) -> bool:
        """``folder`` holds exactly ``files`` (path -> sha256), as regular files with those
        bytes, and nothing else (no other file, no link)."""
        return (
            _real_folder(folder)
            and set(_listing(folder)) == set(files)
            and self._proven(folder, files)
        )

    def holding(self, folder: Path, files: dict[str, str]) -> Optional[dict[str, dict[str, Any]]]:
        """The records (md5 included) of ``files`` (path -> sha256) when ``folder`` holds
        exactly them, proven, and nothing else; else None."""
        if not _real_folder(folder) or set(_listing(folder)) != set(files):
            return None
        found = self.proven(folder, files, md5=True)
        return found if len(found) == len(files) else None

    def _proven(self, folder: Path, files: dict[str, str]) -> bool:
        """Each of ``files`` has its bytes."""
        return len(self.proven(folder, files)) == len(files)

    def proven(
        self, folder: Path, files: dict[str, str], md5: bool = False
    ) -> dict[str, dict[str, Any]]:
        """Those of ``files`` (path in ``folder`` -> sha256) that are regular files with those
        bytes, with their records (sha256, identity, and what else is known: with ``md5``, the
        md5 always). Proven by the record when it still matches the file, else by hashing it
        again, with the file's identity the same before and after (then the record is brought
        up to date)."""
        if not _real_folder(folder):
            return {}
        record = self.load()
        found: dict[str, dict[str, Any]] = {}
        stale: dict[str, dict[str, Any]] = {}
        base = str(folder)
        for name, sha in files.items():
            known = record.get(name) or {}
            now = identity(os.path.join(base, name))
            if now is None:
                continue
            recorded = known.get("sha256") == sha and known.get("identity") == now
            if recorded and (not md5 or isinstance(known.get("md5"), str)):
                found[name] = known
                continue
            path = os.path.join(base, name)
            hashes = hashes_of(path)
            if hashes is None or hashes[0] != sha or identity(path) != now:
                continue
            # What was known of other bytes under this name is not known of these.
            kept = known if known.get("sha256") == sha else {}
            found[name] = stale[name] = {**kept, "sha256": sha, "md5": hashes[1], "identity": now}
        if stale:
            record.update(stale)
            self._write(record)
        return found

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def forget(artifact_root: Path, version: str) -> None:
    """Remove the kept version ``version``: its folder and its record. A later version that a
    refresh made shares files with it as hard links, whose ctime changes when this version's
    names go: the records of those files follow (same file, size and last write), so that
    proving them again needs no hashing."""
    folder = artifact_root / version
    shared = set()
    for here, _, names in os.walk(folder, followlinks=False):
        for name in names:
            try:
                st = os.lstat(os.path.join(here, name))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                shared.add((st.st_dev, st.st_ino))
    shutil.rmtree(folder)
    Kept(artifact_root, version).remove()
    if not shared:
        return
    for path in sorted((artifact_root / RECORDS).glob("*.json")):
        other = Kept(artifact_root, path.stem)
        record = other.load()
        moved = {}
        for name, entry in record.items():
            known = entry.get("identity")
            if not isinstance(known, list) or tuple(known[:2]) not in shared:
                continue
            now = identity(artifact_root / path.stem / name)
            if now is not None and now[:4] == known[:4]:
                moved[name] = {**entry, "identity": now}
        if moved:
            record.update(moved)
            other._write(record)


def _real_folder(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _listing(folder: Path) -> list[str]:
    """Every entry below ``folder`` that is not a folder, as relative POSIX paths (links and
    special files included, so that they disqualify the folder)."""
    found = []
    for here, dirs, names in os.walk(folder, followlinks=False):
        rel = Path(here).relative_to(folder)
        for name in names + [d for d in dirs if os.path.islink(os.path.join(here, d))]:
            path = (rel / name).as_posix()
            found.append(path if not os.path.islink(os.path.join(here, name)) else f"{path}@")
    return found


def _valid(record: Any) -> bool:
    files = record.get("files") if isinstance(record, dict) else None
    return isinstance(files, dict) and all(
        isinstance(k, str) and isinstance(v, dict) and isinstance(v.get("sha256"), str)
        for k, v in files.items()
    )
