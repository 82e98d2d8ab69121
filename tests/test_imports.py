"""The import rules of DESIGN.md, checked on the source with `ast` (nothing is imported).

- simulator/protocol imports only the standard library, itself and simulator.errors: no
  simpy, asyncio, websockets, pandas, time, random or uuid, and no reading of the clock.
  `import random` is tolerated for the type of the injected rng, so long as the module only
  names `random.Random`.
- simulator/sim and simulator/live never import each other.
- simulator/checker imports nothing of simulator.sim, simulator.live, or the protocol's
  client, coordinator and store.

Direct imports are not the whole story: a module that imports nothing forbidden can still load
it through something it does import (the report once loaded simpy because `Run` lived beside
the simulation). So each layer's modules are also imported, all of a layer in one fresh
interpreter, and what got loaded is checked (`LAYERS`); only when that finds something are
they imported one per interpreter, to name the module that did it. The package-level import
graph must have no cycle.
"""

from __future__ import annotations

import ast
import functools
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "simulator"

FORBIDDEN_IN_PROTOCOL = {
    "simpy",
    "asyncio",
    "websockets",
    "pandas",
    "time",
    "random",  # allowed only for the `random.Random` type, see `_random_misuse`
    "uuid",
    "secrets",
    "socket",
    "threading",
}
CLOCK_READS = {"now", "utcnow", "today", "time_ns", "monotonic", "perf_counter"}
FORBIDDEN_IN_CHECKER = (
    "simulator.sim",
    "simulator.live",
    "simulator.protocol.client",
    "simulator.protocol.coordinator",
    "simulator.protocol.store",
)


