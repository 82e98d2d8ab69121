"""Plots drawn with matplotlib from a run's real data, as PNG (and SVG) bytes.

`matplotlib.figure.Figure` is used directly, without pyplot, so no global state leaks between
plots and no display is needed. Every series comes from `simulator.checker.series`, the same
numbers the checker's metrics and `syncsim compare` read. A plot whose data does not exist in
the run (no write reached another device, say) is not drawn; `Plot.skipped` says why, and the
report prints that instead of an empty chart.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator
from matplotlib.transforms import Bbox

from simulator.checker import series
from simulator.checker.expectations import Expectation
from simulator.checker.findings import Finding
from simulator.checker.names import Anomaly, anomaly_info, anomaly_order
from simulator.checker.view import View
from simulator.history import SERVER, Kind
from simulator.report import fmt, thin
from simulator.report.thin import Thinning

DAY = 86_400.0
HOUR = 3_600.0
_OP_COLOURS = {"create": "#2a7ab0", "update": "#e08a1e", "delete": "#444444"}
_OFFLINE = "#f4c7c3"
_CONNECTED = "#3c9a5f"
_PARTITION = "#e67e22"
_OUTAGE = "#5d6d7e"
_BOUND = "#c0392b"
_DROP = "#c0392b"
_SETTLE = "#c8c8c8"
_SETTLE_EDGE = "#7f7f7f"
# The settle band is drawn when it takes at least this share of the time axis (about 9 px).
SETTLE_SHOWN_FROM = 0.01
_LAG_TICKS = [
    (0.001, "1 ms"),
    (0.01, "10 ms"),
    (0.1, "100 ms"),
    (1.0, "1 s"),
    (10.0, "10 s"),
    (60.0, "1 min"),
    (600.0, "10 min"),
    (3600.0, "1 h"),
    (6 * 3600.0, "6 h"),
    (DAY, "1 d"),
    (7 * DAY, "1 w"),
    (30 * DAY, "30 d"),
]
LAG_FLOOR = 0.001  # lags of 0 (already held) drawn at 1 ms on the log axis


@dataclass(frozen=True)
class Plot:
    """One plot of a report: `name` is the file stem, `png`/`svg` the bytes (None when not
    drawn, `skipped` then says why), `caption` what it shows and how to read it."""

    name: str
    title: str
    caption: str
    png: bytes | None = None
    svg: bytes | None = None
    skipped: str | None = None

    def files(self) -> dict[str, bytes]:
        out = {}
        if self.png is not None:
            out[f"{self.name}.png"] = self.png
        if self.svg is not None:
            out[f"{self.name}.svg"] = self.svg
        return out


# -- output ----------------------------------------------------------------------------------


Box = Bbox | str  # where savefig crops: a box in inches, or "tight" to work it out


def png_bytes(figure: Figure, box: Box = "tight") -> bytes:
    buffer = io.BytesIO()
    figure.savefig(
        buffer,
        format="png",
        dpi=110,
        bbox_inches=box,
        metadata={"Software": None},
        # zlib's fastest level: a third of the time of its default, for files a quarter larger.
        pil_kwargs={"compress_level": 1},
    )
    return buffer.getvalue()


def svg_bytes(figure: Figure, box: Box = "tight") -> bytes:
    """SVG with fixed element ids and no date, so the same run gives the same file."""
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "syncsim", "svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", bbox_inches=box, metadata={"Date": None})
    return buffer.getvalue()


def tight_box(figure: Figure) -> Bbox:
    """The box `bbox_inches="tight"` crops to, worked out once for a figure saved twice: each
    savefig would lay the whole figure out again to find it."""
    renderer = FigureCanvasAgg(figure).get_renderer()  # type: ignore[no-untyped-call]
    figure.draw_without_rendering()
    box: Bbox = figure.get_tightbbox(renderer).padded(matplotlib.rcParams["savefig.pad_inches"])
    return box


def _plot(
    name: str,
    title: str,
    caption: str,
    figure: Figure | None,
    skipped: str,
    svg: bool = False,
    thinning: Thinning | None = None,
) -> Plot:
    """A plot's files; `thinning` is what building `figure` thinned, told in the caption."""
    if thinning is not None:
        caption += thinning.note()
    if figure is None:
        return Plot(name, title, caption, skipped=skipped)
    if not svg:
        return Plot(name, title, caption, png_bytes(figure))
    box = tight_box(figure)
    return Plot(name, title, caption, png_bytes(figure, box), svg_bytes(figure, box))


