"""Schema drift: what changed in the shape of the data since the last fetch of an artifact name.

After each successful fetch the columns (name -> type) and row count of every table file are
recorded in ``<state_dir>/schema/<artifact>.json`` with the source they came from; the next fetch
of the same source under that name compares against it and reports columns added, removed and
retyped, and the row delta: in the log and under the artifact metadata key ``drift``.
``inspect.on_drift=fail`` refuses a version whose columns changed (rows alone changing is not
drift: data grows). Two sources that share a name (a local ``songs.csv`` and an http one, both
named ``songs.csv`` by default) are not compared: one warning says so and names the fix,
``artifact.name``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from ..config import DriftAction
from ..errors import GetDataError
from ..store.records import read_json, write_json

log = logging.getLogger("getdata")

Shape = dict[str, Any]  # {"columns": {name: type}, "rows": int | None, "truncated": bool}


class DriftError(GetDataError):
    """The columns changed and inspect.on_drift=fail."""


def table_shape(data: dict[str, Any]) -> Optional[Shape]:
    """The columns and rows of one file from the ``data`` metadata inspection produced; None for
    a file that is not a table (or was not inspected). The one place that reads that layout."""
    schema = data.get("schema")
    if not isinstance(schema, list):
        return None
    columns = {
        str(c["name"]): str(c.get("type")) for c in schema if isinstance(c, dict) and "name" in c
    }
    rows = data.get("rows")
    return {
        "columns": columns,
        "rows": rows if isinstance(rows, int) else None,
        "truncated": bool(data.get("columns_truncated")),
    }


@dataclass
class Drift:
    path: Path
    source: str
    current: dict[str, Shape]
    # What goes under the metadata key "drift"; None when there is nothing to compare with.
    report: Optional[dict[str, Any]]

    def save(self, sha256: Optional[str]) -> None:
        """Record this version's shape (after it was logged): the baseline for the next fetch."""
        if not self.current:
            return
        record = {
            "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "source": self.source,
            "sha256": sha256,
            "files": self.current,
        }
        # Whole or not at all: parallel jobs and Ctrl-C never leave half a record.
        write_json(self.path, record)


def check_drift(
    state_dir: Path,
    artifact: str,
    source: str,
    files: list[tuple[str, dict[str, Any]]],
    on_drift: DriftAction,
) -> Drift:
    """Compare the fetched files (name in the artifact, ``data`` metadata) with the record of the
    last fetch of the same ``source`` (its display form) under this name.

    Logs what changed; raises :class:`DriftError` when columns changed and ``on_drift`` is fail.
    """
    path = state_dir / "schema" / f"{artifact}.json"
    current = {name: shape for name, data in files if (shape := table_shape(data)) is not None}
    record = read_json(path, "the schema record", _valid_record)
    if record is not None and record.get("source") != source:
        # Unlike with unlike would report every column as changed, or worse, none. The run has
        # said so in its one warning line (pipeline/run.py), from the state record.
        log.debug("%s: the schema record is of another source: no columns compared", artifact)
        record = None
    previous = None if record is None else dict(record["files"])
    if previous is None or not (current or previous):
        return Drift(path, source, current, None)
    report = compare(previous, current)
    summary = describe_drift(report)
    if report["changed"]:
        if on_drift is DriftAction.fail:
            raise DriftError(
                f"{artifact}: schema drift since the last fetch ({summary}); "
                "inspect.on_drift=fail, so nothing was logged"
            )
        log.warning("%s: schema drift since the last fetch: %s", artifact, summary)
    else:
        log.info("%s: same columns as the last fetch; %s", artifact, summary)
    return Drift(path, source, current, report)


def valid_shape(shape: Any) -> bool:
    """What :func:`table_shape` gives: ``columns`` (name -> type), ``rows`` and ``truncated``."""
    if not isinstance(shape, dict):
        return False
    columns, rows = shape.get("columns"), shape.get("rows")
    return (
        isinstance(columns, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in columns.items())
        and (rows is None or (isinstance(rows, int) and not isinstance(rows, bool)))
        and isinstance(shape.get("truncated"), bool)
    )


