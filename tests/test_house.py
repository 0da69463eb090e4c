"""The house: read from the code's own imports (function-local ones too), ``ditto_data`` has no
import circle, and every room imports only rooms on floors below its own.

The floors are the README's "Layout of the code"; a new room goes on a floor here and there.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ditto_data"

#: Bottom to top. A room may import rooms of lower floors only (never its own floor's other rooms).
FLOORS: list[set[str]] = [
    {"schema", "units"},  # the record and its ids; sizes
    {"layout", "atomic", "faults", "catalog"},  # paths, safe writes, whose fault, other datasets' descriptions
    {"video", "samples"},  # probe, decode, encode, standardize; the project's real sample clips
    {"builders"},  # the stage contract, config, ledger, executors
    {"models"},  # the paper's model backends and their families
    {"stages"},  # the built-in stages
    {"dataset"},  # a dataset's columns, configs, shards, and the one tree reader
    {"cards"},  # the dataset card
    {"exports"},  # records -> the published tree, HF files, WebDataset shards
    {"hub"},  # download, extract, pack, publish
    {"loaders"},  # datasets, torch datasets, streaming
    {"evaluation", "viewer"},  # scores; the browser
    {"pipeline", "convert"},  # the jobs: build, convert
    {"__init__"},  # ``ditto_data.build`` / ``load`` / ``__version__``
    {"cli"},  # the command line
]


def _module(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def import_graph() -> dict[str, set[str]]:
    """Module -> the ``ditto_data`` modules it imports (a name imported from a package counts as
    its submodule when one has that name)."""
    files = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    for mod, path in files.items():
        here = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = here[:len(here) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                if not target.startswith("ditto_data"):
                    continue
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    graph[mod].add(sub if sub in files else target)
            elif isinstance(node, ast.Import):
                graph[mod].update(a.name for a in node.names if a.name.startswith("ditto_data"))
        graph[mod].discard(mod)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (found := visit(m)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (found := visit(n)):
            return found
    return None


def test_every_room_is_on_a_floor():
    rooms = {_room(_module(p)) for p in PACKAGE.rglob("*.py")}
    placed = set().union(*FLOORS)
    assert rooms - placed == set(), "put the new room on a floor in FLOORS and in the README's layout"
    assert placed - rooms == set(), "a room in FLOORS no longer exists"


def test_no_import_runs_up_or_sideways_a_floor():
    floor = {room: i for i, rooms in enumerate(FLOORS) for room in rooms}
    wrong = sorted(f"{a} -> {b}" for a, targets in import_graph().items() for b in targets
                   if _room(a) != _room(b) and floor[_room(b)] >= floor[_room(a)])
    assert wrong == []


def test_no_import_circle_between_modules():
    assert _cycle(import_graph()) is None


def test_the_checks_see_a_circle_and_a_wrong_floor():
    # the checks themselves can fail: a made-up circle is found, and a made-up upward import too
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    graph = import_graph()
    assert "ditto_data.exports" in graph["ditto_data.pipeline"]  # the graph reads real imports
    floor = {room: i for i, rooms in enumerate(FLOORS) for room in rooms}
    assert floor[_room("ditto_data.exports.hf")] > floor[_room("ditto_data.dataset.tree")]
