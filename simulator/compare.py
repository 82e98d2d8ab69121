"""`syncsim compare BASE NEW`: is NEW worse than BASE?

Each side is a report directory (it holds `summary.json`), a directory of report directories
(matched by scenario name), or a matrix directory (`reports/<name>/matrix`, its subfolders
one per profile, matched by profile). Every anomaly count and metric is set side by side with
the change; the frame-size and convergence-lag CDFs (read from each side's `history.jsonl`)
and the anomaly counts are overlaid; all of it goes to `compare.html` and `compare.json`.

NEW is worse, and the command exits 1, when for any matched pair
- an anomaly count went up at all, or
- a metric moved in its bad direction by more than the relative tolerance (default 10 %;
  from a BASE of 0, any move in the bad direction), or
- BASE has a report that NEW lacks.
Bad input (a missing or unreadable summary.json or history.jsonl, nothing to match) exits 2.
"""

from __future__ import annotations

import base64
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from html import escape
from pathlib import Path
from typing import Any

from simulator.checker.expectations import unit_of
from simulator.checker.names import METRICS, Anomaly
from simulator.checker.view import View
from simulator.errors import UsageError
from simulator.history import History
from simulator.report import fmt, overlays, plots
from simulator.report.html import STYLE

DEFAULT_TOLERANCE_PCT = 10.0


class Direction(StrEnum):
    HIGHER_IS_WORSE = "higher is worse"
    LOWER_IS_WORSE = "lower is worse"
    NEUTRAL = "neutral"


# Which way each metric gets worse. `writes` and `reloads` describe the workload the scenario
# sets, not the system's quality, so they are shown but never judged. Every other metric costs
# bytes, frames, time or data when it grows. A metric not listed here (from a newer syncsim) is
# shown and not judged.
METRIC_DIRECTIONS: dict[str, Direction] = {
    name: Direction.HIGHER_IS_WORSE for name in METRICS if name not in {"writes", "reloads"}
} | {"writes": Direction.NEUTRAL, "reloads": Direction.NEUTRAL}


@dataclass(frozen=True)
class Report:
    """One report directory: its summary and where its history is."""

    path: Path
    summary: dict[str, Any]

    @property
    def scenario(self) -> str:
        return str(self.summary.get("scenario", self.path.name))

    @property
    def profile(self) -> str:
        profile = self.summary.get("profile")
        if isinstance(profile, Mapping) and isinstance(profile.get("name"), str):
            return str(profile["name"])
        return self.path.name

    def facts(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "scenario": self.scenario,
            "profile": self.profile,
            "seed": self.summary.get("seed"),
            "verdict": self.summary.get("verdict"),
            "history_hash": self.summary.get("history_hash"),
        }

    def history(self) -> History:
        path = self.path / "history.jsonl"
        if not path.is_file():
            raise UsageError(f"{path}: missing (every report directory has its history)")
        return History.load(path)


@dataclass(frozen=True)
class Row:
    name: str
    kind: str  # anomaly or metric
    unit: str
    direction: str
    base: float | None
    new: float | None
    change: float | None
    change_pct: float | None
    result: str  # worse, better, same, within tolerance, not judged
    worse: bool


@dataclass(frozen=True)
class Pair:
    key: str
    base: Report
    new: Report
    rows: tuple[Row, ...]

    @property
    def worse(self) -> bool:
        return any(r.worse for r in self.rows)

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.worse]


@dataclass(frozen=True)
class Comparison:
    base: Path
    new: Path
    tolerance_pct: float
    pairs: tuple[Pair, ...]
    only_in_base: tuple[str, ...] = ()
    only_in_new: tuple[str, ...] = ()
    matched_by: str = "scenario"
    plots: dict[str, list[plots.Plot]] = field(default_factory=dict)

    @property
    def worse(self) -> bool:
        return bool(self.only_in_base) or any(p.worse for p in self.pairs)

    def reasons(self) -> list[str]:
        reasons = [
            f"{p.key}: {r.name} {_plain(r.name, r.base)} -> {_plain(r.name, r.new)}"
            for p in self.pairs
            for r in p.regressions
        ]
        return reasons + [f"{key}: in BASE, missing from NEW" for key in self.only_in_base]

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": str(self.base),
            "new": str(self.new),
            "tolerance_pct": self.tolerance_pct,
            "matched_by": self.matched_by,
            "worse": self.worse,
            "verdict": "worse" if self.worse else "not worse",
            "reasons": self.reasons(),
            "only_in_base": list(self.only_in_base),
            "only_in_new": list(self.only_in_new),
            "pairs": [
                {
                    "key": p.key,
                    "base": p.base.facts(),
                    "new": p.new.facts(),
                    "worse": p.worse,
                    "regressions": [r.name for r in p.regressions],
                    "rows": [asdict(r) for r in p.rows],
                }
                for p in self.pairs
            ],
        }


