"""The versions getdata logged of each artifact, as it counted them: what ``getdata use`` resolves
without W&B (``latest``, ``v0``, ``v1``, … and the aliases given with ``artifact.aliases``), and
what ``getdata gc`` keeps.

One record per artifact folder, ``<data dir>/<artifact>/.getdata-versions.json``, written whole
by rename (getdata/store/records.py) and changed only by a run that holds the artifact folder's
lock (getdata/store/workspace.py), so parallel jobs of a sweep never lose each other's versions.

Versions are numbered like W&B numbers them: a new content (sha256) is the next ``vN``; logging a
content again is the same version, now ``latest`` again. An alias is on one version at a time:
given to a version, it leaves the one that had it. The numbers are this data folder's count: they
match W&B's when every version of the artifact in the W&B project was logged from here.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from ..errors import GetDataError
from ..names import printable
from .records import read_json, write_json
from .workspace import inside, is_version

RECORD = ".getdata-versions.json"
# The lock file of an artifact folder (getdata/store/workspace.py takes the same).
LOCK_FILE = ".getdata.lock"
_VERSION_NAME = re.compile(r"^v(0|[1-9][0-9]*)$")


class UnknownVersion(GetDataError):
    """A reference to a version getdata has no record of (or no files for)."""


@dataclass
class Version:
    """One logged version: where its files are (relative to the artifact folder: the file, or
    the folder of a folder artifact), and the runs that logged it."""

    version: str
    sha256: str
    path: str
    folder: bool
    size: int
    aliases: list[str] = field(default_factory=list)
    logged_at: str = ""
    # The order of the last logging of each version (1, 2, ...; the highest is latest's).
    order: int = 0
    # {"mode": "online" | "offline", "run_id", "location" (run page or run folder), "at"}
    runs: list[dict[str, str]] = field(default_factory=list)
    # When getdata gc removed its files ("" while they are kept).
    removed: str = ""

    @property
    def kept_in(self) -> str:
        """The name of the folder its files are kept in (``<sha256[:16]>``)."""
        return self.path.split("/", 1)[0]


class Versions:
    """The record of the versions of one artifact in one data folder."""

    def __init__(self, data_dir: Path, artifact: str) -> None:
        self.artifact = artifact
        self.root = inside(data_dir, artifact)
        self.path = self.root / RECORD

    def load(self) -> tuple[list[Version], Optional[str]]:
        """The versions, oldest first, and the name of the latest (None: nothing recorded)."""
        found = read_json(self.path, "the record of logged versions", _valid)
        if found is None:
            return [], None
        versions = [Version(**item) for item in found["versions"]]
        return versions, found.get("latest")

    def logged(
        self,
        sha256: str,
        path: str,
        folder: bool,
        size: int,
        aliases: list[str],
        run: dict[str, str],
        keep_run: Callable[[dict[str, str]], bool] = lambda run: True,
    ) -> Version:
        """Record that ``run`` logged the content ``sha256`` (kept at ``path``, relative to the
        artifact folder) with ``aliases``; returns its version. The caller holds the artifact
        folder's lock. Runs of the version for which ``keep_run`` is False (synced, gone) are
        dropped from the record, so it grows only with runs that still matter."""
        versions, _ = self.load()
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        this = next((v for v in versions if v.sha256 == sha256), None)
        if this is None:
            this = Version(f"v{len(versions)}", sha256, path, folder, size)
            versions.append(this)
        this.path, this.folder, this.size, this.removed = path, folder, size, ""
        this.logged_at, this.order = now, max(v.order for v in versions) + 1
        for other in versions:
            if other is not this:
                other.aliases = [a for a in other.aliases if a not in aliases]
        this.aliases = list(dict.fromkeys([*this.aliases, *aliases]))
        this.runs = [r for r in this.runs if keep_run(r)] + [{**run, "at": now}]
        self._save(versions, this.version)
        return this

    def resolve(self, tag: str) -> Version:
        """The version ``tag`` names: ``latest``, ``vN`` or an alias."""
        versions, latest = self.load()
        if not versions:
            raise UnknownVersion(
                f"{printable(self.artifact)}: getdata has logged no version of it in "
                f"{self.root.parent.resolve()}"
            )
        wanted = latest if tag == "latest" else tag
        found = next(
            (
                v
                for v in versions
                if v.version == wanted or (not _VERSION_NAME.match(tag) and tag in v.aliases)
            ),
            None,
        )
        if found is None:
            known = ["latest", *(v.version for v in versions)]
            known += sorted({a for v in versions for a in v.aliases})
            raise UnknownVersion(
                f"{printable(self.artifact)}:{printable(tag)}: no such version or alias in "
                f"{self.root.resolve()} (known: {', '.join(known)})"
            )
        return found

    def files(self, version: Version) -> Path:
        """Where the files of ``version`` are: the file, or the folder of a folder artifact;
        checked to be there, of the kind and size recorded (an absolute path)."""
        name = f"{printable(self.artifact)}:{version.version}"
        if version.removed:
            raise UnknownVersion(
                f"{name}: its files were removed by getdata gc on {version.removed[:10]}: "
                "fetch it again"
            )
        path = inside(self.root, version.path).absolute()
        if version.folder:
            present = path.is_dir() and not path.is_symlink()
        else:
            present = path.is_file() and not path.is_symlink() and _size(path) == version.size
        if not present:
            raise UnknownVersion(
                f"{name}: its files are no longer as getdata kept them in {path}: fetch it again"
            )
        return path

    def mark_removed(self, folders: set[str]) -> None:
        """Note that the files kept in ``folders`` were removed (the caller holds the lock)."""
        versions, latest = self.load()
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        for v in versions:
            if v.kept_in in folders and not v.removed:
                v.removed = now
        if versions:
            self._save(versions, latest)

    def _save(self, versions: list[Version], latest: Optional[str]) -> None:
        write_json(
            self.path,
            {
                "artifact": self.artifact,
                "latest": latest,
                "versions": [v.__dict__ for v in versions],
            },
        )


@contextmanager
def locked(artifact_root: Path) -> Iterator[bool]:
    """Hold the artifact folder's lock (the one a run holds while it fetches, logs and records:
    getdata/store/workspace.py) if it is free: yields False, without waiting, when a run has
    it. The lock file is never followed through a link."""
    lock_path = artifact_root / LOCK_FILE
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        # A run that ended between our open and our lock may have removed the file (and the
        # folder): the lock we hold is then on a file nobody else opens; say busy, and the next
        # gc sees the folder as it is.
        try:
            same = os.path.samestat(os.fstat(fd), os.lstat(lock_path))
        except OSError:
            same = False
        yield same
    finally:
        os.close(fd)


def version_folders(root: Path) -> list[str]:
    """The folders of kept versions in an artifact folder (``<sha256[:16]>``, never a link)."""
    try:
        entries = list(root.iterdir())
    except OSError:
        return []
    return sorted(
        p.name for p in entries if is_version(p.name) and p.is_dir() and not p.is_symlink()
    )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


def _valid(record: Any) -> bool:
    versions = record["versions"]
    return (
        isinstance(versions, list)
        and (record.get("latest") is None or isinstance(record["latest"], str))
        and all(_valid_version(v) for v in versions)
    )


def _valid_version(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and set(item) == set(Version.__dataclass_fields__)
        and all(isinstance(item[k], str) for k in ("version", "sha256", "path", "logged_at"))
        and isinstance(item["removed"], str)
        and _VERSION_NAME.match(item["version"]) is not None
        and isinstance(item["folder"], bool)
        and isinstance(item["size"], int)
        and isinstance(item["order"], int)
        and isinstance(item["aliases"], list)
        and all(isinstance(a, str) for a in item["aliases"])
        and isinstance(item["runs"], list)
        and all(
            isinstance(r, dict) and all(isinstance(x, str) for x in r.values())
            for r in item["runs"]
        )
    )
