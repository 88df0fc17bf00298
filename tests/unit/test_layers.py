"""The house's plan, checked from the source: layers only import downward and no import goes round in a circle.

Distributions: contracts ← storage ← gateway | backend; the simulator stands on the contracts alone; the
launcher (the ``homecare`` command) composes them all. Inside the backend: foundation (settings, zones,
runtime, inputs, metrics) ← domains (one package each, no cycle between them) ← alarms (the flows that cross
domains) ← API and pages (app, deps, web, every domain's router and command line).
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

REPO: Final = Path(__file__).resolve().parents[2]
FOLDERS: Final = {  # distribution folder → the part of ``homecare`` it holds
    "firmware-contracts": "contracts",
    "storage": "storage",
    "gateway": "gateway",
    "backend": "backend",
    "device-sim": "sim",
    "launcher": "launcher",
}
MAY_IMPORT: Final = {  # each distribution and what lies below it
    "contracts": {"contracts"},
    "storage": {"contracts", "storage"},
    "gateway": {"contracts", "storage", "gateway"},
    "backend": {"contracts", "storage", "backend"},
    "sim": {"contracts", "sim"},
    "launcher": set(FOLDERS.values()),
}
BACKEND_FOUNDATION: Final = {"settings", "zones", "runtime", "inputs", "metrics"}
BACKEND_API: Final = {"app", "deps", "web", "http"}
BACKEND_INTERFACE_MODULES: Final = {"router", "cli"}  # a domain's HTTP and command-line faces
LAYER_NAMES: Final = ("foundation", "domains", "alarms", "API and pages")


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    where: str


def _module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for folder in FOLDERS:
        src = REPO / folder / "src"
        for path in src.rglob("*.py"):
            found[_module_name(path, src)] = path
    return found


MODULES: Final = _modules()


def _resolve(name: str) -> str | None:
    """The project module an import names (``from a.b import c`` may name the module a.b.c or a.b's c)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports() -> Iterator[Import]:
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                if name.startswith("homecare."):
                    target = _resolve(name)
                    assert target is not None, f"{path}:{node.lineno} imports {name}, which is not in any src folder"
                    if target != module:
                        yield Import(module, target, f"{path.relative_to(REPO)}:{node.lineno}")


IMPORTS: Final = list(_imports())


def _distribution(module: str) -> str:
    return module.split(".")[1]


def _backend_layer(module: str) -> int:
    parts = module.split(".")[2:]
    if not parts or parts[0] in BACKEND_FOUNDATION:
        return 0
    if parts[0] in BACKEND_API or parts[-1] in BACKEND_INTERFACE_MODULES:
        return 3
    if parts[0] == "alarms":
        return 2
    return 1


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, as its nodes in order, or None (depth-first search with colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_every_folder_is_a_distribution_whose_path_is_its_import_path() -> None:
    for folder, part in FOLDERS.items():
        manifest = tomllib.loads((REPO / folder / "pyproject.toml").read_text())
        assert manifest["project"]["name"] == f"homecare-{part}", folder
        assert (REPO / folder / "src" / "homecare" / part / "__init__.py").is_file(), folder
        assert not (REPO / folder / "src" / "homecare" / "__init__.py").exists(), "homecare is a namespace package"
    assert not (REPO / "setup.py").exists()


def test_distributions_import_only_what_lies_below_them_and_declare_it() -> None:
    wrong = [
        f"{i.where}: {i.importer} → {i.imported}"
        for i in IMPORTS
        if _distribution(i.imported) not in MAY_IMPORT[_distribution(i.importer)]
    ]
    assert wrong == [], "imports that point up or sideways:\n" + "\n".join(wrong)
    for folder, part in FOLDERS.items():
        manifest = tomllib.loads((REPO / folder / "pyproject.toml").read_text())
        declared = {
            dep.split("[")[0].split(">")[0].strip().removeprefix("homecare-")
            for dep in manifest["project"]["dependencies"]
            if dep.startswith("homecare-")
        }
        used = {_distribution(i.imported) for i in IMPORTS if _distribution(i.importer) == part} - {part}
        assert used <= declared, f"{folder} imports {sorted(used - declared)} without declaring them"


def test_backend_layers_point_down() -> None:
    wrong = [
        f"{i.where}: {i.importer} ({LAYER_NAMES[_backend_layer(i.importer)]}) → "
        f"{i.imported} ({LAYER_NAMES[_backend_layer(i.imported)]})"
        for i in IMPORTS
        if _distribution(i.importer) == "backend"
        and _distribution(i.imported) == "backend"
        and _backend_layer(i.imported) > _backend_layer(i.importer)
    ]
    assert wrong == [], "imports that point up:\n" + "\n".join(wrong)


def test_no_cycle_between_backend_domains() -> None:
    graph: dict[str, set[str]] = {}
    for i in IMPORTS:
        if (_distribution(i.importer), _distribution(i.imported)) == ("backend", "backend") and _backend_layer(
            i.importer
        ) == _backend_layer(i.imported) == 1:
            mine, theirs = i.importer.split(".")[2], i.imported.split(".")[2]
            if mine != theirs:
                graph.setdefault(mine, set()).add(theirs)
    assert _cycle(graph) is None, " → ".join(_cycle(graph) or [])


@pytest.mark.parametrize("part", sorted(MAY_IMPORT))
def test_no_import_cycle_between_modules(part: str) -> None:
    graph: dict[str, set[str]] = {}
    for i in IMPORTS:
        if _distribution(i.importer) == part:
            graph.setdefault(i.importer, set()).add(i.imported)
    assert _cycle(graph) is None, " → ".join(_cycle(graph) or [])


def test_no_import_that_tools_cannot_see() -> None:
    hidden = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "import_module"
            ):
                hidden.append(f"{path.relative_to(REPO)}:{node.lineno} ({module})")
    assert hidden == [], "importlib hides these imports from every tool:\n" + "\n".join(hidden)
