"""Plots of huge runs are thinned, not dropped: a bounded number of points, the same shape, and
a caption that says so."""

from __future__ import annotations

import re

import numpy as np
from histories import device_snapshot, meta, queue
from matplotlib.figure import Figure

from simulator.checker.view import View
from simulator.history import History
from simulator.report import plots, thin
from simulator.report.thin import MAX_POINTS, Thinning

MILLION = 1_000_000


def test_a_million_marks_draw_one_per_slice_of_the_time_axis() -> None:
    t = np.sort(np.random.default_rng(1).uniform(0, 86_400, MILLION))
    kept = thin.marks(t)
    assert len(kept) <= MAX_POINTS
    assert kept[0] == 0 and np.all(np.diff(kept) > 0)
    # Every slice with a mark keeps one: no stretch of marks disappears.
    slices = np.floor(t / (t.max() / MAX_POINTS)).clip(max=MAX_POINTS - 1)
    assert set(slices[kept]) == set(slices)


def test_a_million_point_line_keeps_its_peaks_and_dips() -> None:
    rng = np.random.default_rng(2)
    t = np.sort(rng.uniform(0, 1e6, MILLION))
    values = rng.integers(0, 100, MILLION).astype(float)
    values[123_456], values[654_321] = 1_000.0, -50.0
    kept = thin.line(t, values)
    assert len(kept) <= MAX_POINTS
    assert {0, MILLION - 1, 123_456, 654_321} <= set(kept.tolist())


def test_a_million_point_cdf_stays_within_one_step_of_the_whole() -> None:
    shares = np.arange(1, MILLION + 1) / MILLION
    kept = thin.cdf(shares)
    assert len(kept) <= MAX_POINTS + 1
    assert kept[-1] == MILLION - 1
    assert np.max(np.diff(shares[kept])) <= 1.5 / MAX_POINTS


def test_spans_closer_than_a_slice_merge() -> None:
    starts = np.arange(MILLION // 100) * 10.0
    merged = thin.spans(list(starts), list(starts + 9.0))
    assert len(merged) <= MAX_POINTS + 1
    assert merged[0][0] == 0.0 and merged[-1][1] == starts[-1] + 9.0
    few = thin.spans([0.0, 5.0], [1.0, 6.0])
    assert few == [(0.0, 1.0), (5.0, 6.0)]


def test_a_cdf_of_a_million_values_draws_a_bounded_line() -> None:
    axes = Figure().add_subplot()
    thinning = Thinning()
    x = np.sort(np.random.default_rng(3).lognormal(5, 1, MILLION))
    plots._step_cdf(axes, x, np.arange(1, MILLION + 1) / MILLION, thinning, label="sizes")
    (line,) = axes.lines
    assert len(line.get_xdata()) <= MAX_POINTS + 2
    assert re.search(r"sizes \(CDF points\): 2,00\d of 1,000,000", thinning.note())


def test_the_caption_of_a_thinned_plot_says_so_and_a_small_one_says_nothing() -> None:
    rows = [meta()]
    rows += [
        queue(float(i), "phone", "enqueue", f"phone#{i}", "e1", depth=i % 7)
        for i in range(3 * MAX_POINTS)
    ]
    rows.append(device_snapshot("phone"))
    view = View(History(rows))
    by_name = {p.name: p for p in plots.report_plots(view, [])}
    outbox = by_name["outbox_depth"]
    assert outbox.png is not None
    assert "thinned to keep the plot drawable" in outbox.caption
    assert f"of {3 * MAX_POINTS + 2:,}" in outbox.caption
    assert "thinned" not in by_name["anomalies"].caption
    figure = plots.outbox_depth(view)
    (line,) = [ln for ln in figure.axes[0].lines if ln.get_label() == "phone"]
    assert len(line.get_xdata()) <= MAX_POINTS
