"""A private temporary folder for one getdata process, removed when it ends.

wandb keeps module-level temporary folders (``wandb-media``, ``wandb-artifacts``, a table's JSON)
that only its interpreter-exit hooks remove; getdata ends a single run with ``os._exit`` (see
``__main__.cli``), which skips them. So the process, and every child it starts (wandb-core), gets
a temporary folder of its own inside TMPDIR, removed on the way out: TMPDIR is as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def private_tmpdir() -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix="getdata-")
    saved_env, saved_default = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"] = folder
    tempfile.tempdir = folder
    try:
        yield folder
    finally:
        tempfile.tempdir = saved_default
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env
        shutil.rmtree(folder, ignore_errors=True)
