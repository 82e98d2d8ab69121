"""Numbers for people: counts, bytes and seconds with their unit, shared by report and compare."""

from __future__ import annotations

from simulator.checker.expectations import Expectation, Outcome, unit_of
from simulator.checker.names import Unit

OP_SYMBOLS = {"lte": "≤", "lt": "<", "gte": "≥", "gt": ">", "eq": "="}


def count(value: float) -> str:
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def size(value: float) -> str:
    """`8,644 B (8.4 KiB)`: exact bytes, and a rounded binary size when it helps."""
    exact = f"{value:,.0f} B"
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if abs(value) >= scale:
            return f"{exact} ({value / scale:.1f} {unit})"
    return exact


def seconds(value: float) -> str:
    """`7,290 s (2.0 h)`, `201 ms`."""
    size_ = abs(value)
    if size_ < 1:
        return f"{value * 1000:,.0f} ms"
    if size_ < 120:
        return f"{value:,.1f} s"
    for unit, scale in (("d", 86_400.0), ("h", 3_600.0), ("min", 60.0)):
        if size_ >= 2 * scale:
            return f"{value:,.0f} s ({value / scale:.1f} {unit})"
    return f"{value:,.0f} s"


def short_seconds(value: float) -> str:
    """`201 ms`, `4.2 s`, `12.5 min`, `3.1 h`, `2.4 d`: one unit, for columns of figures."""
    size_ = abs(value)
    if size_ < 1:
        return f"{value * 1000:.0f} ms"
    if size_ < 120:
        return f"{value:.1f} s"
    if size_ < 2 * 3_600:
        return f"{value / 60:.1f} min"
    if size_ < 2 * 86_400:
        return f"{value / 3_600:.1f} h"
    return f"{value / 86_400:.1f} d"


def short_size(value: float) -> str:
    """`830 B`, `5,876 B`, `64.0 KiB`, `1.5 MiB`: exact below 10 KiB, rounded above."""
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if abs(value) >= max(scale, 10 * 1024):
            return f"{value / scale:.1f} {unit}"
    return f"{value:,.0f} B"


def value(name: str, amount: float) -> str:
    """An anomaly count or metric value in the metric's unit."""
    unit = unit_of(name)
    if unit is Unit.BYTES:
        return size(amount)
    if unit is Unit.SECONDS:
        return seconds(amount)
    return count(amount)


def bound(name: str, op: str, amount: float) -> str:
    return f"{OP_SYMBOLS.get(op, op)} {value(name, amount)}"


def outcome_bound(outcome: Outcome) -> str:
    """What an expectation asks: `≤ 0` for a bound, its words for a precise claim."""
    asked = outcome.expectation
    if isinstance(asked, Expectation):
        return bound(asked.name, asked.op, asked.bound)
    return asked.text


def outcome_value(outcome: Outcome) -> str:
    """What was found: the value in its unit, or what a claim found instead."""
    if outcome.shown is not None:
        return outcome.shown
    return value(outcome.expectation.name, outcome.value)


def got(outcome: Outcome) -> str:
    """The found value in a line of text: the bare number (`got 4`), or a claim's finding."""
    return outcome.shown if outcome.shown is not None else f"{outcome.value:g}"
