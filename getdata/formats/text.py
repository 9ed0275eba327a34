"""What the text readers (CSV/TSV, JSON Lines, JSON) share: block sizes and error wording."""

from __future__ import annotations

import re

MiB = 1024 * 1024
# How much of a file the check reads when the description is switched off.
HEAD_BYTES = MiB
# The streaming readers' block: memory holds a few of these (parsed and being parsed).
BLOCK_SIZE = 4 * MiB
# A CSV row or JSON line longer than a block makes the block grow, up to this much; longer rows
# are refused rather than letting one line take the memory.
MAX_BLOCK_SIZE = 64 * MiB

# pyarrow's JSON errors count rows from the start of the block: "... Invalid value. in row 8337"
_IN_ROW = re.compile(r" in row (\d+)$")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def straddles(exc: BaseException) -> bool:
    return "straddl" in str(exc)  # "straddling object straddles two block boundaries"


def located(exc: BaseException, rows_before: int) -> Exception:
    """pyarrow's error, saying where in the file: its block starts after ``rows_before`` rows.

    Approximate for JSON Lines with blank lines; a CSV error already quotes the row it hit.
    """
    import pyarrow as pa

    message = first_line(exc)
    found = _IN_ROW.search(message)
    if found:
        message = f"{message[: found.start()]} near line {rows_before + int(found.group(1)) + 1}"
    elif rows_before:
        message = f"{message} (after row {rows_before})"
    return pa.ArrowInvalid(message)
