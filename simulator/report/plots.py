"""Plots drawn with matplotlib from a run's real data, returned as PNG bytes.

`matplotlib.figure.Figure` is used directly, without pyplot, so no global state leaks between
plots and no display is needed.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from simulator.checker.findings import Finding
from simulator.history import SERVER, Kind

DAY = 86_400.0
_OP_COLOURS = {"create": "#2a7ab0", "update": "#e08a1e", "delete": "#555555"}


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


def _spans(
    starts: Iterable[float], stops: Iterable[float], end: float
) -> list[tuple[float, float]]:
    """Pair each start with the next stop after it; an unclosed span runs to `end`."""
    spans, stop_list = [], sorted(stops)
    for start in sorted(starts):
        stop = next((s for s in stop_list if s >= start), end)
        spans.append((start / DAY, (stop - start) / DAY))
    return spans


def _device_rows(frame: pd.DataFrame, device: str) -> pd.DataFrame:
    return frame[frame["device"] == device]


def timeline_png(
    frame: pd.DataFrame, findings: Iterable[Finding], end: float, settle: float
) -> bytes:
    devices = sorted(d for d in frame["device"].dropna().unique() if d != SERVER)
    figure = Figure(figsize=(11, 1.1 + 0.75 * len(devices)))
    axes = figure.add_subplot()
    bad: dict[str, list[float]] = {}
    for finding in findings:
        for device in finding.devices:
            if finding.t is not None:
                bad.setdefault(device, []).append(finding.t)
    for y, device in enumerate(devices):
        _draw_device(axes, _device_rows(frame, device), y, end + settle, bad.get(device, []))
    axes.axvspan(end / DAY, (end + settle) / DAY, color="#dddddd", alpha=0.6, label="settle")
    axes.set_yticks(range(len(devices)), devices)
    axes.set_ylim(-0.6, len(devices) - 0.4)
    axes.set_xlim(0, (end + settle) / DAY)
    axes.set_xlabel("true time since scenario start (days)")
    axes.set_title("Device timeline: connectivity, writes, syncs, reloads and anomalies")
    handles, labels = axes.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    axes.legend(
        unique.values(),
        unique.keys(),
        loc="upper center",
        bbox_to_anchor=(0.5, -0.25),
        ncol=5,
        fontsize=8,
    )
    return _png(figure)


def _draw_device(axes: object, rows: pd.DataFrame, y: int, end: float, bad: list[float]) -> None:
    from matplotlib.axes import Axes

    assert isinstance(axes, Axes)
    kinds = rows["kind"]
    network = rows[kinds == Kind.NETWORK.value]
    offline = _spans(
        network[network["op"] == "offline"]["t"], network[network["op"] == "online"]["t"], end
    )
    axes.broken_barh(offline, (y - 0.35, 0.7), color="#f4c7c3", label="network offline")
    connects = rows[kinds == Kind.CONNECT.value]["t"]
    disconnects = rows[kinds == Kind.DISCONNECT.value]["t"]
    axes.broken_barh(
        _spans(connects, disconnects, end), (y - 0.08, 0.16), color="#3c9a5f", label="connected"
    )
    writes = rows[kinds == Kind.WRITE.value]
    for op, colour in _OP_COLOURS.items():
        at = writes[writes["op"] == op]["t"] / DAY
        axes.scatter(
            at, np.full(len(at), y + 0.22), marker="|", s=90, color=colour, label=f"write: {op}"
        )
    sent = (
        rows[(kinds == Kind.FRAME_SENT.value) & (rows["frame_type"] == "SYNC_REQUEST")]["t"] / DAY
    )
    axes.scatter(
        sent, np.full(len(sent), y - 0.22), marker="v", s=30, color="#5050c0", label="SYNC_REQUEST"
    )
    reloads = rows[kinds == Kind.RELOAD.value]["t"] / DAY
    axes.scatter(
        reloads, np.full(len(reloads), y), marker="*", s=120, color="#8a2be2", label="reload"
    )
    marks = np.array(bad) / DAY
    axes.scatter(
        marks,
        np.full(len(marks), y),
        marker="x",
        s=60,
        color="#c0392b",
        label="anomaly (write time)",
    )


def frame_sizes_png(frame: pd.DataFrame, limit: int | None) -> bytes:
    sent = frame[frame["kind"] == Kind.FRAME_SENT.value]
    sizes: dict[str, list[float]] = {}
    weights: dict[str, list[float]] = {}
    for frame_type, group in sent.groupby("frame_type"):
        sizes[str(frame_type)] = list(group["bytes"].astype(float))
        weights[str(frame_type)] = [1.0] * len(group)
    for detail in frame[frame["kind"] == Kind.KEEPALIVE.value]["detail"]:
        for frame_type, (count, nbytes) in (detail or {}).items():
            if count:
                sizes.setdefault(frame_type, []).append(nbytes / count)
                weights.setdefault(frame_type, []).append(float(count))
    figure = Figure(figsize=(11, 4.2))
    axes = figure.add_subplot()
    every = [s for values in sizes.values() for s in values] or [1.0]
    top = max(max(every), float(limit or 1)) * 1.5
    bins = [float(b) for b in np.geomspace(max(1.0, min(every) / 1.5), top, 40)]
    names = sorted(sizes)
    axes.hist(
        [sizes[n] for n in names],
        bins=bins,
        weights=[weights[n] for n in names],
        stacked=True,
        label=names,
    )
    if limit:
        axes.axvline(limit, color="#c0392b", linestyle="--", label=f"limit {limit:,} B")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("frame size (bytes, log scale)")
    axes.set_ylabel("frames (log scale)")
    axes.set_title("Frame sizes by type, every frame sent by devices and the server")
    axes.legend(fontsize=8, ncol=2)
    return _png(figure)
