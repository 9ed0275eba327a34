"""The bytes of a file as a reader sees them: decompressed, whatever the codec."""

from __future__ import annotations

import lzma
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from .limits import Budget

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
    # What the decompressed bytes may come to (inspect.max_ratio); None: no limit.
    budget: Optional[Budget] = None

    def open(self) -> Any:
        """A fresh pyarrow input stream over the (decompressed) bytes; truncation raises, and
        so does reading past the budget (:class:`~getdata.formats.limits.LimitError`)."""
        import pyarrow as pa

        if self.compression is None:
            return pa.input_stream(str(self.path))
        if self.compression in _PYARROW_CODECS:
            # Never "detect": the name on disk need not match the declared one.
            stream = pa.input_stream(str(self.path), compression=self.compression)
        elif self.compression == "xz":
            stream = lzma.open(self.path, "rb")  # noqa: SIM115 (closed by the reader)
        else:
            raise ValueError(f"no reader for {self.compression} compression")
        if self.budget is not None and self.budget.cap is not None:
            return self.budget.wrap(stream)
        return stream if self.compression != "xz" else pa.PythonFile(stream, mode="r")

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