# -- helpers ---------------------------------------------------------------------------------


def time_unit(total: float) -> tuple[float, str]:
    """Divisor and unit name for a time axis: days for long runs, down to seconds for short."""
    for scale, name in ((DAY, "days"), (HOUR, "hours"), (60.0, "minutes")):
        if total >= 2 * scale:
            return scale, name
    return 1.0, "seconds"


def _time_axis(axes: Axes, end: float, settle: float) -> float:
    """A true-time axis ending at `end`. The settle phase (the last `settle` seconds) is a
    shaded band with a legend entry only where it is wide enough to see; a settle too short
    for the scale (10 minutes of a week) is named in the axis label instead."""
    scale, unit = time_unit(end)
    axes.set_xlim(0, end / scale)
    label = f"true time since scenario start ({unit})"
    if settle > 0 and end > 0:
        span = _span_label(settle)
        if settle / end >= SETTLE_SHOWN_FROM:
            start = (end - settle) / scale
            axes.axvspan(start, end / scale, color=_SETTLE, alpha=0.45, zorder=0)
            axes.axvline(
                start,
                color=_SETTLE_EDGE,
                linestyle="--",
                linewidth=1,
                label=f"settle from here ({span}: every device online)",
            )
        else:
            label += f"; the last {span} are the settle phase"
    axes.set_xlabel(label)
    return scale


def _span_label(seconds: float) -> str:
    """A duration as people say it: `10 min`, `2 h`, `1.5 d`, `45 s`."""
    for scale, unit in ((DAY, "d"), (HOUR, "h"), (60.0, "min")):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds:.3g} s"


def _legend_below(axes: Axes, ncol: int = 5) -> None:
    handles, labels = axes.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    # The settle marker is context, not data: always last.
    unique = dict(sorted(unique.items(), key=lambda item: item[0].startswith("settle")))
    if unique:
        axes.legend(
            unique.values(),
            unique.keys(),
            loc="upper center",
            bbox_to_anchor=(0.5, -0.16 if ncol else -0.2),
            ncol=ncol,
            fontsize=8,
            frameon=False,
        )


def _span_bars(
    axes: Axes,
    spans: Iterable[series.Span],
    scale: float,
    y: float,
    height: float,
    thinning: Thinning,
    **style: Any,
) -> None:
    """Spans as horizontal bars centred on `y`; nothing (and no legend entry) when empty."""
    given = list(spans)
    kept = thin.spans([s.start for s in given], [s.end for s in given])
    thinning.record(f"{style.get('label', 'span')} spans", len(given), len(kept))
    bars = [(start / scale, max(stop - start, 0.0) / scale) for start, stop in kept]
    if bars:
        axes.broken_barh(bars, (y - height / 2, height), **style)


def _settle(view: View) -> float:
    return float(view.meta.get("settle", 0.0))


