"""What the plots say, read from the matplotlib figures of real runs: every legend entry is
something drawn and visible, in a sensible order, at the right place."""

from __future__ import annotations

from pathlib import Path

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


# -- frame sizes: a few groups, and the bound the scenario gates ------------------------------


def frame_figures(result: Run) -> tuple[Figure, Figure]:
    view = View(result.history)
    bounds = plots.gated_frame_bounds(
        result.loaded.expectations, result.loaded.scenario.limits.max_frame_bytes
    )
    cdf = plots.frame_size_cdf(view, bounds)
    histogram = plots.frame_size_histogram(view, bounds)
    assert cdf is not None and histogram is not None
    return cdf, histogram


def test_frame_size_cdf_draws_a_few_distinct_groups_keepalives_as_one(
    eventful: tuple[Run, dict[str, bytes]],
) -> None:
    result, _ = eventful
    cdf, _ = frame_figures(result)
    curves = [line for line in cdf.axes[0].lines if not line.get_label().startswith("gate:")]
    labels = [str(line.get_label()) for line in curves]
    assert 3 <= len(curves) <= len(plots.FRAME_GROUPS) + 1  # the groups and the black total
    assert len({line.get_color() for line in curves}) == len(curves), "one colour per curve"
    # PING and PONG are one muted, dotted curve: neither can hide under the other.
    (keepalives,) = [c for c in curves if str(c.get_label()).startswith("keep-alives")]
    assert "PING" in keepalives.get_label() and "PONG" in keepalives.get_label()
    assert keepalives.get_linestyle() == ":" and keepalives.get_color() == "#a6a6a6"
    assert not [label for label in labels if label.startswith(("PING", "PONG"))]
    # Every frame type sent is in exactly one group's legend entry.
    types = set(series.frame_sizes(View(result.history)))
    named = [t for t in types for label in labels[:-1] if f" {t} " in f" {label} "]
    assert sorted(named) == sorted(types)
    assert labels[-1].startswith("every frame but keep-alives")


def test_frame_size_plots_draw_the_gated_bound_not_the_default_limit(
    eventful: tuple[Run, dict[str, bytes]],
) -> None:
    # eventful gates max_frame_bytes <= 64 KiB (and payload: 0 at its 1 MiB limit).
    result, _ = eventful
    for figure in frame_figures(result):
        axes = figure.axes[0]
        gates = [line for line in axes.lines if str(line.get_label()).startswith("gate:")]
        assert [(line.get_xdata()[0], line.get_label()) for line in gates] == [
            (65536.0, "gate: max_frame_bytes ≤ 64 KiB")
        ]
        assert "gate: max_frame_bytes ≤ 64 KiB" in legend_labels(figure)


def bounds_of(text: str, profile: str | None = None) -> list[plots.SizeBound]:
    loaded = load_text("bounds.yaml", text, profile)
    limits = loaded.scenario.limits
    return plots.gated_frame_bounds(
        loaded.expectations,
        limits.max_frame_bytes,
        limit_is_default="max_frame_bytes" not in limits.model_fields_set,
    )


BARE = "name: b\nduration: 1h\ndevices: [{name: d}]\n"


def test_gated_bounds_come_from_the_expectations() -> None:
    # Nothing gated: nothing drawn, not even the 1 MiB default limit.
    assert bounds_of(BARE) == []
    assert bounds_of(BARE + "expect: {writes: {lte: 5}}\n") == []
    # payload gated at the default limit: drawn, and labelled as the default.
    (only,) = bounds_of(BARE + "expect: {payload: 0}\n")
    assert only.value == 1024**2
    assert only.label == "gate: payload, frames over limits.max_frame_bytes 1 MiB, the default"
    # A tighter max_frame_bytes bound says more than the payload limit: only it is drawn.
    tight = BARE + "limits: {max_frame_bytes: 1MiB}\nexpect: {payload: 0, max_frame_bytes: 4KiB}\n"
    assert [b.label for b in bounds_of(tight)] == ["gate: max_frame_bytes ≤ 4 KiB"]
    gap = BARE + "expect:\n  max_frame_bytes: {lte: 4KiB, known_gap: too big today}\n"
    assert [b.label for b in bounds_of(gap)] == ["gate: max_frame_bytes ≤ 4 KiB (known gap)"]


def test_a_lower_bound_on_frame_size_is_drawn_beside_the_payload_limit() -> None:
    text = (Path(__file__).parents[2] / "scenarios" / "large_dataset_chunking.yaml").read_text()
    legacy = bounds_of(text, "legacy")
    assert [(b.value, b.label, b.lower) for b in legacy] == [
        (256 * 1024, "gate: payload, frames over limits.max_frame_bytes 256 KiB", False),
        (320 * 1024, "gate: max_frame_bytes > 320 KiB", True),
    ]
    assert [b.label for b in bounds_of(text, "proposed")] == ["gate: max_frame_bytes ≤ 256 KiB"]


def test_the_report_caption_names_the_gated_bound(eventful: tuple[Run, dict[str, bytes]]) -> None:
    _, files = eventful
    html = files["report.html"].decode()
    assert "the bound the scenario gates (max_frame_bytes ≤ 64 KiB)" in html
    assert "configured limit" not in html


def test_bytes_per_change_says_which_figure_is_a_median_and_which_a_mean(
    eventful: tuple[Run, dict[str, bytes]],
) -> None:
    result, _ = eventful
    figure = plots.bytes_per_change(View(result.history))
    assert figure is not None
    _, right = figure.axes
    (median,) = [label for label in legend_labels(figure) if "median" in label]
    assert median.startswith("median of these writes ")
    title = right.get_title()
    assert "= bytes_per_change, a mean" in title and "median" not in title
    expected = f"{result.result.metrics['bytes_per_change']:,.0f} B = bytes_per_change"
    assert expected in title
