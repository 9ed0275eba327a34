"""Local files and folders: a regular file, or a folder walked with its links checked."""

from __future__ import annotations

import os
import stat as stat_mode
from dataclasses import dataclass, replace
from typing import Optional

import fsspec
from omegaconf import MISSING

from ..config import SourceConfig
from ..errors import SourceError
from ..names import printable, safe_relname
from .base import GLOB_MAGIC, Source, SourceInfo, basename_of, normalise_info, special_kind

KIND = "local"


@dataclass
class LocalSource(SourceConfig):
    _target_: str = "getdata.sources.local.build"
    # A path on this machine, absolute or relative to the directory you run getdata from.
    path: str = MISSING


@dataclass
class LocalFileSource(Source):
    """A path on this machine: a regular file, or a folder walked with its links checked."""

    def members(self) -> Optional[list[Source]]:
        if os.path.isdir(self.path):
            return self._walk()
        if GLOB_MAGIC.search(self.path) and not os.path.lexists(self.path):
            return super().members()
        return None

    def stat(self) -> SourceInfo:
        try:
            st = os.stat(self.path)
        except FileNotFoundError as exc:
            raise SourceError(f"{self.display}: not found: check the path") from exc
        if stat_mode.S_ISDIR(st.st_mode):
            raise SourceError(f"{self.display}: is a directory, not a file")
        if not stat_mode.S_ISREG(st.st_mode):
            # A FIFO would block the read forever, a device never end.
            raise SourceError(f"{self.display}: is {special_kind(st.st_mode)}, not a regular file")
        return normalise_info(self.fs.info(self.path))

    def _walk(self) -> list[Source]:
        """Every regular file below the folder. A link to a file or folder inside it is followed
        and listed under the link's own name; a link that leaves the folder, a broken link, a
        link loop, a FIFO, socket or device stops the run with a line naming it, so a folder is
        never logged with files silently missing."""
        root = os.path.realpath(self.path)
        found: list[Source] = []

        def walk(folder: str, rel: str, ancestors: frozenset[str]) -> None:
            with os.scandir(folder) as entries:
                for entry in sorted(entries, key=lambda e: e.name):
                    name = f"{rel}{entry.name}"
                    shown = os.path.join(self.path, name)
                    target = entry.path
                    if entry.is_symlink():
                        target = os.path.realpath(entry.path)
                        if not os.path.exists(target):
                            raise SourceError(f"{printable(shown)}: is a broken link")
                        if target != root and not target.startswith(root + os.sep):
                            raise SourceError(
                                f"{printable(shown)}: is a link to {printable(target)}, outside "
                                f"the folder; refused (point source.path at a folder that holds "
                                "what the links point to)"
                            )
                    st = os.stat(target)
                    if stat_mode.S_ISDIR(st.st_mode):
                        real = os.path.realpath(target)
                        if real in ancestors:
                            raise SourceError(f"{printable(shown)}: is a link loop; refused")
                        walk(target, f"{name}/", ancestors | {real})
                    elif stat_mode.S_ISREG(st.st_mode):
                        rel_name = safe_relname(name, "the file name")
                        found.append(
                            replace(
                                self,
                                # Read what was checked: the resolved file, not the link, which
                                # could be pointed elsewhere between the listing and the read.
                                path=os.path.realpath(target),
                                display=printable(shown),
                                basename=rel_name,
                                listed=normalise_info(self.fs.info(target)),
                            )
                        )
                    else:
                        raise SourceError(
                            f"{printable(shown)}: is {special_kind(st.st_mode)}, not a regular "
                            "file; a folder is logged whole or not at all"
                        )

        walk(root, "", frozenset({root}))
        if not found:
            raise SourceError(f"{self.display}: no files there")
        return found


def build(cfg: LocalSource) -> Source:
    path = os.path.abspath(os.path.expanduser(cfg.path))
    return LocalFileSource(
        url=cfg.path,
        display=printable(path),
        kind="local",
        fs=fsspec.filesystem("file"),
        path=path,
        basename=basename_of(path, literal=os.path.lexists(path)),
    )
