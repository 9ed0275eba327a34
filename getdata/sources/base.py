"""What every source kind shares: what a source says about an object (:class:`SourceInfo`), an
open stream (:class:`Opened`), and :class:`Source`, a file (or folder, prefix, glob) read through
an fsspec filesystem. The kinds (http.py, s3.py, local.py, any_url.py) refine it.
"""

from __future__ import annotations

import copy
import re
import stat as stat_mode
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

from fsspec.spec import AbstractFileSystem

from ..errors import IsAFolder, SourceError
from ..names import printable, safe_name, safe_relname

GLOB_MAGIC = re.compile(r"[*?\[]")


@dataclass
class SourceInfo:
    """What the source says about the object before we read it (all optional)."""

    size: Optional[int] = None
    etag: Optional[str] = None
    last_modified: Optional[str] = None
    version_id: Optional[str] = None
    content_type: Optional[str] = None
    # A Content-Encoding the server applied although we asked for identity: the bytes are kept
    # as sent (what `curl` without --compressed keeps), and this says what they are.
    content_encoding: Optional[str] = None

    def as_metadata(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    def validator(self) -> Optional[str]:
        """What identifies this version for a resume: a strong ETag, else Last-Modified."""
        if self.etag and not self.etag.startswith("W/"):
            return self.etag
        return self.last_modified


@dataclass
class Opened:
    """An open byte stream, what the source said about it, and where in the object it starts."""

    # A binary file-like object: read(n), close(), usable in a with-statement.
    stream: Any
    info: SourceInfo
    # The offset the stream starts at: the one asked for, or 0 when the source could not resume.
    start: int = 0
    # For network streams: the coroutine read(n) under ``stream`` and the event loop it runs on,
    # so the copy can run as one coroutine there instead of a thread hand-off per read.
    aread: Optional[Callable[[int], Awaitable[bytes]]] = None
    loop: Any = None
    # The server said it serves byte ranges of this object (Accept-Ranges: bytes; S3 always).
    ranges: bool = False


@dataclass
class Source:
    """One object to read: the filesystem, the path it knows it by, and how to open it."""

    # The URL as configured, credentials included: never log it, log `display` instead.
    url: str
    display: str
    kind: str
    fs: AbstractFileSystem
    path: str
    # File name for the artifact entry: the URL's basename, query and fragment removed. For a
    # member of a folder source: its path relative to the folder (checked: no '..', no '/...').
    basename: str
    info_kwargs: dict[str, Any] = field(default_factory=dict)
    # What a listing already said about this file (members of a directory source).
    listed: Optional[SourceInfo] = None
    # Keys of a listing that are no files (empty "folder" keys), as the metadata lists them.
    skipped: list[str] = field(default_factory=list)

    def members(self) -> Optional[list[Source]]:
        """The files of a directory, prefix or glob source, named by their path relative to it;
        None when the source is one file.

        An existing path is taken literally, even with ``[``, ``*`` or ``?`` in its name; only a
        path that does not exist as such and has one of them is a glob. A path that ends in
        ``/`` is a folder (or prefix).
        """
        # A trailing '/' names a folder: no need to ask (on S3, asking lists the prefix twice).
        if self.path.endswith("/") or self.fs.isdir(self.path):
            return self.folder()
        if GLOB_MAGIC.search(self.path) and not self.fs.exists(self.path):
            magic = GLOB_MAGIC.search(self.path)
            assert magic is not None
            # The folder part before the first wildcard is what names are relative to, and
            # what the artifact is named after: data/*.csv -> data.
            root = self.path[: magic.start()].rsplit("/", 1)[0]
            found = self.fs.glob(self.path, detail=True)
            self.basename = basename_of(self.path)
            return self._listed(found, root)
        return None

    def folder(self) -> list[Source]:
        """The files below the source's path, taken as a folder (or prefix)."""
        root = self.path.rstrip("/")
        return self._listed(self.fs.find(root + "/", detail=True, withdirs=False), root)

    def _listed(self, found: dict[str, Any], root: str) -> list[Source]:
        members = []
        for path in sorted(found):
            info = found[path]
            kind = info.get("type")
            if kind == "directory":
                continue
            if path.endswith("/") and not info.get("size"):
                # An empty "folder" key (what the S3 console's "Create folder" makes): no data.
                self.skipped.append(path[len(root) + 1 :] if path.startswith(root) else path)
                continue
            shown = self.fs.unstrip_protocol(path)
            if kind != "file":
                raise SourceError(
                    f"{printable(shown)}: is a {kind or 'special file'}, not a regular file; "
                    "a folder is logged whole or not at all"
                )
            members.append(self._member(path, relative_to_root(path, root, shown), info, shown))
        if not members:
            raise SourceError(f"{self.display}: no files there")
        return members

    def _member(self, path: str, rel: str, info: dict[str, Any], shown: str) -> Source:
        # A copy with four fields changed: what replace() gives, without running __init__ over
        # every field (a prefix of 10,000 objects made 10,000 of them).
        member = copy.copy(self)
        member.path = path
        member.display = printable(shown)
        member.basename = rel
        member.listed = normalise_info(info)
        member.skipped = []
        return member

    def stat(self) -> SourceInfo:
        info = self.fs.info(self.path, **self.info_kwargs)
        if info.get("type") == "directory":
            raise IsAFolder(f"{self.display}: is a directory, not a file")
        return normalise_info(info)

    def reference(self) -> tuple[str, dict[str, str]]:
        """For ``artifact.mode=reference``: the URI W&B records, and the environment its
        reference handler needs to reach it. Only kinds W&B can check without the bytes have one."""
        raise SourceError(f"{self.display}: artifact.mode=reference needs an http(s) or s3 source")

    def open(self, start: int = 0, validator: Optional[str] = None) -> Opened:
        """Open for sequential reading from byte ``start`` (0 unless resuming).

        ``validator`` is the ETag the bytes before ``start`` came from; a source that can tell
        restarts from 0 when the object has changed since, instead of splicing two versions.
        """
        info = self.stat()
        if start and (validator is None or info.validator() != validator):
            start = 0  # changed since, or no way to tell: never splice two versions
        stream = self.fs.open(self.path, "rb")
        if start:
            stream.seek(start)
        return Opened(stream=stream, info=info, start=start)


def relative_to_root(path: str, root: str, shown: str) -> str:
    """A listed path relative to the folder it was listed in, checked to stay inside it.

    Taken as the text after the folder (not normalised): an S3 key such as ``p/../../x.csv`` is
    refused rather than turned into a path above the data folder.
    """
    prefix = f"{root}/" if root else ""
    if not path.startswith(prefix):
        raise SourceError(f"{printable(shown)}: listed outside {root!r}; refused")
    return safe_relname(path[len(prefix) :], "the listed name")


def special_kind(mode: int) -> str:
    if stat_mode.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat_mode.S_ISSOCK(mode):
        return "a socket"
    if stat_mode.S_ISCHR(mode) or stat_mode.S_ISBLK(mode):
        return "a device"
    return "a special file"


def basename_of(path: str, literal: bool = False) -> str:
    """The file name a path or key is logged under (a glob: the folder it matches in)."""
    path = path.rstrip("/")
    magic = None if literal else GLOB_MAGIC.search(path)
    if magic:
        # A glob is named after the folder it matches in: data/*.csv -> data
        path = path[: magic.start()].rsplit("/", 1)[0]
    name = path.rsplit("/", 1)[-1] or "data"
    return safe_name(name, "the source's file name")


def normalise_info(info: dict[str, Any]) -> SourceInfo:
    """fsspec's info() differs per filesystem; keep what a reader of the artifact cares about."""

    def first(*keys: str) -> Any:
        for key in keys:
            if info.get(key) not in (None, ""):
                return info[key]
        return None

    modified = first("Last-Modified", "LastModified", "last_modified", "mtime", "updated")
    if isinstance(modified, datetime):
        modified = modified.isoformat()
    elif isinstance(modified, (int, float)):
        modified = datetime.fromtimestamp(modified).astimezone().isoformat()
    size = first("size", "Size", "ContentLength")
    return SourceInfo(
        size=int(size) if size is not None else None,
        etag=first("ETag", "etag"),
        last_modified=str(modified) if modified is not None else None,
        version_id=first("VersionId", "version_id", "generation"),
        content_type=first("mimetype", "ContentType", "content_type"),
    )
