"""getdata: fetch a dataset from where it lives and log it as a versioned W&B artifact.

The public API: :func:`fetch` (one dataset, as ``python -m getdata`` runs it), its
:class:`FetchResult`, :func:`use` (the local path of a logged version, for the next step),
:func:`gc` (remove kept versions nothing refers to), the one :class:`ConfigError` for every
invalid setting, and the error types in :mod:`getdata.errors`. All but the errors are loaded on
first use: importing the package stays cheap for the processes that need none of it (the
readers' helper).
"""

from typing import Any

from .errors import ConfigError, GetDataError

__all__ = ["ConfigError", "FetchResult", "GetDataError", "__version__", "fetch", "gc", "use"]


def __getattr__(name: str) -> Any:
    if name in ("fetch", "FetchResult"):
        from .cli import api

        return getattr(api, name)
    if name == "use":
        from .pipeline.use import use

        return use
    if name == "gc":
        from .pipeline.gc import gc

        return gc
    if name == "__version__":
        from .config.schema import VERSION

        return VERSION
    raise AttributeError(f"module 'getdata' has no attribute {name!r}")
