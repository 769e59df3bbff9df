"""The package's layers (docs/architecture.md): imports go down only, and never in a loop."""

import ast
from pathlib import Path

import hetsnn

PACKAGE = Path(hetsnn.__file__).parent

# Bottom to top; a module may import its own layer or the ones below it.
LAYERS = (
    (
        "errors",
        "validate",
        "storage",
        "sharding",
        "allocator",
        "provenance",
        "plugins",
        "interrupts",
        "data",
        "analysis",
    ),  # fmt: skip
    ("model",),
    ("tasks",),
    ("optim",),
    ("config", "rundir"),
    ("train",),
    ("studies",),
    ("experiments",),
    ("report",),
    ("interop",),
    ("cli",),
)
LAYER_OF = {unit: i for i, units in enumerate(LAYERS) for unit in units}
LAZY_ALLOWED = {"hetsnn.cli"}  # the command line imports per command, for start-up time


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(name: str) -> dict[str, bool]:
    """The hetsnn modules ``name`` imports, each with whether it is imported inside a
    function only (a lazy import)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: dict[str, bool] = {}

    def add(target: str, lazy: bool) -> None:
        if target.startswith("hetsnn") and target != name:
            found[target] = found.get(target, True) and lazy

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    up = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join(up + ([child.module] if child.module else []))
                for alias in child.names:
                    full = f"{base}.{alias.name}"
                    add(full if full in MODULES else base, inner)
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    add(alias.name, inner)
            visit(child, inner)

    visit(ast.parse(path.read_text()), False)
    return found


GRAPH = {name: imports(name) for name in MODULES}


def unit(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "errors"  # the root package: bottom layer


def test_every_module_has_a_layer():
    assert {unit(m) for m in MODULES} <= set(LAYER_OF)


def upward_imports(graph: dict[str, dict[str, bool]]) -> list[str]:
    return [
        f"{source} -> {target}"
        for source, targets in graph.items()
        for target in targets
        if LAYER_OF[unit(target)] > LAYER_OF[unit(source)]
    ]


def import_loops(graph: dict[str, dict[str, bool]]) -> list[list[str]]:
    done, active, loops = set(), [], []

    def walk(name: str) -> None:
        active.append(name)
        for target in graph[name]:
            if target in active:
                loops.append(active[active.index(target) :] + [target])
            elif target not in done and target in graph:
                walk(target)
        active.pop()
        done.add(name)

    for name in sorted(graph):
        if name not in done:
            walk(name)
    return loops


def test_imports_go_down_only():
    assert not upward_imports(GRAPH)


def test_no_import_loop():
    assert not import_loops(GRAPH)


def test_no_lazy_import_outside_the_cli():
    lazy = [
        f"{source} -> {target}"
        for source, targets in GRAPH.items()
        if source not in LAZY_ALLOWED
        for target, is_lazy in targets.items()
        if is_lazy
    ]
    assert not lazy


def test_the_checks_catch_what_they_look_for():
    """A loop and an upward import in a made-up graph are found; lazy imports are seen."""
    graph = {
        "hetsnn.model.a": {"hetsnn.model.b": False},
        "hetsnn.model.b": {"hetsnn.model.a": False, "hetsnn.report.x": False},
        "hetsnn.report.x": {},
    }
    assert import_loops(graph) == [["hetsnn.model.a", "hetsnn.model.b", "hetsnn.model.a"]]
    assert upward_imports(graph) == ["hetsnn.model.b -> hetsnn.report.x"]
    assert GRAPH["hetsnn.cli"]["hetsnn.train.bench"] is True  # imported per command
    assert GRAPH["hetsnn.model.networks"]["hetsnn.model.neurons"] is False
