"""The few figures a person reads first, with percentiles: what `syncsim run` prints at the end
and summary.md tabulates.

Read from the same series as the metrics and plots, so a p50 or p95 here is the metric's own
number (numpy's default, linear percentiles); p99 and the catch-up and frame-size percentiles
are computed the same way from the same values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from simulator.checker import series
from simulator.checker.metrics import catch_up_bytes
from simulator.checker.view import View
from simulator.verdict import Run

OPS = ("create", "update", "delete")


@dataclass(frozen=True)
class Spread:
    """A distribution in a few numbers: how many values, p50, p95, p99, the largest, the mean."""

    count: int
    p50: float
    p95: float
    p99: float
    max: float
    mean: float


def spread(values: Sequence[float]) -> Spread | None:
    if not values:
        return None
    data = np.asarray(values, dtype=float)
    p50, p95, p99 = (float(v) for v in np.percentile(data, [50, 95, 99]))
    return Spread(len(data), p50, p95, p99, float(data.max()), float(data.mean()))


@dataclass(frozen=True)
class KeyFigures:
    writes: int
    writes_by_op: dict[str, int]  # create, update, delete: only those that happened
    anomalies: int
    anomalies_by_kind: dict[str, int]  # only those found, in registry order
    lag: Spread | None  # convergence lag of every converged write (seconds)
    unconverged: int
    catch_up: Spread | None  # bytes received per catch-up after connecting
    bytes_per_change: float  # a mean: all frame bytes but keep-alives / user writes
    frames_sent: int  # keep-alives included
    keepalive_frames: int
    frames_lost: int
    frame_size: Spread | None  # every frame sent but keep-alives (bytes)
    bytes_sent: float
    queue_drops: int


def key_figures(run: Run) -> KeyFigures:
    view = run.result.view or View(run.history)
    metrics = run.result.metrics
    ops = view.writes["op"].value_counts().to_dict()
    lags, unconverged = series.convergence_lags(view)
    counts = {k: v for k, v in run.result.counts.items() if v}
    sizes = [float(b) for b in view.frames_sent["bytes"].dropna()]
    frames_sent = int(metrics.get("frames_sent", 0))
    return KeyFigures(
        writes=int(metrics.get("writes", len(view.writes))),
        writes_by_op={op: int(ops[op]) for op in OPS if ops.get(op)},
        anomalies=sum(counts.values()),
        anomalies_by_kind=counts,
        lag=spread(lags),
        unconverged=unconverged,
        catch_up=spread([float(b) for b in catch_up_bytes(view)]),
        bytes_per_change=float(metrics.get("bytes_per_change", 0.0)),
        frames_sent=frames_sent,
        keepalive_frames=frames_sent - len(view.frames_sent),
        frames_lost=int(metrics.get("frames_lost", 0)),
        frame_size=spread(sizes),
        bytes_sent=float(metrics.get("bytes_sent", 0.0)),
        queue_drops=int(metrics.get("queue_drops", 0)),
    )
