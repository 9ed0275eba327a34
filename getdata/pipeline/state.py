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

# The fields that identify a version of the source; a content hash would be best, an ETag or an
# S3 version id next; size with last-modified is the weakest acceptable pair.
_FIELDS = ("etag", "version_id", "size", "last_modified")


def fingerprint(info: SourceInfo) -> Optional[dict[str, Any]]:
    """The validators of ``info``, or None when they cannot tell a change (then never skip)."""
    values = {k: getattr(info, k) for k in _FIELDS if getattr(info, k) is not None}
    strong = info.etag or info.version_id
    if not strong and not (info.size is not None and info.last_modified):
        return None
    return values


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

    def load(self) -> Optional[dict[str, Any]]:
        record: Optional[dict[str, Any]] = read_json(self.path, "the state record", _valid_record)
        return record

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
        write_json(self.path, {"source": source, "fingerprint": current, **record})
