"""Durations (`7d`, `90m`, `250ms`, `1h30m`, `-2h`) and sizes (`1MiB`, `500KB`, `2048`).

Shared by the scenario model, the checker's `expect:` bounds, the report and the progress
bar; standard library only, so none of them depends on another to read a quantity.
"""

from __future__ import annotations

import math
import re

MAX_DURATION = 3650 * 86400.0  # ten years: any duration beyond is a typo, and unbounded runs
MAX_SIZE = 1024**4  # one TiB

_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([a-z]*)$")


def parse_duration(value: object) -> float:
    """Seconds, from a number of seconds or a string of number+unit parts; sign allowed."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 250ms, 90m, 7d or 1h30m")
    if isinstance(value, int | float):
        if isinstance(value, int):  # float() of a 400-digit int overflows
            return _bounded(float(value) if abs(value) <= MAX_DURATION else math.nan)
        return _bounded(value)
    if not isinstance(value, str):
        raise ValueError("expected a duration such as 250ms, 90m, 7d or 1h30m")
    text = value.strip().replace(" ", "")
    sign = -1.0 if text.startswith("-") else 1.0
    body = text[1:] if text[:1] in {"+", "-"} else text
    parts = _DURATION_PART.findall(body)
    if not body or "".join(n + u for n, u in parts) != body:
        raise ValueError(f"{value!r} is not a duration such as 250ms, 90m, 7d or 1h30m")
    return _bounded(sign * sum(float(n) * _DURATION_UNITS[u] for n, u in parts))


def _bounded(seconds: float) -> float:
    if not abs(seconds) <= MAX_DURATION:  # also refuses NaN
        raise ValueError("must be a finite duration of at most 3650d (ten years)")
    return seconds


def parse_size(value: object) -> int:
    """Bytes, from an integer or a string such as 1MiB, 500KB, 64KiB."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 2048, 64KiB or 1MiB")
    size: int | None = None
    if isinstance(value, int):
        size = value
    elif isinstance(value, str):
        match = _SIZE.match(value.strip().lower())
        if match and match.group(2) in _SIZE_UNITS:
            amount = float(match.group(1)) * _SIZE_UNITS[match.group(2)]
            size = round(amount) if amount <= MAX_SIZE else MAX_SIZE + 1  # inf included
    if size is not None:
        if size > MAX_SIZE:
            raise ValueError("must be at most 1TiB")
        return size
    raise ValueError(f"{value!r} is not a size such as 2048, 64KiB or 1MiB")


def format_duration(seconds: float) -> str:
    """A short human form: 250ms, 42s, 3.5m, 2.0h, 1.5d."""
    size = abs(seconds)
    if size < 1:
        return f"{seconds * 1000:.0f}ms"
    if size < 60:
        return f"{seconds:.1f}s"
    if size < 3600:
        return f"{seconds / 60:.1f}m"
    if size < 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"
