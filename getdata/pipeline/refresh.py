"""Incremental refresh: a folder, prefix, glob or several URLs fetched again fetches only what
changed since the last version kept from the same source.

The record of the last successful fetch of an artifact name (getdata/pipeline/state.py, in
``state_dir``) names its source, the version it kept (the tree's digest, which names its folder
in the data folder) and, per file, what identified that file's version as it was kept (size +
ETag, version id or mtime: :func:`~getdata.pipeline.state.fingerprint`). A new fetch from the
same source compares its listing with it, file by file:

- the same fingerprint: the file is taken from that kept version (a hard link; its bytes proven
  first by the kept version's record or by hashing them again, never by size alone:
  getdata/store/workspace.py ``reuse``);
- another fingerprint, or none: fetched (changed); a name the record does not have: fetched
  (added); a name the listing no longer has: left out (removed).

The new version is logged whole (W&B uploads only what it does not have), and its metadata's
``refresh`` says how many files were added, changed, removed and reused. What makes the
comparison unsafe is a full fetch with one warning line: no record while the data folder holds
versions of the artifact, a record from another source, a kept version that is gone or whose
record does not describe it. A file whose bytes cannot be proven is fetched again.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Optional

from ..names import printable
from ..sources import Source, SourceInfo
from ..store.keep import listing_digest
from ..store.versions import version_folders
from ..store.workspace import VERSION_DIGITS, Workspace
from .state import State, fingerprint

log = logging.getLogger("getdata")


@dataclass
class Previous:
    """The last version kept from this source: what a refresh may take files from."""

    # Its folder's name in the artifact's folder, and its tree digest.
    version: str
    sha256: str
    # Per file: the fingerprint it was kept with (None: nothing identified its version).
    fingerprints: dict[str, Any]
    # Per file: the sha256 of its bytes, as the kept version's record says.
    files: dict[str, str]


@dataclass
class Plan:
    """What a refresh takes from the previous version (name -> sha256) and what it fetches."""

    previous: Previous
    reuse: dict[str, str] = field(default_factory=dict)
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def unchanged(self) -> bool:
        """Nothing added, changed or removed: the previous version's tree, file for file."""
        return not (self.added or self.changed or self.removed)

    def report(self, taken: int) -> dict[str, Any]:
        """The metadata key ``refresh``: the counts, after ``taken`` files were reused."""
        return {
            "previous": self.previous.sha256,
            "added": len(self.added),
            "changed": len(self.changed),
            "removed": len(self.removed),
            "reused": taken,
            # Unchanged by the listing, but their kept bytes could not be proven: fetched again.
            "unproven": len(self.reuse) - taken,
        }


def previous_version(state: State, source: Source, workspace: Workspace) -> Optional[Previous]:
    """The last version kept of this artifact from ``source``, when a refresh can take files
    from it; else None, with one line saying why every file is fetched."""
    name = workspace.root.name
    record = state.load()
    if record is None:
        if os.path.lexists(state.path):  # unreadable: records.py has said so in a warning
            _full(logging.INFO, "its record could not be read")
        elif version_folders(workspace.root):
            where = state.path.parent
            _full(logging.WARNING, f"no record of an earlier fetch of {name} in {where}")
        return None
    if record.get("source") != source.display:
        # The run has said so in its one warning line (pipeline/run.py).
        _full(
            logging.DEBUG,
            f"the last fetch of {name} was from {printable(str(record.get('source')))}, "
            "not from this source",
        )
        return None
    fingerprints = record.get("fingerprint")
    sha256 = record.get("sha256")
    if not isinstance(fingerprints, dict) or "files" not in fingerprints:
        _full(logging.WARNING, f"the last fetch of {name} kept no folder")
        return None
    version = sha256[:VERSION_DIGITS] if isinstance(sha256, str) else ""
    folder = workspace.root / version
    if not version or not folder.is_dir() or folder.is_symlink():
        _full(
            logging.WARNING,
            f"the version of {name} it kept ({version or 'none'}) is not in "
            f"{workspace.root.parent} (removed by getdata gc, or another data_dir)",
        )
        return None
    kept = workspace.record(version)
    files = {n: r["sha256"] for n, r in kept.load().items()}
    if listing_digest(files) != sha256:
        level = logging.INFO if os.path.lexists(kept.path) and not files else logging.WARNING
        _full(level, f"the record of the files of {name}/{version} does not describe it")
        return None
    return Previous(version, sha256, dict(fingerprints["files"]), files)


def _full(level: int, why: str) -> None:
    log.log(level, "refresh: %s; fetching every file", why)


def compare(previous: Previous, members: list[Source]) -> Plan:
    """Compare the listing (each member's fingerprint now) with the previous version's."""
    out = Plan(previous)
    listed = set()
    for member in members:
        name = member.basename
        listed.add(name)
        now = fingerprint(member.listed or SourceInfo())
        if name not in previous.fingerprints:
            out.added.append(name)
        elif now is None or now != previous.fingerprints[name] or name not in previous.files:
            out.changed.append(name)
        else:
            out.reuse[name] = previous.files[name]
    out.removed = [n for n in previous.fingerprints if n not in listed]
    log.info(
        "refresh: %d of %d files unchanged since %s, %d changed, %d new, %d removed",
        len(out.reuse),
        len(members),
        previous.version,
        len(out.changed),
        len(out.added),
        len(out.removed),
    )
    return out


def unproven(plan: Plan, taken: dict[str, Any]) -> None:
    """One line for the unchanged files whose kept bytes could not be proven (fetched again)."""
    missing = [n for n in plan.reuse if n not in taken]
    if missing:
        shown = ", ".join(printable(n) for n in missing[:5])
        log.warning(
            "refresh: %d unchanged files of %s are not as kept (%s%s): fetching them again",
            len(missing),
            plan.previous.version,
            shown,
            ", ..." if len(missing) > 5 else "",
        )