def _valid_record(record: Any) -> bool:
    files = record.get("files") if isinstance(record, dict) else None
    source = record.get("source") if isinstance(record, dict) else None
    return (
        (source is None or isinstance(source, str))
        and isinstance(files, dict)
        and all(isinstance(name, str) and valid_shape(shape) for name, shape in files.items())
    )


def compare(previous: dict[str, Shape], current: dict[str, Shape]) -> dict[str, Any]:
    """Columns added/removed/retyped per file, files added/removed, and the rows before/after.

    A file is compared with the same path last time; a single table with the single table last
    time (the source file may be renamed); a new file in a folder with the columns all previous
    files had together.
    """
    single = len(previous) == 1 and len(current) == 1
    union: dict[str, str] = {}
    for shape in previous.values():
        union.update(shape["columns"])
    added: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    retyped: list[dict[str, Any]] = []
    truncated = False
    for name, shape in sorted(current.items()):
        before = next(iter(previous.values())) if single else previous.get(name)
        old_cols = before["columns"] if before else union
        new_cols = shape["columns"]
        where = {} if single else {"file": name}
        partial = shape["truncated"] or bool(before and before["truncated"])
        truncated = truncated or partial
        for col, typ in new_cols.items():
            if col not in old_cols and not partial:
                added.append({**where, "name": col, "type": typ})
            elif col in old_cols and old_cols[col] != typ:
                retyped.append({**where, "name": col, "from": old_cols[col], "to": typ})
        if not partial:
            removed += [
                {**where, "name": c, "type": t} for c, t in old_cols.items() if c not in new_cols
            ]
    rows_before = _rows(previous)
    rows_after = _rows(current)
    report: dict[str, Any] = {
        "changed": bool(added or removed or retyped),
        "columns_added": added,
        "columns_removed": removed,
        "columns_retyped": retyped,
        "rows": {
            "before": rows_before,
            "after": rows_after,
            "delta": None
            if rows_before is None or rows_after is None
            else rows_after - rows_before,
        },
    }
    if not single:
        report["files_added"] = sorted(set(current) - set(previous))
        report["files_removed"] = sorted(set(previous) - set(current))
    if truncated:
        # inspect.max_columns cut the listing: only the listed columns could be compared.
        report["columns_truncated"] = True
    return report


def _rows(files: dict[str, Shape]) -> Optional[int]:
    counts = [s.get("rows") for s in files.values()]
    if not counts or any(not isinstance(c, int) for c in counts):
        return None
    return sum(counts)  # type: ignore[arg-type]


def describe_drift(report: dict[str, Any]) -> str:
    """One line: what changed."""

    def at(item: dict[str, Any]) -> str:
        return f"{item['file']}:{item['name']}" if "file" in item else str(item["name"])

    parts = []
    if report["columns_removed"]:
        parts.append(
            "removed " + ", ".join(f"{at(c)} ({c['type']})" for c in report["columns_removed"])
        )
    if report["columns_retyped"]:
        parts.append(
            "retyped "
            + ", ".join(f"{at(c)} {c['from']} -> {c['to']}" for c in report["columns_retyped"])
        )
    if report["columns_added"]:
        parts.append(
            "added " + ", ".join(f"{at(c)} ({c['type']})" for c in report["columns_added"])
        )
    for key, word in (("files_added", "new files"), ("files_removed", "files gone")):
        if report.get(key):
            parts.append(f"{word}: {', '.join(report[key])}")
    rows = report["rows"]
    if rows["delta"] is not None:
        parts.append(f"rows {rows['before']} -> {rows['after']} ({rows['delta']:+d})")
    return "; ".join(parts) or "no table to compare"
