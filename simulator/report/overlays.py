"""The overlaid plots of `syncsim compare`: two sides' frame-size CDFs, convergence-lag CDFs and
anomaly counts on one set of axes each, read from each side's own history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from simulator.checker import series
from simulator.checker.names import Anomaly, anomaly_order
from simulator.checker.view import View
from simulator.report.plots import (
    LAG_FLOOR,
    _seconds_label,
    _size_label,
    _step_cdf,
    _weighted_cdf,
    lag_axis,
)
from simulator.report.thin import Thinning

_SIDE_STYLES = (
    {"color": "#7f8c8d", "linestyle": "--", "linewidth": 2.0},
    {"color": "#1f618d", "linestyle": "-", "linewidth": 2.0},
)


@dataclass(frozen=True)
class SideSeries:
    """What one side of a comparison contributes to the overlays, read from its history."""

    label: str
    frame_sizes: tuple[list[float], list[float]]  # every frame but keep-alives, with weights
    lags: list[float]
    unconverged: int
    limit: int | None
    anomalies: Mapping[str, int]


def side_series(label: str, view: View, anomalies: Mapping[str, int]) -> SideSeries:
    sizes: list[float] = []
    weights: list[float] = []
    for frame_type, (values, counts) in series.frame_sizes(view).items():
        if frame_type not in series.KEEPALIVE_TYPES:
            sizes += values
            weights += counts
    lags, unconverged = series.convergence_lags(view)
    limit = view.meta.get("max_frame_bytes")
    return SideSeries(
        label,
        (sizes, weights),
        lags,
        unconverged,
        int(limit) if limit else None,
        dict(anomalies),
    )


def overlay_frame_size_cdf(sides: Sequence[SideSeries]) -> Figure | None:
    drawn = [s for s in sides if s.frame_sizes[0]]
    if not drawn:
        return None
    figure = Figure(figsize=(11, 4.2))
    axes = figure.add_subplot()
    for side, style in zip(sides, _SIDE_STYLES, strict=False):
        values, weights = side.frame_sizes
        if values:
            x, y = _weighted_cdf(values, weights)
            _step_cdf(
                axes, x, y, Thinning(), label=f"{side.label}: {len(values):,} frames", **style
            )
    for limit in sorted({s.limit for s in sides if s.limit}):
        axes.axvline(limit, color="#c0392b", linestyle=":", label=f"limit {_size_label(limit)}")
    axes.set_xscale("log")
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("frame size (bytes, log scale)")
    axes.set_ylabel("share of frames at or below (fraction)")
    axes.set_title("Frame-size CDF, every frame sent but keep-alives (PING, PONG): BASE vs NEW")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="lower right")
    return figure


def overlay_lag_cdf(sides: Sequence[SideSeries]) -> Figure | None:
    if not any(s.lags for s in sides):
        return None
    figure = Figure(figsize=(11, 4.2))
    axes = figure.add_subplot()
    every: list[float] = []
    for side, style in zip(sides, _SIDE_STYLES, strict=False):
        if not side.lags:
            continue
        drawn = list(np.maximum(np.asarray(side.lags, dtype=float), LAG_FLOOR))
        every += drawn
        x, y = _weighted_cdf(drawn, [1.0] * len(drawn))
        p95 = _seconds_label(float(np.percentile(side.lags, 95)))
        _step_cdf(
            axes,
            x,
            y,
            Thinning(),
            label=f"{side.label}: {len(drawn)} writes, p95 {p95}, "
            f"{side.unconverged} never converged",
            **style,
        )
    lag_axis(axes, every)
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("convergence lag (seconds, log scale; 0 drawn at 1 ms)")
    axes.set_ylabel("share of converged writes (fraction)")
    axes.set_title("Convergence lag CDF: BASE vs NEW (writes that never converged not shown)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="lower right")
    return figure


def overlay_anomalies(sides: Sequence[SideSeries]) -> Figure:
    names = anomaly_order({a.value for a in Anomaly} | {n for s in sides for n in s.anomalies})
    figure = Figure(figsize=(11, 0.9 + 0.42 * len(names)))
    axes = figure.add_subplot()
    height = 0.8 / max(len(sides), 1)
    positions = np.arange(len(names), dtype=float)
    for index, (side, style) in enumerate(zip(sides, _SIDE_STYLES, strict=False)):
        counts = [float(side.anomalies.get(n, 0)) for n in names]
        at = positions - 0.4 + height * (index + 0.5)
        axes.barh(at, counts, height=height, color=style["color"], label=side.label)
        for y, count in zip(at, counts, strict=True):
            axes.text(count, y, f" {count:.0f}", va="center", fontsize=8)
    axes.set_yticks(positions, names)
    axes.invert_yaxis()
    top = max((c for s in sides for c in s.anomalies.values()), default=0)
    axes.set_xlim(0, max(top, 1) * 1.15)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("findings (count)")
    axes.set_ylabel("anomaly")
    axes.set_title("Anomalies by type: BASE vs NEW")
    axes.legend(fontsize=8, loc="lower right")
    return figure
