"""The one exception type the app raises for problems a user can act on.

It derives from Hydra's ``CompactHydraException`` so that Hydra prints just the message (one line)
instead of a traceback; ``HYDRA_FULL_ERROR=1`` still shows the full traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from hydra.errors import CompactHydraException


class GetDataError(CompactHydraException):
    """A fetch or log failed for a reason we can explain in one line."""


class SourceError(GetDataError):
    """The source could not be opened or read (not found, forbidden, unreachable, ...)."""


class IntegrityError(GetDataError):
    """The bytes that arrived are not the bytes we were promised (checksum, length, format)."""


@contextmanager
def describe(source: str) -> Iterator[None]:
    """Turn a low-level failure while reading ``source`` into a one-line :class:`SourceError`."""
    try:
        yield
    except GetDataError:
        raise
    except FileNotFoundError as exc:
        raise SourceError(f"{source}: not found ({_cause(exc)})") from exc
    except IsADirectoryError as exc:
        raise SourceError(f"{source}: is a directory, not a file") from exc
    except PermissionError as exc:
        raise SourceError(f"{source}: permission denied ({_cause(exc)})") from exc
    except (OSError, ValueError) as exc:
        raise SourceError(f"{source}: {_cause(exc)}") from exc


def _cause(exc: BaseException) -> str:
    """The most specific message in an exception chain (fsspec wraps the real cause)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