@dataclass(frozen=True)
class Import:
    module: str  # the full dotted name imported (for `from a import b`, both `a` and `a.b`)
    line: int


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(node: ast.ImportFrom, current: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = current.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(source: str, current: str, is_package: bool = False) -> Iterator[Import]:
    """Every import anywhere in the module, TYPE_CHECKING blocks and functions included."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, current, is_package)
            yield Import(base, node.lineno)
            for alias in node.names:
                if alias.name != "*":
                    yield Import(f"{base}.{alias.name}", node.lineno)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and (node.func.id if isinstance(node.func, ast.Name) else node.func.attr)
            in ("__import__", "import_module")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            yield Import(str(node.args[0].value), node.lineno)


def _top(name: str) -> str:
    return name.split(".")[0]


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _random_misuse(tree: ast.AST) -> list[str]:
    """Uses of the random module other than naming the `random.Random` type."""
    problems = []
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "random":
            problems += [
                f"line {node.lineno}: from random import {a.name}"
                for a in node.names
                if a.name != "Random"
            ]
        elif isinstance(node, ast.Name) and node.id == "random":
            parent = parents.get(node)
            if not (isinstance(parent, ast.Attribute) and parent.attr == "Random"):
                problems.append(f"line {node.lineno}: uses `random` other than random.Random")
    return problems


def _clock_reads(tree: ast.AST) -> list[str]:
    """`datetime.now()`, `date.today()`, `time.time()` and the like."""
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in CLOCK_READS:
            owner = node.value
            name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
            if name in {"datetime", "date", "time"}:
                problems.append(f"line {node.lineno}: {name}.{node.attr}")
    return problems


def protocol_violations(source: str, current: str) -> list[str]:
    tree = ast.parse(source)
    problems = []
    for imp in imports_of(source, current):
        top = _top(imp.module)
        if _within(imp.module, "simulator"):
            # The project's one exception root is standard library only, and shared by all.
            if not (
                _within(imp.module, "simulator.protocol") or _within(imp.module, "simulator.errors")
            ):
                problems.append(f"line {imp.line}: imports {imp.module} (outside the protocol)")
        elif top == "random":
            continue  # judged by `_random_misuse`
        elif top in FORBIDDEN_IN_PROTOCOL:
            problems.append(f"line {imp.line}: imports {imp.module}")
        elif top not in sys.stdlib_module_names and top != "__future__":
            problems.append(f"line {imp.line}: imports third-party {imp.module}")
    return problems + _random_misuse(tree) + _clock_reads(tree)


def forbidden_imports(source: str, current: str, banned: tuple[str, ...]) -> list[str]:
    return [
        f"line {imp.line}: imports {imp.module}"
        for imp in imports_of(source, current)
        if any(_within(imp.module, b) for b in banned)
    ]


def sources(package: str) -> list[tuple[str, Path]]:
    return [(module_name(p), p) for p in sorted((PACKAGE / package).rglob("*.py"))]


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


# -- the rules on the real code ----------------------------------------------------------------


def test_protocol_imports_only_the_standard_library_and_reads_no_clock():
    modules = sources("protocol")
    assert {"simulator.protocol.client", "simulator.protocol.coordinator"} <= {
        m for m, _ in modules
    }
    problems = {
        name: found for name, path in modules if (found := protocol_violations(_read(path), name))
    }
    assert problems == {}


def test_sim_and_live_never_import_each_other():
    sim, live = sources("sim"), sources("live")
    assert sim, "simulator/sim has no modules to check"
    problems = {
        name: found
        for group, banned in ((sim, ("simulator.live",)), (live, ("simulator.sim",)))
        for name, path in group
        if (found := forbidden_imports(_read(path), name, banned))
    }
    assert problems == {}


def test_checker_reads_only_the_history():
    modules = sources("checker")
    assert modules, "simulator/checker has no modules to check"
    problems = {
        name: found
        for name, path in modules
        if (found := forbidden_imports(_read(path), name, FORBIDDEN_IN_CHECKER))
    }
    assert problems == {}


# -- the rule checkers themselves catch what they must --------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "import simpy",
        "import asyncio.events",
        "from websockets.client import connect",
        "import pandas as pd",
        "import time",
        "from time import monotonic",
        "import uuid",
        "import yaml",
        "def f():\n    import simpy",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pandas",
        "import random\nx = random.random()",
        "import random\nrng = random.Random(random.randint(0, 9))",
        "import random\nr = random",
        "from random import randint",
        "from datetime import datetime\nx = datetime.now()",
        "import datetime\nx = datetime.datetime.utcnow()",
        "from datetime import date\nx = date.today()",
        "from simulator.sim import clock",
        "from simulator import history",
        "from .. import history",
        "import importlib\nm = importlib.import_module('simpy')",
    ],
)
def test_protocol_rule_catches(source: str):
    assert protocol_violations(source, "simulator.protocol.client") != []


@pytest.mark.parametrize(
    "source",
    [
        "import random\n\ndef f(rng: random.Random) -> None:\n    rng.random()",
        "from random import Random",
        "import json, re, sqlite3, hashlib\nfrom datetime import UTC, datetime, timedelta",
        "from __future__ import annotations\nfrom simulator.protocol.codec import Frame",
        "from . import frames\nfrom .timefmt import iso_z",
        "from datetime import datetime\nx = datetime.fromtimestamp(0)",
    ],
)
def test_protocol_rule_allows(source: str):
    assert protocol_violations(source, "simulator.protocol.client") == []


def test_relative_imports_are_resolved():
    found = {i.module for i in imports_of("from ..live import proxy", "simulator.sim.driver")}
    assert "simulator.live.proxy" in found
    found = {i.module for i in imports_of("from . import x", "simulator.sim", is_package=True)}
    assert "simulator.sim.x" in found


@pytest.mark.parametrize(
    ("source", "banned"),
    [
        ("from simulator.protocol import client", FORBIDDEN_IN_CHECKER),
        ("from simulator.protocol.store import ServerStore", FORBIDDEN_IN_CHECKER),
        ("import simulator.sim.driver", FORBIDDEN_IN_CHECKER),
        ("from ..live import proxy", ("simulator.live",)),
    ],
)
def test_forbidden_imports_catches(source: str, banned: tuple[str, ...]):
    assert forbidden_imports(source, "simulator.checker.view", banned) != []


def test_forbidden_imports_allows_near_names():
    source = "from simulator.protocol.timefmt import parse_iso_z\nimport simulator.history"
    assert forbidden_imports(source, "simulator.checker.view", FORBIDDEN_IN_CHECKER) == []
    assert forbidden_imports("import simulator.simple", "x", ("simulator.sim",)) == []


# -- what each layer loads, transitively ---------------------------------------------------------

# The drivers and what only they need. A layer below them must not load them even indirectly.
SIMULATION = ("simpy", "simulator.sim", "simulator.runner")
LIVE = ("websockets", "aiohttp", "asyncio", "simulator.live")
DRIVERS = (*SIMULATION, *LIVE)


@dataclass(frozen=True)
class Layer:
    """Every module of `package` (a package or a single module), imported on its own, loads
    none of `banned`; with `only` set, it loads nothing outside the standard library but those."""

    package: str
    banned: tuple[str, ...] = ()
    only: tuple[str, ...] | None = None
    exempt: tuple[str, ...] = ()  # modules of the package not held to it; say why beside each


LAYERS = (
    # The sans-I/O core: the standard library, itself and the one exception root. No asyncio:
    # it must run unchanged under simpy.
    Layer(
        "simulator.protocol",
        banned=("asyncio",),
        only=("simulator", "simulator.protocol", "simulator.errors"),
    ),
    # Durations and sizes, read by the scenario, the checker and the report alike.
    Layer("simulator.units", only=("simulator", "simulator.units")),
    # What both executors share: a scenario, the physical world, the users, the plan and the
    # device lifecycle. None of it may need either executor.
    Layer("simulator.scenario", banned=DRIVERS),
    Layer("simulator.world", banned=DRIVERS),
    Layer("simulator.workload", banned=DRIVERS),
    Layer("simulator.plan", banned=DRIVERS),
    Layer("simulator.lifecycle", banned=DRIVERS),
    # Judging and rendering read a history, however it was recorded.
    Layer("simulator.checker", banned=DRIVERS),
    Layer("simulator.verdict", banned=DRIVERS),
    Layer("simulator.report", banned=DRIVERS),
    # A sweep's results and its judge read no simulation (only the seeds' runs do).
    Layer(
        "simulator.sweep",
        banned=DRIVERS,
        exempt=(
            "simulator.sweep.seed_run",  # runs one seed: the simulation is its job
            "simulator.sweep.engine",  # hands seeds to the workers that run them
        ),
    ),
    # Reading and judging two reports draws nothing: matplotlib is the renderer's.
    Layer("simulator.compare", banned=(*DRIVERS, "matplotlib")),
    # The two executors never load each other.
    Layer("simulator.sim", banned=LIVE),
    Layer("simulator.live", banned=SIMULATION),
)

# Import modules in a fresh interpreter; report what those imports added to sys.modules (what
# the interpreter and the probe itself load at start-up is not the modules' doing).
_PROBE = """
import importlib, json, sys
before = set(sys.modules)
for name in sys.argv[1:]:
    importlib.import_module(name)
added = sorted(set(sys.modules) - before)
import simulator
print(json.dumps({"simulator": simulator.__file__, "added": added}))
"""


def modules_in(package: str) -> list[str]:
    """The package's modules (its __init__ included), or just the module, when it is one."""
    path = ROOT.joinpath(*package.split("."))
    if path.with_suffix(".py").is_file():
        return [package]
    return sorted(module_name(p) for p in path.rglob("*.py"))


@functools.cache
def loaded_by(*modules: str) -> frozenset[str]:
    """What importing `modules`, one after the other in one fresh interpreter, loads."""
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *modules],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"importing {', '.join(modules)} failed:\n{done.stderr}"
    body = json.loads(done.stdout.splitlines()[-1])
    # The checkout under test, not another one an installed package points at.
    assert Path(body["simulator"]).resolve().parent == PACKAGE, body["simulator"]
    return frozenset(body["added"])


