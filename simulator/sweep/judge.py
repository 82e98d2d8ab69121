"""A sweep judged: the scenario's bounds over every seed.

By default every bound must hold on every seed. A known gap (`known_gap: "why"`) is the
other way round: it must show on at least one seed, and has gone only when its bound holds on
every seed (a seed where it happens not to show says nothing about the system). A name may
allow some seeds to fail it (`lost_write: {lte: 0, seeds_failing: 2}`; for an anomaly with no
bound of its own, a seed fails it by finding any), and bounds may be put on the distribution
over the seeds (`p95_convergence_lag: {q95: 10m}`: the 95th percentile over the seeds of each
run's own p95). A seed whose run crashed fails the sweep, and says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from simulator.checker.expectations import QUANTILES, SeedBound
from simulator.checker.names import METRICS
from simulator.scenario.loader import Loaded
from simulator.sweep.result import SeedResult


@dataclass(frozen=True)
class SweepOutcome:
    text: str
    holds: bool
    found: str  # what the seeds showed
    seeds: tuple[int, ...] = ()  # the seeds that failed it, where that says something
    known_gap: str | None = None

    @property
    def passed(self) -> bool:
        return self.holds if self.known_gap is None else not self.holds


@dataclass(frozen=True)
class SweepVerdict:
    outcomes: tuple[SweepOutcome, ...]
    seeds: int

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outcomes)


def _listed(seeds: Sequence[int], most: int = 10) -> str:
    shown = ", ".join(str(s) for s in sorted(seeds)[:most])
    return shown + (f" and {len(seeds) - most} more" if len(seeds) > most else "")


def judge_sweep(loaded: Loaded, results: Sequence[SeedResult]) -> SweepVerdict:
    ran = [r for r in results if r.verdict != "crash"]
    crashed = [r.seed for r in results if r.verdict == "crash"]
    outcomes = [
        SweepOutcome(
            "no seed crashes",
            not crashed,
            f"{len(crashed)} crashed" if crashed else "none crashed",
            tuple(sorted(crashed)),
        )
    ]
    seed_bounds = [e for e in loaded.expectations if isinstance(e, SeedBound)]
    allowed = {b.name: b for b in seed_bounds if b.op == "seeds_failing"}
    per_seed = sorted(
        {str(e.name) for e in loaded.expectations if not isinstance(e, SeedBound)} | set(allowed)
    )
    for name in per_seed:
        gap = _known_gap(loaded, name)
        if gap is not None and name not in allowed:
            outcomes.append(_gap_shows(name, gap, ran))
        else:
            outcomes.append(_failing(name, ran, allowed.get(name), _has_own_bound(loaded, name)))
    for bound in seed_bounds:
        if bound.op != "seeds_failing":
            outcomes.append(_distribution(bound, ran))
    return SweepVerdict(tuple(outcomes), len(results))


def _has_own_bound(loaded: Loaded, name: str) -> bool:
    return any(e.name == name and not isinstance(e, SeedBound) for e in loaded.expectations)


def _known_gap(loaded: Loaded, name: str) -> str | None:
    """The words of a name whose every own bound is a known gap, else None."""
    own = [e for e in loaded.expectations if e.name == name and not isinstance(e, SeedBound)]
    gaps = [e.known_gap for e in own if e.known_gap is not None]
    return gaps[0] if own and len(gaps) == len(own) else None


def _gap_shows(name: str, why: str, ran: Sequence[SeedResult]) -> SweepOutcome:
    """A known gap over the seeds: its seeds are those where it did not show (where a single
    run fails as a strict XPASS); it has gone only if that is every seed."""
    hidden = [r.seed for r in ran if name in r.failed]
    shown = len(ran) - len(hidden)
    return SweepOutcome(
        f"known gap {name} shows on some seed ({why})",
        shown > 0,
        f"shows on {shown} of {len(ran)} seeds",
        tuple(sorted(hidden)) if shown == 0 else (),
    )


def _failing(
    name: str, ran: Sequence[SeedResult], allowed: SeedBound | None, own: bool
) -> SweepOutcome:
    """How many seeds fail the name: its own bounds, or (an anomaly bounded only over the
    seeds) any finding of it."""
    if own:
        failing = [r.seed for r in ran if name in r.failed]
    else:
        failing = [r.seed for r in ran if r.values.get(name, 0.0) > 0]
    most = 0 if allowed is None else int(allowed.bound)
    what = "holds on every seed" if most == 0 else f"fails on at most {most} seeds"
    found = f"{len(failing)} of {len(ran)} seeds fail" + (
        f": {_listed(failing)}" if failing else ""
    )
    return SweepOutcome(f"{name} {what}", len(failing) <= most, found, tuple(sorted(failing)))


def _distribution(bound: SeedBound, ran: Sequence[SeedResult]) -> SweepOutcome:
    values = [r.values[bound.name] for r in ran if bound.name in r.values]
    if not values:
        return SweepOutcome(bound.text, False, "no seed ran", known_gap=bound.known_gap)
    if bound.op == "mean":
        value = float(np.mean(values))
    else:
        value = float(np.percentile(values, QUANTILES[bound.op]))
    unit = METRICS[bound.name][0].value if bound.name in METRICS else "count"
    return SweepOutcome(
        bound.text, value <= bound.bound, f"{value:g} ({unit}, over {len(values)} seeds)"
    )
