"""
Where things sit, kept by a test: the apps stand in layers, each importing
only from the layers below it, and no module imports a module that imports
it (at the top of the file or inside a function: both run). Imports under
``if TYPE_CHECKING:`` are for types only and never run; they still point
down. docs/architecture.md draws the same layers.
"""

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Lowest first. An app imports only apps of lower layers; the features may
# also import one another (audio reads chat's replies aloud, transfer exports
# transcripts), as long as no two of them import each other.
LAYERS: list[set[str]] = [
    {"lib"},
    {"accounts"},
    {"aitre"},
    {"files", "usage"},
    {"jobs"},
    {"chat"},
    {"images", "audio", "midjourney", "playground", "search", "sharing", "transfer"},
    {"aitre_web"},
]
FEATURES = LAYERS[-2]
LAYER_OF = {app: index for index, apps in enumerate(LAYERS) for app in apps}


def _modules() -> dict[str, Path]:
    found = {}
    for app in LAYER_OF:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _type_only(tree: ast.Module) -> set[int]:
    """The ids of import nodes under ``if TYPE_CHECKING:``."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            ids |= {id(inner) for inner in ast.walk(node) if isinstance(inner, ast.Import | ast.ImportFrom)}
    return ids


def _target(name: str) -> str | None:
    """The module of ours that ``name`` (a module, or a name in one) is."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path) -> tuple[set[str], set[str]]:
    """(modules imported when the code runs, modules imported for types only)."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    type_only = _type_only(tree)
    runs: set[str] = set()
    types: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            names = [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            target = _target(name)
            if target is not None and target != module:
                (types if id(node) in type_only else runs).add(target)
    return runs, types


IMPORTS = {module: _imports(module, path) for module, path in MODULES.items()}


def _app(module: str) -> str:
    return module.partition(".")[0]


def test_every_app_stands_in_a_layer():
    apps = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert apps == set(LAYER_OF), "a new app takes its place in LAYERS (and in docs/architecture.md)"


def test_apps_import_only_from_the_layers_below():
    wrong = []
    for module, (runs, types) in IMPORTS.items():
        here = LAYER_OF[_app(module)]
        for target in runs | types:
            there = LAYER_OF[_app(target)]
            if _app(target) == _app(module) or there < here or (there == here and _app(module) in FEATURES):
                continue
            wrong.append(f"{module} imports {target}")
    assert not wrong, "imports that point up, or sideways below the features:\n" + "\n".join(sorted(wrong))


def test_no_two_features_import_each_other():
    uses: dict[str, set[str]] = defaultdict(set)
    for module, (runs, _types) in IMPORTS.items():
        for target in runs:
            if _app(module) in FEATURES and _app(target) in FEATURES and _app(module) != _app(target):
                uses[_app(module)].add(_app(target))
    both_ways = sorted(f"{a} <-> {b}" for a in uses for b in uses[a] if a < b and a in uses.get(b, set()))
    assert not both_ways, both_ways


def _cycle_from(start: str, graph: dict[str, set[str]]) -> list[str] | None:
    path: list[str] = []
    on_path: set[str] = set()
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        path.append(node)
        on_path.add(node)
        for target in sorted(graph.get(node, ())):
            if target in on_path:
                return [*path[path.index(target) :], target]
            if target not in done and (found := visit(target)) is not None:
                return found
        on_path.discard(path.pop())
        done.add(node)
        return None

    return visit(start)


def test_no_module_imports_a_module_that_imports_it():
    graph = {module: runs for module, (runs, _types) in IMPORTS.items()}
    for module in sorted(graph):
        cycle = _cycle_from(module, graph)
        assert cycle is None, "an import loop: " + " -> ".join(cycle)
