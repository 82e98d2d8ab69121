"""summary.md: a run in Markdown, for a pull-request comment or a CI job summary.

The verdict and why, each expectation (a known gap shown as "expected failure (known gap)"
with the scenario's own words, as pytest shows an xfail), the anomalies found, and the key
figures with percentiles. GitHub-flavoured tables; every value from the scenario (names,
known-gap texts) is escaped so it cannot break a table or inject markup.
"""

from __future__ import annotations

from collections.abc import Sequence

from simulator.checker.expectations import Outcome
from simulator.checker.names import anomaly_info
from simulator.report import fmt
from simulator.report.keyfigures import KeyFigures, Spread, key_figures
from simulator.units import format_duration
from simulator.verdict import Run, Verdict

KNOWN_GAP = "expected failure (known gap)"
_ICONS = {Verdict.PASS: "✅", Verdict.FAIL: "❌", Verdict.INCONCLUSIVE: "⚠️"}


def cell(text: str) -> str:
    """Text safe inside a table cell: no pipe, newline, HTML or backslash escape breaks it."""
    return (
        " ".join(text.split())
        .replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], right: int = 0) -> list[str]:
    """A table; the last `right` columns are numbers, aligned right."""
    align = ["---"] * (len(head) - right) + ["---:"] * right
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def result_text(outcome: Outcome) -> str:
    """An expectation's result in words: pass, FAIL, or the known gap's state."""
    gap = outcome.expectation.known_gap
    if outcome.gap_shows:
        return f"{KNOWN_GAP}: {cell(gap or '')}"
    if gap is not None:
        return (
            "**FAIL**: marked as a known gap, but the bound holds now: the gap is gone; "
            f"remove known_gap ({cell(gap)})"
        )
    return "pass" if outcome.passed else "**FAIL**"


def verdict_text(run: Run) -> str:
    """Why the verdict is what it is, in one sentence."""
    total = len(run.outcomes)
    if run.result.doubts:
        reasons = "; ".join(cell(r) for r in run.result.doubts)
        return f"The evidence cannot be trusted, so no count is judged: {reasons}."
    if not total:
        return "This scenario sets no expectations, so nothing can fail."
    if run.passed:
        held = total - len(run.gaps)
        if not run.gaps:
            return f"All {total} expectations hold."
        gaps = len(run.gaps)
        return f"{held} of {total} expectations hold; {gaps} {KNOWN_GAP}{'s' * (gaps > 1)}."
    return f"{len(run.failed)} of {total} expectations failed."


def _expectations(run: Run) -> list[str]:
    if not run.outcomes:
        return ["No expectations (the scenario has no `expect:`)."]
    rows = [
        (
            f"`{cell(o.expectation.name)}`",
            cell(fmt.outcome_bound(o)),
            cell(fmt.outcome_value(o)),
            result_text(o),
        )
        for o in run.outcomes
    ]
    return _table(("anomaly or metric", "bound", "value", "result"), rows)


def _anomalies(figures: KeyFigures) -> list[str]:
    if not figures.anomalies:
        return ["None found."]
    rows = [
        (f"`{cell(name)}`", str(count), cell(anomaly_info(name).meaning))
        for name, count in figures.anomalies_by_kind.items()
    ]
    lines = [f"{figures.anomalies} found.", ""]
    return lines + _table(("anomaly", "findings", "meaning"), rows)


def _spread_row(name: str, spread: Spread | None, of: str, unit: str) -> tuple[str, ...]:
    show = fmt.short_seconds if unit == "seconds" else fmt.short_size
    if spread is None:
        return (name, f"0 {of}", "-", "-", "-", "-", "-")
    return (
        name,
        f"{spread.count:,} {of}",
        show(spread.p50),
        show(spread.p95),
        show(spread.p99),
        show(spread.max),
        show(spread.mean),
    )


def _figures(figures: KeyFigures) -> list[str]:
    ops = ", ".join(f"{n:,} {op}" for op, n in figures.writes_by_op.items())
    rows = [
        ("user writes", f"{figures.writes:,}" + (f" ({ops})" if ops else "")),
        ("writes never converged", f"{figures.unconverged:,}"),
        ("outbox drops", f"{figures.queue_drops:,}"),
        (
            "`bytes_per_change`",
            f"{fmt.short_size(figures.bytes_per_change)}: a mean, all frame bytes but "
            "keep-alives / user writes",
        ),
        (
            "frames sent",
            f"{figures.frames_sent:,} ({figures.keepalive_frames:,} keep-alives), "
            f"{figures.frames_lost:,} lost in flight",
        ),
        ("bytes sent", fmt.size(figures.bytes_sent)),
    ]
    spreads = [
        _spread_row("convergence lag", figures.lag, "writes", "seconds"),
        _spread_row("catch-up bytes", figures.catch_up, "catch-ups", "bytes"),
        _spread_row("frame size, keep-alives excluded", figures.frame_size, "frames", "bytes"),
    ]
    return [
        *_table(("figure", "value"), rows),
        "",
        *_table(("distribution", "of", "p50", "p95", "p99", "max", "mean"), spreads, right=6),
    ]


def summary_markdown(run: Run, report: str = "report.html") -> str:
    """The run's summary; `report` is where its report.html is, as a link target."""
    scenario = run.loaded.scenario
    verdict = run.verdict
    figures = key_figures(run)
    lines = [
        f"## {_ICONS[verdict]} {cell(scenario.name)}: {verdict.value.upper()}",
        "",
        f"Profile `{cell(run.loaded.profile.name)}`, seed {scenario.seed}, "
        f"{format_duration(scenario.duration)} simulated plus "
        f"{format_duration(scenario.settle)} settle, {len(scenario.devices)} devices; "
        f"history hash `{run.history.digest()[:16]}`.",
        "",
        f"**{verdict.value.upper()}**: {verdict_text(run)}",
        "",
        "### Expectations",
        "",
        *_expectations(run),
        "",
        "### Anomalies",
        "",
        *_anomalies(figures),
        "",
        "### Key figures",
        "",
        *_figures(figures),
        "",
        f"Full report: [{cell(report)}](<{report}>)",
        "",
    ]
    return "\n".join(lines)
