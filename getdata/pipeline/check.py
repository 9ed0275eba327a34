"""check_only: has the source changed since the last successful fetch? Asks the source and the
record in state_dir; downloads and logs nothing.

Statuses: ``new`` (no successful fetch of this artifact name from this source is recorded),
``changed`` (the validators differ, or the source has none to compare), ``unchanged``.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from .state import State

log = logging.getLogger("getdata")


def check(state: State, current: Optional[dict[str, Any]], source: str, artifact: str) -> str:
    """The status of ``source`` against the record of ``artifact``, logged in one line."""
    saved = state.load()
    if saved is None or saved.get("source") != source:
        status, why = (
            "new",
            f"no fetch of {artifact} from this source recorded in {state.path.parent}",
        )
    elif current is None:
        status, why = "changed", "the source gives no ETag, version id or size + date to compare"
    elif saved.get("fingerprint") == current:
        status, why = "unchanged", "same as at the last fetch"
    else:
        status, why = "changed", _difference(saved.get("fingerprint") or {}, current)
    log.info("check: %s is %s (%s); nothing fetched", source, status, why)
    return status


def _difference(before: dict[str, Any], after: dict[str, Any]) -> str:
    if "files" in before or "files" in after:
        old = {n: fp for n, fp in before.get("files", [])}
        new = {n: fp for n, fp in after.get("files", [])}
        added = sorted(set(new) - set(old))
        gone = sorted(set(old) - set(new))
        changed = sorted(n for n in set(old) & set(new) if old[n] != new[n])
        parts = [
            f"{len(x)} {w}" for x, w in ((added, "new"), (gone, "gone"), (changed, "changed")) if x
        ]
        return "files: " + ", ".join(parts) if parts else "listing differs"
    keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return ", ".join(f"{k} {before.get(k)!r} -> {after.get(k)!r}" for k in keys)
