"""`syncsim compare BASE NEW`: is NEW worse than BASE?

Each side is a report directory (it holds `summary.json`), a directory of report directories
(matched by scenario name), or a matrix directory (`reports/<name>/matrix`, its subfolders
one per profile, matched by profile). Every anomaly count and metric is set side by side with
the change; the frame-size and convergence-lag CDFs (read from each side's `history.jsonl`)
and the anomaly counts are overlaid; all of it goes to `compare.html` and `compare.json`.

This module reads and judges the two sides; `simulator.report.comparison` draws the overlays
and renders the table, `compare.json` and `compare.html`; the CLI writes them.

NEW is worse, and the command exits 1, when for any matched pair
- an anomaly count went up at all, or
- a metric moved in its bad direction by more than the relative tolerance (default 10 %;
  from a BASE of 0, any move in the bad direction), or
- BASE has a report that NEW lacks.
Bad input (a missing or unreadable summary.json or history.jsonl, nothing to match) exits 2.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from simulator.checker.expectations import unit_of
from simulator.checker.names import METRICS, Anomaly
from simulator.errors import UsageError
from simulator.history import History

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

    def history_path(self) -> Path:
        path = self.path / "history.jsonl"
        if not path.is_file():
            raise UsageError(f"{path}: missing (every report directory has its history)")
        return path

    def history(self) -> History:
        return History.load(self.history_path())


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

    @property
    def worse(self) -> bool:
        return bool(self.only_in_base) or any(p.worse for p in self.pairs)


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
    """Match and judge; raises `UsageError` on bad input, a matched report without its
    history included (the renderer draws the overlays from it)."""
    if not math.isfinite(tolerance_pct) or tolerance_pct < 0:
        raise UsageError(f"--tolerance: {tolerance_pct:g} is not a percentage >= 0")
    matched, only_base, only_new, by = match(base, new)
    tolerance = tolerance_pct / 100
    pairs = tuple(Pair(k, b, n, compare_reports(b, n, tolerance)) for k, b, n in matched)
    for pair in pairs:
        pair.base.history_path()
        pair.new.history_path()
    return Comparison(base, new, tolerance_pct, pairs, tuple(only_base), tuple(only_new), by)
