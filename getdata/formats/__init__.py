"""What the fetched bytes are: format, size and, for tables, rows, schema and column statistics.

``describe_file`` gives the "data" metadata of one file and raises :class:`IntegrityError` when
it is not what its name says (an HTML error page saved as ``.parquet``, a truncated footer, a
CSV that stops parsing halfway), so such a file is never logged. ``describe_files`` does the
same for the files of a folder or archive, in one child process for the whole batch. Both run
the readers in a child process (``contained.py``): a reader that crashes refuses that file.

One module per format (``registry.FORMATS`` lists them): ``parquet`` and ``arrow`` read footers
and batch metadata only; ``delimited`` (CSV/TSV), ``jsonlines`` and ``jsondoc`` read the text
once, start to end, in bounded memory. ``stats`` is the shared column accumulator.

pyarrow is imported inside the functions that use it: ``getdata --help`` and non-table runs
do not pay for importing it in getdata's own process.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

from ..errors import IntegrityError
from .describe import Options, describe
from .registry import BINARY, FORMATS, kind, table_format

log = logging.getLogger(__name__)

__all__ = [
    "FORMATS",
    "Options",
    "describe_file",
    "describe_files",
    "head_rows",
    "kind",
    "needs_reader",
]


def describe_file(path: Path, name: str, cfg: Any) -> dict[str, Any]:
    """The "data" metadata of the file at ``path`` whose name is ``name`` (the format's source).

    Raises IntegrityError (one line) when the file is not what its name says, or when a reader
    crashed on it. ``cfg`` is an InspectConfig (or Options).
    """
    if not needs_reader(name):
        # Nothing to read but the file's size: no reader, so nothing that can crash.
        warnings: list[str] = []
        data = describe(Path(path), name, Options.of(cfg), warnings)
        for line in warnings:
            log.warning("%s", line)
        return data
    from .contained import run

    (outcome,) = run([(Path(path), name)], Options.of(cfg))
    for line in outcome.warnings:
        log.warning("%s", line)
    if outcome.error is not None:
        raise IntegrityError(outcome.error)
    assert outcome.data is not None
    return outcome.data


def needs_reader(name: str) -> bool:
    """Whether describing a file of this name runs a reader (in the contained helper): every
    format but plain binary (which is described by its size alone)."""
    return kind(name) != (BINARY, None)


def describe_files(items: list[tuple[Path, str]], cfg: Any) -> list[dict[str, Any]]:
    """The "data" of each (path, name) of a folder or archive, in order, in one child process.

    A file that fails its check (or crashes its reader) is, by ``inspect.in_folder``, either
    marked (its data says ``"invalid": "<reason>"``, a warning is logged) or refuses the whole
    batch (IntegrityError naming it).
    """
    from .contained import run

    opts = Options.of(cfg)
    described = []
    outcomes = run([(Path(p), n) for p, n in items], opts)
    for (path, name), outcome in zip(items, outcomes, strict=True):
        for line in outcome.warnings:
            log.warning("%s", line)
        if outcome.error is None:
            assert outcome.data is not None
            described.append(outcome.data)
            continue
        if opts.in_folder != "mark":
            raise IntegrityError(outcome.error)
        error = outcome.error.removesuffix("; nothing was logged")
        log.warning("%s (kept, marked invalid: inspect.in_folder=mark)", error)
        fmt, compression = kind(name)
        data: dict[str, Any] = {"format": fmt.name, "size": Path(path).stat().st_size}
        if compression:
            data["compression"] = compression
        data["invalid"] = error
        described.append(data)
    return described


def head_rows(path: Path, name: str, rows: int) -> Optional[Any]:
    """The first ``rows`` rows of a table as a pyarrow Table, or None (read in the contained
    child: a file whose description crashed a reader may crash the preview too)."""
    if table_format(name) is None:
        return None
    from .contained import head_rows as contained_head

    table, problem = contained_head(Path(path), name, rows)
    if problem:
        log.warning("%s: no preview (%s)", name, problem)
    return table


def inspect_file(
    path: Path,
    name: str,
    check: bool = True,
    *,
    enabled: bool = True,
    max_columns: int = 100,
) -> dict[str, Any]:
    """The old entry point (getdata.inspect.inspect_file), contained like describe_file."""
    return describe_file(
        path, name, Options(describe=enabled, check=check, max_columns=max_columns)
    )
