"""Hugging Face Hub: a file, folder or glob of a repository, read through huggingface_hub's
``hf://`` filesystem. Also the example of a source kind as a plug-in: this module and its config
dataclass are all it takes (``pip install 'getdata[hf]'`` brings huggingface_hub).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional
from urllib.parse import quote

from omegaconf import MISSING

from ..config import SourceConfig
from ..errors import SourceError
from ..names import printable, safe_relpath
from .base import Source, basename_of

KIND = "hf"


@dataclass
class HfSource(SourceConfig):
    _target_: str = "getdata.sources.hf.build"
    # The repository: "datasets/<owner>/<name>", "spaces/<owner>/<name>" or "<owner>/<model>".
    repo: str = MISSING
    # A file, folder or glob inside the repository ("" is the whole repository).
    path: str = ""
    # A branch, tag or commit; pin a commit for a fetch that can be repeated exactly.
    revision: Optional[str] = None
    # The Hub's address for a mirror or a private Hub (null: huggingface_hub's default, which
    # honours HF_ENDPOINT). The token comes from HF_TOKEN or `hf auth login`, never from here.
    endpoint: Optional[str] = None


def build(cfg: HfSource) -> Source:
    repo = safe_relpath(cfg.repo.strip("/"), "source.repo").as_posix()
    inner = safe_relpath(cfg.path.strip("/"), "source.path").as_posix() if cfg.path else ""
    try:
        from huggingface_hub import HfFileSystem
    except ImportError:
        raise SourceError("source=hf needs huggingface_hub: pip install 'getdata[hf]'") from None
    revision = f"@{quote(cfg.revision, safe='')}" if cfg.revision else ""
    path = f"{repo}{revision}" + (f"/{inner}" if inner else "")
    fs = HfFileSystem(endpoint=cfg.endpoint, skip_instance_cache=True)
    return Source(
        url=f"hf://{path}",
        display=printable(f"hf://{path}"),
        kind=KIND,
        fs=fs,
        path=path,
        basename=basename_of(path),
    )