def _weighted_cdf(
    values: Sequence[float], weights: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(values, kind="stable")
    x = np.asarray(values, dtype=float)[order]
    w = np.asarray(weights, dtype=float)[order]
    return x, np.cumsum(w) / w.sum()


def _step_cdf(axes: Axes, x: np.ndarray, y: np.ndarray, thinning: Thinning, **style: Any) -> None:
    """An empirical CDF as a step line that starts at 0 left of the smallest value."""
    kept = thin.cdf(y)
    thinning.record(f"{style.get('label', 'CDF')} (CDF points)", len(y), len(kept))
    x, y = x[kept], y[kept]
    axes.step(np.concatenate([[x[0]], x]), np.concatenate([[0.0], y]), where="post", **style)


def log_scale(axes: Axes, *, x: bool = False, y: bool = False) -> None:
    """Log scales ticked at each power of ten and labelled in plain numbers (`100`, `10,000`).
    Matplotlib's own labels (10 to a power, typeset as TeX) cost most of the time of saving a
    plot, and its unlabelled minor ticks (eight a decade) a quarter of what was left."""
    chosen = ([axes.xaxis] if x else []) + ([axes.yaxis] if y else [])
    if x:
        axes.set_xscale("log")
    if y:
        axes.set_yscale("log")
    for axis in chosen:
        axis.set_major_formatter(FuncFormatter(_plain_number))
        axis.set_minor_locator(NullLocator())


def _plain_number(value: float, _position: object = None) -> str:
    return f"{value:,.0f}" if value >= 1 else f"{value:g}"


def _size_label(value: float) -> str:
    for unit, size in (("MiB", 1024**2), ("KiB", 1024)):
        if value >= size:
            return f"{value / size:g} {unit}"
    return f"{value:g} B"


# -- the device timeline ---------------------------------------------------------------------


def timeline(view: View, findings: Sequence[Finding], thinning: Thinning | None = None) -> Figure:
    thinning = Thinning() if thinning is None else thinning
    end, settle = series.end_of(view), _settle(view)
    outages = series.outage_spans(view)
    marks = series.anomaly_marks(findings, end)
    rows = series.devices(view)
    if outages or any(device == SERVER for device, *_ in marks):
        rows = [*rows, SERVER]
    figure = Figure(figsize=(11, 1.9 + 0.72 * len(rows)))
    axes = figure.add_subplot()
    scale = _time_axis(axes, end, settle)
    offline, connected = series.offline_spans(view), series.connected_spans(view)
    partitions = series.partition_spans(view)
    frame = view.frame
    for y, device in enumerate(rows):
        if device == SERVER:
            _span_bars(axes, outages, scale, y, 0.7, thinning, color=_OUTAGE, label="server down")
            continue
        rows_of = frame[frame["device"] == device]
        _span_bars(
            axes,
            offline.get(device, []),
            scale,
            y,
            0.7,
            thinning,
            color=_OFFLINE,
            label="network offline",
        )
        for label, hatch in (("both", "////"), ("up", "\\\\"), ("down", "..")):
            cut = [s for s in partitions.get(device, []) if s.label == label]
            _span_bars(
                axes,
                cut,
                scale,
                y,
                0.7,
                thinning,
                facecolor="none",
                edgecolor=_PARTITION,
                hatch=hatch,
                linewidth=0.8,
                label=f"partitioned ({label})" if label != "both" else "partitioned (both ways)",
            )
        _span_bars(
            axes,
            connected.get(device, []),
            scale,
            y,
            0.14,
            thinning,
            color=_CONNECTED,
            label="connected",
        )
        _events(axes, rows_of, y, scale, thinning)
    _anomaly_marks(axes, marks, rows, scale, thinning)
    axes.set_yticks(range(len(rows)), rows)
    axes.set_ylim(len(rows) - 0.4, -0.6)  # first device on top
    axes.set_ylabel("device")
    axes.set_title(
        "Device timeline: network, connections, partitions, outages, writes, syncs, "
        "reloads, wipes and anomalies"
    )
    _legend_below(axes, ncol=6)
    return figure


def _scatter(
    axes: Axes, times: Iterable[float], y: float, scale: float, thinning: Thinning, **style: Any
) -> None:
    every = np.asarray(list(times), dtype=float)
    at = every[thin.marks(every)] / scale
    thinning.record(f"{style.get('label', 'marks')} marks", len(every), len(at))
    if len(at):
        axes.scatter(at, np.full(len(at), y), **style)


def _events(axes: Axes, rows: object, y: int, scale: float, thinning: Thinning) -> None:
    import pandas as pd

    assert isinstance(rows, pd.DataFrame)
    kinds = rows["kind"]
    writes = rows[kinds == Kind.WRITE.value]
    for op, colour in _OP_COLOURS.items():
        _scatter(
            axes,
            writes[writes["op"] == op]["t"],
            y - 0.24,
            scale,
            thinning,
            marker="|",
            s=90,
            color=colour,
            label=f"write: {op}",
        )
    syncs = rows[(kinds == Kind.FRAME_SENT.value) & (rows["frame_type"] == "SYNC_REQUEST")]
    _scatter(
        axes,
        syncs["t"],
        y + 0.24,
        scale,
        thinning,
        marker="v",
        s=28,
        color="#4040b0",
        label="SYNC_REQUEST",
    )
    reloads = rows[kinds == Kind.RELOAD.value]
    crashed = reloads["reason"] == "crash"
    _scatter(
        axes,
        reloads[~crashed]["t"],
        y,
        scale,
        thinning,
        marker="*",
        s=140,
        color="#8a2be2",
        label="reload",
    )
    _scatter(
        axes,
        reloads[crashed]["t"],
        y,
        scale,
        thinning,
        marker="*",
        s=160,
        color="#f1c40f",
        edgecolors="#000000",
        linewidths=0.7,
        label="crash (then reload)",
    )
    _scatter(
        axes,
        rows[kinds == Kind.WIPE.value]["t"],
        y,
        scale,
        thinning,
        marker="D",
        s=50,
        color="#000000",
        label="storage wiped",
    )


def _anomaly_marks(
    axes: Axes,
    marks: Sequence[tuple[str, str, float, bool]],
    rows: Sequence[str],
    scale: float,
    thinning: Thinning,
) -> None:
    index = {device: y for y, device in enumerate(rows)}
    kinds = anomaly_order({anomaly for _, anomaly, _, _ in marks})
    offsets = {k: (i - (len(kinds) - 1) / 2) * 0.12 for i, k in enumerate(kinds)}
    for anomaly in kinds:
        for at_end in (False, True):
            chosen = [
                (t, index[d] + offsets[anomaly])
                for d, a, t, e in marks
                if a == anomaly and e == at_end and d in index
            ]
            if not chosen:
                continue
            x, y = (np.asarray(v, dtype=float) for v in zip(*chosen, strict=True))
            kept = np.concatenate(
                [np.flatnonzero(y == row)[thin.marks(x[y == row])] for row in np.unique(y)]
            )
            thinning.record(f"{anomaly} marks", len(x), len(kept))
            axes.scatter(
                x[kept] / scale,
                y[kept],
                marker="X" if at_end else "x",
                s=70 if at_end else 60,
                color=anomaly_info(anomaly).colour,
                linewidths=2,
                zorder=5,
                label=f"{anomaly} (found in final snapshot)" if at_end else anomaly,
            )


# -- outbox depth ----------------------------------------------------------------------------


def outbox_depth(view: View, thinning: Thinning | None = None) -> Figure:
    thinning = Thinning() if thinning is None else thinning
    end, settle = series.end_of(view), _settle(view)
    depth = series.outbox_depth(view)
    losses = series.queue_losses(view)
    figure = Figure(figsize=(11, 3.8))
    axes = figure.add_subplot()
    scale = _time_axis(axes, end, settle)
    colours = matplotlib.colormaps["tab10"]
    top = 0
    for index, device in enumerate(series.devices(view)):
        points = depth.get(device, [])
        colour = colours(index % 10)
        if not points:
            axes.plot([0, end / scale], [0, 0], color=colour, label=f"{device} (never queued)")
            continue
        t = np.asarray([0.0] + [p[0] for p in points] + [end])
        d = np.asarray([0] + [p[1] for p in points] + [points[-1][1]])
        top = max(top, int(d.max()))
        kept = thin.line(t, d)
        thinning.record("outbox depth points", len(t), len(kept))
        axes.step(t[kept] / scale, d[kept], where="post", color=colour, label=device)
    # After every device's line, so the legend lists the devices first, then the drops.
    for device in series.devices(view):
        every = losses.get(device, [])
        kept = thin.marks(np.asarray([loss.t for loss in every], dtype=float))
        thinning.record("drops marked", len(every), len(kept))
        for loss in (every[i] for i in kept):
            axes.scatter(
                [loss.t / scale],
                [loss.depth],
                marker="v",
                s=46,
                color=_DROP,
                zorder=5,
                label="items dropped or lost (how many, why)",
            )
            axes.annotate(
                f"{loss.count} {'/'.join(loss.reasons)}",
                (loss.t / scale, loss.depth),
                xytext=(5, 3),
                textcoords="offset points",
                fontsize=7,
                color=_DROP,
            )
    axes.set_ylim(-0.3, max(top, 1) * 1.15 + 0.5)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("items in outbox (count)")
    axes.set_title("Outbox depth per device: changes queued, not yet sent or acknowledged")
    _legend_below(axes, ncol=6)
    return figure


# -- frame sizes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FrameGroup:
    """Frame types drawn as one curve or bar, in one colour: what the frames are for."""

    name: str
    colour: str
    linestyle: str = "-"
    linewidth: float = 1.6


KEEPALIVES = FrameGroup("keep-alives", "#a6a6a6", ":", 2.0)
FRAME_GROUPS = (
    FrameGroup("writes", "#1f77b4"),  # mutations sent, and their broadcasts
    FrameGroup("acks", "#2ca02c"),  # SYNC_RESPONSE (ACKs, end of catch-up), ERROR
    FrameGroup("bulk sync", "#ff7f0e"),  # catch-up pages
    FrameGroup("session", "#9467bd"),  # WELCOME, SYNC_REQUEST, anything else
    KEEPALIVES,
)
_ACKS = frozenset({"SYNC_RESPONSE", "ERROR"})


def frame_group(frame_type: str) -> FrameGroup:
    """The group a frame type is drawn in; a type this version does not know is `session`."""
    by_name = {g.name: g for g in FRAME_GROUPS}
    if frame_type in series.KEEPALIVE_TYPES:
        return KEEPALIVES
    if frame_type.endswith("BULK_SYNC"):
        return by_name["bulk sync"]
    if frame_type in _ACKS:
        return by_name["acks"]
    if frame_type.startswith(("ENTRY_", "PIECE_")):
        return by_name["writes"]
    return by_name["session"]


@dataclass(frozen=True)
class GroupSizes:
    """Every frame of one group: sizes and weights (keep-alives weighted by their count), and
    the frame count of each member type."""

    group: FrameGroup
    sizes: list[float]
    weights: list[float]
    members: dict[str, int]

    @property
    def label(self) -> str:
        members = ", ".join(f"{name} {count:,}" for name, count in self.members.items())
        return f"{self.group.name} ({sum(self.members.values()):,}): {members}"


def grouped_frame_sizes(view: View) -> list[GroupSizes]:
    """`series.frame_sizes` by group, in `FRAME_GROUPS` order, groups with no frame left out."""
    sizes = series.frame_sizes(view)
    grouped: list[GroupSizes] = []
    for group in FRAME_GROUPS:
        mine = {n: v for n, v in sizes.items() if frame_group(n) == group}
        if mine:
            grouped.append(
                GroupSizes(
                    group,
                    [s for values, _ in mine.values() for s in values],
                    [w for _, weights in mine.values() for w in weights],
                    {n: round(sum(w)) for n, (_, w) in mine.items()},
                )
            )
    return grouped


@dataclass(frozen=True)
class SizeBound:
    """A frame-size bound the scenario gates, drawn as a vertical line on the frame-size plots.
    `lower`: the gate wants frames above it (a legacy scenario holding a known overflow)."""

    value: float
    label: str
    lower: bool = False


def gated_frame_bounds(
    expectations: Iterable[Expectation], limit: int | None, limit_is_default: bool = False
) -> list[SizeBound]:
    """The frame-size bounds a scenario gates: each `max_frame_bytes` bound, and
    `limits.max_frame_bytes` when `payload` is gated and no `max_frame_bytes` bound at or
    under it already says as much. Nothing gated, nothing drawn: a limit no bound reads
    would be drawn as if it were a gate."""
    bounds: list[SizeBound] = []
    payload_gated = False
    for expectation in expectations:
        gap = " (known gap)" if expectation.known_gap else ""
        if expectation.name == "max_frame_bytes":
            symbol = fmt.OP_SYMBOLS.get(expectation.op, expectation.op)
            bounds.append(
                SizeBound(
                    expectation.bound,
                    f"gate: max_frame_bytes {symbol} {_size_label(expectation.bound)}{gap}",
                    lower=expectation.op in ("gte", "gt"),
                )
            )
        elif expectation.name == "payload":
            payload_gated = True
    uppers = [b.value for b in bounds if not b.lower]
    if limit and payload_gated and not any(u <= limit for u in uppers):
        default = ", the default" if limit_is_default else ""
        bounds.append(
            SizeBound(
                float(limit),
                f"gate: payload, frames over limits.max_frame_bytes {_size_label(limit)}{default}",
            )
        )
    return sorted(bounds, key=lambda b: b.value)


def _draw_bounds(axes: Axes, bounds: Sequence[SizeBound]) -> None:
    for bound, style in zip(bounds, ("--", "-.", ":"), strict=False):
        axes.axvline(bound.value, color=_BOUND, linestyle=style, linewidth=1.4, label=bound.label)


def frame_size_histogram(view: View, bounds: Sequence[SizeBound] = ()) -> Figure | None:
    groups = grouped_frame_sizes(view)
    if not groups:
        return None
    every = [s for g in groups for s in g.sizes]
    top = max([*every, *(b.value for b in bounds)]) * 1.5
    edges = np.geomspace(max(1.0, min(every) / 1.5), top, 48)
    figure = Figure(figsize=(11, 4.6))
    axes = figure.add_subplot()
    # One filled outline per group, stacked: what a stacked `hist` draws, in one artist per
    # group instead of one per bar.
    bottom = np.zeros(len(edges) - 1)
    for group in groups:
        counts, _ = np.histogram(group.sizes, bins=edges, weights=group.weights)
        axes.stairs(
            bottom + counts,
            edges,
            baseline=bottom,
            fill=True,
            color=group.group.colour,
            label=group.label,
        )
        bottom = bottom + counts
    _draw_bounds(axes, bounds)
    log_scale(axes, x=True, y=True)
    axes.set_xlabel("frame size (bytes, log scale)")
    axes.set_ylabel("frames (count, log scale)")
    axes.set_title("Frame sizes by group: every frame sent by devices and the server (stacked)")
    _legend_below(axes, ncol=1)
    return figure


def frame_size_cdf(
    view: View, bounds: Sequence[SizeBound] = (), thinning: Thinning | None = None
) -> Figure | None:
    thinning = Thinning() if thinning is None else thinning
    groups = grouped_frame_sizes(view)
    if not groups:
        return None
    figure = Figure(figsize=(11, 4.8))
    axes = figure.add_subplot()
    data: list[float] = []
    data_weights: list[float] = []
    for group in groups:
        x, y = _weighted_cdf(group.sizes, group.weights)
        style = group.group
        _step_cdf(
            axes,
            x,
            y,
            thinning,
            color=style.colour,
            linestyle=style.linestyle,
            linewidth=style.linewidth,
            label=group.label,
        )
        if style is not KEEPALIVES:
            data += group.sizes
            data_weights += group.weights
    if data:
        x, y = _weighted_cdf(data, data_weights)
        _step_cdf(
            axes,
            x,
            y,
            thinning,
            color="#000000",
            linewidth=2.4,
            alpha=0.8,
            label=f"every frame but keep-alives ({sum(data_weights):,.0f})",
        )
    _draw_bounds(axes, bounds)
    log_scale(axes, x=True)
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("frame size (bytes, log scale)")
    axes.set_ylabel("share of frames at or below (fraction)")
    axes.set_title("Frame-size CDF by group (keep-alives weighted by their count)")
    axes.grid(alpha=0.3)
    _legend_below(axes, ncol=1)
    return figure


# -- convergence lag -------------------------------------------------------------------------


def lag_axis(axes: Axes, lags: Sequence[float]) -> None:
    """A log time axis for lags with human ticks (1 ms ... 1 w)."""
    axes.set_xscale("log")
    low = max(LAG_FLOOR, min(lags, default=1.0))
    high = max(lags, default=1.0)
    ticks = [(v, t) for v, t in _LAG_TICKS if low / 10 <= v <= high * 10]
    axes.set_xticks([v for v, _ in ticks], [t for _, t in ticks])
    axes.xaxis.set_minor_locator(NullLocator())  # see log_scale
    axes.set_xlim(low / 2, high * 2)


def convergence_lag_cdf(view: View, thinning: Thinning | None = None) -> tuple[Figure | None, str]:
    thinning = Thinning() if thinning is None else thinning
    lags, unconverged = series.convergence_lags(view)
    if not lags:
        return None, (
            "no write reached another device of its user "
            f"({unconverged} never converged; a user with a single device has no lag)"
        )
    figure = Figure(figsize=(11, 4.2))
    axes = figure.add_subplot()
    drawn = np.maximum(np.asarray(lags, dtype=float), LAG_FLOOR)
    x, y = _weighted_cdf(list(drawn), [1.0] * len(drawn))
    _step_cdf(
        axes, x, y, thinning, color="#1f618d", linewidth=2, label=f"{len(lags)} converged writes"
    )
    for q, style in ((50, ":"), (95, "--")):
        value = float(np.percentile(lags, q))
        axes.axvline(
            max(value, LAG_FLOOR),
            color="#555555",
            linestyle=style,
            label=f"p{q} = {_seconds_label(value)}",
        )
    lag_axis(axes, list(drawn))
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("convergence lag (seconds, log scale; 0 drawn at 1 ms)")
    axes.set_ylabel("share of converged writes (fraction)")
    axes.set_title(
        "Convergence lag CDF: time until every other device of the user holds a write"
        + (f" ({unconverged} writes never converged, not shown)" if unconverged else "")
    )
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="lower right")
    return figure, ""


