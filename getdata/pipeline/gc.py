"""``getdata gc``: remove the kept versions nothing needs any more, from the shared data folder.

A version's files stay while:

* ``getdata use`` can name it: it is ``latest``, holds an alias, or is one of the ``keep_last``
  versions logged last (getdata/store/versions.py);
* an offline W&B run that is not synced yet refers to them (``wandb sync`` uploads the files from
  where they are): the runs recorded with the version, and every unsynced offline run in the W&B
  folder (``$WANDB_DIR/wandb`` or ``./wandb``) and in ``wandb_dirs``.

Everything else in a version folder (``<artifact>/<sha256[:16]>/``) goes: older versions logged
online or synced (W&B has them), and versions kept but never logged (wandb.mode=disabled, a
refused run). An artifact folder a run is using (its lock is held) is skipped whole, so its
partial files, staging folder and the version it is about to log are never touched; getdata's
own ``.getdata-*`` files are left as they are, except the records of the versions removed.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..config import default_data_dir
from ..store.keep import forget
from ..store.versions import Version, Versions, locked, version_folders
from ..tracking.runfile import local_paths, synced
from ..tracking.settle import wandb_folder
from ..transfer.progress import human_bytes
from .use import still_needed

log = logging.getLogger("getdata")


@dataclass
class Removed:
    artifact: str
    folder: str  # <sha256[:16]>
    versions: list[str]  # getdata's names for it (v0, ...); empty when it was never logged
    bytes: int


@dataclass
class Collected:
    data_dir: Path
    removed: list[Removed] = field(default_factory=list)
    # Version folders left in place.
    kept: int = 0
    # Artifact folders skipped because a run holds them.
    busy: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def freed(self) -> int:
        return sum(r.bytes for r in self.removed)


def gc(
    data_dir: Optional[str | os.PathLike[str]] = None,
    *,
    keep_last: int = 1,
    dry_run: bool = False,
    wandb_dirs: Iterable[str | os.PathLike[str]] = (),
) -> Collected:
    """Remove the versions in ``data_dir`` (default: ``$GETDATA_DATA_DIR``, else
    ``.getdata/data``) that no record and no unsynced offline W&B run refers to; with
    ``dry_run``, only say which. ``keep_last`` also keeps the versions logged last (at least
    1: ``latest``)."""
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    result = Collected(root, dry_run=dry_run)
    if not root.is_dir():
        return result
    unsynced = _unsynced_paths([wandb_folder(), *(Path(d) / "wandb" for d in wandb_dirs)])
    for artifact in sorted(p.name for p in root.iterdir()):
        folder = root / artifact
        if artifact.startswith(".") or folder.is_symlink() or not folder.is_dir():
            continue
        with locked(folder) as got:
            if not got:
                result.busy.append(artifact)
                log.info("gc: %s is in use by a getdata run: skipped", artifact)
                continue
            _collect(Versions(root, artifact), unsynced, max(1, keep_last), result)
    verb = "would free" if dry_run else "freed"
    log.info(
        "gc: %s %s in %d version folder(s) of %s; %d kept%s",
        verb,
        human_bytes(result.freed),
        len(result.removed),
        root,
        result.kept,
        f"; skipped (in use): {', '.join(result.busy)}" if result.busy else "",
    )
    return result


def _collect(versions: Versions, unsynced: set[Path], keep_last: int, result: Collected) -> None:
    logged, latest = versions.load()
    on_disk = version_folders(versions.root)
    needed = _needed(logged, latest, keep_last) | _referenced(versions.root, on_disk, unsynced)
    gone = set()
    for folder in on_disk:
        if folder in needed:
            result.kept += 1
            continue
        names = [v.version for v in logged if v.kept_in == folder]
        size = _size(versions.root / folder)
        result.removed.append(Removed(versions.artifact, folder, names, size))
        log.info(
            "gc: %s %s/%s (%s, %s)",
            "would remove" if result.dry_run else "removing",
            versions.artifact,
            folder,
            ", ".join(names) or "never logged",
            human_bytes(size),
        )
        if not result.dry_run:
            forget(versions.root, folder)
            gone.add(folder)
    if gone:
        versions.mark_removed(gone)


def _needed(logged: list[Version], latest: Optional[str], keep_last: int) -> set[str]:
    """The folders ``getdata use`` names by latest or an alias, those logged last, and those an
    unsynced offline run recorded with the version refers to."""
    live = [v for v in logged if not v.removed]
    recent = sorted(live, key=lambda v: v.order, reverse=True)[:keep_last]
    needed = {v.kept_in for v in recent}
    needed |= {v.kept_in for v in live if v.version == latest or v.aliases}
    needed |= {v.kept_in for v in live if any(still_needed(run) for run in v.runs)}
    return needed


def _referenced(artifact_root: Path, folders: list[str], unsynced: set[Path]) -> set[str]:
    """The version folders an unsynced offline run in the W&B folders refers to."""
    real = Path(os.path.realpath(artifact_root))
    found = set()
    for path in unsynced:
        if path.is_relative_to(real):
            first = path.relative_to(real).parts[:1]
            if first and first[0] in folders:
                found.add(first[0])
    return found


def _unsynced_paths(wandb_dirs: list[Path]) -> set[Path]:
    """Every local file an unsynced offline run in these W&B folders refers to (resolved)."""
    found: set[Path] = set()
    for folder in dict.fromkeys(wandb_dirs):
        for run_file in sorted(folder.glob("offline-run-*/run-*.wandb")):
            if not synced(run_file):
                found |= {Path(os.path.realpath(p)) for p in local_paths(run_file)}
    return found


def _size(folder: Path) -> int:
    """The bytes removing ``folder`` frees: of its files no other version shares as a link."""
    total = 0
    for here, _, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(here, name))
                if st.st_nlink == 1:
                    total += st.st_size
    return total
