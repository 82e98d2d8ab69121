"""`expect:` bounds on anomaly counts and metrics, parsed at load time and judged after a run.

A bare number is an upper bound (`lost_write: 0` means at most zero); a mapping names its
comparisons (`{gte: 1}`, `{lte: 1MiB}`, `{lte: 30s}`). Values are read in the metric's unit, so
sizes and durations may be written as in the rest of the scenario.

A bound may carry `known_gap: "why"`, pytest's xfail for a system that is known not to meet it
yet: the bound is what a correct system meets (`lost_write: {lte: 0, known_gap: ...}`); while
it fails, the run is not failed but reports an expected failure with those words; once it
holds, the gap has gone and the run fails until the mark is removed (a strict XPASS).
"""

from __future__ import annotations

import difflib
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simulator.checker.names import EXPECTABLE, METRICS, Unit
from simulator.units import parse_duration, parse_size

if TYPE_CHECKING:
    from simulator.checker.claims import Claim

_OPS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "lte": ("<=", operator.le),
    "lt": ("<", operator.lt),
    "gte": (">=", operator.ge),
    "gt": (">", operator.gt),
    "eq": ("==", operator.eq),
}


class BadExpectation(ValueError):
    def __init__(self, path: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class Expectation:
    name: str
    op: str
    bound: float
    known_gap: str | None = None  # the scenario's own words for why the bound fails today

    @property
    def text(self) -> str:
        return f"{self.name} {_OPS[self.op][0]} {_format(self.name, self.bound)}"

    def holds(self, value: float) -> bool:
        return _OPS[self.op][1](value, self.bound)


@dataclass(frozen=True)
class Outcome:
    """An expectation judged: a bound on a count or metric (`value` is what was measured), or a
    precise claim (`shown` says what was found instead of a number)."""

    expectation: Expectation | Claim
    value: float
    holds: bool  # whether the bound itself holds
    shown: str | None = None

    @property
    def passed(self) -> bool:
        """A plain bound passes when it holds; a known gap while it still shows."""
        return self.holds if self.expectation.known_gap is None else not self.holds

    @property
    def gap_shows(self) -> bool:
        return self.expectation.known_gap is not None and not self.holds


def unit_of(name: str) -> Unit:
    return METRICS[name][0] if name in METRICS else Unit.COUNT


def _format(name: str, value: float) -> str:
    unit = unit_of(name)
    if unit is Unit.BYTES:
        return f"{value:.0f} B"
    if unit is Unit.SECONDS:
        return f"{value:g} s"
    return f"{value:g}"


def _read_bound(name: str, raw: object, path: tuple[str, ...]) -> float:
    unit = unit_of(name)
    try:
        if unit is Unit.BYTES:
            return float(parse_size(raw))
        if unit is Unit.SECONDS:
            return parse_duration(raw)
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise ValueError(f"expected a number, got {raw!r}")
        # isfinite on a huge int overflows: bound ints by size first.
        if abs(raw) > 2**53 if isinstance(raw, int) else not math.isfinite(raw):
            raise ValueError(f"expected a finite number of at most 2^53, got {raw!r}")
        return float(raw)
    except ValueError as error:
        raise BadExpectation(path, str(error)) from None


# The keys of precise claims (checker/claims.py), which an `expect:` block holds beside bounds.
CLAIM_KEYS = frozenset({"final", "findings", "only_listed"})
# Bounds over the seeds of a sweep (`syncsim sweep`), which a single run does not judge:
# how many seeds may fail the name's own bounds, and quantiles of its value over the seeds.
QUANTILES = {"q50": 50.0, "q90": 90.0, "q95": 95.0, "q99": 99.0, "max": 100.0}
SEED_OPS = frozenset({"seeds_failing", "mean", *QUANTILES})


@dataclass(frozen=True)
class SeedBound:
    """A bound over the seeds of a sweep: `seeds_failing` (at most that many seeds fail the
    name's bounds; for an anomaly with none, have any), or a quantile (`q95`, `max`, `mean`
    ...) of the name's value over the seeds, at most `bound`."""

    name: str
    op: str
    bound: float
    known_gap: str | None = None

    @property
    def text(self) -> str:
        if self.op == "seeds_failing":
            return f"{self.name}: at most {self.bound:g} seeds failing"
        return f"{self.name} {self.op} over seeds <= {_format(self.name, self.bound)}"


def parse(expect: Mapping[str, Any]) -> list[Expectation | SeedBound]:
    """Bounds in file order (the claims' keys left to `claims.parse`); unknown names and bad
    bounds raise `BadExpectation`."""
    parsed: list[Expectation | SeedBound] = []
    for name, spec in expect.items():
        if name in CLAIM_KEYS:
            continue
        if name not in EXPECTABLE:
            close = difflib.get_close_matches(name, sorted(EXPECTABLE), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = ", ".join(sorted(EXPECTABLE))
            raise BadExpectation((name,), f"unknown anomaly or metric{hint}; known: {known}")
        if not isinstance(spec, Mapping):
            parsed.append(Expectation(name, "lte", _read_bound(name, spec, (name,))))
            continue
        gap = spec.get("known_gap")
        if gap is not None and (not isinstance(gap, str) or not gap.strip()):
            raise BadExpectation((name, "known_gap"), "must be the gap's description, as text")
        spec = {k: v for k, v in spec.items() if k != "known_gap"}
        if not spec:
            raise BadExpectation((name,), "empty bound; use lte, lt, gte, gt or eq")
        for op, raw in spec.items():
            if op in SEED_OPS:
                parsed.append(_seed_bound(name, op, raw, spec))
                continue
            if op not in _OPS:
                raise BadExpectation(
                    (name, str(op)),
                    "unknown comparison; use lte, lt, gte, gt, eq, known_gap, or over the seeds "
                    "of a sweep seeds_failing, q50, q90, q95, q99, max, mean",
                )
            parsed.append(Expectation(name, op, _read_bound(name, raw, (name, op)), gap))
    return parsed


def _seed_bound(name: str, op: str, raw: object, spec: Mapping[str, Any]) -> SeedBound:
    if op != "seeds_failing":
        return SeedBound(name, op, _read_bound(name, raw, (name, op)))
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise BadExpectation((name, op), "must be a whole number of seeds, 0 or more")
    own = set(spec) & set(_OPS)
    if not own and name in METRICS:
        raise BadExpectation(
            (name, op), f"{name} is a metric: give the bound a seed fails (lte, gte ...) too"
        )
    return SeedBound(name, op, float(raw))


def judge(expectations: list[Expectation], values: Mapping[str, float]) -> list[Outcome]:
    """Each bound against the measured values."""
    return [Outcome(e, values[e.name], e.holds(values[e.name])) for e in expectations]
