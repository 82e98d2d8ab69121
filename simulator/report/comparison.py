"""`syncsim compare` rendered: the text table, `compare.json`, and `compare.html` with each
pair's overlays drawn from the two sides' histories.

`simulator.compare` reads and judges the two sides; nothing here judges, and nothing here
writes files (the CLI does).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from simulator.checker.expectations import unit_of
from simulator.checker.view import View
from simulator.compare import Comparison, Pair, Row
from simulator.report import fmt, overlays, plots
from simulator.report.html import plot_view
from simulator.report.templating import render_page


def render_comparison(comparison: Comparison) -> dict[str, bytes]:
    """`compare.json` and `compare.html` by file name; the overlays are drawn first, so a
    history that cannot be read fails before anything is written."""
    drawn = {pair.key: overlay_plots(pair) for pair in comparison.pairs}
    return {
        "compare.json": (json.dumps(comparison_dict(comparison), indent=2) + "\n").encode(),
        "compare.html": compare_html(comparison, drawn).encode(),
    }


# -- the overlays ------------------------------------------------------------------------------


def overlay_plots(pair: Pair) -> list[plots.Plot]:
    """The pair's three overlays, drawn from the two sides' histories."""
    sides = [
        overlays.side_series(
            f"{tag} {report.profile} ({report.path.name})",
            View(report.history()),
            {k: int(v) for k, v in report.summary["anomalies"].items()},
        )
        for tag, report in (("BASE", pair.base), ("NEW", pair.new))
    ]
    return [
        plots.Plot(
            "frame_size_cdf",
            "Frame-size CDF",
            "Every frame sent on each side but keep-alives (PING and PONG, a fixed size, would "
            "be nearly every frame and hide the rest).",
            *_png(overlays.overlay_frame_size_cdf(sides)),
        ),
        plots.Plot(
            "convergence_lag_cdf",
            "Convergence lag CDF",
            "Each side's converged writes; the legend gives p95 and how many never converged.",
            *_png(overlays.overlay_lag_cdf(sides)),
        ),
        plots.Plot(
            "anomalies",
            "Anomalies by type",
            "Finding counts per anomaly type on each side.",
            plots.png_bytes(overlays.overlay_anomalies(sides)),
        ),
    ]


def _png(figure: Any) -> tuple[bytes | None, None, str | None]:
    if figure is None:
        return None, None, "neither side has data for it"
    return plots.png_bytes(figure), None, None


# -- text, JSON and HTML -----------------------------------------------------------------------


def _plain(name: str, value: float | None) -> str:
    """A value in its unit, compact: `5,216,386 B`, `93,378 s`, `177 ms`, `4`."""
    if value is None:
        return "-"
    unit = unit_of(name).value
    if unit == "bytes":
        return f"{value:,.0f} B"
    if unit == "seconds":
        return f"{value * 1000:,.0f} ms" if abs(value) < 1 else f"{value:,.1f} s"
    return fmt.count(value)


def _rich(name: str, value: float | None) -> str:
    return "-" if value is None else fmt.value(name, value)


def _change_text(row: Row) -> str:
    if row.change is None:
        return "-"
    if row.change == 0:
        return "0"
    sign = "+" if row.change > 0 else ""
    text = f"{sign}{_plain(row.name, row.change)}"
    if row.change_pct is not None:
        text += f" ({sign}{row.change_pct:.1f}%)"
    return text


def reasons(comparison: Comparison) -> list[str]:
    """Why NEW is worse, one line per regression and per report missing from NEW."""
    found = [
        f"{p.key}: {r.name} {_plain(r.name, r.base)} -> {_plain(r.name, r.new)}"
        for p in comparison.pairs
        for r in p.regressions
    ]
    return found + [f"{key}: in BASE, missing from NEW" for key in comparison.only_in_base]


def comparison_dict(comparison: Comparison) -> dict[str, Any]:
    """The content of `compare.json`."""
    return {
        "base": str(comparison.base),
        "new": str(comparison.new),
        "tolerance_pct": comparison.tolerance_pct,
        "matched_by": comparison.matched_by,
        "worse": comparison.worse,
        "verdict": "worse" if comparison.worse else "not worse",
        "reasons": reasons(comparison),
        "only_in_base": list(comparison.only_in_base),
        "only_in_new": list(comparison.only_in_new),
        "pairs": [
            {
                "key": p.key,
                "base": p.base.facts(),
                "new": p.new.facts(),
                "worse": p.worse,
                "regressions": [r.name for r in p.regressions],
                "rows": [asdict(r) for r in p.rows],
            }
            for p in comparison.pairs
        ],
    }


def text_table(comparison: Comparison) -> str:
    lines: list[str] = []
    for pair in comparison.pairs:
        lines.append(
            f"{pair.key}: BASE {pair.base.profile} (seed {pair.base.summary.get('seed')}, "
            f"{pair.base.summary.get('verdict')}) -> NEW {pair.new.profile} "
            f"(seed {pair.new.summary.get('seed')}, {pair.new.summary.get('verdict')})"
        )
        width = max(len(r.name) for r in pair.rows)
        lines.append(f"  {'':<{width}}  {'BASE':>14}  {'NEW':>14}  {'change':>22}  result")
        for row in pair.rows:
            lines.append(
                f"  {row.name:<{width}}  {_plain(row.name, row.base):>14}  "
                f"{_plain(row.name, row.new):>14}  {_change_text(row):>22}  {row.result}"
            )
    for key in comparison.only_in_base:
        lines.append(f"{key}: in BASE only (missing from NEW: counts as worse)")
    for key in comparison.only_in_new:
        lines.append(f"{key}: in NEW only (not compared)")
    return "\n".join(lines) + "\n"


_RESULT_CSS = {"worse": "fail", "better": "pass"}


def compare_html(comparison: Comparison, drawn: Mapping[str, Sequence[plots.Plot]]) -> str:
    """The page (template `templates/compare.html.j2`); `drawn` holds each pair's overlays by
    pair key (see `overlay_plots`)."""
    return render_page(
        "compare.html.j2",
        word="WORSE" if comparison.worse else "NOT WORSE",
        css="fail" if comparison.worse else "pass",
        base=str(comparison.base),
        new=str(comparison.new),
        matched_by=comparison.matched_by,
        tolerance=f"{comparison.tolerance_pct:g}",
        reasons=reasons(comparison),
        only_in_base=list(comparison.only_in_base),
        only_in_new=list(comparison.only_in_new),
        pairs=[_pair(pair, drawn.get(pair.key, [])) for pair in comparison.pairs],
    )


def _pair(pair: Pair, drawn: Sequence[plots.Plot]) -> dict[str, Any]:
    return {
        "key": pair.key,
        "worse": pair.worse,
        "sides": [
            {
                "tag": tag,
                "path": str(r.path),
                "profile": r.profile,
                "seed": r.summary.get("seed"),
                "verdict": str(r.summary.get("verdict")),
            }
            for tag, r in (("BASE", pair.base), ("NEW", pair.new))
        ],
        "rows": [
            {
                "name": row.name,
                "kind": row.kind,
                "direction": row.direction,
                "base": _rich(row.name, row.base),
                "new": _rich(row.name, row.new),
                "change": _change_text(row),
                "result": row.result,
                "css": _RESULT_CSS.get(row.result, ""),
                "worse": row.worse,
            }
            for row in pair.rows
        ],
        "plots": [plot_view(p) for p in drawn],
    }
