"""The W&B artifact options (aliases, tags, TTL, Registry link, run name): checked before the
fetch, so a typo fails in a second instead of after a long download, and handed to track.py.

The rules are W&B's own (wandb/sdk/artifacts/_validators.py, 0.31): an alias has no "/" or ":",
a tag is words of letters, digits, "-" and "_" separated by single spaces. getdata adds that an
alias is not a version name ("v3": W&B assigns those) and that a Registry path has no alias
(``:x``): the link gets ``artifact.aliases``.
"""

from __future__ import annotations

import re
from typing import Any

from .config import AppConfig
from .errors import GetDataError

# W&B's limit for names; aliases and tags are held to it too.
MAX_LEN = 128
_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
_TAG = re.compile(r"^[-\w]+( [-\w]+)*$")
_VERSION = re.compile(r"^v\d+$")
# One part of a Registry path: an org/entity, a project (wandb-registry-<name>) or a collection.
_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ConfigError(GetDataError):
    """A setting that cannot work (an override, a value W&B would reject), found before
    anything was fetched."""


def validate(cfg: AppConfig) -> None:
    """Refuse artifact options W&B would reject, in one line naming the setting."""
    art = cfg.artifact
    # W&B's rule for names; it also keeps <state_dir>/<name>.json inside state_dir.
    if art.name is not None and (
        not _NAME.match(art.name) or len(art.name) > MAX_LEN or set(art.name) == {"."}
    ):
        raise ConfigError(
            f"artifact.name={art.name!r}: use up to {MAX_LEN} letters, digits, '-', '_' and '.'"
        )
    for alias in art.aliases:
        _check_alias(str(alias))
    for tag in art.tags:
        tag = str(tag)
        if len(tag) > MAX_LEN or not _TAG.match(tag):
            raise ConfigError(
                f"artifact.tags: {tag!r} is not a valid tag: use letters, digits, '-' and '_', "
                "words separated by single spaces"
            )
    if art.ttl_days is not None and art.ttl_days < 1:
        raise ConfigError(
            f"artifact.ttl_days={art.ttl_days}: use a number of days >= 1, or null to keep it"
        )
    if art.link_to is not None:
        _check_link(art.link_to)
    if cfg.wandb.name is not None and (
        not cfg.wandb.name.strip() or len(cfg.wandb.name) > MAX_LEN or _control(cfg.wandb.name)
    ):
        raise ConfigError(f"wandb.name: use 1 to {MAX_LEN} printable characters")


def _check_alias(alias: str) -> None:
    if not alias or len(alias) > MAX_LEN or _control(alias) or alias != alias.strip():
        problem = f"use 1 to {MAX_LEN} printable characters"
    elif "/" in alias or ":" in alias:
        problem = "an alias cannot contain '/' or ':'"
    elif _VERSION.match(alias):
        problem = "v<N> is the version name W&B assigns itself"
    else:
        return
    raise ConfigError(f"artifact.aliases: {alias!r} is not a valid alias: {problem}")


def _check_link(path: str) -> None:
    parts = path.split("/")
    if len(parts) in (2, 3) and all(_PART.match(p) and len(p) <= MAX_LEN for p in parts):
        return
    raise ConfigError(
        f"artifact.link_to={path!r}: expected [<org>/]wandb-registry-<registry>/<collection> "
        "(letters, digits, '.', '_', '-'; the aliases come from artifact.aliases)"
    )


def _control(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def wandb_options(cfg: AppConfig) -> dict[str, Any]:
    """Keyword arguments for track.log_artifact: the artifact's aliases, tags, TTL, Registry
    link, and the run name."""
    return {
        "aliases": [str(a) for a in dict.fromkeys(cfg.artifact.aliases)],
        "tags": [str(t) for t in dict.fromkeys(cfg.artifact.tags)],
        "ttl_days": cfg.artifact.ttl_days,
        "link_to": cfg.artifact.link_to,
        "run_name": cfg.wandb.name,
    }
