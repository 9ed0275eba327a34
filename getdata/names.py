"""Names that come from outside (config, URLs, S3 keys, listings) checked before they become paths.

A name is data, never a path: it may only ever name a file *inside* the folder getdata writes to.
Checked before the first byte is fetched, so a hostile name fails the run with one line and
nothing is written anywhere.
"""

from __future__ import annotations

import unicodedata
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from .errors import GetDataError

# Longest file name most filesystems take (ext4, xfs, apfs: 255 bytes) and longest relative path
# we accept for a member of a folder (Linux's PATH_MAX is 4096 for the whole path).
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 1024


class UnsafeNameError(GetDataError):
    """A name from the config or the source that must not become a path."""


def part_problem(part: str) -> str | None:
    """What makes ``part`` unusable as one file or folder name (None: nothing)."""
    if part in ("", ".", ".."):
        return "an empty, '.' or '..' path part"
    if "\\" in part:
        return "a backslash"
    # isprintable() is False for every Cc, Cf and Cs character (and a few more): the common
    # name is cleared without asking unicodedata about each of its characters.
    if not part.isprintable() and any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in part):
        return "a control character"
    if len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        return f"a part longer than {MAX_NAME_BYTES} bytes"
    return None


def printable(text: str) -> str:
    """``text`` with control characters escaped, so a name can never inject a log line."""
    if text.isprintable() or not any(unicodedata.category(c) in ("Cc", "Cf") for c in text):
        return text
    return "".join(
        c.encode("unicode_escape").decode() if unicodedata.category(c) in ("Cc", "Cf") else c
        for c in text
    )


def name_problem(name: str) -> str | None:
    """What makes ``name`` unusable as one file or folder name (None: nothing)."""
    return "a slash" if "/" in name else part_problem(name)


def safe_name(name: str, what: str) -> str:
    """``name`` if it can be one file or folder name, else :class:`UnsafeNameError` naming
    ``what`` (e.g. "artifact.name", "the URL's file name")."""
    problem = name_problem(name)
    if problem:
        raise UnsafeNameError(f"{what} {printable(name)!r} is refused: it has {problem}")
    return name


def safe_relpath(rel: str, what: str) -> PurePosixPath:
    """A relative POSIX path whose every part is a safe name (no '..', no absolute path, no
    empty part from '//'), else :class:`UnsafeNameError`."""
    return PurePosixPath(safe_relname(rel, what))


def safe_relname(rel: str, what: str) -> str:
    """:func:`safe_relpath` as the string it was given (already in its POSIX form: a safe
    relative path has no '.', '..' or empty part to normalise away)."""
    if rel.startswith("/"):
        raise UnsafeNameError(f"{what} {printable(rel)!r} is refused: it is an absolute path")
    if len(rel.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise UnsafeNameError(
            f"{what} {printable(rel[:80])!r}... is refused: longer than {MAX_PATH_BYTES} bytes"
        )
    for part in rel.split("/"):
        problem = part_problem(part)
        if problem:
            raise UnsafeNameError(f"{what} {printable(rel)!r} is refused: it has {problem}")
    return rel


def url_file_name(url: str) -> str:
    """The file name a URL's object is logged under, unchecked: the last part of its path (of
    the first URL of an fsspec chain ``zip://inner/x.csv::file:///a.zip``), query and fragment
    removed, percent-escapes decoded for http(s); "data" when the path has none."""
    first = url.split("::", 1)[0]
    parts = urlsplit(first)
    path = parts.path if parts.scheme else first
    if parts.scheme in ("http", "https"):
        path = unquote(path)
    return path.rstrip("/").rsplit("/", 1)[-1] or "data"
