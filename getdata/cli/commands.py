"""``getdata use`` and ``getdata gc`` (also ``python -m getdata use …``): the two commands that
are not a fetch, for shell steps.

    getdata use raw_data.parquet:prod      # prints the local path of that version
    getdata gc --dry-run                   # lists the versions gc would remove
    getdata gc                             # removes them

Each prints what it was asked for on stdout and, on failure, one line ``getdata: …`` on stderr
with exit code 1 (2 for a usage error, as argparse does).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ..config import DATA_DIR_ENV
from ..errors import GetDataError, full_errors
from ..pipeline.gc import gc
from ..pipeline.use import use
from ..redact import redact_text

COMMANDS = ("use", "gc")

_DATA_DIR_HELP = f"the data folder (default: ${DATA_DIR_ENV}, else .getdata/data)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="getdata", description="getdata's commands")
    sub = parser.add_subparsers(dest="command", required=True)
    p_use = sub.add_parser(
        "use",
        help="print the local path of a version getdata logged",
        description="Print the local path of a version getdata logged (the file, or the "
        "folder of a folder artifact), from getdata's record in the data folder.",
    )
    p_use.add_argument("reference", help="<artifact>[:<alias> | :latest | :vN]")
    p_use.add_argument("--data-dir", help=_DATA_DIR_HELP)
    p_gc = sub.add_parser(
        "gc",
        help="remove kept versions nothing refers to",
        description="Remove the kept versions that are not latest, hold no alias, are not "
        "among the last logged (--keep-last) and that no unsynced offline W&B run refers to.",
    )
    p_gc.add_argument("--data-dir", help=_DATA_DIR_HELP)
    p_gc.add_argument(
        "--keep-last", type=int, default=1, help="also keep the N versions logged last (1)"
    )
    p_gc.add_argument(
        "--wandb-dir",
        action="append",
        default=[],
        help="more W&B folders whose unsynced offline runs count (beside $WANDB_DIR or .)",
    )
    p_gc.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    return parser


def main(argv: Sequence[str]) -> int:
    """Run ``getdata use|gc ARGS``; the exit code."""
    args = _parser().parse_args(list(argv))
    try:
        if args.command == "use":
            print(use(args.reference, data_dir=args.data_dir))
            return 0
        _show_progress()
        gc(
            args.data_dir,
            keep_last=args.keep_last,
            dry_run=args.dry_run,
            wandb_dirs=args.wandb_dir,
        )
        return 0
    except GetDataError as exc:
        return _failed(str(exc))
    except OSError as exc:
        if full_errors():
            raise
        return _failed(f"{exc.filename or ''}: {exc.strerror or exc}")


def _show_progress() -> None:
    """gc says what it removes, one line each, and what it freed."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)


def _failed(message: str) -> int:
    lines = message.strip().splitlines()
    sys.stderr.write(f"getdata: {redact_text(lines[0] if lines else message)}\n")
    return 1
