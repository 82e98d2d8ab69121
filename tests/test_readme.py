"""The README documents every anomaly, metric and fault kind the code knows (a clone has no
other manual)."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest

from simulator.checker.names import ANOMALIES, METRICS
from simulator.scenario import model

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
FAULT_KINDS = [
    get_args(m.model_fields["kind"].annotation)[0] for m in get_args(get_args(model.Fault)[0])
]


@pytest.mark.parametrize("name", [a.value for a in ANOMALIES] + list(METRICS))
def test_every_anomaly_and_metric_has_a_readme_row(name: str) -> None:
    assert f"| `{name}` |" in README


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_every_fault_kind_has_a_readme_row(kind: str) -> None:
    assert f"{{kind: {kind}" in README


def test_the_readme_stands_alone() -> None:
    # A clone has no ../shared: the protocol is summarised here instead.
    assert "../shared" not in README and "## The protocol in brief" in README


def test_the_readme_documents_the_summaries() -> None:
    assert "| `summary.md` |" in README
    assert "`GITHUB_STEP_SUMMARY`" in README
    assert "expected failure (known gap)" in README
    # The end-of-run figures, as printed.
    for label in ("writes", "anomalies", "convergence lag", "catch-up bytes", "frames"):
        assert f"\n  {label} ." in README
