"""One archive being unpacked: the limits it must stay within, the names its members may have,
and the only code that writes a member (regular files, in chunks, never over anything).

Shared by getdata/store/extract.py (zip, single .gz) and getdata/store/untar.py (tar).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, NoReturn, Optional

from ..errors import GetDataError, IntegrityError

# Bytes copied at a time: members are streamed, never held whole in memory.
CHUNK = 1 << 20
# Below this many unpacked bytes max_ratio does not apply: a 300-byte archive of 1 MB of blanks
# is "1000× compressed" but harmless, and small test fixtures look exactly like that.
RATIO_FLOOR = 1 << 20

_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class Limits:
    max_files: int = 100_000  # members in the archive
    max_bytes: int = 50 * 2**30  # total uncompressed bytes written
    max_ratio: float = 1000.0  # uncompressed / compressed size of the archive file


@dataclass
class Job:
    """One archive being unpacked: where, within what limits, and what has been written so far."""

    label: str  # the archive's file name, for messages
    kind: str
    size: int  # of the archive file, for max_ratio
    limits: Limits
    root: Path
    members: int = 0
    unpacked: int = 0  # bytes actually written
    last_member: Optional[str] = None
    files: set[PurePosixPath] = field(default_factory=set)
    dirs: set[PurePosixPath] = field(default_factory=set)
    written: list[Path] = field(default_factory=list)

    def refuse(self, member: str, reason: str) -> NoReturn:
        raise IntegrityError(f"{self.label}: refused: member {member!r} {reason}")

    def corrupt(self, reason: str) -> IntegrityError:
        what = "gzip file" if self.kind == "gz" else f"{self.kind} archive"
        return IntegrityError(f"{self.label}: not a valid {what}: {reason}")

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Whatever goes wrong while the archive library reads is the archive's fault.

        Only reads happen in here (never our writes), so an OSError from, say, bz2's "Invalid
        data stream" means a bad archive and a full disk is not mistaken for one.
        """
        try:
            yield
        except GetDataError:
            raise
        except Exception as exc:
            text = str(exc).strip()
            reason = text.splitlines()[0][:200] if text else type(exc).__name__
            raise self.corrupt(reason) from exc

    def count(self, member: str) -> None:
        self.members += 1
        self.last_member = member
        if self.members > self.limits.max_files:
            limit = self.limits.max_files
            self.refuse(
                member, f"is member {self.members}, over the extract.max_files limit of {limit}"
            )

    def _over(self, total: int) -> Optional[str]:
        """Which limit ``total`` unpacked bytes exceed, or None."""
        if total > self.limits.max_bytes:
            return f"the extract.max_bytes limit of {self.limits.max_bytes} bytes"
        ratio_cap = max(self.limits.max_ratio * self.size, RATIO_FLOOR)
        if total > ratio_cap:
            return (
                f"the extract.max_ratio={self.limits.max_ratio:g} limit of {ratio_cap:.0f} bytes "
                f"for this {self.size}-byte archive (a decompression bomb?)"
            )
        return None

    def check_declared(self, member: str, total: int) -> None:
        """Fail early, before writing, on the sizes the archive claims (running total so far)."""
        limit = self._over(total)
        if limit:
            self.refuse(member, f"brings the declared unpacked size to {total} bytes, over {limit}")

    def charge(self, member: str, n: int) -> None:
        """Count bytes as they are written: headers may lie, the bytes do not."""
        limit = self._over(self.unpacked + n)
        if limit:
            self.refuse(member, f"unpacks to more than {limit}")
        self.unpacked += n

    def claim_dir(self, member: str, rel: PurePosixPath) -> None:
        for folder in (rel, *rel.parents[:-1]):
            if folder in self.files:
                self.refuse(member, f"needs a folder at {folder.as_posix()!r}, already a file")
            self.dirs.add(folder)

    def claim_file(self, member: str, rel: PurePosixPath) -> None:
        if rel in self.files:
            self.refuse(member, "would overwrite an earlier member of the same name")
        if rel in self.dirs:
            self.refuse(member, "would overwrite a folder of the same name")
        if rel.parent != PurePosixPath("."):
            self.claim_dir(member, rel.parent)
        self.files.add(rel)

    def write(self, member: str, rel: PurePosixPath, src: IO[bytes] | gzip.GzipFile) -> None:
        """Stream ``src`` into ``root/rel``, chunk by chunk, within the byte limits."""
        path = self.root.joinpath(*rel.parts)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # "x" (O_CREAT|O_EXCL): never overwrite, never write through anything already there.
            out = path.open("xb")
        except (FileExistsError, NotADirectoryError):
            # The name checks above make this a case-insensitive file system's collision.
            self.refuse(member, "collides with another member's path on this file system")
        with out:
            while True:
                with self.reading():
                    chunk = src.read(CHUNK)
                if not chunk:
                    break
                self.charge(member, len(chunk))
                out.write(chunk)
        self.written.append(Path(*rel.parts))

    def make_dir(self, member: str, rel: PurePosixPath) -> None:
        try:
            self.root.joinpath(*rel.parts).mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            self.refuse(member, "collides with another member's path on this file system")


def member_path(job: Job, member: str) -> Optional[PurePosixPath]:
    """The member's path inside the target folder (None for the folder itself), or refuse."""
    if "\x00" in member:
        job.refuse(member, "has a NUL byte in its name")
    if "\\" in member:
        # A separator on Windows: "..\\x" is harmless here but not where the artifact is used.
        job.refuse(member, "has a backslash in its name")
    if member.startswith("/") or _DRIVE.match(member):
        job.refuse(member, "has an absolute path")
    parts = [part for part in member.split("/") if part not in ("", ".")]
    depth = 0
    for part in parts:
        depth += -1 if part == ".." else 1
        if depth < 0:
            job.refuse(member, "would escape the target folder")
    if ".." in parts:
        # "a/../b" stays inside, but no honest archive needs it and it hides duplicates.
        job.refuse(member, "has '..' in its path")
    return PurePosixPath(*parts) if parts else None
