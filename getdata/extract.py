"""Unpack a fetched archive into a new folder, refusing anything that could escape it or blow up.

Like ``fetch``: everything is written into a temporary folder beside ``dest`` and renamed to
``dest`` only when the whole archive unpacked cleanly, so a refusal, a corrupt archive or Ctrl-C
never leaves a half-unpacked folder where a good one is expected.

What is refused (an :class:`IntegrityError` naming the archive, the member and the reason):

* absolute names, ``..`` that escapes (or even just appears), backslashes, NUL bytes;
* every symlink and hard link, in-tree or not (see ``_tar_relative`` for why);
* devices, FIFOs and any other special file;
* encrypted zip members, duplicate names, a file where a folder is needed (and vice versa);
* more than ``max_files`` members, more than ``max_bytes`` unpacked, or more than ``max_ratio``
  unpacked bytes per archive byte -- checked on the sizes the archive declares before anything is
  written, and again on the bytes actually written while streaming;
* corrupt or truncated archives, including a tar that just stops between two members.

Tar members go through the standard library's own ``tarfile.data_filter`` (PEP 706), used to
detect and refuse rather than to silently rewrite; zipfile has no such filter (its ``extract``
quietly strips ``/`` and ``..``), so zip names are checked here. Members are never handed to
``extract``/``extractall``: only regular files are written, by us, in chunks, with ``O_EXCL``.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, NoReturn, Optional

from .errors import GetDataError, IntegrityError, explain
from .fetch import TEMP_PREFIX, TEMP_SUFFIX
from .formats.archives import archive_kind, archive_stem

# archive_kind and archive_stem live in the formats table; app.py and the tests import them here.
__all__ = ["Limits", "archive_kind", "archive_stem", "extract"]

# Bytes copied at a time: members are streamed, never held whole in memory.
CHUNK = 1 << 20
# Below this many unpacked bytes max_ratio does not apply: a 300-byte archive of 1 MB of blanks
# is "1000× compressed" but harmless, and small test fixtures look exactly like that.
RATIO_FLOOR = 1 << 20
# tarfile reads a pax or GNU long-name header whole into memory, at whatever size the archive
# declares; no honest header comes near this.
MAX_HEADER_READ = 16 << 20
# After a tar's end-of-archive marker only zero padding may follow (a record is 10 KiB); we read
# it so the decompressor verifies its checksum, and refuse anything else (e.g. a second,
# concatenated tar that tarfile would silently ignore).
MAX_TRAILER = 1 << 20

_TAR_TYPES = {
    tarfile.CHRTYPE: "character device",
    tarfile.BLKTYPE: "block device",
    tarfile.FIFOTYPE: "FIFO (named pipe)",
}

# Deflate's best case: no gzip file unpacks to more than this many bytes per byte.
_DEFLATE_MAX_RATIO = 1032

_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class Limits:
    max_files: int = 100_000  # members in the archive
    max_bytes: int = 50 * 2**30  # total uncompressed bytes written
    max_ratio: float = 1000.0  # uncompressed / compressed size of the archive file


def extract(
    archive: Path, dest: Path, limits: Optional[Limits] = None, name: Optional[str] = None
) -> list[Path]:
    """Unpack ``archive`` into the new folder ``dest``; the regular files written, relative, sorted.

    A single ``.gz`` file becomes ``dest/<its name without .gz>``. ``limits`` defaults to
    ``Limits()``. ``name`` is the archive's own name (its kind), when the file on disk is a
    partial with another name.
    """
    limits = limits or Limits()
    name = name or archive.name
    kind = archive_kind(name)
    if kind is None:
        raise GetDataError(
            f"{name}: not an archive getdata unpacks "
            "(.zip, .tar, .tar.gz/.tgz, .tar.bz2/.tbz2, .tar.xz/.txz, .gz)"
        )
    if dest.exists() or dest.is_symlink():
        raise GetDataError(f"{dest}: already exists; archives are unpacked into a new folder only")
    try:
        raw = archive.open("rb")
        size = os.fstat(raw.fileno()).st_size
    except OSError as exc:
        raise GetDataError(f"{name}: {explain(exc)}") from exc
    with raw:
        dest.parent.mkdir(parents=True, exist_ok=True)
        prefix = f"{TEMP_PREFIX}{dest.name}."
        tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=TEMP_SUFFIX, dir=dest.parent))
        try:
            job = _Job(name, kind, size, limits, tmp)
            if kind == "zip":
                _unzip(raw, job)
            elif kind == "gz":
                _gunzip(raw, job)
            else:
                _untar(raw, job)
            os.rename(tmp, dest)
        except BaseException:
            # Any failure, Ctrl-C and SIGTERM included: nothing half-unpacked stays behind.
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return sorted(job.written, key=lambda p: p.as_posix())


@dataclass
class _Job:
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


def _relative(job: _Job, member: str) -> Optional[PurePosixPath]:
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


# --------------------------------------------------------------------------------------------
# zip
# --------------------------------------------------------------------------------------------


def _unzip(raw: IO[bytes], job: _Job) -> None:
    with job.reading():
        zf = zipfile.ZipFile(raw)
    with zf:
        # The central directory lists everything up front: check it all before writing a byte.
        plan: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
        total = 0
        for info in zf.infolist():
            name = info.filename
            job.count(name)
            rel = _relative(job, name)
            # Unix file type in the high 16 bits. We would write a "symlink" as a small file
            # holding its target, harmless but wrong data: refuse it like the rest.
            ftype = stat.S_IFMT(info.external_attr >> 16)
            if ftype == stat.S_IFLNK:
                job.refuse(name, "is a symlink; links are not unpacked")
            if ftype not in (0, stat.S_IFREG, stat.S_IFDIR):
                job.refuse(name, f"is a special file (mode {ftype:#o})")
            if info.flag_bits & 0x1:
                job.refuse(name, "is encrypted")
            if rel is None:
                continue
            if info.is_dir():
                job.claim_dir(name, rel)
            else:
                job.claim_file(name, rel)
                total += info.file_size
                job.check_declared(name, total)
            plan.append((info, rel))
        for info, rel in plan:
            if info.is_dir():
                job.make_dir(info.filename, rel)
                continue
            # zipfile stops at the declared size and checks the CRC at the end of each member.
            with job.reading():
                src = zf.open(info)
            with src:
                job.write(info.filename, rel, src)


# --------------------------------------------------------------------------------------------
# single .gz file
# --------------------------------------------------------------------------------------------


def _gunzip(raw: IO[bytes], job: _Job) -> None:
    name = job.label[: -len(".gz")] or "data"
    job.count(name)
    rel = _relative(job, name)
    assert rel is not None  # a file name with no "/" in it
    job.claim_file(name, rel)
    if job.size >= 18:  # header (10) + trailer (8)
        # The trailer holds the unpacked size mod 2**32 (of the last member, if several): in a
        # sound file the real size is at least that, so a large one is refused before we
        # decompress. A truncated or foreign file ends in arbitrary bytes, though: trust the
        # number only from a gzip file and when deflate could produce it (at most ~1032:1), so
        # corruption is reported as such, by the decompressor, rather than as a bomb.
        magic = raw.read(2)
        raw.seek(-4, os.SEEK_END)
        isize = int.from_bytes(raw.read(4), "little")
        raw.seek(0)
        if magic == b"\x1f\x8b" and isize <= _DEFLATE_MAX_RATIO * job.size:
            job.check_declared(name, isize)
    with job.reading():
        src = gzip.GzipFile(fileobj=raw, mode="rb")
    with src:
        job.write(name, rel, src)


# --------------------------------------------------------------------------------------------
# tar
# --------------------------------------------------------------------------------------------


class _TarStream:
    """The uncompressed tar stream as tarfile reads it, with two additions.

    It remembers the last block read, so that afterwards we can tell a real end-of-archive
    marker (a zero block) from a truncated or damaged header: tarfile treats all three as "no
    more members". And it refuses single reads over MAX_HEADER_READ (see there).
    """

    def __init__(self, inner: IO[bytes], job: _Job) -> None:
        self.inner = inner
        self.job = job
        self.last = b""

    def read(self, size: Optional[int] = -1) -> bytes:
        if size is None or size < 0 or size > MAX_HEADER_READ:
            last = self.job.last_member
            where = f"after member {last!r}" if last is not None else "at the start"
            raise IntegrityError(
                f"{self.job.label}: refused: a tar header {where} asks to read {size} bytes at "
                "once (an oversized pax or long-name header)"
            )
        self.last = self.inner.read(size)
        return self.last

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self.inner.seek(offset, whence)

    def tell(self) -> int:
        return self.inner.tell()

    def seekable(self) -> bool:
        return True


def _untar(raw: IO[bytes], job: _Job) -> None:
    with ExitStack() as stack:
        with job.reading():
            stream = _TarStream(_decompressed(stack, job.kind, raw), job)
            # Member by member ("r:" on our stream), not getmembers() first: that would
            # decompress the whole archive twice. Declared sizes are still checked before each
            # member is written.
            tf = stack.enter_context(tarfile.open(fileobj=stream, mode="r:"))  # type: ignore[call-overload]
        total = 0
        while True:
            with job.reading():
                member = tf.next()
            if member is None:
                break
            job.count(member.name)
            rel = _tar_relative(job, member)
            if rel is None:
                continue
            if member.isdir():
                job.claim_dir(member.name, rel)
                job.make_dir(member.name, rel)
                continue
            job.claim_file(member.name, rel)
            total += member.size
            job.check_declared(member.name, total)
            with job.reading():
                src = tf.extractfile(member)
            assert src is not None  # a regular file
            with src:
                job.write(member.name, rel, src)
        _check_tar_end(stream, job)


def _decompressed(stack: ExitStack, kind: str, raw: IO[bytes]) -> IO[bytes]:
    """The uncompressed tar stream inside ``raw``, closed with ``stack``."""
    if kind == "tar.gz":
        return stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))  # type: ignore[arg-type]
    if kind == "tar.bz2":
        return stack.enter_context(bz2.BZ2File(raw))
    if kind == "tar.xz":
        return stack.enter_context(lzma.LZMAFile(raw))
    return raw


def _tar_relative(job: _Job, member: tarfile.TarInfo) -> Optional[PurePosixPath]:
    """Run the member past ``tarfile.data_filter``, turning anything it objects to into a refusal.

    All links are refused, in-tree ones too: data_filter judges a link by where it points
    *now*, so it is only sound while the folder holds no links at all (an earlier in-tree link
    can redirect a later member); a W&B folder artifact stores files, not links; and datasets
    rarely contain any. Never creating a link keeps every check here exact.
    """
    name = member.name
    link = "hard link" if member.islnk() else "symlink"
    filter_ = getattr(tarfile, "data_filter", None)  # Python 3.10.12+/3.11.4+
    if filter_ is not None:
        try:
            # Only to detect: what it returns (e.g. "/etc/passwd" quietly made relative) is
            # dropped; the name checks below refuse what it would have rewritten.
            filter_(member, str(job.root))
        except tarfile.AbsolutePathError:
            job.refuse(name, "has an absolute path")
        except tarfile.OutsideDestinationError:
            job.refuse(name, "would escape the target folder")
        except tarfile.SpecialFileError:
            job.refuse(
                name, f"is a {_special(member)}; only regular files and folders are unpacked"
            )
        except tarfile.AbsoluteLinkError:
            job.refuse(name, f"is a {link} to the absolute path {member.linkname!r}")
        except tarfile.LinkOutsideDestinationError:
            job.refuse(name, f"is a {link} to {member.linkname!r}, outside the target folder")
        except tarfile.FilterError as exc:  # a check added in a later Python
            job.refuse(name, f"was refused by tarfile's data filter: {exc}")
    rel = _relative(job, name)
    if member.issym() or member.islnk():
        job.refuse(name, f"is a {link} to {member.linkname!r}; links are not unpacked")
    if not (member.isreg() or member.isdir()):
        job.refuse(name, f"is a {_special(member)}; only regular files and folders are unpacked")
    return rel


def _special(member: tarfile.TarInfo) -> str:
    return _TAR_TYPES.get(member.type, f"special file (tar type {member.type!r})")


def _check_tar_end(stream: _TarStream, job: _Job) -> None:
    """Refuse a tar that stops without its end marker, or has more than padding after it."""
    if stream.last != tarfile.NUL * tarfile.BLOCKSIZE:
        if len(stream.last) < tarfile.BLOCKSIZE:
            raise job.corrupt(
                f"it ends after member {job.last_member!r} without an end-of-archive marker "
                "(truncated?)"
            )
        raise job.corrupt(f"damaged header after member {job.last_member!r}")
    left = MAX_TRAILER
    while True:
        with job.reading():
            chunk = stream.inner.read(min(CHUNK, left + 1))
        if not chunk:
            return
        left -= len(chunk)
        if left < 0 or chunk.count(0) != len(chunk):
            raise job.corrupt(
                "data after the end-of-archive marker (concatenated archives are not supported)"
            )
