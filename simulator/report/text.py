"""A run in a few lines of text: what `syncsim run` prints and a failed pytest item shows."""

from __future__ import annotations

from pathlib import Path

from simulator.checker.expectations import Outcome
from simulator.checker.preflight import mismatches, preflight_rows
from simulator.verdict import Run, Verdict


def _xpass(outcome: Outcome) -> str:
    if outcome.expectation.known_gap is None:
        return ""
    return " (marked as a known gap, but it holds now: the gap is gone; remove known_gap)"


def run_lines(run: Run, out: Path | None) -> list[str]:
    scenario = run.loaded.scenario
    word = run.verdict.value.upper()
    lines = [f"{scenario.name}: {word} (profile {run.loaded.profile.name}, seed {scenario.seed})"]
    lines += [f"  INCONCLUSIVE: {reason}" for reason in run.result.doubts]
    differs = mismatches(preflight_rows(run.history))
    if differs:
        lines.append(
            f"  PREFLIGHT: the endpoint is not what profile {run.loaded.profile.name} "
            "describes: " + "; ".join(differs)
        )
    found = {k: v for k, v in run.result.counts.items() if v}
    shown = ", ".join(f"{k}={v}" for k, v in found.items()) or "none"
    if run.verdict is Verdict.INCONCLUSIVE:
        shown += " (not judged)"
    lines.append("  anomalies: " + shown)
    lines += [
        f"  KNOWN GAP {o.expectation.text}: got {o.value:g} (expected failure: "
        f"{o.expectation.known_gap})"
        for o in run.gaps
    ]
    lines += [f"  FAILED {o.expectation.text}: got {o.value:g}{_xpass(o)}" for o in run.failed]
    if out is not None:
        lines.append(f"  report: {out / 'report.html'}")
    return lines
