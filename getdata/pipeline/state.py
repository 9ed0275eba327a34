"""Skip if unchanged: what the source said at the last successful fetch of each artifact.

One small JSON file per artifact name in the state folder (``state_dir``, default
``.getdata/state``). Deleting the file (or the folder) resets it: the next run fetches again.
The record is read and written through getdata/store/records.py: one that is not a regular file
of the shape written here is one warning and treated as absent (the source is fetched).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from ..sources import SourceInfo
from ..store.records import read_json, write_json


def fingerprint(info: SourceInfo) -> Optional[dict[str, Any]]:
    """What identifies the version of the source ``info`` describes, or None when nothing can
    tell a change (then never skip). A strong ETag names the bytes (the same bytes uploaded again
    keep it, whatever Last-Modified says); else an S3 version id; size with Last-Modified is the
    weakest acceptable pair."""
    etag = info.etag if info.etag and not info.etag.startswith("W/") else None
    if etag:
        return {"etag": etag, "size": info.size}
    if info.version_id:
        return {"version_id": info.version_id, "size": info.size}
    if info.size is not None and info.last_modified:
        return {"size": info.size, "last_modified": info.last_modified}
    return None


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float))


def valid_fingerprint(value: Any) -> bool:
    """The shape :func:`fingerprint` gives (validators by name), or a folder's
    ``{"files": [[name, validators or None], ...]}``."""
    if not isinstance(value, dict):
        return False
    if "files" not in value:
        return all(isinstance(k, str) and _scalar(v) for k, v in value.items())
    files = value["files"]
    return (
        len(value) == 1
        and isinstance(files, list)
        and all(
            isinstance(item, list)
            and len(item) == 2
            and isinstance(item[0], str)
            and (item[1] is None or valid_fingerprint(item[1]))
            for item in files
        )
    )


def _valid_record(record: Any) -> bool:
    return (
        isinstance(record, dict)
        and isinstance(record.get("source"), str)
        and (record.get("fingerprint") is None or valid_fingerprint(record["fingerprint"]))
    )


class State:
    def __init__(self, folder: Path, artifact: str) -> None:
        self.path = folder / f"{artifact}.json"
        self._read = False
        self._record: Optional[dict[str, Any]] = None

    def load(self) -> Optional[dict[str, Any]]:
        """The record as it was when this run first read it (read once: a record that cannot
        be used is one warning line, however many steps ask)."""
        if not self._read:
            self._record = read_json(self.path, "the state record", _valid_record)
            self._read = True
        return self._record

    def other_source(self, source: str) -> Optional[str]:
        """The source of the last fetch recorded under this name, when it is not ``source``."""
        saved = self.load()
        before = saved.get("source") if saved is not None else None
        return before if isinstance(before, str) and before != source else None

    def unchanged(self, current: Optional[dict[str, Any]], source: str) -> bool:
        saved = self.load()
        return (
            current is not None
            and saved is not None
            and saved.get("source") == source
            and saved.get("fingerprint") == current
        )

    def save(self, current: Optional[dict[str, Any]], source: str, record: dict[str, Any]) -> None:
        if current is None:
            return
        self._record = {"source": source, "fingerprint": current, **record}
        write_json(self.path, self._record)
