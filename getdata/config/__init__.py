"""Configuration: the typed schema (``schema``), every check of a setting (``checks``) and the
user's catalog (``catalog``). The names most modules need are handed on here."""

from .checks import check_artifact_name, check_config, check_writable_folder
from .schema import (
    DATA_DIR_ENV,
    VERSION,
    AppConfig,
    ArtifactConfig,
    ArtifactMode,
    DriftAction,
    ExtractConfig,
    FetchConfig,
    InFolder,
    InspectConfig,
    OnLimit,
    SourceConfig,
    WandbConfig,
    WandbMode,
    bundled_data,
    config_dir,
    default_data_dir,
    to_app_config,
)

__all__ = [
    "DATA_DIR_ENV",
    "VERSION",
    "AppConfig",
    "ArtifactConfig",
    "ArtifactMode",
    "DriftAction",
    "ExtractConfig",
    "FetchConfig",
    "InFolder",
    "InspectConfig",
    "OnLimit",
    "SourceConfig",
    "WandbConfig",
    "WandbMode",
    "bundled_data",
    "check_artifact_name",
    "check_config",
    "check_writable_folder",
    "config_dir",
    "default_data_dir",
    "to_app_config",
]
