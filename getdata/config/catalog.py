"""The user's catalog: ``$GETDATA_CATALOG``, a config folder searched before the bundled one.

Entries go in ``$GETDATA_CATALOG/dataset/<name>.yaml`` (and source presets, if any, in
``$GETDATA_CATALOG/source/<name>.yaml``), laid out like getdata's own ``conf/``. An entry with the
name of a bundled one replaces it.

It is a Hydra SearchPathPlugin registered from ``register_configs()`` (not discovered through a
``hydra_plugins`` package), so it works the same for an editable install, a wheel, and a source
checkout on PYTHONPATH, for the CLI, the Python API and the compose API.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hydra.core.config_search_path import ConfigSearchPath, SearchPathQuery
from hydra.core.plugins import Plugins
from hydra.plugins.search_path_plugin import SearchPathPlugin

from ..redact import redact_text

ENV = "GETDATA_CATALOG"


class UserCatalog(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        folder = catalog_folder()
        if folder is None:
            return
        # Before "main" (getdata's own conf/), so a user entry wins over a bundled one.
        search_path.prepend(
            provider="getdata-catalog",
            path=f"file://{folder}",
            anchor=SearchPathQuery(provider="main"),
        )


def catalog_folder() -> Path | None:
    """The folder ``$GETDATA_CATALOG`` names, resolved; None when unset or not a folder.

    Hydra builds its search path before it reports errors in its one-line form, so a wrong value
    is one warning line here; an entry only it holds is then "not found" by Hydra.
    """
    value = os.environ.get(ENV, "").strip()
    if not value:
        return None
    folder = Path(value).expanduser().resolve()
    if not folder.is_dir():
        sys.stderr.write(
            redact_text(f"getdata: {ENV}={value} is not a folder; using the bundled catalog only\n")
        )
        return None
    return folder


def register_catalog() -> None:
    """Register :class:`UserCatalog` with Hydra (idempotent; Hydra keeps one per class)."""
    Plugins.instance().register(UserCatalog)
