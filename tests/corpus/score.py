"""Counts of crashes, wrong numbers, wrongly refused and wrongly accepted files on the corpus.

    PYTHONPATH=$PWD python tests/corpus/score.py            # getdata.formats (after)
    PYTHONPATH=$PWD python tests/corpus/score.py --before   # getdata/inspect.py at 7b139f5

"Before" runs the old inspect_file in one subprocess per file (it has no containment: a crash
kills the subprocess, which is what is counted); "after" uses describe_files, one contained batch.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[2]))
from tests.corpus import (
    generated,  # noqa: E402
    reference,  # noqa: E402
)

BEFORE = "7b139f5"
_OLD = """
import importlib.util, json, pathlib, sys
spec = importlib.util.spec_from_file_location("getdata.old_inspect", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
for line in sys.stdin:
    path = pathlib.Path(line.rstrip("\\n"))
    try:
        print(json.dumps({"data": module.inspect_file(path, path.name)}), flush=True)
    except module.IntegrityError as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
"""


def before(files: list[Path], work: Path) -> list[dict[str, Any]]:
    """The old code over the files in one process; when it dies, the next one takes the rest."""
    source = subprocess.run(
        ["git", "show", f"{BEFORE}:getdata/inspect.py"], capture_output=True, check=True
    ).stdout
    old = work / "old_inspect.py"
    old.write_bytes(source)
    results: list[dict[str, Any]] = []
    while len(results) < len(files):
        rest = files[len(results) :]
        done = subprocess.run(
            [sys.executable, "-c", _OLD, str(old)],
            input="".join(f"{p}\n" for p in rest).encode(),
            capture_output=True,
            timeout=600,
        )
        lines = done.stdout.decode().splitlines()
        results += [json.loads(line) for line in lines]
        if len(lines) < len(rest):
            reason = (done.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1]
            results.append({"crash": f"rc {done.returncode}: {reason[:120]}"})
    return results


def after(files: list[Path]) -> list[dict[str, Any]]:
    from getdata.formats import describe_files
    from getdata.formats.describe import Options

    described = describe_files([(p, p.name) for p in files], Options(in_folder="mark"))
    results: list[dict[str, Any]] = []
    for data in described:
        if "invalid" in data:
            crashed = "crashed (SIG" in data["invalid"]
            results.append({"error": data["invalid"], "crash_contained": crashed})
        else:
            results.append({"data": data})
    return results


def score(results: list[dict[str, Any]], files: list[tuple[Path, bool]]) -> dict[str, Any]:
    counts = {
        "files": len(files),
        "valid": sum(ok for _, ok in files),
        "invalid": sum(not ok for _, ok in files),
        "crashes": 0,
        "wrong_numbers": 0,
        "wrongly_refused": 0,
        "wrongly_accepted": 0,
        "crashes_contained": 0,
    }
    details: dict[str, list[str]] = {
        k: [] for k in counts if k not in ("files", "valid", "invalid")
    }
    for (path, ok), result in zip(files, results, strict=True):
        label = f"{path.parent.name}/{path.name}"
        if "crash" in result:
            counts["crashes"] += 1
            details["crashes"].append(f"{label}: {result['crash']}")
            continue
        if result.get("crash_contained"):
            counts["crashes_contained"] += 1
            details["crashes_contained"].append(label)
        accepted = "data" in result
        if accepted and not ok:
            counts["wrongly_accepted"] += 1
            details["wrongly_accepted"].append(label)
        if not accepted and ok:
            counts["wrongly_refused"] += 1
            details["wrongly_refused"].append(f"{label}: {result['error'][:150]}")
        if accepted and ok:
            truth = reference.reading(path)
            wrong = reference.wrong_numbers(result["data"], truth) if truth is not None else []
            if wrong:
                counts["wrong_numbers"] += 1
                details["wrong_numbers"].append(f"{label}: {'; '.join(wrong)[:200]}")
    return {"counts": counts, "details": details}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        made = generated.write_all(work / "generated")
        files = reference.corpus_files(made, work / "generated")
        paths = [p for p, _ in files]
        results = before(paths, work) if "--before" in sys.argv else after(paths)
        print(json.dumps(score(results, files), indent=1))


if __name__ == "__main__":
    main()
