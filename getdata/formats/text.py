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


# What no text holds: a reader's error that quotes such bytes quotes binary (a gzip body read as
# CSV, say), which has no place in a one-line error.
_NOT_TEXT = re.compile(r"[\ufffd\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def first_line(exc: BaseException) -> str:
    """A reader's error as one line, without the binary it may quote."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    found = _NOT_TEXT.search(line)
    if found:
        line = f"{line[: found.start()].rstrip()} [bytes that are not text]"
    return line[:300]


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
