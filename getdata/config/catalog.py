"""The user's catalog: ``$GETDATA_CATALOG``, a config folder searched before the bundled one.

Entries go in ``$GETDATA_CATALOG/dataset/<name>.yaml`` (and source presets, if any, in
``$GETDATA_CATALOG/source/<name>.yaml``), laid out like getdata's own ``conf/``. An entry with the
name of a bundled one replaces it.

It is a Hydra SearchPathPlugin registered from ``register_configs()`` (not discovered through a
``hydra_plugins`` package), so it works the same for an editable install, a wheel, and a source
checkout on PYTHONPATH, for the CLI, the Python API and the compose API.

An entry that cannot be read (not UTF-8, not YAML, not a mapping) must cost only its own
dataset. Hydra composes every job's config before a sweep starts (the sweeper checks the batch)
and again in each job (joblib composes in the worker): one bad file made every job of a
``dataset=glob(*)`` sweep fail, in a traceback that does not name it. Both catalogs (the user's
and getdata's ``conf/``) are therefore read by :class:`CatalogFiles`, Hydra's file source
except that such an entry composes to a config whose ``catalog_error`` says what is wrong with
which file: the job of that entry fails with that one line (``check_config``), the sweep's other
jobs run, and the summary lists it as failed. (Alternatives: a sweeper that skips jobs whose
config does not compose would work for one sweeper and no launcher's own composition; checking
files before Hydra runs cannot tell which entries a sweep's glob picks.)
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import Optional

import yaml
from hydra.core.config_search_path import ConfigSearchPath, SearchPathQuery
from hydra.core.object_type import ObjectType
from hydra.core.plugins import Plugins
from hydra.plugins.config_source import ConfigLoadError, ConfigResult, ConfigSource
from hydra.plugins.search_path_plugin import SearchPathPlugin
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ..names import printable
from ..redact import redact_text

ENV = "GETDATA_CATALOG"
# A catalog entry is a short YAML file; a larger one is not read.
MAX_ENTRY_BYTES = 1 << 20


class UserCatalog(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        # getdata's own conf/ ("main") is read by CatalogFiles too.
        for element in search_path.get_path():
            if element.provider == "main" and element.path.startswith("file://"):
                element.path = f"{CatalogFiles.scheme()}://{element.path[len('file://') :]}"
        folder = catalog_folder()
        if folder is None:
            return
        # Before "main" (getdata's own conf/), so a user entry wins over a bundled one.
        search_path.prepend(
            provider="getdata-catalog",
            path=f"{CatalogFiles.scheme()}://{folder}",
            anchor=SearchPathQuery(provider="main"),
        )


class CatalogFiles(ConfigSource):
    """Config files in a folder, as Hydra's own file source reads them, except that a file that
    cannot be read becomes ``catalog_error: <one line naming it>`` (see above)."""

    @staticmethod
    def scheme() -> str:
        return "getdata-file"

    def _full(self, config_path: str) -> str:
        return os.path.realpath(os.path.join(self.path, config_path))

    def load_config(self, config_path: str) -> ConfigResult:
        full_path = self._full(self._normalize_file_name(config_path))
        if not os.path.exists(full_path):
            raise ConfigLoadError(f"Config not found : {full_path}")
        header, config = self._read(full_path)
        return ConfigResult(
            config=config,
            path=f"{self.scheme()}://{self.path}",
            provider=self.provider,
            header=header,
        )

    def _read(self, full_path: str) -> tuple[dict[str, Optional[str]], DictConfig]:
        try:
            with open(full_path, "rb") as f:
                raw = f.read(MAX_ENTRY_BYTES + 1)
            if len(raw) > MAX_ENTRY_BYTES:
                return _unreadable(full_path, f"larger than {MAX_ENTRY_BYTES} bytes")
            text = raw.decode("utf-8")
            header = self._get_header_dict(text[:512])
            config = OmegaConf.load(io.StringIO(text))
        except UnicodeDecodeError as exc:
            return _unreadable(
                full_path, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at position {exc.start})"
            )
        except yaml.YAMLError as exc:
            return _unreadable(full_path, f"not valid YAML ({_yaml_problem(exc)})")
        except (OSError, ValueError, OmegaConfBaseException) as exc:
            return _unreadable(full_path, f"unreadable ({printable(str(exc).splitlines()[0])})")
        if not isinstance(config, DictConfig):
            return _unreadable(full_path, "not a mapping of settings")
        return header, config

    def available(self) -> bool:
        return self.is_group("")

    def is_group(self, config_path: str) -> bool:
        return os.path.isdir(self._full(config_path))

    def is_config(self, config_path: str) -> bool:
        return os.path.isfile(self._full(self._normalize_file_name(config_path)))

    def list(self, config_path: str, results_filter: Optional[ObjectType]) -> list[str]:
        files: list[str] = []
        for name in os.listdir(self._full(config_path)):
            self._list_add_result(
                files=files,
                file_path=os.path.join(config_path, name),
                file_name=name,
                results_filter=results_filter,
            )
        return files


def _yaml_problem(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None) or type(exc).__name__
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return printable(f"{where}{problem}")


def _unreadable(full_path: str, why: str) -> tuple[dict[str, Optional[str]], DictConfig]:
    """The config an unreadable file composes to: its one line, at the root of the config."""
    message = f"catalog entry {printable(full_path)} is {why}: fix the file or remove it"
    # Taken literally: a `${` in a file name is no interpolation.
    config = OmegaConf.create({"catalog_error": message.replace("${", "\\${")})
    return {"package": "_global_"}, config


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
    """Register :class:`UserCatalog` and :class:`CatalogFiles` with Hydra (idempotent: Hydra
    keeps one per class)."""
    Plugins.instance().register(CatalogFiles)
    Plugins.instance().register(UserCatalog)
