"""Plots: valid, non-trivial images drawn from the run's own data, titled, axes with units."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from enum import StrEnum

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

from simulator.checker import series
from simulator.checker.findings import Finding
from simulator.checker.names import ANOMALIES, UNKNOWN_COLOUR, Anomaly, anomaly_info
from simulator.checker.view import View
from simulator.report import plots
from simulator.runner import run
from simulator.scenario.loader import load_text
from simulator.verdict import Run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PLOTS = (
    "timeline",
    "outbox_depth",
    "frame_size_cdf",
    "frame_sizes",
    "convergence_lag_cdf",
    "anomalies",
    "bytes_per_change",
)
WITH_SVG = ("timeline", "frame_size_cdf", "convergence_lag_cdf")
UNIT = re.compile(r"\(.+\)")


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(imread(io.BytesIO(png), format="png"))


@pytest.mark.parametrize("name", PLOTS)
def test_every_plot_is_a_valid_non_trivial_png(
    eventful: tuple[Run, dict[str, bytes]], name: str
) -> None:
    _, files = eventful
    png = files[f"{name}.png"]
    assert png.startswith(PNG_MAGIC)
    pixels = _pixels(png)
    height, width = pixels.shape[:2]
    assert width >= 600 and height >= 250
    rgb = pixels[..., :3].reshape(-1, 3)
    colours = np.unique((rgb * 255).astype(np.uint8), axis=0)
    assert len(colours) > 30, "a real chart has lines, text and fills, not one flat colour"
    assert float((rgb < 0.9).any(axis=1).mean()) > 0.01, "something is drawn on the canvas"


@pytest.mark.parametrize("name", WITH_SVG)
def test_timeline_and_cdfs_also_come_as_svg(
    eventful: tuple[Run, dict[str, bytes]], name: str
) -> None:
    _, files = eventful
    root = ET.fromstring(files[f"{name}.svg"])
    assert root.tag.endswith("svg")
    assert len(list(root.iter())) > 100


def _figures(result: Run) -> dict[str, Figure]:
    view = View(result.history)
    findings = result.result.findings
    bounds = plots.gated_frame_bounds(
        result.loaded.expectations, result.loaded.scenario.limits.max_frame_bytes
    )
    lag, _ = plots.convergence_lag_cdf(view)
    drawn = {
        "timeline": plots.timeline(view, findings),
        "outbox_depth": plots.outbox_depth(view),
        "frame_size_cdf": plots.frame_size_cdf(view, bounds),
        "frame_sizes": plots.frame_size_histogram(view, bounds),
        "convergence_lag_cdf": lag,
        "anomalies": plots.anomalies(findings),
        "bytes_per_change": plots.bytes_per_change(view),
    }
    assert all(f is not None for f in drawn.values())
    return {k: f for k, f in drawn.items() if f is not None}


def test_every_plot_is_titled_with_labelled_axes_and_units(
    eventful: tuple[Run, dict[str, bytes]],
) -> None:
    result, _ = eventful
    for name, figure in _figures(result).items():
        for axes in figure.axes:
            title = axes.get_title() or (figure.get_suptitle() if figure.get_suptitle() else "")
            assert title, f"{name}: untitled axes"
            assert UNIT.search(axes.get_xlabel()), f"{name}: x label without unit"
            # Categorical axes (device, anomaly, frame type) are labelled by their tick names.
            ticks = [t.get_text() for t in axes.get_yticklabels()]
            assert UNIT.search(axes.get_ylabel()) or any(ticks), f"{name}: y axis unlabelled"


def _legend_labels(figure: Figure) -> set[str]:
    labels: set[str] = set()
    for axes in figure.axes:
        legend = axes.get_legend()
        if legend is not None:
            labels |= {t.get_text() for t in legend.get_texts()}
    return labels


def test_timeline_shows_every_kind_of_event_that_happened(
    eventful: tuple[Run, dict[str, bytes]],
) -> None:
    result, _ = eventful
    figure = plots.timeline(View(result.history), result.result.findings)
    labels = _legend_labels(figure)
    assert {
        "network offline",
        "connected",
        "partitioned (both ways)",
        "partitioned (up)",
        "server down",
        "write: create",
        "write: update",
        "SYNC_REQUEST",
        "reload",
        "crash (then reload)",
        "storage wiped",
        "lost_write",
    } <= labels
    ticks = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert ticks == ["laptop", "phone", "tablet", "server"]


def test_timeline_draws_nothing_that_did_not_happen(small_run: Run) -> None:
    figure = plots.timeline(View(small_run.history), small_run.result.findings)
    labels = _legend_labels(figure)
    assert not {label for label in labels if label.startswith("partitioned")}
    assert "server down" not in labels and "storage wiped" not in labels
    ticks = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert "server" not in ticks


@pytest.fixture(scope="module")
def small_run() -> Run:
    from tests_support import SMALL_YAML

    return run(load_text("small.yaml", SMALL_YAML))


def test_a_plot_without_data_is_skipped_with_a_reason() -> None:
    lonely = run(load_text("lonely.yaml", "name: lonely\nduration: 1d\ndevices: [{name: only}]\n"))
    figure, why = plots.convergence_lag_cdf(View(lonely.history))
    assert figure is None and "single device" in why
    listed = plots.report_plots(View(lonely.history), lonely.result.findings)
    skipped = [p for p in listed if p.png is None]
    assert [p.name for p in skipped] == ["convergence_lag_cdf"]
    assert skipped[0].skipped and not skipped[0].files()


# -- the series behind the plots are the checker's own numbers -------------------------------


def test_frame_sizes_weigh_keepalives_and_add_up_to_frames_sent(
    eventful: tuple[Run, dict[str, bytes]],
) -> None:
    result, _ = eventful
    sizes = series.frame_sizes(View(result.history))
    assert {"PING", "PONG", "SYNC_REQUEST"} <= set(sizes)
    total = sum(sum(weights) for _, weights in sizes.values())
    assert total == result.result.metrics["frames_sent"]
    largest = max(max(values) for values, _ in sizes.values())
    assert largest == result.result.metrics["max_frame_bytes"]


def test_lags_outbox_and_bytes_match_the_metrics(eventful: tuple[Run, dict[str, bytes]]) -> None:
    result, _ = eventful
    view, metrics = View(result.history), result.result.metrics
    lags, unconverged = series.convergence_lags(view)
    assert unconverged == metrics["unconverged_writes"]
    assert float(np.percentile(lags, 95)) == pytest.approx(metrics["p95_convergence_lag"])
    depth = series.outbox_depth(view)
    assert max(d for points in depth.values() for _, d in points) == metrics["max_outbox_depth"]
    by_type = series.bytes_per_write_by_type(view)
    assert sum(by_type.values()) == pytest.approx(metrics["bytes_per_change"])
    per_write = series.bytes_per_write(view)
    assert len(per_write) == metrics["writes"]
    frame = view.frame
    mutation_bytes = frame[
        (frame["kind"] == "frame_sent") & (frame["device"] != "server") & frame["write_id"].notna()
    ]["bytes"].sum()
    assert sum(w.sent for w in per_write) == mutation_bytes
    assert any(w.answered > 0 for w in per_write), "the server answers and broadcasts writes"


def test_spans_follow_the_scenario(eventful: tuple[Run, dict[str, bytes]]) -> None:
    result, _ = eventful
    view = View(result.history)
    hour = 3600.0
    assert [(s.start, s.end) for s in series.offline_spans(view)["phone"]] == [
        (6 * hour, 34 * hour)
    ]
    partitions = series.partition_spans(view)
    assert [(s.start, s.end, s.label) for s in partitions["laptop"]] == [
        (3 * hour, 5 * hour, "both")
    ]
    assert [(s.start, s.end, s.label) for s in partitions["tablet"]] == [
        (25 * hour, 27 * hour, "up")
    ]
    assert [(s.start, s.end) for s in series.outage_spans(view)] == [(44 * hour, 45 * hour)]
    for spans in series.connected_spans(view).values():
        assert all(s.start <= s.end for s in spans)
    # While the phone is offline it is never connected.
    assert not [
        s for s in series.connected_spans(view)["phone"] if s.start < 34 * hour and s.end > 6 * hour
    ]


def test_anomaly_causes_count_every_finding(eventful: tuple[Run, dict[str, bytes]]) -> None:
    result, _ = eventful
    causes = series.anomaly_causes(result.result.findings)
    assert {k: sum(v.values()) for k, v in causes.items()} == {
        k: v for k, v in result.result.counts.items() if v
    }


class _Newer(StrEnum):
    """An anomaly this version's registry does not hold (a tenth one, or a newer report's)."""

    CLOCK_SKEW = "clock_skew"


def test_an_anomaly_the_registry_lacks_still_draws(
    eventful: tuple[Run, dict[str, bytes]],
) -> None:
    result, _ = eventful
    stranger = Finding(_Newer.CLOCK_SKEW, "a clock ran backwards", devices=("phone",), t=3600.0)  # type: ignore[arg-type]
    findings = [*result.result.findings, stranger]
    bars = plots.anomalies(findings)
    labels = [t.get_text() for t in bars.axes[0].get_yticklabels()]
    assert labels[-1] == "clock_skew" and labels[: len(ANOMALIES)] == [a.value for a in ANOMALIES]
    timeline = plots.timeline(View(result.history), findings)
    legend = timeline.axes[0].get_legend()
    assert legend is not None and "clock_skew" in [t.get_text() for t in legend.get_texts()]


def test_every_anomaly_has_its_own_colour_and_meaning() -> None:
    assert set(ANOMALIES) == set(Anomaly)
    colours = [info.colour for info in ANOMALIES.values()]
    assert len(set(colours)) == len(colours) and UNKNOWN_COLOUR not in colours
    assert all(info.meaning for info in ANOMALIES.values())
    assert anomaly_info("clock_skew").colour == UNKNOWN_COLOUR
