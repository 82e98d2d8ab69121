"""Recorded histories checked again: the same findings, in the same order, and the same metrics.

Each fixture in golden/ is a history a library scenario (or a conformance probe against a
server breaking its rule) once gave, gzipped, beside the findings and metrics `check` gave
for it then (`python bench/same_findings.py golden DIR` writes them from a recorded DIR). The
histories are read from the files, not simulated, so only the checker and the history's
encoding are under test here: a faster checker must find exactly what the slower one did, and
a history read back must encode to the very bytes it was read from (its hash unchanged).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from simulator.checker.check import check
from simulator.history import History

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.name.removesuffix(".jsonl.gz") for p in GOLDEN.glob("*.jsonl.gz"))


def test_every_fixture_has_its_findings() -> None:
    assert len(CASES) >= 20
    assert {p.stem for p in GOLDEN.glob("*.json")} == set(CASES)


@pytest.mark.parametrize("name", CASES)
def test_a_recorded_history_gives_the_recorded_findings(name: str, tmp_path: Path) -> None:
    raw = gzip.decompress((GOLDEN / f"{name}.jsonl.gz").read_bytes())
    path = tmp_path / "history.jsonl"
    path.write_bytes(raw)
    history = History.load(path)
    assert history.encoded() == raw
    result = check(history)
    expected = json.loads((GOLDEN / f"{name}.json").read_text())
    got = json.loads(json.dumps([f.to_dict() for f in result.findings]))
    assert got == expected["findings"]
    assert json.loads(json.dumps(result.metrics)) == expected["metrics"]
