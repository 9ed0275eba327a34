"""Arrow IPC (file or stream format; Feather v2 is the file format).

Rows and null counts from the record batches of a memory-mapped file: a batch read from a
memory map points into the map, so this touches metadata pages only (compressed batches, and
the rare columns whose nulls are not in a validity bitmap, excepted). No min/max: those would
read every value.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Optional

from .source import Source
from .stats import Columns

if TYPE_CHECKING:
    import pyarrow as pa


def describe(source: Source, max_columns: int, check_only: bool) -> dict[str, Any]:
    import pyarrow as pa

    with source.path.open("rb") as f:
        if f.read(4) == b"FEA1":  # Feather v1, the pre-IPC format: no cheap footer to read
            return {}
    with pa.memory_map(str(source.path)) as mapped:
        batches, schema = _open_ipc(mapped)
        if check_only:
            return {}
        columns = Columns(max_columns, min_max=False)
        columns.add_schema(schema)
        for batch in batches:
            columns.add_batch(batch)
        return columns.meta()


def _open_ipc(mapped: Any) -> tuple[Iterator[Any], pa.Schema]:
    """Batches and schema of the IPC file format, else of the stream format (HF datasets')."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    try:
        reader = ipc.open_file(mapped)
    except pa.ArrowInvalid as not_a_file:
        mapped.seek(0)
        try:
            stream = ipc.open_stream(mapped)
        except Exception:  # garbage: what open_file said is the better message
            raise not_a_file from None
        return iter(stream), stream.schema
    batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
    return batches, reader.schema


def head(path: Any, rows: int) -> Optional[pa.Table]:
    import pyarrow as pa

    with pa.OSFile(str(path)) as opened:  # read, not mapped: the table outlives the file
        batches, _ = _open_ipc(opened)
        batch = next(batches, None)
        return None if batch is None else pa.Table.from_batches([batch]).slice(0, rows)
