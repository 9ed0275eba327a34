"""The next step: ``getdata.use("<artifact>:<alias or version>", run=None)`` -> the local path of
that version (the file, or the folder of a folder artifact).

Without a W&B run (or with an offline or disabled one) the path comes from getdata's own record
of the versions it logged in the data folder (getdata/store/versions.py): wandb cannot use an
artifact offline (``run.use_artifact`` refuses in an offline run, and which version an alias
names is the server's to say). With an online run it goes through ``run.use_artifact``, so W&B
records the lineage, and the files are downloaded as W&B does (or found in its cache).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from ..config import check_artifact_name, default_data_dir
from ..errors import GetDataError, explain
from ..names import printable
from ..store.versions import UnknownVersion, Versions
from ..tracking.runfile import unsynced

if TYPE_CHECKING:
    from .log import Result

log = logging.getLogger("getdata")

__all__ = ["UnknownVersion", "remember", "split_reference", "use"]


def split_reference(reference: str) -> tuple[str, str]:
    """``[entity/][project/]name[:alias or version]`` -> (name, alias or version); the name alone
    means ``latest``. Offline, versions are known by artifact name (in a data folder), so the
    entity and project are not part of the lookup."""
    if not isinstance(reference, str) or not reference.strip():
        raise UnknownVersion(f"{reference!r}: name an artifact, e.g. raw_data.parquet:latest")
    path, colon, tag = reference.strip().partition(":")
    name = path.rsplit("/", 1)[-1]
    try:
        check_artifact_name(name)
    except GetDataError:
        name = ""
    if not name or (colon and not _tag_ok(tag)):
        raise UnknownVersion(
            f"{printable(reference)}: not an artifact reference (<artifact>:<alias or version>)"
        )
    return name, tag or "latest"


def _tag_ok(tag: str) -> bool:
    """An alias or version as getdata takes aliases (getdata/config/checks.py)."""
    return (
        bool(tag)
        and tag == tag.strip()
        and not any(c in "/:" or ord(c) < 32 or ord(c) == 127 for c in tag)
    )


def use(
    reference: str, run: Optional[Any] = None, data_dir: Optional[str | os.PathLike[str]] = None
) -> Path:
    """The local path of version ``reference`` (``"raw_data.parquet:prod"``, ``":latest"``,
    ``":v3"``): the file, or the folder of a folder artifact.

    With an online W&B ``run`` (``wandb.init()``), through ``run.use_artifact(reference)``: W&B
    records that the run used it (lineage) and downloads it as it does. Otherwise from
    getdata's record of what it logged in ``data_dir`` (default: ``$GETDATA_DATA_DIR``, else
    ``.getdata/data``, as for fetching). Raises :class:`UnknownVersion` (a
    :class:`~getdata.errors.GetDataError`) with one line when there is no such version.
    """
    if run is not None and not (getattr(run, "offline", False) or getattr(run, "disabled", False)):
        return _use_online(run, reference)
    name, tag = split_reference(reference)
    versions = Versions(Path(data_dir) if data_dir is not None else default_data_dir(), name)
    found = versions.resolve(tag)
    path = versions.files(found)
    if run is not None:
        log.info(
            "%s:%s is %s in %s (getdata's record; an offline W&B run records no lineage)",
            name,
            tag,
            found.version,
            path,
        )
    return path


def _use_online(run: Any, reference: str) -> Path:
    try:
        artifact = run.use_artifact(reference)
    except Exception as exc:  # CommError and friends: one line, wandb's words
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UnknownVersion(
            f"{printable(reference)}: W&B could not use it ({printable(first[:300])}); an "
            "artifact logged offline is there only after `wandb sync`"
        ) from exc
    metadata = artifact.metadata if isinstance(artifact.metadata, dict) else {}
    # A getdata folder artifact says so ("file_count"), also when it holds one file.
    folder = "file_count" in metadata or len(artifact.manifest.entries) != 1
    return Path(artifact.download() if folder else artifact.file())


def remember(data_dir: Path, result: Result, folder: bool, aliases: Any) -> Optional[str]:
    """After a version was logged (online or offline): note it in the data folder's record, so
    :func:`use` finds it by ``latest``, its version and its aliases; returns the version
    (``v3``). Called while the run holds the artifact folder's lock. Nothing is recorded when
    nothing was logged (wandb.mode=disabled)."""
    tracked = result.tracked
    if tracked is None or tracked.mode not in ("online", "offline") or not result.paths:
        return None
    versions = Versions(data_dir, result.artifact)
    kept = Path(os.path.relpath(result.paths[0], versions.root.resolve()))
    path = kept.parts[0] if folder else kept.as_posix()
    try:
        version = versions.logged(
            sha256=str(result.sha256),
            path=path,
            folder=folder,
            size=result.size or 0,
            aliases=[str(a) for a in aliases],
            run={"mode": tracked.mode, "run_id": tracked.run_id, "location": tracked.location},
            keep_run=still_needed,
        )
    except OSError as exc:  # logged all the same: the record is for `getdata use`
        log.warning(
            "%s is logged, but getdata could not note it in %s (%s): `getdata use` does not "
            "know this version; the files are in %s",
            result.artifact,
            versions.path,
            explain(exc),
            versions.root.resolve() / path,
        )
        return None
    log.info(
        "kept as %s:%s (getdata's count) in %s; the next step: getdata use %s:latest",
        result.artifact,
        version.version,
        versions.root.resolve() / path,
        result.artifact,
    )
    return version.version


def still_needed(run: dict[str, str]) -> bool:
    """A run worth remembering for a version: an offline run not yet synced (``getdata gc``
    keeps what it refers to). An online run, or an offline one synced or deleted since, is not."""
    return run.get("mode") == "offline" and unsynced(run.get("location", ""), run.get("run_id", ""))