def _is_stdlib(name: str) -> bool:
    top = _top(name)
    return top in sys.stdlib_module_names or top.startswith("_sysconfigdata")


def layer_violations(layer: Layer, loaded: Iterable[str]) -> list[str]:
    problems = []
    for banned in layer.banned:
        found = sorted(name for name in loaded if _within(name, banned))
        if found:
            shown = ", ".join(found[:4]) + (f" and {len(found) - 4} more" if len(found) > 4 else "")
            problems.append(f"loads {banned} ({shown})")
    if layer.only is not None:
        outside = {
            name if _within(name, "simulator") else _top(name)
            for name in loaded
            if not _is_stdlib(name) and not _allowed(name, layer.only)
        }
        problems += [f"loads {name} (not the standard library)" for name in sorted(outside)]
    return problems


def _allowed(name: str, only: tuple[str, ...]) -> bool:
    # `simulator` itself (its __init__) is loaded by any of its modules; it allows no more.
    return any(name == o if o == "simulator" else _within(name, o) for o in only)


def _probed(layer: Layer) -> list[str]:
    return [m for m in modules_in(layer.package) if m not in layer.exempt]


@pytest.mark.parametrize("layer", [pytest.param(layer, id=layer.package) for layer in LAYERS])
def test_a_layer_loads_nothing_above_it(layer: Layer):
    # A whole layer at once: what any of its modules loads is in what they load together.
    if not layer_violations(layer, loaded_by(*_probed(layer))):
        return
    found = {m: layer_violations(layer, loaded_by(m)) for m in _probed(layer)}
    assert not any(found.values()), "; ".join(
        f"{module}: " + ", ".join(problems) for module, problems in found.items() if problems
    )


def test_every_layer_names_real_modules():
    for layer in LAYERS:
        assert modules_in(layer.package), f"{layer.package}: no such package or module"
        assert set(layer.exempt) <= set(modules_in(layer.package)), layer.exempt


def test_the_probe_sees_what_an_import_loads():
    assert {"simpy", "simulator.sim.driver"} <= loaded_by("simulator.sim.driver")
    assert "simpy" not in loaded_by("simulator.protocol.codec")


