"""Make getdata/data/sample.parquet: a small, synthetic table shaped like the music genres dataset.

The committed file is the reference (its bytes depend on the pyarrow version that wrote it); run
this only to change the sample:  python scripts/make_sample.py
"""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

GENRES = ["Dark Trap", "Underground Rap", "Trap Metal", "Emo", "Rap", "RnB", "Pop", "Hiphop"]
ROWS = 500


def make_table(rows: int = ROWS, seed: int = 42) -> pa.Table:
    rng = random.Random(seed)
    columns: dict[str, list] = {
        "danceability": [round(rng.random(), 3) for _ in range(rows)],
        "energy": [round(rng.random(), 3) for _ in range(rows)],
        "key": [rng.randrange(12) for _ in range(rows)],
        "loudness": [round(rng.uniform(-30, 0), 3) for _ in range(rows)],
        "mode": [rng.randrange(2) for _ in range(rows)],
        "tempo": [round(rng.uniform(60, 200), 3) for _ in range(rows)],
        "duration_ms": [rng.randrange(60_000, 400_000) for _ in range(rows)],
        "genre": [rng.choice(GENRES) for _ in range(rows)],
        # Like the real data, some song names are missing.
        "song_name": [None if rng.random() < 0.1 else f"song {i}" for i in range(rows)],
    }
    return pa.table(columns)


def main() -> None:
    out = Path(__file__).resolve().parent.parent / "getdata" / "data" / "sample.parquet"
    pq.write_table(make_table(), out, compression="snappy")
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
