"""`syncsim compare` rendered: the text table, `compare.json`, and `compare.html` with each
pair's overlays drawn from the two sides' histories.

`simulator.compare` reads and judges the two sides; nothing here judges, and nothing here
writes files (the CLI does).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from html import escape
from typing import Any

from simulator.checker.expectations import unit_of
from simulator.checker.view import View
from simulator.compare import Comparison, Pair, Row
from simulator.report import fmt, overlays, plots
from simulator.report.html import STYLE


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
    """The page; `drawn` holds each pair's overlays by pair key (see `overlay_plots`)."""
    word, css = ("WORSE", "fail") if comparison.worse else ("NOT WORSE", "pass")
    why_worse = reasons(comparison)
    why = (
        "NEW is worse than BASE: " + "; ".join(escape(r) for r in why_worse)
        if why_worse
        else "No anomaly count went up and no metric moved the wrong way beyond the tolerance."
    )
    parts = [
        f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{word}: syncsim compare</title><style>{STYLE}</style></head><body>
<header><h1>syncsim compare</h1>
<p>BASE <code>{escape(str(comparison.base))}</code> &middot; NEW
<code>{escape(str(comparison.new))}</code> &middot; matched by {comparison.matched_by}
&middot; tolerance {comparison.tolerance_pct:g}%</p></header>
<main><section id="verdict"><h2>Verdict</h2>
<div class="banner {css}"><span class="word {css}">{word}</span>
<span class="why">{why}</span></div>
<p class="muted">Rules: an anomaly count that goes up at all is worse; a metric is worse when
it moves in its bad direction (see the direction column) by more than
{comparison.tolerance_pct:g}% of BASE, or at all from a BASE of 0; a report in BASE missing
from NEW is worse. Workload figures (writes, reloads) are shown, not judged.</p>"""
    ]
    if comparison.only_in_base or comparison.only_in_new:
        parts.append(
            "<p>Only in BASE: "
            + (escape(", ".join(comparison.only_in_base)) or "-")
            + ". Only in NEW: "
            + (escape(", ".join(comparison.only_in_new)) or "-")
            + ".</p>"
        )
    parts.append("</section>")
    for pair in comparison.pairs:
        parts.append(_pair_html(pair, drawn.get(pair.key, [])))
    parts.append("</main></body></html>\n")
    return "".join(parts)


def _pair_html(pair: Pair, drawn: Sequence[plots.Plot]) -> str:
    head = ("name", "kind", "direction", "BASE", "NEW", "change", "result")
    rows = []
    for row in pair.rows:
        css = _RESULT_CSS.get(row.result, "")
        rows.append(
            "<tr"
            + (" class='failed'" if row.worse else "")
            + ">"
            + "".join(
                f"<td>{c}</td>"
                for c in (
                    escape(row.name),
                    escape(row.kind),
                    escape(row.direction),
                    f"<span class='num'>{escape(_rich(row.name, row.base))}</span>",
                    f"<span class='num'>{escape(_rich(row.name, row.new))}</span>",
                    f"<span class='num'>{escape(_change_text(row))}</span>",
                    f"<span class='{css}'>{escape(row.result)}</span>",
                )
            )
            + "</tr>"
        )
    table = (
        "<table class='compact'><tr>"
        + "".join(f"<th>{h}</th>" for h in head)
        + "</tr>"
        + "".join(rows)
        + "</table>"
    )
    images = []
    for plot in drawn:
        if plot.png is None:
            images.append(
                f"<figure><figcaption><b>{escape(plot.title)}</b>: not drawn, "
                f"{escape(plot.skipped or 'no data')}.</figcaption></figure>"
            )
            continue
        data = base64.b64encode(plot.png).decode()
        images.append(
            f"<figure><img alt='{escape(plot.title)}' src='data:image/png;base64,{data}'>"
            f"<figcaption><b>{escape(plot.title)}.</b> {escape(plot.caption)}</figcaption>"
            "</figure>"
        )
    verdict = (
        "<span class='fail'>worse</span>" if pair.worse else "<span class='pass'>not worse</span>"
    )
    facts = "<br>".join(
        f"{tag} <code>{escape(str(r.path))}</code>: profile {escape(r.profile)}, "
        f"seed {r.summary.get('seed')}, verdict {escape(str(r.summary.get('verdict')))}"
        for tag, r in (("BASE", pair.base), ("NEW", pair.new))
    )
    return (
        f"<section id='pair-{escape(pair.key)}'><h2>{escape(pair.key)}: {verdict}</h2>"
        f"<p>{facts}</p>{table}{''.join(images)}</section>"
    )
