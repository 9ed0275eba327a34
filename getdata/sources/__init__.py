"""Where the data comes from: one module per kind, each a plug-in.

A kind is a module in this package with ``KIND`` (its name in the ``source`` config group), a
config dataclass deriving from :class:`getdata.config.SourceConfig` whose ``_target_`` names the
module's ``build(cfg) -> Source``, and that ``build``. ``register_configs`` finds the modules, so
a new kind is a new module, with no list to edit. ``resolve(cfg)`` calls the ``_target_``.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import is_dataclass

from hydra.utils import get_method

from ..config import SourceConfig
from ..errors import SourceError
from .base import Opened, Source, SourceInfo

__all__ = ["Opened", "Source", "SourceInfo", "kinds", "resolve"]


def resolve(cfg: SourceConfig) -> Source:
    """The :class:`Source` for a source config: its ``_target_`` builds it."""
    target = getattr(cfg, "_target_", None)
    if not target:
        raise SourceError(f"unsupported source config: {type(cfg).__name__} names no _target_")
    source: Source = get_method(target)(cfg)
    return source


def kinds() -> dict[str, type[SourceConfig]]:
    """Every source kind in this package: its name and config dataclass."""
    found: dict[str, type[SourceConfig]] = {}
    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        kind, config = getattr(module, "KIND", None), None
        for value in vars(module).values():
            if (
                is_dataclass(value)
                and isinstance(value, type)
                and issubclass(value, SourceConfig)
                and value is not SourceConfig
                and value.__module__ == module.__name__
            ):
                config = value
        if kind and config:
            found[kind] = config
    return found
