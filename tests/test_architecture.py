"""The house plan, checked by reading the imports (docs/architecture.md draws it):

- no import circle anywhere in the repository;
- loadkit's layers import downward only, and ``stats`` imports no SQLite, Locust, gevent,
  Flask or file access;
- all SQL is in ``loadkit/store``;
- locustfiles use the names loadkit exports at its top, never a layer's module;
- no module outside tests is over 400 lines.

Every import counts, at module level or inside a function, and under TYPE_CHECKING too: a
circle that only the type checker walks is still a circle a reader has to walk.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Each folder on the import path, with the top-level packages it holds.
SOURCES = {
    ".": ("rest_service", "grafana", "benchmarks", "functional_tests", "tests", "docs"),
    "embedded_mongo": ("embedded_mongo",),
    "monitor": ("cpu_monitor",),
    "locust": ("loadkit",),
}
# loadkit's layers, lowest first: a module may import its own layer and those below.
LAYERS = ("core", "stats", "store", "report", "compare", "runtime", "web")
TOP = len(LAYERS)  # loadkit/__init__.py, plugin.py, cli.py: they wire the layers
STATS_FORBIDDEN = {
    "sqlite3",
    "locust",
    "gevent",
    "flask",
    "werkzeug",
    "jinja2",
    "requests",
    "psutil",
    "pathlib",
    "os",
    "io",
    "shutil",
    "tempfile",
    "csv",
}
SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|PRAGMA)\s", re.IGNORECASE)
MAX_LINES = 400


@dataclass
class Module:
    name: str
    path: Path
    imports: set[str] = field(default_factory=set)  # every imported name, fully qualified
    strings: list[str] = field(default_factory=list)


def _imported(tree: ast.AST, package: str) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            yield from (f"{base}.{alias.name}" for alias in node.names)


def read_modules(root: Path, sources: dict[str, tuple[str, ...]]) -> dict[str, Module]:
    """Every first-party module under ``root``: its imports and its string constants."""
    found: dict[str, Module] = {}
    paths = [
        (root / base, path)
        for base, tops in sources.items()
        for top in tops
        for path in sorted((root / base / top).rglob("*.py"))
    ]
    # loadwatch's own scenario modules sit beside its locustfile, on the import path.
    paths += [(root / "locust", path) for path in sorted((root / "locust").glob("*.py"))]
    for base, path in paths:
        if ".venv" in path.parts:
            continue
        parts = list(path.relative_to(base).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        package = name if is_package else name.rpartition(".")[0]
        module = Module(name, path)
        module.imports = set(_imported(tree, package))
        module.strings = [
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        ]
        found[name] = module
    return found


def edges(modules: dict[str, Module]) -> dict[str, set[str]]:
    """Which first-party modules each one imports (a name resolves to its module)."""

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    return {
        name: {t for i in m.imports if (t := resolve(i)) is not None and t != name}
        for name, m in modules.items()
    }


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def layer(name: str) -> int:
    """A loadkit module's layer (TOP for the package itself and the wiring beside it)."""
    parts = name.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else TOP


def layer_violations(modules: dict[str, Module]) -> list[str]:
    """Each import of loadkit's that goes up a layer, or out of what ``stats`` may use."""
    graph = edges(modules)
    found = []
    for name, targets in graph.items():
        if not name.startswith("loadkit"):
            continue
        found += [
            f"{name} ({LAYERS[layer(name)]}) imports {t}"
            for t in sorted(targets)
            if t.startswith("loadkit.") and layer(t) > layer(name)
        ]
        if name.startswith("loadkit.stats"):
            roots = {i.split(".")[0] for i in modules[name].imports}
            found += [f"{name} imports {r}" for r in sorted(roots & STATS_FORBIDDEN)]
    return found


def sql_outside_store(modules: dict[str, Module]) -> list[str]:
    found = []
    for name, module in modules.items():
        if not name.startswith("loadkit") or name.startswith("loadkit.store"):
            continue
        if any(i.split(".")[0] == "sqlite3" for i in module.imports):
            found.append(f"{name} imports sqlite3")
        found += [f"{name}: {s.strip()[:40]!r}" for s in module.strings if SQL.match(s)]
    return found


@pytest.fixture(scope="module")
def modules() -> dict[str, Module]:
    return read_modules(ROOT, SOURCES)


def test_there_is_no_import_circle(modules: dict[str, Module]) -> None:
    assert len(modules) > 150  # the whole repository was read
    assert circles(edges(modules)) == []


def test_loadkit_layers_import_downward_and_stats_stays_pure(modules: dict[str, Module]) -> None:
    assert {layer(n) for n in modules if n.startswith("loadkit.")} == set(range(TOP + 1))
    assert layer_violations(modules) == []


def test_all_sql_is_in_the_store(modules: dict[str, Module]) -> None:
    assert any(SQL.match(s) for s in modules["loadkit.store.sqlite"].strings)
    assert sql_outside_store(modules) == []


def test_locustfiles_use_what_loadkit_exports_at_its_top(modules: dict[str, Module]) -> None:
    scenario = [n for n, m in modules.items() if m.path.parent == ROOT / "locust"]
    examples = [ROOT / "examples" / "counter" / "locustfile.py"]
    imports = {n: modules[n].imports for n in scenario} | {
        str(p): set(_imported(ast.parse(p.read_text(encoding="utf-8")), "")) for p in examples
    }
    assert "locustfile" in scenario
    deep = {
        (name, i)
        for name, found in imports.items()
        for i in found
        if i.startswith("loadkit.") and i.removeprefix("loadkit.") not in _exported()
    }
    assert deep == set()


def _exported() -> set[str]:
    tree = ast.parse((ROOT / "locust" / "loadkit" / "__init__.py").read_text(encoding="utf-8"))
    names = next(
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
    )
    assert isinstance(names, ast.List)
    return {e.value for e in names.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}


def test_no_module_outside_tests_is_over_400_lines() -> None:
    tracked = [
        p
        for p in ROOT.rglob("*.py")
        if not {".venv", ".tools", "tests", "node_modules"} & set(p.relative_to(ROOT).parts)
    ]
    assert len(tracked) > 100
    long = {
        str(p.relative_to(ROOT)): n
        for p in tracked
        if (n := len(p.read_bytes().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_checks_find_what_they_look_for(tmp_path: Path) -> None:
    """Planted faults: the checks above are not blind."""
    files = {
        "locust/loadkit/__init__.py": "",
        "locust/loadkit/stats/__init__.py": "",
        "locust/loadkit/stats/bad.py": "import sqlite3\nfrom loadkit.runtime import state\n",
        "locust/loadkit/runtime/__init__.py": "",
        "locust/loadkit/runtime/state.py": "def f():\n    from loadkit.web import ui\n",
        "locust/loadkit/web/__init__.py": "",
        "locust/loadkit/web/ui.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from loadkit.runtime.state import X\nQ = 'SELECT 1 FROM runs'\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    planted = read_modules(tmp_path, {"locust": ("loadkit",)})
    assert circles(edges(planted)) == [["loadkit.runtime.state", "loadkit.web.ui"]]
    assert layer_violations(planted) == [
        "loadkit.runtime.state (runtime) imports loadkit.web.ui",
        "loadkit.stats.bad (stats) imports loadkit.runtime.state",
        "loadkit.stats.bad imports sqlite3",
    ]
    assert sql_outside_store(planted) == [
        "loadkit.stats.bad imports sqlite3",
        "loadkit.web.ui: 'SELECT 1 FROM runs'",
    ]
