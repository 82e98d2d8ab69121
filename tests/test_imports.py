"""The import rules of DESIGN.md, checked on the source with `ast` (nothing is imported).

- simulator/protocol imports only the standard library, itself and simulator.errors: no
  simpy, asyncio, websockets, pandas, time, random or uuid, and no reading of the clock.
  `import random` is tolerated for the type of the injected rng, so long as the module only
  names `random.Random`.
- simulator/sim and simulator/live never import each other.
- simulator/checker imports nothing of simulator.sim, simulator.live, or the protocol's
  client, coordinator and store.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
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
