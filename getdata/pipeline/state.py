"""Skip if unchanged: what the source said at the last successful fetch of each artifact.

One small JSON file per artifact name in the state folder (``state_dir``, default
``.getdata/state``). Deleting the file (or the folder) resets it: the next run fetches again.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Optional

from ..sources import SourceInfo


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


class State:
    def __init__(self, folder: Path, artifact: str) -> None:
        self.path = folder / f"{artifact}.json"

    def load(self) -> Optional[dict[str, Any]]:
        try:
            return json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return None

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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"source": source, "fingerprint": current, **record}
        # Written whole or not at all: parallel jobs and a Ctrl-C must not leave half a file.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".state-", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
        os.replace(tmp, self.path)
