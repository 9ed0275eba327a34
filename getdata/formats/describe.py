"""Describe one file in this process: the format check and the "data" metadata.

Run inside the contained child (``contained.py``); call it directly only on files you trust.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..config import InspectConfig
from ..errors import GetDataError, IntegrityError
from .limits import Budget, LimitError, memory_limit, out_of_memory
from .registry import BINARY, Format, kind, table_format
from .sniff import markup
from .source import Source
from .text import HEAD_BYTES, first_line


@dataclass(frozen=True)
class Options:
    """What to check and describe (from InspectConfig; plain values, sent to the child)."""

    # Describe tables (rows, schema, stats); off: format and size only.
    describe: bool = True
    # Refuse a file that is not what its name says.
    check: bool = True
    # List at most this many columns in the metadata.
    max_columns: int = 100
    # Formats whose check is off / whose description is off.
    unchecked: frozenset[str] = field(default_factory=frozenset)
    undescribed: frozenset[str] = field(default_factory=frozenset)
    # A file in a folder or archive that cannot be described: "mark" it or "refuse" the folder.
    in_folder: str = "mark"
    # The limits per file (getdata/formats/limits.py; None: no limit): memory of the reader
    # process in bytes, seconds, decompressed bytes per byte of a compressed file. The defaults
    # are the settings' (one place: getdata/config/schema.py).
    max_memory: Optional[int] = InspectConfig.max_memory
    timeout: Optional[float] = InspectConfig.timeout
    max_ratio: Optional[float] = InspectConfig.max_ratio
    # A file past a limit: "keep" it undescribed, or "refuse" it.
    on_limit: str = InspectConfig.on_limit.value

    @classmethod
    def of(cls, cfg: Any) -> Options:
        """From an InspectConfig (dataclass or DictConfig); missing fields keep their defaults."""
        if isinstance(cfg, Options):
            return cfg

        def get(key: str, default: Any) -> Any:
            return getattr(cfg, key, default)

        def choice(key: str, default: str) -> str:
            value = get(key, default)
            return str(getattr(value, "value", value))

        def number(key: str, default: Any, kind: type) -> Any:
            value = get(key, default)
            return None if value is None else kind(value)

        return cls(
            describe=bool(get("enabled", True)),
            check=bool(get("check_format", True)),
            max_columns=max(0, int(get("max_columns", 100))),
            unchecked=_formats("unchecked", get("unchecked", ())),
            undescribed=_formats("undescribed", get("undescribed", ())),
            in_folder=choice("in_folder", "mark"),
            max_memory=number("max_memory", cls.max_memory, int),
            timeout=number("timeout", cls.timeout, float),
            max_ratio=number("max_ratio", cls.max_ratio, float),
            on_limit=choice("on_limit", "keep"),
        )


def _formats(key: str, names: Any) -> frozenset[str]:
    """Format names from the config, each one a format getdata knows (else one line)."""
    from .registry import BY_NAME

    found = frozenset(str(n) for n in names or ())
    for name in sorted(found - set(BY_NAME)):
        known = ", ".join(sorted(BY_NAME))
        raise GetDataError(f"inspect.{key}: unknown format {name!r} (known: {known})")
    return found


def describe(path: Path, name: str, opts: Options, warnings: list[str]) -> dict[str, Any]:
    """Metadata describing the file; raises IntegrityError if it is not the format it claims,
    and :class:`~getdata.formats.limits.LimitError` when reading it went past a limit.

    The format comes from ``name`` only. With the description off, reads no more than the
    check needs (a parquet/Arrow footer, about the first MiB of a text file, a compressed file
    to its end). With the check off, never refuses: what cannot be described is left out and
    a line added to ``warnings``.
    """
    fmt, compression = kind(name)
    meta: dict[str, Any] = {"format": fmt.name, "size": path.stat().st_size}
    if compression:
        meta["compression"] = compression
    check = opts.check and fmt.name not in opts.unchecked
    enabled = opts.describe and fmt.name not in opts.undescribed
    if not (enabled or check):
        return meta
    budget = Budget(meta["size"], opts.max_ratio) if compression else None
    source = Source(path, name, compression, budget)
    try:
        found = _read(source, fmt, check, enabled, opts.max_columns)
    except LimitError:
        raise
    except Exception as exc:
        # A limit, whatever a library made of it (pyarrow wraps what a stream raised).
        if budget is not None and budget.exceeded:
            raise budget.error() from exc
        if out_of_memory(exc):
            raise LimitError(memory_limit(opts.max_memory)) from exc
        return _not_read(exc, meta, name, fmt, compression, check, warnings)
    if enabled:
        meta.update(found)
    return meta


def _not_read(
    exc: Exception,
    meta: dict[str, Any],
    name: str,
    fmt: Format,
    compression: Optional[str],
    check: bool,
    warnings: list[str],
) -> dict[str, Any]:
    """A file its reader refused: IntegrityError when checked, else a warning."""
    if isinstance(exc, IntegrityError):
        if check:
            raise exc
        warnings.append(f"{name}: not described as {fmt.name}")
        return meta
    # pyarrow, json, zlib, lzma raise many types for malformed input
    what = f"{fmt.name} file" if compression is None else f"{compression}-compressed {fmt.name}"
    if check:
        raise IntegrityError(f"{name}: not a valid {what}: {first_line(exc)}") from exc
    warnings.append(f"{name}: not described as {fmt.name}: {first_line(exc)}")
    return meta


def _read(source: Source, fmt: Format, check: bool, enabled: bool, max_columns: int) -> Any:
    # Even unchecked, a web page is not described as a table (it is a one-column CSV...).
    if fmt is not BINARY or source.compression:
        _refuse_markup(source, fmt, raw=True)
    reader = fmt.module()
    if reader is not None and (source.compression is None or fmt.streamable):
        if source.compression:
            _refuse_markup(source, fmt, raw=False)  # a page compressed by the server
        return reader.describe(source, max_columns, not enabled)
    if check and source.compression:
        source.read_through()  # a truncated or corrupt stream fails here
    elif check and fmt.name == "zip":
        from .archives import check_zip

        return check_zip(str(source.path))
    return {}


def _refuse_markup(source: Source, fmt: Format, *, raw: bool) -> None:
    if raw:
        with source.path.open("rb") as f:
            head = f.read(HEAD_BYTES)
    else:
        head = source.head(HEAD_BYTES)
    found = markup(head)
    if found is not None:
        raise IntegrityError(
            f"{source.name}: expected {fmt.name} but the bytes look like {found} "
            "(an error or login page?); nothing was logged"
        )


def read_head(path: Path, name: str, rows: int) -> Optional[Any]:
    """The first ``rows`` rows of a table as a pyarrow Table, in this process (what the
    contained child runs for ``head_rows``); None for a file that is not a table."""
    fmt_name = table_format(name)
    if fmt_name is None:
        return None
    fmt, _ = kind(name)
    reader = fmt.module()
    if reader is None:
        return None
    if fmt_name in ("csv", "tsv"):
        return reader.head(path, rows, name)
    return reader.head(path, rows)
