"""What the plots say, read from the matplotlib figures of real runs: every legend entry is
something drawn and visible, in a sensible order, at the right place."""

from __future__ import annotations

import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from simulator.checker import series
from simulator.checker.view import View
from simulator.report import plots
from simulator.runner import run
from simulator.scenario.loader import load_text
from simulator.verdict import Run

# Half an hour, then a 10-minute settle: a quarter of the time axis, wide enough to see.
SHORT_YAML = """\
name: short
seed: 5
duration: 30m
settle: 10m
devices:
  - name: phone
    offline: [{from: 5m, to: 20m}]
    reloads: [12m]
    workload: {entries_per_day: 400}
  - name: laptop
    workload: {entries_per_day: 200}
"""


@pytest.fixture(scope="module")
def short() -> Run:
    return run(load_text("short.yaml", SHORT_YAML))


def legend_labels(figure: Figure) -> list[str]:
    """Every legend entry of every axes, in the order shown."""
    labels: list[str] = []
    for axes in figure.axes:
        legend = axes.get_legend()
        if legend is not None:
            labels += [t.get_text() for t in legend.get_texts()]
    return labels


def timed_figures(result: Run) -> dict[str, Figure]:
    """The plots with a true-time axis, where the settle phase is drawn or named."""
    view = View(result.history)
    drawn = {
        "timeline": plots.timeline(view, result.result.findings),
        "outbox_depth": plots.outbox_depth(view),
        "bytes_per_change": plots.bytes_per_change(view),
    }
    return {name: figure for name, figure in drawn.items() if figure is not None}


def test_a_settle_too_short_to_see_has_no_legend_entry_and_is_named_on_the_axis(
    eventful: tuple[Run, dict[str, bytes]],
) -> None:
    # Ten minutes of two days: under one percent of the axis.
    result, _ = eventful
    for name, figure in timed_figures(result).items():
        labels = legend_labels(figure)
        assert labels, name
        assert all(label.strip() and not label.startswith("_") for label in labels), name
        assert not [label for label in labels if "settle" in label], (name, labels)
        assert "the last 10 min are the settle phase" in figure.axes[0].get_xlabel(), name


def test_a_settle_wide_enough_to_see_is_shaded_and_listed_last(short: Run) -> None:
    for name, figure in timed_figures(short).items():
        labels = legend_labels(figure)
        assert labels[-1] == "settle from here (10 min: every device online)", (name, labels)
        axes = figure.axes[0]
        assert "settle" not in axes.get_xlabel()
        # The band itself: a patch spanning the last 10 of 40 minutes (axis in minutes).
        spans = [p for p in axes.patches if p.get_x() == pytest.approx(30.0)]
        assert spans and spans[0].get_width() == pytest.approx(10.0), name


def drop_markers(figure: Figure) -> list[tuple[float, float]]:
    axes = figure.axes[0]
    return [
        (float(x), float(y))
        for collection in axes.collections
        if isinstance(collection, PathCollection)
        and collection.get_label() == "items dropped or lost (how many, why)"
        for x, y in collection.get_offsets()
    ]


def test_outbox_legend_lists_devices_then_drops(eventful: tuple[Run, dict[str, bytes]]) -> None:
    result, _ = eventful
    labels = legend_labels(plots.outbox_depth(View(result.history)))
    assert labels == [
        "laptop",
        "phone",
        "tablet (never queued)",
        "items dropped or lost (how many, why)",
    ]


def test_drop_markers_sit_at_the_depth_the_outbox_had_when_it_dropped(
    eventful: tuple[Run, dict[str, bytes]],
) -> None:
    # The phone reloads at 20 h while offline and loses its whole queue.
    result, _ = eventful
    view = View(result.history)
    figure = plots.outbox_depth(view)
    (loss,) = series.queue_losses(view)["phone"]
    depth_before = [d for t, d in series.outbox_depth(view)["phone"] if t < loss.t][-1]
    assert loss.t == 20 * 3600 and loss.count == depth_before > 0 and loss.reasons == ("reload",)
    scale, _ = plots.time_unit(series.end_of(view))
    assert drop_markers(figure) == [(pytest.approx(loss.t / scale), depth_before)]
    notes = [t.get_text() for t in figure.axes[0].texts]
    assert f"{depth_before} reload" in notes