def _seconds_label(value: float) -> str:
    return fmt.short_seconds(value)


# -- anomalies -------------------------------------------------------------------------------


def anomalies(findings: Sequence[Finding]) -> Figure:
    causes = series.anomaly_causes(findings)
    names = anomaly_order({a.value for a in Anomaly} | set(causes))
    every_cause = sorted({c for by in causes.values() for c in by})
    palette = matplotlib.colormaps["tab10"]
    figure = Figure(figsize=(11, 0.9 + 0.38 * len(names)))
    axes = figure.add_subplot()
    left = np.zeros(len(names))
    for index, cause in enumerate(every_cause):
        counts = np.array([causes.get(n, {}).get(cause, 0) for n in names], dtype=float)
        axes.barh(names, counts, left=left, color=palette(index % 10), label=cause)
        left += counts
    for y, height in enumerate(left):
        axes.text(height, y, f" {height:.0f}", va="center", fontsize=9)
    axes.set_xlim(0, max(left.max(), 1) * 1.12)
    axes.invert_yaxis()
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("findings (count)")
    axes.set_ylabel("anomaly")
    total = int(left.sum())
    axes.set_title(
        f"Anomalies by type and cause ({total} found)" if total else "Anomalies: none found"
    )
    if every_cause:
        axes.legend(fontsize=8, loc="lower right", title="cause", title_fontsize=8)
    return figure


