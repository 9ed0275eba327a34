"""getdata's import graph, read from the source with ``ast`` (nothing is imported or run).

The layout rules it lets tests/test_layout.py check:

* no circle: no module reaches itself through imports (function-level imports included:
  a circle closed at run time is still a circle);
* no upward import: each top-level part of the package has a layer (``LAYERS``), and a module
  imports only from its own layer or the ones below;
* no private name across modules: ``from .x import _name`` and ``x._name`` on an imported
  module are refused (what is shared is public in its home module);
* sizes: no module over ``MAX_LINES`` lines, at most ``MAX_ROOT_MODULES`` at the root.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

# The data flows one way: config -> source -> transfer -> store -> inspect -> track, and the
# entry points call the pipeline. Lower numbers are lower layers; a module may import from its
# own layer and below, never above.
LAYERS = {
    "redact": 0,
    "errors": 1,
    "names": 1,
    "config": 2,
    "sources": 3,
    "formats": 3,
    "store": 4,
    "transfer": 5,
    "tracking": 5,
    "pipeline": 6,
    "cli": 7,
    "__init__": 8,
    "__main__": 8,
}
MAX_LINES = 450
MAX_ROOT_MODULES = 6


@dataclass
class Module:
    name: str  # dotted, e.g. getdata.transfer.parts
    path: Path
    lines: int
    is_package: bool
    imports: set[str] = field(default_factory=set)
    # (line, text) of every private name taken from another module
    private: list[tuple[int, str]] = field(default_factory=list)


def modules(package_dir: Path) -> dict[str, Module]:
    """Every module of the package at ``package_dir``, with what it imports from the package."""
    top = package_dir.name
    found: dict[str, Module] = {}
    for path in sorted(package_dir.rglob("*.py")):
        rel = path.relative_to(package_dir.parent).with_suffix("")
        parts = list(rel.parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        name = ".".join(parts)
        found[name] = Module(name, path, len(path.read_text().splitlines()), is_package)
    for module in found.values():
        _read_imports(module, found, top)
    return found


def _resolve(module: Module, level: int, target: str | None) -> str:
    """The absolute dotted name a (possibly relative) import names."""
    if level == 0:
        return target or ""
    base = module.name.split(".")
    if not module.is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def _read_imports(module: Module, found: dict[str, Module], top: str) -> None:
    tree = ast.parse(module.path.read_text(), str(module.path))
    aliases: dict[str, str] = {}  # local name -> a module of the package
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] != top:
                    continue
                target = _nearest(alias.name, found)
                if target:
                    module.imports.add(target)
                    if alias.asname:
                        aliases[alias.asname] = target
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node.level, node.module)
            if base.split(".")[0] != top:
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in found:  # `from . import x`: the submodule x
                    module.imports.add(sub)
                    aliases[alias.asname or alias.name] = sub
                    continue
                target = _nearest(base, found)
                if target:
                    module.imports.add(target)
                    if _private(alias.name) and target != module.name:
                        module.private.append((node.lineno, f"from {base} import {alias.name}"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and _private(node.attr)
            and aliases[node.value.id] != module.name
        ):
            module.private.append((node.lineno, f"{aliases[node.value.id]}.{node.attr}"))
    module.imports.discard(module.name)


def _nearest(name: str, found: dict[str, Module]) -> str | None:
    """The module a dotted name lands in (a name inside a module -> that module)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in found:
            return candidate
        parts.pop()
    return None


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def circles(found: dict[str, Module]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(found[v].imports):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(found):
        if v not in index:
            visit(v)
    return groups


def layer(name: str) -> int | None:
    """The layer of a module: that of its top-level part (``getdata.transfer.parts`` ->
    ``transfer``); the package's own __init__ is the top."""
    parts = name.split(".")
    part = parts[1] if len(parts) > 1 else "__init__"
    return LAYERS.get(part)


def upward(found: dict[str, Module]) -> list[str]:
    """Imports from a lower layer to a higher one, and modules in no layer."""
    problems = []
    for module in found.values():
        own = layer(module.name)
        if own is None:
            problems.append(f"{module.name}: in no layer of LAYERS")
            continue
        for target in sorted(module.imports):
            theirs = layer(target)
            if theirs is not None and theirs > own:
                problems.append(f"{module.name} (layer {own}) imports {target} (layer {theirs})")
    return problems


def private_imports(found: dict[str, Module]) -> list[str]:
    return [f"{m.path}:{line}: {text}" for m in found.values() for line, text in sorted(m.private)]


def too_long(found: dict[str, Module]) -> list[str]:
    return [f"{m.path}: {m.lines} lines" for m in found.values() if m.lines > MAX_LINES]


def root_modules(found: dict[str, Module], top: str) -> list[str]:
    return sorted(
        n for n, m in found.items() if n.count(".") == 1 and not m.is_package and n != top
    ) + ([f"{top}.__init__"] if top in found else [])