@pytest.mark.parametrize(
    ("loaded", "layer"),
    [
        pytest.param({"simpy"}, Layer("x", banned=("simpy",)), id="banned-package"),
        pytest.param({"simpy.core"}, Layer("x", banned=("simpy",)), id="banned-submodule"),
        pytest.param(
            {"simulator.sim.driver"}, Layer("x", banned=("simulator.sim",)), id="banned-layer"
        ),
        pytest.param({"yaml"}, Layer("x", only=("simulator",)), id="third-party"),
        pytest.param(
            {"simulator.history"},
            Layer("x", only=("simulator", "simulator.protocol")),
            id="outside-the-allowed-simulator-modules",
        ),
    ],
)
def test_layer_rule_catches(loaded: set[str], layer: Layer):
    assert layer_violations(layer, loaded) != []


@pytest.mark.parametrize(
    ("loaded", "layer"),
    [
        pytest.param({"simulator.simple"}, Layer("x", banned=("simulator.sim",)), id="near-name"),
        pytest.param(
            {"json", "_json", "sqlite3", "_sysconfigdata__linux_x86_64-linux-gnu"},
            Layer("x", only=("simulator",)),
            id="standard-library",
        ),
        pytest.param(
            {"simulator", "simulator.protocol.codec", "simulator.errors"},
            Layer("x", only=("simulator", "simulator.protocol", "simulator.errors")),
            id="allowed-simulator-modules",
        ),
    ],
)
def test_layer_rule_allows(loaded: set[str], layer: Layer):
    assert layer_violations(layer, loaded) == []


# -- no import cycles between the packages of simulator ------------------------------------------

Graph = Mapping[str, Mapping[str, str]]  # package -> package it imports -> one import that does


def package_of(name: str) -> str | None:
    """`simulator.checker.view` -> `simulator.checker`; top-level modules are their own unit."""
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0] == "simulator" and len(parts) > 1 else None


def package_graph() -> dict[str, dict[str, str]]:
    graph: dict[str, dict[str, str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        current = module_name(path)
        source = package_of(current)
        if source is None:
            continue  # simulator/__init__.py: the version, nothing imported
        edges = graph.setdefault(source, {})
        for imp in imports_of(_read(path), current, is_package=path.name == "__init__.py"):
            target = package_of(imp.module)
            if target is not None and target != source and _exists(target):
                edges.setdefault(target, f"{current} imports {imp.module} (line {imp.line})")
    return graph


def _exists(package: str) -> bool:
    """A package or module, not a name imported from `simulator` (`__version__`)."""
    path = ROOT.joinpath(*package.split("."))
    return path.is_dir() or path.with_suffix(".py").is_file()


def import_cycles(graph: Graph) -> list[str]:
    """One cycle per strongly connected group of packages, each hop with an import causing it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, {})):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_describe(_cycle_through(graph, group), graph) for group in sorted(groups)]


def _cycle_through(graph: Graph, group: list[str]) -> list[str]:
    """The shortest path from the group's first package back to itself, inside the group."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph.get(node, {})):
                if nxt == start:
                    return [*paths[node], start]
                if nxt in members and nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle through {group}")


def _describe(cycle: list[str], graph: Graph) -> str:
    hops = "; ".join(graph[a][b] for a, b in itertools.pairwise(cycle))
    return f"{' -> '.join(cycle)} ({hops})"


def test_no_import_cycles_between_packages():
    graph = package_graph()
    assert {"simulator.checker", "simulator.scenario", "simulator.runner"} <= set(graph)
    cycles = import_cycles(graph)
    assert not cycles, "import cycles: " + "\n".join(cycles)


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        pytest.param({"a": {"b": "i1"}, "b": {"c": "i2"}, "c": {}}, [], id="a-chain"),
        pytest.param({"a": {"b": "i1"}, "b": {"a": "i2"}}, ["a -> b -> a (i1; i2)"], id="two"),
        pytest.param(
            {"a": {"b": "i1"}, "b": {"c": "i2"}, "c": {"a": "i3"}, "d": {"a": "i4"}},
            ["a -> b -> c -> a (i1; i2; i3)"],
            id="three",
        ),
        pytest.param(
            {"a": {"b": "i1"}, "b": {"a": "i2"}, "c": {"d": "i3"}, "d": {"c": "i4"}},
            ["a -> b -> a (i1; i2)", "c -> d -> c (i3; i4)"],
            id="two-separate-cycles",
        ),
    ],
)
def test_import_cycles_are_found_and_named(graph: Graph, expected: list[str]):
    assert import_cycles(graph) == expected


def test_the_package_graph_resolves_imports_to_packages():
    graph = package_graph()
    assert "simulator.history" in graph["simulator.checker"]
    assert "simulator.protocol" in graph["simulator.sim"]
    assert all(target.startswith("simulator.") for edges in graph.values() for target in edges)
