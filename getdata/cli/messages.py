"""Errors in one line a user can act on: Hydra's and OmegaConf's (an override it cannot parse,
an unknown key, a wrong type, a missing option) and any other."""

from __future__ import annotations

import difflib
import logging
from dataclasses import fields, is_dataclass
from typing import Optional

from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from ..errors import explain


def bad_override(args: list[str]) -> Optional[str]:
    """The first override Hydra cannot parse, explained: which key, and the quoted form to copy
    (an unquoted URL with `?a=b` gives Hydra's `mismatched input '=' expecting <EOF>`)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    for arg in args:
        if arg.startswith("-") or "=" not in arg:
            continue  # flags (--cfg job, -m) and their values
        try:
            parser.parse_override(arg)
        except HydraException as exc:
            key, _, value = arg.partition("=")
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid"
            quoted = value.replace("\\", "\\\\").replace("'", "\\'")
            return (
                f"cannot read the override for {key.lstrip('+~')} ({reason}): quote the value, "
                f"e.g. \"{key}='{quoted}'\" (double quotes for the shell, single for Hydra)"
            )
    return None


def one_line(exc: BaseException) -> str:
    """Hydra's and OmegaConf's errors (and any other) in one line a user can act on."""
    cause = exc.__cause__ if isinstance(exc.__cause__, OmegaConfBaseException) else None
    if isinstance(exc, OmegaConfBaseException):
        cause = exc
    full_key = getattr(cause, "full_key", None) if cause is not None else None
    if cause is not None and full_key:
        name = type(cause).__name__
        if name in ("ConfigKeyError", "ConfigAttributeError") or "not in" in str(cause):
            hint = _close_match(cause, full_key) or _other_kinds(cause, full_key)
            return f"unknown key {full_key}{hint}: `getdata --cfg job` lists the settings there are"
        return f"{full_key}: {_first_line(getattr(cause, 'msg', None) or str(cause))}"
    options = getattr(exc, "options", None)
    missing = getattr(exc, "missing_cfg_file", None)
    if missing and options:
        group, _, choice = str(missing).rpartition("/")
        return f"{group}={choice}: no such option; choose one of {', '.join(options)}"
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{explain(exc)} (choose another folder with hydra.run.dir / hydra.sweep.dir)"
    if isinstance(exc, (HydraException, OmegaConfBaseException)):
        return _first_line(str(exc))
    return f"unexpected error: {explain(exc)}"


def _other_kinds(cause: BaseException, full_key: str) -> str:
    """For ``source.<key>`` that the chosen kind of source lacks: the kinds that have it (the
    default source, the bundled sample, is a local file: ``source.url`` alone names none)."""
    parts = full_key.split(".")
    schema = getattr(cause, "object_type", None)
    if len(parts) != 2 or parts[0] != "source" or not is_dataclass(schema):
        return ""
    from ..sources import kinds

    found = kinds()
    having = sorted(
        (k for k, cls in found.items() if parts[1] in {f.name for f in fields(cls)}),
        key=lambda k: (_COMMON.index(k) if k in _COMMON else len(_COMMON), k),
    )
    if not having:
        return ""
    mine = next((k for k, cls in found.items() if cls is schema), type(schema).__name__)
    return (
        f" (the {mine} source has no {parts[1]}; {', '.join(having)} sources have one: choose "
        f"the kind first, e.g. source={having[0]} {full_key}=...)"
    )


# The kinds an example names first.
_COMMON = ["http", "local", "s3", "fsspec"]


def _close_match(cause: BaseException, full_key: str) -> str:
    schema = getattr(cause, "object_type", None)
    if not is_dataclass(schema):
        return ""
    leaf = full_key.rsplit(".", 1)[-1]
    found = difflib.get_close_matches(leaf, [f.name for f in fields(schema)], n=1)
    if not found:
        return ""
    prefix = full_key.rsplit(".", 1)[0] + "." if "." in full_key else ""
    return f" (did you mean {prefix}{found[0]}?)"


def _first_line(text: str) -> str:
    # Hydra's "To append to your config use +key=value" is wrong for getdata's typed config.
    lines = [line.strip() for line in text.splitlines() if line.strip() and "+" not in line[:30]]
    return lines[0] if lines else text.strip()


class NotForConsole(logging.Filter):
    """Keeps off the console a record logged with ``extra={"console": False}`` (it still goes
    to the job's log file): a sweep's jobs leave their interruption to its one summary line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return bool(getattr(record, "console", True))