# -- reading the two sides -------------------------------------------------------------------


def read_report(path: Path) -> Report:
    summary_path = path / "summary.json"
    try:
        body = json.loads(summary_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{summary_path}: missing (not a report directory)") from None
    except OSError as error:
        raise UsageError(f"{summary_path}: cannot read: {error.strerror}") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise UsageError(f"{summary_path}: not JSON: {error}") from None
    if not isinstance(body, dict):
        raise UsageError(f"{summary_path}: not a syncsim summary (not a JSON object)")
    for key in ("anomalies", "metrics"):
        if not isinstance(body.get(key), dict):
            raise UsageError(f"{summary_path}: not a syncsim summary (no {key!r} table)")
    return Report(path, body)


@dataclass(frozen=True)
class _Side:
    path: Path
    reports: tuple[Report, ...]
    shape: str  # report, scenarios, profiles


def _side(path: Path) -> _Side:
    if not path.exists():
        raise UsageError(f"{path}: no such directory")
    if not path.is_dir():
        raise UsageError(f"{path}: not a directory (give a report directory or a folder of them)")
    if (path / "summary.json").exists():
        return _Side(path, (read_report(path),), "report")
    inner = sorted(p for p in path.iterdir() if p.is_dir() and (p / "summary.json").exists())
    if not inner:
        raise UsageError(
            f"{path}/summary.json: missing, and no report directory (with a summary.json) "
            "inside either"
        )
    reports = tuple(read_report(p) for p in inner)
    scenarios = {r.scenario for r in reports}
    is_matrix = (path / "matrix.json").exists() or (len(scenarios) == 1 and len(reports) > 1)
    return _Side(path, reports, "profiles" if is_matrix else "scenarios")


def _keyed(side: _Side, by: str) -> dict[str, Report]:
    keyed: dict[str, Report] = {}
    for report in side.reports:
        key = report.profile if by == "profile" else report.scenario
        if key in keyed:
            raise UsageError(
                f"{side.path}: two reports for {by} {key!r} "
                f"({keyed[key].path.name}, {report.path.name}); compare them one by one"
            )
        keyed[key] = report
    return keyed


def match(
    base: Path, new: Path
) -> tuple[list[tuple[str, Report, Report]], list[str], list[str], str]:
    """Pairs (key, BASE report, NEW report), keys only in BASE, only in NEW, and the key kind."""
    left, right = _side(base), _side(new)
    if left.shape == right.shape == "report":
        one, other = left.reports[0], right.reports[0]
        key = (
            one.scenario if one.scenario == other.scenario else f"{one.scenario} / {other.scenario}"
        )
        return [(key, one, other)], [], [], "scenario"
    by = "profile" if "profiles" in {left.shape, right.shape} else "scenario"
    a, b = _keyed(left, by), _keyed(right, by)
    pairs = [(k, a[k], b[k]) for k in a if k in b]
    only_base = [k for k in a if k not in b]
    only_new = [k for k in b if k not in a]
    if not pairs:
        raise UsageError(
            f"nothing to compare: {base} has {by}s {', '.join(a) or '-'}, "
            f"{new} has {', '.join(b) or '-'}"
        )
    return pairs, only_base, only_new, by


# -- judging ---------------------------------------------------------------------------------


def _ordered(names: set[str], first: Sequence[str]) -> list[str]:
    return [n for n in first if n in names] + sorted(names - set(first))


def _number(table: Mapping[str, Any], name: str) -> float | None:
    value = table.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def judge_row(name: str, kind: str, base: float | None, new: float | None, tolerance: float) -> Row:
    """One anomaly count or metric, BASE against NEW. `tolerance` is a fraction (0.1 = 10 %)."""
    direction = (
        Direction.HIGHER_IS_WORSE
        if kind == "anomaly"
        else METRIC_DIRECTIONS.get(name, Direction.NEUTRAL)
    )
    unit = unit_of(name).value
    if base is None or new is None:
        return Row(name, kind, unit, direction.value, base, new, None, None, "not judged", False)
    change = new - base
    change_pct = change / abs(base) * 100 if base else None
    if change == 0:
        return Row(name, kind, unit, direction.value, base, new, 0.0, 0.0, "same", False)
    if direction is Direction.NEUTRAL:
        result, worse = "not judged", False
    else:
        bad = change > 0 if direction is Direction.HIGHER_IS_WORSE else change < 0
        # An anomaly count that moves at all is beyond any tolerance; a metric from 0 too.
        beyond = kind == "anomaly" or base == 0 or abs(change) > abs(base) * tolerance
        if bad:
            result, worse = ("worse", True) if beyond else ("within tolerance", False)
        else:
            result, worse = ("better", False) if beyond else ("within tolerance", False)
    return Row(name, kind, unit, direction.value, base, new, change, change_pct, result, worse)


def compare_reports(base: Report, new: Report, tolerance: float) -> tuple[Row, ...]:
    rows: list[Row] = []
    anomalies = _ordered(
        set(base.summary["anomalies"]) | set(new.summary["anomalies"]), [a.value for a in Anomaly]
    )
    for name in anomalies:
        rows.append(
            judge_row(
                name,
                "anomaly",
                _number(base.summary["anomalies"], name),
                _number(new.summary["anomalies"], name),
                tolerance,
            )
        )
    metrics = _ordered(set(base.summary["metrics"]) | set(new.summary["metrics"]), list(METRICS))
    for name in metrics:
        rows.append(
            judge_row(
                name,
                "metric",
                _number(base.summary["metrics"], name),
                _number(new.summary["metrics"], name),
                tolerance,
            )
        )
    return tuple(rows)


def compare(base: Path, new: Path, tolerance_pct: float = DEFAULT_TOLERANCE_PCT) -> Comparison:
    """Match, judge and draw; raises `UsageError` on bad input."""
    if not math.isfinite(tolerance_pct) or tolerance_pct < 0:
        raise UsageError(f"--tolerance: {tolerance_pct:g} is not a percentage >= 0")
    matched, only_base, only_new, by = match(base, new)
    tolerance = tolerance_pct / 100
    pairs = tuple(Pair(k, b, n, compare_reports(b, n, tolerance)) for k, b, n in matched)
    drawn = {pair.key: _overlays(pair) for pair in pairs}
    return Comparison(base, new, tolerance_pct, pairs, tuple(only_base), tuple(only_new), by, drawn)


def _overlays(pair: Pair) -> list[plots.Plot]:
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


# -- output ----------------------------------------------------------------------------------


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


def compare_html(comparison: Comparison) -> str:
    word, css = ("WORSE", "fail") if comparison.worse else ("NOT WORSE", "pass")
    reasons = comparison.reasons()
    why = (
        "NEW is worse than BASE: " + "; ".join(escape(r) for r in reasons)
        if reasons
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
        parts.append(_pair_html(pair, comparison.plots.get(pair.key, [])))
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


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_bytes(data)
    os.replace(temp, path)


def write_comparison(comparison: Comparison, out: Path) -> Path:
    _write(out / "compare.json", (json.dumps(comparison.to_dict(), indent=2) + "\n").encode())
    _write(out / "compare.html", compare_html(comparison).encode())
    return out


def run_compare(
    base: Path, new: Path, tolerance_pct: float = DEFAULT_TOLERANCE_PCT, out: Path | None = None
) -> int:
    """The `syncsim compare` command: print the table, write the files, 1 when NEW is worse."""
    comparison = compare(base, new, tolerance_pct)
    target = write_comparison(comparison, out if out is not None else new / "compare")
    print(text_table(comparison), end="")
    if comparison.worse:
        print(f"compare: NEW is worse than BASE (tolerance {tolerance_pct:g}%):")
        for reason in comparison.reasons():
            print(f"  WORSE {reason}")
    else:
        print(f"compare: NEW is not worse than BASE (tolerance {tolerance_pct:g}%)")
    print(f"  written: {target / 'compare.html'}, {target / 'compare.json'}")
    return 1 if comparison.worse else 0
