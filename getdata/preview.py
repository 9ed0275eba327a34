"""The first rows of a table, for the optional preview logged next to the artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from .formats import head_rows as _head_rows


def head_rows(path: Path, name: str, rows: int) -> Optional[Any]:
    """The first ``rows`` rows as a pyarrow Table (read in one small batch), or None.

    The format comes from ``name``, through the same table of formats inspection uses.
    """
    return _head_rows(path, name, rows)
