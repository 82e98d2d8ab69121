"""The conformance suite and its mutation test, in simulation: every probe passes against the
reference server, and fails, finding its own rule broken, against the server with that one
rule broken (protocol/breaks.py). The same against `syncsim serve` is `make conformance`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from simulator.checker.names import Anomaly
from simulator.checker.server_rules import RULES_BY_NAME
from simulator.protocol.breaks import Break
from simulator.runner import run
from simulator.scenario.loader import load
from simulator.verdict import Verdict

SUITE = Path(__file__).resolve().parents[2] / "scenarios" / "conformance"
PROBES = sorted(SUITE.glob("*.yaml"))


def _violations(path: Path, breaks: frozenset[Break] = frozenset()) -> tuple[Verdict, Counter[str]]:
    result = run(load(path), breaks=breaks)
    found = Counter(
        str(f.cause) for f in result.result.findings if f.anomaly is Anomaly.PROTOCOL_VIOLATION
    )
    return result.verdict, found


def test_one_probe_per_server_rule_quoting_it() -> None:
    assert {p.stem for p in PROBES} == set(RULES_BY_NAME)
    for probe in PROBES:
        header = probe.read_text().split("\nname:")[0]
        words = " ".join(line.lstrip("# ").strip() for line in header.splitlines())
        assert " ".join(RULES_BY_NAME[probe.stem].says.split()) in words, probe.name


@pytest.mark.parametrize("probe", PROBES, ids=[p.stem for p in PROBES])
def test_the_probe_passes_against_the_reference_server(probe: Path) -> None:
    verdict, found = _violations(probe)
    assert (verdict, found) == (Verdict.PASS, Counter())


@pytest.mark.parametrize("probe", PROBES, ids=[p.stem for p in PROBES])
def test_the_probe_fails_against_a_server_breaking_its_rule(probe: Path) -> None:
    verdict, found = _violations(probe, frozenset({Break(probe.stem)}))
    assert verdict is not Verdict.PASS
    assert found[probe.stem] >= 1, found
