"""Two sweeps compared as distributions: is NEW worse than BASE, beyond seed noise?

One seed's anomaly counts move from seed to seed (offline_week under legacy: resurrection 0
at seed 7, 2 at seed 8), so comparing two single runs cannot tell a regression from noise.
Over two sweeps, each anomaly count and metric is a sample per side; NEW is worse on a name
when a one-sided Mann-Whitney U test (scipy) says NEW's values are larger (for what is worse
when larger) with a p-value below `ALPHA` after Holm's correction over every name judged, and
the shift is not negligible: Cliff's delta (the rank-biserial correlation, from U) at least
`MIN_EFFECT` (0.147, the usual bound of a negligible effect). Names that are the same on
every seed of both sides (all zero, say) are not tested. Workload figures (writes, reloads)
are shown, not judged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from scipy.stats import mannwhitneyu

from simulator.checker.names import METRICS
from simulator.compare import METRIC_DIRECTIONS, Direction
from simulator.sweep.table import TABLE, VALUES, read_table

ALPHA = 0.01
MIN_EFFECT = 0.147


@dataclass(frozen=True)
class Shift:
    name: str
    direction: str
    base_median: float
    new_median: float
    base_mean: float
    new_mean: float
    effect: float | None  # Cliff's delta, NEW over BASE: +1 every NEW value larger
    p_value: float | None  # one-sided, before correction
    adjusted: float | None  # after Holm's correction
    result: str  # worse, better, same, no shift, not judged

    @property
    def worse(self) -> bool:
        return self.result == "worse"


@dataclass(frozen=True)
class SweepComparison:
    base: Path
    new: Path
    base_seeds: int
    new_seeds: int
    shifts: tuple[Shift, ...]

    @property
    def worse(self) -> bool:
        return any(s.worse for s in self.shifts)


def is_sweep(path: Path) -> bool:
    return (path / TABLE).is_file()


def _direction(name: str) -> Direction:
    if name in METRICS:
        return METRIC_DIRECTIONS.get(name, Direction.NEUTRAL)
    return Direction.HIGHER_IS_WORSE


def _test(name: str, base: pd.Series, new: pd.Series) -> tuple[Direction, float, float, float]:
    """(direction, effect, p that NEW is worse, p that NEW is better)."""
    direction = _direction(name)
    b, n = base.to_numpy(dtype=float), new.to_numpy(dtype=float)
    larger = float(mannwhitneyu(n, b, alternative="greater").pvalue)
    smaller = float(mannwhitneyu(n, b, alternative="less").pvalue)
    statistic = float(mannwhitneyu(n, b, alternative="greater").statistic)
    effect = 2 * statistic / (len(n) * len(b)) - 1  # Cliff's delta, from U
    if direction is Direction.HIGHER_IS_WORSE:
        return direction, effect, larger, smaller
    return direction, effect, smaller, larger


def compare_sweeps(base: Path, new: Path) -> SweepComparison:
    base_table, new_table = read_table(base), read_table(new)
    base_table = base_table[base_table["verdict"] != "crash"]
    new_table = new_table[new_table["verdict"] != "crash"]
    tested: list[tuple[str, Direction, float, float, float]] = []
    plain: list[Shift] = []
    for name in VALUES:
        b = base_table[name].dropna().astype(float)
        n = new_table[name].dropna().astype(float)
        facts = (float(b.median()), float(n.median()), float(b.mean()), float(n.mean()))
        direction = _direction(name)
        if b.empty or n.empty or direction is Direction.NEUTRAL:
            plain.append(Shift(name, direction.value, *facts, None, None, None, "not judged"))
        elif b.nunique() == 1 and n.nunique() == 1 and b.iloc[0] == n.iloc[0]:
            plain.append(Shift(name, direction.value, *facts, 0.0, None, None, "same"))
        else:
            tested.append((name, *_test(name, b, n)))
    adjusted = _holm([min(p_worse, p_better) for *_, p_worse, p_better in tested])
    shifts = {s.name: s for s in plain}
    for (name, direction, effect, p_worse, p_better), p in zip(tested, adjusted, strict=True):
        b, n = base_table[name].astype(float), new_table[name].astype(float)
        facts = (float(b.median()), float(n.median()), float(b.mean()), float(n.mean()))
        signed = effect if direction is Direction.HIGHER_IS_WORSE else -effect
        result = "no shift"
        if p < ALPHA and abs(signed) >= MIN_EFFECT:
            result = "worse" if p_worse < p_better else "better"
        shifts[name] = Shift(
            name, direction.value, *facts, effect, min(p_worse, p_better), p, result
        )
    ordered = tuple(shifts[name] for name in VALUES if name in shifts)
    return SweepComparison(base, new, len(base_table), len(new_table), ordered)


def _holm(p_values: list[float]) -> list[float]:
    """Holm's step-down correction: each p-value adjusted for the number of tests."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [1.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def text_table(comparison: SweepComparison) -> str:
    def show(value: float | None, digits: int = 3) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        return f"{value:.{digits}g}"

    lines = [
        f"sweeps: BASE {comparison.base} ({comparison.base_seeds} seeds) -> NEW "
        f"{comparison.new} ({comparison.new_seeds} seeds)",
        f"  {'name':<30} {'BASE p50':>10} {'NEW p50':>10} {'delta':>7} {'p (Holm)':>10}  result",
    ]
    for s in comparison.shifts:
        if s.result in ("same", "not judged") and s.base_mean == 0 == s.new_mean:
            continue
        lines.append(
            f"  {s.name:<30} {show(s.base_median):>10} {show(s.new_median):>10} "
            f"{show(s.effect, 2):>7} {show(s.adjusted, 2):>10}  {s.result}"
        )
    return "\n".join(lines) + "\n"
