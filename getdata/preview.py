"""The first rows of a table, for the optional preview logged next to the artifact."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from .inspect import detect_format


def head_rows(path: Path, name: str, rows: int) -> Optional[Any]:
    """The first ``rows`` rows as a pyarrow Table (read in one small batch), or None."""
    fmt = detect_format(name)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        batches = pq.ParquetFile(path).iter_batches(batch_size=rows)
        return _table(next(batches, None))
    if fmt in ("csv", "tsv"):
        import pyarrow.csv as pacsv

        options = pacsv.ParseOptions(delimiter="\t" if fmt == "tsv" else ",")
        with pacsv.open_csv(path, parse_options=options) as reader:
            return _table(reader.read_next_batch()).slice(0, rows)
    if fmt == "jsonl":
        import pyarrow as pa
        import pyarrow.json as pajson

        # Only the head: whole lines from the first MiB (enough for any sensible preview).
        with path.open("rb") as f:
            head = f.read(2**20)
        head = head[: head.rfind(b"\n") + 1] or head
        return pajson.read_json(pa.BufferReader(head)).slice(0, rows)
    if fmt == "arrow":
        import pyarrow as pa
        import pyarrow.ipc as ipc

        with pa.memory_map(str(path)) as source, ipc.open_file(source) as reader:
            if reader.num_record_batches == 0:
                return None
            return _table(reader.get_batch(0)).slice(0, rows)
    return None


def _table(batch: Any) -> Any:
    import pyarrow as pa

    return None if batch is None else pa.Table.from_batches([batch])
