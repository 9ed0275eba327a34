"""Hydra's view of getdata's configuration: the schema and every source kind in the ConfigStore,
the ``getdata.data`` resolver, and the user's catalog on the search path.

Called by both entry points (the CLI and the Python API) before Hydra composes a config; it
lives here, above config/ and sources/, because it needs both (the kinds are plug-ins that
derive from config's SourceConfig).
"""

from __future__ import annotations

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

from ..config import AppConfig, bundled_data
from ..config.catalog import register_catalog
from ..sources import kinds


def register_configs() -> None:
    """Store the schemas in Hydra's ConfigStore and register the ``getdata.data`` resolver."""
    cs = ConfigStore.instance()
    cs.store(name="getdata_schema", node=AppConfig)
    for kind, node in kinds().items():
        cs.store(group="source", name=kind, node=node)
    if not OmegaConf.has_resolver("getdata.data"):
        OmegaConf.register_new_resolver("getdata.data", bundled_data)
    # $GETDATA_CATALOG: the user's catalog folder, searched before the bundled conf/.
    register_catalog()
