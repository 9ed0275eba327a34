"""What goes into the W&B artifact: its spec (the one place an option is added), the wandb
Artifact built from it, and its link into the W&B Registry."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Optional

from ..errors import GetDataError, explain
from .compat import add_file
from .context import environment

log = logging.getLogger(__name__)


@dataclass
class ArtifactSpec:
    """Everything that goes into the artifact: the one place an option is added."""

    name: str
    type: str
    description: str
    metadata: dict[str, Any]
    files: Sequence[tuple[Path, str, Optional[str]]]
    references: Sequence[tuple[str, str]]
    reference_env: dict[str, str]
    preview: Optional[Any]
    # W&B options for the logged version (artifact.aliases/tags/ttl_days/link_to).
    aliases: Sequence[str] = ()
    tags: Sequence[str] = ()
    ttl_days: Optional[int] = None
    link_to: Optional[str] = None


def new_artifact(wandb: Any, item: ArtifactSpec) -> Any:
    # MD5 named explicitly: the digests handed over below are MD5s (wandb may change its default).
    artifact = wandb.Artifact(
        name=item.name,
        type=item.type,
        description=item.description,
        metadata=item.metadata,
        digest_algorithm="MD5",
    )
    if item.ttl_days is not None:
        artifact.ttl = timedelta(days=item.ttl_days)
    for path, entry, md5 in item.files:
        add_file(artifact, path, entry, md5)
    with environment(item.reference_env):
        for uri, entry in item.references:
            artifact.add_reference(uri, name=entry, checksum=True)
    return artifact


def link(
    run: Any, logged: Any, mode: str, target: Optional[str], aliases: Sequence[str]
) -> Optional[str]:
    """Link the logged version into the W&B Registry (artifact.link_to), online only.

    wandb 0.31 raises NotImplementedError for run.link_artifact in an offline run, after logging
    the artifact a second time, and `wandb sync` has nothing to replay; so offline the link is
    skipped, and said so with the call that links it once the run is synced.
    """
    if not target:
        return None
    if mode != "online":
        log.warning(
            "artifact.link_to=%s: not linked: W&B links only online (an offline run cannot, and "
            "`wandb sync` does not); after the sync: "
            "wandb.Api().artifact('<entity>/%s/%s:%s').link('%s')",
            target,
            run.project,
            logged.name.split(":")[0],  # the artifact's name, without a version
            aliases[0] if aliases else "latest",
            target,
        )
        return None
    try:
        run.link_artifact(logged, target, list(aliases) or None)
    except Exception as exc:  # no such registry, no permission, ...: the version stays logged
        raise GetDataError(
            f"logged {logged.name} but could not link it to {target}: {explain(exc)}"
        ) from exc
    return target
