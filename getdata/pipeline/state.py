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
