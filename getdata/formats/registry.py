"""The one table of formats: which names mean which format, and which module reads it.

Inspection, extraction and the preview all look formats up here. Adding a table format means
adding its module (with ``describe`` and ``head``) and one line in ``FORMATS``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from types import ModuleType
from typing import Optional


@dataclass(frozen=True)
class Format:
    # The name recorded in the metadata ("format") and used by the per-format config switches.
    name: str
    # File name suffixes (lower case, with the dot) that declare this format.
    suffixes: tuple[str, ...]
    # The module (in getdata.formats) that checks, describes and previews it; None: bytes only.
    reader: Optional[str] = None
    # Whether the format can be read through a compression (text yes; footers need the file).
    streamable: bool = False

    def module(self) -> Optional[ModuleType]:
        if self.reader is None:
            return None
        return importlib.import_module(f"{__package__}.{self.reader}")


FORMATS: tuple[Format, ...] = (
    Format("parquet", (".parquet", ".pq"), "parquet"),
    Format("arrow", (".arrow", ".feather", ".ipc"), "arrow"),
    Format("csv", (".csv",), "delimited", streamable=True),
    Format("tsv", (".tsv",), "delimited", streamable=True),
    Format("jsonl", (".jsonl", ".ndjson"), "jsonlines", streamable=True),
    Format("json", (".json",), "jsondoc", streamable=True),
    # Binary containers, recorded by name only (anything else is "binary").
    Format("zip", (".zip",)),
    Format("tar", (".tar",)),
    Format("7z", (".7z",)),
    Format("npy", (".npy",)),
    Format("npz", (".npz",)),
    Format("hdf5", (".h5", ".hdf5")),
    Format("pickle", (".pkl", ".pickle")),
    Format("safetensors", (".safetensors",)),
)
BINARY = Format("binary", ())

# A compression suffix -> the codec name recorded in the metadata ("compression").
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".xz": "xz"}
# Single-suffix names of compressed tars.
_COMPRESSED_TARS = {".tgz": "gzip", ".tbz2": "bz2", ".txz": "xz"}

_BY_SUFFIX = {suffix: f for f in FORMATS for suffix in f.suffixes}
BY_NAME = {f.name: f for f in (*FORMATS, BINARY)}


def kind(name: str) -> tuple[Format, Optional[str]]:
    """(format, compression) a file name declares: data.csv.gz -> (csv, "gzip").

    Decided from the name alone, never from a path on disk (a temp file ends in ``.part``).
    """
    path = PurePosixPath(name.replace("\\", "/"))
    suffix = path.suffix.lower()
    if suffix in _COMPRESSED_TARS:
        return BY_NAME["tar"], _COMPRESSED_TARS[suffix]
    if suffix in COMPRESSIONS:
        inner = _BY_SUFFIX.get(PurePosixPath(path.stem).suffix.lower())
        # A plain "x.gz" is a compressed stream of unknown content: the format is the codec's.
        return (inner, COMPRESSIONS[suffix]) if inner else (BINARY, COMPRESSIONS[suffix])
    return _BY_SUFFIX.get(suffix, BINARY), None


def table_format(name: str) -> Optional[str]:
    """The table format a file name declares (uncompressed, by its last suffix), or None."""
    fmt, compression = kind(name)
    return fmt.name if fmt.reader is not None and compression is None else None
