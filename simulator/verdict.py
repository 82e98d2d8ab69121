"""A judged run: its scenario, its history, what the checker found, each expectation's verdict.

Judging needs only a history, never the driver that recorded it, so a simulated run, a live
run and a history read back from a file are judged alike (and whatever renders a `Run` loads
no simulation).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from simulator.checker.check import CheckResult, check
from simulator.checker.claims import Claim, judge_claims
from simulator.checker.expectations import Expectation, Outcome, judge
from simulator.checker.view import View
from simulator.history import History
from simulator.scenario.loader import Loaded


class Verdict(StrEnum):
    """PASS and FAIL judge the expectations; INCONCLUSIVE says the evidence cannot be
    trusted (the checker's doubts), whatever the counts."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"

    @property
    def exit_code(self) -> int:
        return {Verdict.PASS: 0, Verdict.FAIL: 1, Verdict.INCONCLUSIVE: 4}[self]


@dataclass(frozen=True)
class Run:
    loaded: Loaded
    history: History
    result: CheckResult
    outcomes: tuple[Outcome, ...]

    @property
    def verdict(self) -> Verdict:
        if self.result.doubts:
            return Verdict.INCONCLUSIVE
        return Verdict.PASS if all(o.passed for o in self.outcomes) else Verdict.FAIL

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASS

    @property
    def gaps(self) -> tuple[Outcome, ...]:
        """Bounds marked as known gaps that still fail: expected failures, not failures."""
        return tuple(o for o in self.outcomes if o.gap_shows)

    @property
    def failed(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if not o.passed)


def judge_history(loaded: Loaded, history: History) -> Run:
    result = check(history)
    bounds = [e for e in loaded.expectations if isinstance(e, Expectation)]
    claims = [e for e in loaded.expectations if isinstance(e, Claim)]
    view = result.view or View(history)
    outcomes = judge(bounds, result.values()) + judge_claims(claims, view, result.findings)
    return Run(loaded, history, result, tuple(outcomes))
