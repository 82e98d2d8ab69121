"""A run in a few lines of text: what `syncsim run` prints and a failed pytest item shows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from simulator.checker.expectations import Outcome
from simulator.checker.preflight import mismatches, preflight_rows
from simulator.report import fmt
from simulator.report.keyfigures import Spread, key_figures
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
        f"  KNOWN GAP {o.expectation.text}: got {fmt.got(o)} (expected failure: "
        f"{o.expectation.known_gap})"
        for o in run.gaps
    ]
    lines += [f"  FAILED {o.expectation.text}: got {fmt.got(o)}{_xpass(o)}" for o in run.failed]
    if out is not None:
        lines.append(f"  report: {out / 'report.html'}")
    return lines


def _percentiles(spread: Spread | None, show: Callable[[float], str], of: str) -> str:
    if spread is None:
        return f"none ({of})"
    columns = (("p50", spread.p50), ("p95", spread.p95), ("p99", spread.p99), ("max", spread.max))
    cells = "".join(f"{f'{name}={show(v)}':<15}" for name, v in columns)
    return f"{cells}({spread.count:,} {of})"


def figure_lines(run: Run) -> list[str]:
    """The end-of-run summary, as k6 prints one: key figures with percentiles, aligned."""
    figures = key_figures(run)
    ops = ", ".join(f"{n:,} {op}" for op, n in figures.writes_by_op.items())
    lag_of = "writes" + (
        f"; {figures.unconverged:,} never converged" if figures.unconverged else ""
    )
    rows = [
        ("writes", f"{figures.writes:,}" + (f" ({ops})" if ops else "")),
        ("anomalies", f"{figures.anomalies:,} found"),
        ("convergence lag", _percentiles(figures.lag, fmt.short_seconds, lag_of)),
        ("catch-up bytes", _percentiles(figures.catch_up, fmt.short_size, "catch-ups")),
        (
            "bytes_per_change",
            f"{fmt.short_size(figures.bytes_per_change)} (a mean: frame bytes but keep-alives "
            "/ writes)",
        ),
        (
            "frames",
            f"{figures.frames_sent:,} sent ({figures.keepalive_frames:,} keep-alives), "
            f"{figures.frames_lost:,} lost in flight",
        ),
    ]
    width = max(len(name) for name, _ in rows) + 3
    return [f"  {name + ' ':.<{width}} {value}" for name, value in rows]