# -- bytes per logical change ----------------------------------------------------------------


def bytes_per_change(view: View, thinning: Thinning | None = None) -> Figure | None:
    thinning = Thinning() if thinning is None else thinning
    per_write = series.bytes_per_write(view)
    if not per_write:
        return None
    end = series.end_of(view)
    by_type = series.bytes_per_write_by_type(view)
    keepalive = series.keepalive_bytes(view) / len(per_write)
    figure = Figure(figsize=(11, 4.8), layout="constrained")
    left, right = figure.subplots(1, 2, width_ratios=[3, 2])
    scale = _time_axis(left, end, _settle(view))
    for op, colour in _OP_COLOURS.items():
        mine = [w for w in per_write if w.op == op]
        if mine:
            t = np.asarray([w.t for w in mine])
            total = np.asarray([w.total for w in mine], dtype=float)
            kept = thin.line(t, total)
            thinning.record("write costs", len(t), len(kept))
            left.scatter(
                t[kept] / scale,
                total[kept],
                s=16,
                color=colour,
                label=f"{op} ({len(mine)})",
            )
    median = float(np.median([w.total for w in per_write]))
    left.axhline(
        median, color="#555555", linestyle=":", label=f"median of these writes {median:,.0f} B"
    )
    left.set_ylim(bottom=0)
    left.set_ylabel("bytes on the wire for the write (bytes)")
    left.set_title(
        "Per write: its mutation frames (resends included)\n"
        "+ the server's ACK and broadcasts answering them",
        fontsize=10,
    )
    left.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=5, frameon=False)
    names = list(by_type)
    right.barh(names, [by_type[n] for n in names], color=[frame_group(n).colour for n in names])
    for y, name in enumerate(names):
        right.text(by_type[name], y, f" {by_type[name]:,.0f}", va="center", fontsize=8)
    right.invert_yaxis()
    right.set_xlim(0, max(by_type.values(), default=1) * 1.25)
    right.set_xlabel("bytes per user write (bytes)")
    right.set_title(
        f"All frames but keep-alives, by type, / {len(per_write)} writes\n"
        f"(sum {sum(by_type.values()):,.0f} B = bytes_per_change, a mean; "
        f"keep-alives add {keepalive:,.0f} B)",
        fontsize=10,
    )
    figure.suptitle("Bytes per logical change (one user write); 0 B: the write was never sent")
    return figure


