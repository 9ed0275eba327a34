"""The package's layout rules, read from the source (tests/importgraph.py): no import circle, no
import from a lower layer to a higher one, no private name taken across modules, no module over
450 lines, at most 6 modules at the package root. The checker is tested on a package made here
that breaks each rule, so these tests can fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import importgraph

PACKAGE = Path(__file__).resolve().parent.parent / "getdata"


@pytest.fixture(scope="module")
def found() -> dict[str, importgraph.Module]:
    return importgraph.modules(PACKAGE)


def test_no_import_circles(found: dict[str, importgraph.Module]) -> None:
    assert importgraph.circles(found) == []


def test_imports_run_down_the_layers(found: dict[str, importgraph.Module]) -> None:
    assert importgraph.upward(found) == []


def test_no_private_name_is_taken_from_another_module(
    found: dict[str, importgraph.Module],
) -> None:
    assert importgraph.private_imports(found) == []


def test_no_module_is_too_long(found: dict[str, importgraph.Module]) -> None:
    assert importgraph.too_long(found) == []


def test_few_modules_at_the_root(found: dict[str, importgraph.Module]) -> None:
    root = importgraph.root_modules(found, "getdata")
    assert len(root) <= importgraph.MAX_ROOT_MODULES, root


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / "getdata" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "getdata"


def test_the_checker_finds_each_kind_of_problem(tmp_path: Path) -> None:
    package = _write(
        tmp_path,
        {
            "__init__.py": "",
            "errors.py": "from .config import schema\n",  # upward (1 -> 2) and a circle
            "config/__init__.py": "",
            "config/schema.py": "from ..errors import _secret\n",  # private
            "transfer/__init__.py": "",
            "transfer/parts.py": "def f():\n    from . import stream\n    return stream._x\n",
            "transfer/stream.py": "from .parts import f\n" + "x = 1\n" * 460,  # circle, long
            "elsewhere.py": "",  # in no layer
        },
    )
    found = importgraph.modules(package)
    assert importgraph.circles(found) == [
        ["getdata.config.schema", "getdata.errors"],
        ["getdata.transfer.parts", "getdata.transfer.stream"],
    ]
    assert importgraph.upward(found) == [
        "getdata.elsewhere: in no layer of LAYERS",
        "getdata.errors (layer 1) imports getdata.config.schema (layer 2)",
    ]
    private = importgraph.private_imports(found)
    assert [p.split(": ", 1)[1] for p in private] == [
        "from getdata.errors import _secret",
        "getdata.transfer.stream._x",
    ]
    assert [Path(p.split(":")[0]).name for p in importgraph.too_long(found)] == ["stream.py"]
