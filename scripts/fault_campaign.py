#!/usr/bin/env python
"""A long campaign of the fault model (tests/faultmodel.py) against getdata's transfer.

    python scripts/fault_campaign.py --runs 10000              # every 10th run killed with -9
    python scripts/fault_campaign.py --runs 50 --start 7000     # replay a range of seeds

Each run draws a server's behaviour and getdata's settings from its seed, fetches, and checks
the invariant: the kept bytes are exactly one version of the object and what getdata says of
them describes that version, or the fetch failed in one line and nothing is kept. Violations
are printed with the seed that replays them (``--start SEED --runs 1``); the exit code is 1 when
there was one. The CI suite runs 330 of these (tests/test_fault_model.py).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import faultrun  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--start", type=int, default=0, help="the first seed")
    parser.add_argument("--kill-every", type=int, default=10, help="every Nth run: kill -9")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    faultrun.shrink()
    violations: list[str] = []
    kinds: Counter[str] = Counter()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="getdata-faults-") as tmp:
        for n, seed in enumerate(range(args.start, args.start + args.runs)):
            kill = args.kill_every > 0 and seed % args.kill_every == 0
            kinds["killed" if kill else "plain"] += 1
            found = faultrun.run(seed, Path(tmp), kill=kill)
            for line in found:
                print(line, flush=True)
            violations += found
            if (n + 1) % 100 == 0:
                rate = (n + 1) / (time.monotonic() - started)
                print(
                    f"{n + 1} runs, {len(violations)} violations ({rate:.1f} runs/s)",
                    file=sys.stderr,
                    flush=True,
                )
    seconds = time.monotonic() - started
    print(
        f"{args.runs} runs (seeds {args.start}-{args.start + args.runs - 1}; "
        f"{kinds['killed']} killed with -9) in {seconds:.0f} s: {len(violations)} violations"
    )
    sys.exit(1 if violations else 0)


if __name__ == "__main__":
    main()
