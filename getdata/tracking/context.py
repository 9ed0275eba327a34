"""What the process looks like to wandb while a run starts: environment variables set for the
run alone, wandb's loggers kept out of the terminal, the command line with secrets masked."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from ..redact import redact_text


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def wandb_logs_to_its_own_file() -> Iterator[None]:
    """wandb's Python loggers write to its debug.log; propagated to the root logger (Hydra's
    console handler) a full disk showed as ~1000 lines of tracebacks in the user's terminal."""
    logger = logging.getLogger("wandb")
    saved = logger.propagate
    logger.propagate = False
    try:
        yield
    finally:
        logger.propagate = saved


@contextmanager
def argv_redacted() -> Iterator[None]:
    """W&B records the command line (sys.argv) in the run's metadata; overrides may hold a
    signed URL or a header, so it sees them masked."""
    saved = sys.argv[:]
    sys.argv[1:] = [redact_text(arg) for arg in saved[1:]]
    try:
        yield
    finally:
        sys.argv[:] = saved
