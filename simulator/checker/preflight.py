"""What a live run's preflight found the endpoint to do, against what the client profile
expects (the PREFLIGHT row, written by live/preflight.py): the mismatches, each in one line,
and those the client relies on, which decide every write and so make the run inconclusive."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from simulator.history import Kind, Record


def _line(capability: dict[str, Any]) -> str:
    return (
        f"{capability.get('name')} (flag {capability.get('flag')}: profile "
        f"{capability.get('expected')}, endpoint {capability.get('observed')})"
    )


def _capabilities(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """The capabilities listed in PREFLIGHT rows (records or the view's row tuples)."""
    found: list[dict[str, Any]] = []
    for row in rows:
        listed = row.detail.get("capabilities") if isinstance(row.detail, dict) else None
        found += [c for c in listed if isinstance(c, dict)] if isinstance(listed, list) else []
    return found


def preflight_rows(history: Iterable[Record]) -> list[Record]:
    return [r for r in history if r.kind is Kind.PREFLIGHT]


def mismatches(rows: Iterable[Any]) -> list[str]:
    """Every capability the endpoint showed otherwise than the profile says."""
    return [_line(c) for c in _capabilities(rows) if c.get("matches") is False]


def blocking(rows: Iterable[Any]) -> list[str]:
    """The mismatches in what the client relies on."""
    return [
        _line(c)
        for c in _capabilities(rows)
        if c.get("matches") is False and c.get("relied_on") is True
    ]
