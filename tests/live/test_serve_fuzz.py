"""A bounded fuzz of a real `syncsim serve`: `make fuzz`'s own socket and REST phases
(bench/fuzz_server.py), small. No 1011 close, no traceback or failure line on stderr, every
frame and body answered, bob untouched."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "fuzz_server.py"


@pytest.fixture(scope="module")
def fuzz() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fuzz_server", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_server"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("seed", [1, 2])
def test_300_hostile_frames_over_the_socket_close_nothing_and_log_no_traceback(
    fuzz: ModuleType, seed: int
) -> None:
    counts = fuzz.fuzz_socket(300, seed)
    assert counts.frames == 300
    assert counts.closes_1011 == 0, counts.report()
    assert counts.exceptions == 0, counts.report()  # tracebacks and "failed" lines on stderr
    assert counts.ok, counts.report()
    assert counts.answers["SYNC_RESPONSE"] > 0 and counts.answers["ERROR"] > 0  # both kinds


def test_100_hostile_rest_bodies_are_each_answered_below_500(fuzz: ModuleType) -> None:
    counts = fuzz.fuzz_rest(100, 3)
    assert counts.ok, counts.report()
    assert counts.answers["400"] > 0


def test_the_coordinator_phase_counts_no_trouble(fuzz: ModuleType) -> None:
    counts = fuzz.fuzz_coordinator(2000, 4)
    assert counts.ok, counts.report()
