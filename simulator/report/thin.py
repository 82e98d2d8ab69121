"""Thinning: what a plot of a huge run draws, so that it stays drawable and keeps its shape.

A plot is about 1,000 pixels wide: a million marks, steps or spans cost the report far more
than they show. Every series is drawn with at most `MAX_POINTS` points, chosen so the picture
stays what the whole series would draw at that width: the first mark in each slice of the
time axis, the first, lowest, highest and last point of a line in each slice, a CDF's points
at evenly spaced shares, spans closer together than a slice merged into one. A `Thinning`
records each series thinned, and the plot's caption says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

MAX_POINTS = 2_000


@dataclass
class Thinning:
    """Which series of one plot were thinned: (what, points, points drawn)."""

    series: dict[str, tuple[int, int]] = field(default_factory=dict)

    def record(self, what: str, points: int, drawn: int) -> None:
        """One series drawn; series of one name (a device's each) add up."""
        if drawn < points:
            before = self.series.get(what, (0, 0))
            self.series[what] = (before[0] + points, before[1] + drawn)

    def note(self) -> str:
        """The caption's sentence about it, or empty when nothing was thinned."""
        if not self.series:
            return ""
        told = "; ".join(
            f"{what}: {drawn:,} of {points:,}" for what, (points, drawn) in self.series.items()
        )
        return (
            f" Series of more than {MAX_POINTS:,} points are thinned to keep the plot drawable, "
            f"their shape kept at the plot's width ({told} drawn)."
        )


def _slices(t: np.ndarray, end: float, count: int) -> np.ndarray:
    """Which of `count` equal slices of [0, end] each time falls in."""
    width = end / count if end > 0 else 1.0
    return np.clip(np.floor(t / width), 0, count - 1).astype(np.int64)


def marks(t: np.ndarray, limit: int = MAX_POINTS) -> np.ndarray:
    """Which marks to draw (indices into `t`): all of them, or the first in each of `limit`
    slices of the time they span."""
    if len(t) <= limit:
        return np.arange(len(t))
    _, first = np.unique(_slices(t, float(t.max()), limit), return_index=True)
    return np.sort(first)


def line(t: np.ndarray, values: np.ndarray, limit: int = MAX_POINTS) -> np.ndarray:
    """Which points of a line over time (`t` rising) to draw (indices, in order): all of them,
    or in each of `limit // 4` slices of the time it spans its first, lowest, highest and
    last point, which keeps every peak and dip a pixel column can show."""
    if len(t) <= limit:
        return np.arange(len(t))
    slices = _slices(t, float(t.max()), max(1, limit // 4))
    starts = np.flatnonzero(np.r_[True, slices[1:] != slices[:-1]])
    stops = np.r_[starts[1:], len(t)]
    chosen = {int(i) for i in starts} | {int(i) - 1 for i in stops}
    for start, stop in zip(starts, stops, strict=True):
        part = values[start:stop]
        chosen.add(int(start + np.argmin(part)))
        chosen.add(int(start + np.argmax(part)))
    return np.array(sorted(chosen), dtype=np.int64)


def cdf(shares: np.ndarray, limit: int = MAX_POINTS) -> np.ndarray:
    """Which points of an empirical CDF (its cumulative shares, rising) to draw: all of them,
    or the first at or above each of `limit` evenly spaced shares, and the last: the curve
    is then off by at most 1/limit anywhere."""
    if len(shares) <= limit:
        return np.arange(len(shares))
    wanted = np.linspace(shares[0], shares[-1], limit)
    chosen = np.searchsorted(shares, wanted, side="left")
    return np.unique(np.r_[chosen, len(shares) - 1])


def spans(
    starts: Sequence[float], stops: Sequence[float], limit: int = MAX_POINTS
) -> list[tuple[float, float]]:
    """Spans as (start, stop): all of them, or with those apart by less than a `limit`-th of
    the time they cover merged into one, which leaves at most `limit + 1`."""
    pairs = sorted(zip(starts, stops, strict=True))
    if len(pairs) <= limit:
        return pairs
    gap = (max(stops) - min(starts)) / limit
    merged: list[tuple[float, float]] = []
    for start, stop in pairs:
        if merged and start - merged[-1][1] < gap:
            merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
        else:
            merged.append((start, stop))
    return merged
