"""Typed configuration: the dataclasses behind every YAML file and command-line override.

``getdata.cli.configs.register_configs()`` puts them in Hydra's ConfigStore: the app schema as
``getdata_schema`` and one schema per source kind in the ``source`` group, so ``source=http``
selects :class:`getdata.sources.http.HttpSource`. The kinds' dataclasses live with their code in
``getdata/sources/`` (plug-ins); the base they share is here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, is_dataclass
from enum import Enum
from importlib import resources
from pathlib import Path
from typing import Any, Optional

from hydra.errors import ConfigCompositionException
from omegaconf import MISSING, DictConfig, OmegaConf

# getdata's version (pyproject.toml reads it from here), recorded in every artifact's metadata.
VERSION = "0.1.0"
# The getdata package folder (this module is in its config/ folder).
PACKAGE_DIR = Path(__file__).resolve().parent.parent
# The data folder every run shares unless data_dir says otherwise: $GETDATA_DATA_DIR, else this
# folder below the working directory (like state_dir's .getdata/state and W&B's ./wandb).
DATA_DIR_ENV = "GETDATA_DATA_DIR"
DEFAULT_DATA_DIR = ".getdata/data"


def config_dir() -> str:
    """Where the YAML configs are: shipped inside the package, or ``conf/`` in a source checkout."""
    shipped = PACKAGE_DIR / "conf"
    if (shipped / "config.yaml").is_file():
        return str(shipped)
    return str(PACKAGE_DIR.parent / "conf")


def default_data_dir() -> Path:
    """The data folder as the default ``data_dir`` names it, for the commands that read it
    without a config (``getdata use``, ``getdata gc``)."""
    return Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


def bundled_data(name: str) -> str:
    """Absolute path of a bundled file (getdata/data/NAME): the ``getdata.data`` resolver."""
    path = Path(str(resources.files("getdata") / "data" / name))
    if not path.is_file():
        raise FileNotFoundError(f"no bundled data file named {name!r} in {path.parent}")
    return str(path)


# ---------------------------------------------------------------------------------------------
# Sources: the base every kind's dataclass derives from (getdata/sources/<kind>.py), with a
# `_target_` naming the function that builds the source. Each field is documented above it.
# ---------------------------------------------------------------------------------------------


@dataclass
class SourceConfig:
    # Expected sha256 of the bytes (hex). When set, a mismatch aborts the run and nothing is logged.
    # With several URLs (source.url a list or mapping): a mapping entry name -> hex, for any of
    # the entries. (Typed Any: OmegaConf has no union of str and mapping; config/checks.py checks.)
    sha256: Any = None
    # Expected md5 of the bytes (hex), for sources that publish md5 instead of sha256 (a mapping
    # by entry name with several URLs, as sha256).
    md5: Any = None
    # Unpack a .zip/.tar/.tar.gz/.tgz/.tar.bz2/.tar.xz/.gz file and log its contents as a folder.
    extract: bool = False


# ---------------------------------------------------------------------------------------------
# What to do with the bytes.
# ---------------------------------------------------------------------------------------------


@dataclass
class FetchConfig:
    # Bytes read and written per step while streaming; at least 1 MiB keeps the overhead low.
    chunk_size: int = 4 * 1024 * 1024
    # Show a progress bar on a terminal (plain log lines otherwise).
    progress: bool = True
    # Tries in all for transient faults (dropped connection, timeout, HTTP 5xx/429, short body).
    attempts: int = 5
    # First wait between tries in seconds; doubles each time, with random jitter.
    backoff: float = 0.5
    # Longest wait between tries, also the cap on a server's Retry-After.
    backoff_max: float = 30.0
    # Files fetched at once from a directory, prefix or glob source (on a network each request
    # waits a round trip: many at once keep the link busy).
    workers: int = 16
    # Small files (1 MiB or less, as listed) of an S3 prefix, fetched at once: each is one GET
    # read whole, so these are requests in flight, not threads (rclone's --transfers).
    requests: int = 64
    # Connections per large http(s) or S3 object (concurrent ranged GETs into one file, each
    # range retried on its own, the ETag pinned on all): 0 chooses by size (one below 16 MiB,
    # one per 8 MiB above, at most 16); 1 is one stream; at most 64.
    connections: int = 0
    # Largest file accepted, in bytes: a larger announced size is refused before the download,
    # and a body that runs past it is cut off (an endless body cannot fill the disk).
    max_bytes: int = 1024**4
    # Seconds one file may take in all, retries included (null: no limit). A server that
    # trickles bytes forever fails here instead of hanging the pipeline.
    deadline: Optional[float] = 24 * 3600.0
    # Bytes that must stay free on the data folder's disk; the fetch stops with one line before
    # it would go below (checked before the download and while it runs).
    min_free_bytes: int = 1024**3
    # The most bytes per second the whole fetch reads, over all its connections and files (a
    # prefix's batch included): an int, or a size such as 500K, 50M, 1G (K, M, G = 1024-based,
    # as in curl --limit-rate and rclone --bwlimit). null: no limit.
    max_rate: Any = None
    # A folder, prefix, glob or several URLs fetched again: only the files whose listing (size +
    # ETag, version id or mtime) changed since the last version kept from the same source are
    # fetched; the others are taken from that version, their bytes proven first. false: every
    # file is fetched again.
    incremental: bool = True


@dataclass
class ExtractConfig:
    # Limits against archive bombs when source.extract=true.
    max_files: int = 100_000
    # Total bytes unpacked, at most.
    max_bytes: int = 50 * 2**30
    # Unpacked bytes per byte of archive, at most.
    max_ratio: float = 1000.0


class DriftAction(str, Enum):
    # log the drift and record it in the artifact metadata
    warn = "warn"
    # refuse the new version: nothing is logged, the recorded schema stays as it was
    fail = "fail"


class InFolder(str, Enum):
    # log the folder; the file's data says why it is invalid
    mark = "mark"
    # refuse the whole folder
    refuse = "refuse"


class OnLimit(str, Enum):
    # keep the file: its data gives format and size, "described": false and the limit
    keep = "keep"
    # refuse the file (in a folder or archive: what inspect.in_folder says for a bad file)
    refuse = "refuse"


@dataclass
class InspectConfig:
    # Record format, rows, columns, schema and column stats in the artifact metadata ("data").
    enabled: bool = True
    # Check that a file named .parquet/.csv/.json/... really is that before logging it.
    check_format: bool = True
    # List at most this many columns in the metadata (the count is always complete).
    max_columns: int = 100
    # When the columns or their types differ from the last fetch of this artifact name:
    # warn (log it, record it under the metadata key "drift") or fail (log nothing).
    on_drift: DriftAction = DriftAction.warn
    # Formats whose check is off (e.g. [parquet]): such files are never refused.
    unchecked: list[str] = field(default_factory=list)
    # Formats recorded by format and size only (e.g. [csv] for huge CSVs).
    undescribed: list[str] = field(default_factory=list)
    # A file in a folder or archive that fails its check: mark it ("invalid" in its data) and
    # log the folder, or refuse the whole folder.
    in_folder: InFolder = InFolder.mark
    # Memory one reader process may take, in bytes (its data: heap and private mappings,
    # pyarrow's and Python's ~0.15 GB at rest included); null: no limit.
    max_memory: Optional[int] = 2 * 2**30
    # Seconds the readers may spend on one file (its check and description); null: no limit.
    timeout: Optional[float] = 600.0
    # Decompressed bytes per byte of a compressed table (.csv.gz, .jsonl.zst, ...) the readers
    # take, at most (never less than 1 MiB): a decompression bomb is not read to its end.
    max_ratio: Optional[float] = 1000.0
    # A file past one of the three limits above: keep it undescribed (its data names the limit;
    # one warning line) or refuse it. Its bytes may be fine: only the description is skipped.
    on_limit: OnLimit = OnLimit.keep


class ArtifactMode(str, Enum):
    # fetch the bytes and log them as files
    copy = "copy"
    # log a reference to the http(s)/s3 object (its ETag/version as checksum), no download
    reference = "reference"


@dataclass
class ArtifactConfig:
    # W&B artifact name; null means the source's file name, made valid for W&B.
    name: Optional[str] = None
    # W&B artifact type, the label later pipeline steps select by.
    type: str = "raw_data"
    # Free text shown in W&B; null means a sentence naming the source.
    description: Optional[str] = None
    # Extra metadata merged into the artifact's metadata (getdata's own keys win).
    metadata: dict[str, Any] = field(default_factory=dict)
    # copy | reference (for data too large to copy: W&B records where it is, not the bytes).
    mode: ArtifactMode = ArtifactMode.copy
    # Log the first N rows of a table as a wandb.Table in the run (0: no preview).
    preview_rows: int = 0
    # Aliases for this version besides "latest" (e.g. prod, 2024-06): the next step can use
    # <name>:<alias>. No "/" or ":"; "v<N>" is W&B's own version name.
    aliases: list[str] = field(default_factory=list)
    # Artifact tags (letters, digits, "-", "_", single spaces between words).
    tags: list[str] = field(default_factory=list)
    # Days W&B keeps this version before deleting it; null keeps it until deleted by hand.
    ttl_days: Optional[int] = None
    # artifact.mode=reference on an S3 prefix or glob: refuse more objects than this.
    max_objects: int = 10_000
    # Link the logged version into the W&B Registry: [<org>/]wandb-registry-<registry>/<collection>.
    # Online only: an offline run logs the artifact and reports the link as skipped.
    link_to: Optional[str] = None


class WandbMode(str, Enum):
    # online when W&B credentials exist, offline otherwise (WANDB_MODE, if set, wins)
    auto = "auto"
    online = "online"
    offline = "offline"
    disabled = "disabled"


@dataclass
class WandbConfig:
    # W&B project: $WANDB_PROJECT when set, else "getdata".
    project: str = "${oc.env:WANDB_PROJECT,getdata}"
    # W&B entity (user or team); null means your default entity.
    entity: Optional[str] = None
    # The run's job type, as later pipeline steps expect it.
    job_type: str = "get_data"
    # Run group, e.g. the pipeline execution this fetch belongs to.
    group: Optional[str] = None
    # Run tags.
    tags: list[str] = field(default_factory=list)
    # Run name shown in W&B; null lets W&B pick one.
    name: Optional[str] = None
    # auto | online | offline | disabled
    mode: WandbMode = WandbMode.auto
    # Seconds to wait for the W&B server (checked before the download when online, and per
    # request while logging) before saying it is unreachable.
    timeout: float = 10.0


@dataclass
class AppConfig:
    # Where the data comes from: source=http|local|s3|fsspec, or a catalog entry (dataset=...).
    source: SourceConfig = MISSING
    artifact: ArtifactConfig = field(default_factory=ArtifactConfig)
    wandb: WandbConfig = field(default_factory=WandbConfig)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    inspect: InspectConfig = field(default_factory=InspectConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    # Folder the fetched files are kept in, shared by every run (W&B reads them from there;
    # `getdata use` finds them there): <data_dir>/<artifact>/<sha256[:16]>/<file or tree>, so
    # the same content is kept once. null: a folder of the run's own, <run dir>/data.
    data_dir: Optional[str] = f"${{oc.env:{DATA_DIR_ENV},{DEFAULT_DATA_DIR}}}"
    # Stat the source first; when it is as at the last successful fetch of this artifact name,
    # fetch and log nothing and report "unchanged".
    skip_unchanged: bool = False
    # Where that is remembered: one small JSON file per artifact name (delete it to reset).
    state_dir: str = "${oc.env:GETDATA_STATE_DIR,.getdata/state}"
    # Only ask the source (and state_dir) whether it is new, changed or unchanged since the last
    # successful fetch; download and log nothing. Exit code 0 unchanged, 3 new/changed, 1 failed.
    check_only: bool = False
    # In a sweep, run no further dataset once one has failed (the summary is still written).
    fail_fast: bool = False
    # Not a setting: getdata sets it when the chosen catalog entry could not be read (not
    # UTF-8, not YAML); the job then fails with this line and a sweep's other jobs run.
    catalog_error: Optional[str] = None


def to_app_config(cfg: DictConfig) -> AppConfig:
    """The typed config; a value left missing (``???``) is one clear line naming the key to set."""
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        keys = ", ".join(missing)
        raise ConfigCompositionException(
            f"missing value for {keys}: set it on the command line, e.g. {missing[0]}=..."
        )
    # Hydra accepts `+key=value` appends even on a typed config, and to_object then drops the
    # key silently; a typo such as `+artifact.nmae=x` must fail instead.
    unknown = _unknown_keys(cfg)
    if unknown:
        raise ConfigCompositionException(
            f"unknown key {', '.join(unknown)}: see `getdata --cfg job` for the settings there are"
        )
    return OmegaConf.to_object(cfg)  # type: ignore[return-value]


def _unknown_keys(node: DictConfig, prefix: str = "") -> list[str]:
    schema = OmegaConf.get_type(node)
    known = {f.name for f in fields(schema)} if is_dataclass(schema) else None
    found = []
    for key in node:
        if key == "hydra" and not prefix:
            continue
        if known is not None and key not in known:
            found.append(f"{prefix}{key!s}")
            continue
        child = node._get_node(key)
        if isinstance(child, DictConfig) and not child._is_missing() and not child._is_none():
            found += _unknown_keys(child, f"{prefix}{key!s}.")
    return found