# -- every plot of a report ------------------------------------------------------------------


# Every plot of a report, by file stem, in the order the report shows them.
PLOT_NAMES = (
    "timeline",
    "outbox_depth",
    "frame_size_cdf",
    "frame_sizes",
    "convergence_lag_cdf",
    "anomalies",
    "bytes_per_change",
)


def report_plots(
    view: View, findings: Sequence[Finding], bounds: Sequence[SizeBound] = ()
) -> list[Plot]:
    """Every plot of a report; `bounds` are the frame-size bounds the scenario gates
    (`gated_frame_bounds`), drawn on the frame-size plots."""
    thinned = {name: Thinning() for name in PLOT_NAMES}
    lag_figure, lag_skipped = convergence_lag_cdf(view, thinned["convergence_lag_cdf"])
    drawn = (
        "the dashed red line is the bound the scenario gates ("
        + "; ".join(b.label.removeprefix("gate: ") for b in bounds)
        + ")"
        if bounds
        else "no frame-size bound is gated, so none is drawn"
    )
    return [
        _plot(
            "timeline",
            "Device timeline",
            "One row per device (and the server when it went down). Red bands: network "
            "offline; hatched orange: partitioned; green line: connected; ticks above: writes "
            "by operation; triangles below: SYNC_REQUESTs; stars: reloads (yellow: after a "
            "crash); diamonds: storage wiped; crosses: anomalies, at the time of the write or "
            "frame involved (filled: found in the final snapshot, at the right edge). The "
            "settle phase is shaded grey where it is wide enough to see, else named under the "
            "axis.",
            timeline(view, findings, thinned["timeline"]),
            "",
            svg=True,
            thinning=thinned["timeline"],
        ),
        _plot(
            "outbox_depth",
            "Outbox depth",
            "Items in each device's outbox over time, from every queue change; red triangles "
            "mark items dropped (expired, cap, retries) or lost (reload, wipe), at the depth "
            "the outbox had just before, with how many went and why.",
            outbox_depth(view, thinned["outbox_depth"]),
            "",
            thinning=thinned["outbox_depth"],
        ),
        _plot(
            "frame_size_cdf",
            "Frame-size CDF",
            "Share of frames at or below a size, one curve per group of frame types (writes: "
            "mutations and their broadcasts; acks: SYNC_RESPONSE and ERROR; bulk sync: "
            "catch-up pages; session: WELCOME, SYNC_REQUEST; keep-alives: PING and PONG, "
            "dotted grey); the black curve is every frame but keep-alives; "
            + drawn
            + ". Frame counts per type in the legend.",
            frame_size_cdf(view, bounds, thinned["frame_size_cdf"]),
            "no frame was sent",
            svg=True,
            thinning=thinned["frame_size_cdf"],
        ),
        _plot(
            "frame_sizes",
            "Frame-size histogram",
            "How many frames of each group (stacked, colours as in the CDF) fall in each size "
            "bin; " + drawn + ".",
            frame_size_histogram(view, bounds),
            "no frame was sent",
        ),
        _plot(
            "convergence_lag_cdf",
            "Convergence lag CDF",
            "For each write every other device of its user came to hold: the time until the "
            "last of them held it, counted from the write or from that device's next connect. "
            "Superseded writes are left out; the p50 and p95 lines are the metrics.",
            lag_figure,
            lag_skipped,
            svg=True,
            thinning=thinned["convergence_lag_cdf"],
        ),
        _plot(
            "anomalies",
            "Anomalies by type and cause",
            "Every finding, one bar per anomaly type, split by the cause the checker named.",
            anomalies(findings),
            "",
        ),
        _plot(
            "bytes_per_change",
            "Bytes per logical change",
            "Left: every user write's own wire cost over time, with their median. Right: all "
            "frame bytes except keep-alives, by frame type, divided by the number of writes "
            "(catch-up included): the bars add up to bytes_per_change, a mean per write.",
            bytes_per_change(view, thinned["bytes_per_change"]),
            "the run has no user write",
            thinning=thinned["bytes_per_change"],
        ),
    ]


def plot_files(plots: Iterable[Plot]) -> Mapping[str, bytes]:
    files: dict[str, bytes] = {}
    for plot in plots:
        files.update(plot.files())
    return files
