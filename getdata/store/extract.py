"""Unpack a fetched archive into a new folder, refusing anything that could escape it or blow up.

Like ``fetch``: everything is written into a temporary folder beside ``dest`` and renamed to
``dest`` only when the whole archive unpacked cleanly, so a refusal, a corrupt archive or Ctrl-C
never leaves a half-unpacked folder where a good one is expected.

What is refused (an :class:`IntegrityError` naming the archive, the member and the reason):

* absolute names, ``..`` that escapes (or even just appears), backslashes, NUL bytes;
* every symlink and hard link, in-tree or not (see getdata/store/untar.py for why);
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

import gzip
import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO, Optional

from ..errors import GetDataError, explain
from ..formats.archives import archive_kind, archive_stem
from .unpack import Job, Limits, member_path
from .untar import untar
from .workspace import TEMP_PREFIX, TEMP_SUFFIX

# archive_kind and archive_stem live in the formats table; the pipeline and the tests take them
# from here.
__all__ = ["Limits", "archive_kind", "archive_stem", "extract"]

# Deflate's best case: no gzip file unpacks to more than this many bytes per byte.
_DEFLATE_MAX_RATIO = 1032


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
            job = Job(name, kind, size, limits, tmp)
            if kind == "zip":
                _unzip(raw, job)
            elif kind == "gz":
                _gunzip(raw, job)
            else:
                untar(raw, job)
            os.rename(tmp, dest)
        except BaseException:
            # Any failure, Ctrl-C and SIGTERM included: nothing half-unpacked stays behind.
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return sorted(job.written, key=lambda p: p.as_posix())


# --------------------------------------------------------------------------------------------
# zip
# --------------------------------------------------------------------------------------------


def _unzip(raw: IO[bytes], job: Job) -> None:
    with job.reading():
        zf = zipfile.ZipFile(raw)
    with zf:
        # The central directory lists everything up front: check it all before writing a byte.
        plan: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
        total = 0
        for info in zf.infolist():
            name = info.filename
            job.count(name)
            rel = member_path(job, name)
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


def _gunzip(raw: IO[bytes], job: Job) -> None:
    name = job.label[: -len(".gz")] or "data"
    job.count(name)
    rel = member_path(job, name)
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
