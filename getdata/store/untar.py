"""Tar archives (plain, .gz, .bz2, .xz), member by member, each run past the standard library's
``tarfile.data_filter`` (PEP 706) to detect and refuse, never to silently rewrite."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import tarfile
from contextlib import ExitStack
from pathlib import PurePosixPath
from typing import IO, Optional

from ..errors import IntegrityError
from .unpack import CHUNK, Job, member_path

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


class _TarStream:
    """The uncompressed tar stream as tarfile reads it, with two additions.

    It remembers the last block read, so that afterwards we can tell a real end-of-archive
    marker (a zero block) from a truncated or damaged header: tarfile treats all three as "no
    more members". And it refuses single reads over MAX_HEADER_READ (see there).
    """

    def __init__(self, inner: IO[bytes], job: Job) -> None:
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


def untar(raw: IO[bytes], job: Job) -> None:
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
            rel = _tarmember_path(job, member)
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


def _tarmember_path(job: Job, member: tarfile.TarInfo) -> Optional[PurePosixPath]:
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
    rel = member_path(job, name)
    if member.issym() or member.islnk():
        job.refuse(name, f"is a {link} to {member.linkname!r}; links are not unpacked")
    if not (member.isreg() or member.isdir()):
        job.refuse(name, f"is a {_special(member)}; only regular files and folders are unpacked")
    return rel


def _special(member: tarfile.TarInfo) -> str:
    return _TAR_TYPES.get(member.type, f"special file (tar type {member.type!r})")


def _check_tar_end(stream: _TarStream, job: Job) -> None:
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
