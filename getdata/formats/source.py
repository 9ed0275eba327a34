"""The bytes of a file as a reader sees them: decompressed, whatever the codec."""

from __future__ import annotations

import lzma
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

# Codecs pyarrow decompresses natively; others go through Python's modules (slower, same result).
_PYARROW_CODECS = ("gzip", "bz2", "zstd")
CHUNK = 1 << 20


@dataclass(frozen=True)
class Source:
    # The file on disk (possibly a temp file whose suffix means nothing).
    path: Path
    # The name the file goes by (songs.csv.gz): what formats are decided from.
    name: str
    # "gzip", "bz2", "zstd", "xz" or None.
    compression: Optional[str] = None

    def open(self) -> Any:
        """A fresh pyarrow input stream over the (decompressed) bytes; truncation raises."""
        import pyarrow as pa

        if self.compression is None or self.compression in _PYARROW_CODECS:
            # Never "detect": the name on disk need not match the declared one.
            return pa.input_stream(str(self.path), compression=self.compression)
        if self.compression == "xz":
            return pa.PythonFile(lzma.open(self.path, "rb"), mode="r")
        raise ValueError(f"no reader for {self.compression} compression")

    def head(self, size: int) -> bytes:
        """Up to ``size`` decompressed bytes from the start."""
        with self.open() as stream:
            return bytes(stream.read(size))

    def read_through(self) -> int:
        """Decompress to the end (the check of a compressed file we do not otherwise read)."""
        total = 0
        with self.open() as stream:
            while chunk := stream.read(CHUNK):
                total += len(chunk)
        return total
