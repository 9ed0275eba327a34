"""Print `name==version` for the lowest version of each dependency pyproject.toml declares.

scripts/test.sh installs getdata with these as constraints into .venv-floors and runs the suite
there, so a floor that does not work (pyarrow 15-19: no pyarrow.json.open_json) fails CI.
Runs on any Python 3 (no tomllib): the `dependencies = [...]` list is read with a regex.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def floors(pyproject: str) -> list[str]:
    block = re.search(r"^dependencies = \[(.*?)^\]", pyproject, re.M | re.S)
    if block is None:
        raise SystemExit("no dependencies list in pyproject.toml")
    found = []
    for spec in re.findall(r'"([^"]+)"', block.group(1)):
        match = re.match(r"\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*(.*)", spec)
        if match is None:
            continue
        name, bounds = match.groups()
        lowest = re.search(r">=\s*([^,;\s]+)", bounds)
        if lowest is None:
            raise SystemExit(f"{spec!r} declares no lower bound: add one (>=)")
        found.append(f"{name}=={lowest.group(1)}")
    return found


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml")
    print("\n".join(floors(path.read_text())))
