"""artifact.mode=reference for an S3 prefix or glob: one W&B reference per object, bounded.

W&B's own ``add_reference("s3://bucket/prefix/")`` lists the prefix itself, but knows no globs and
silently stops at ``max_objects``; getdata already has the listing (sizes, ETags), so it refuses a
listing over ``artifact.max_objects`` in one line instead of logging part of it, and names each
entry by its path relative to the prefix, as a copied folder would be.
"""

from __future__ import annotations

from typing import Any

from ..errors import GetDataError
from ..sources import Source, SourceInfo

# A reference artifact's metadata lists at most this many objects.
MAX_LISTED = 1000


def prefix_references(
    source: Source, members: list[Source], max_objects: int
) -> tuple[list[tuple[str, str]], SourceInfo, dict[str, Any]]:
    """(URI, name) per object, the total size, and the metadata listing."""
    if len(members) > max_objects:
        raise GetDataError(
            f"{source.display}: {len(members)} objects, more than artifact.max_objects="
            f"{max_objects}: raise it or narrow the prefix or glob"
        )
    refs = [(f"s3://{m.path}", m.basename) for m in members]
    sizes = [m.listed.size if m.listed and m.listed.size is not None else 0 for m in members]
    listing = {
        "file_count": len(members),
        "files": [
            {"path": m.basename, "size": size, "etag": m.listed.etag if m.listed else None}
            for m, size in list(zip(members, sizes, strict=True))[:MAX_LISTED]
        ],
        "files_truncated": len(members) > MAX_LISTED,
    }
    return refs, SourceInfo(size=sum(sizes)), listing
