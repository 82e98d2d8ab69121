"""What failing "the same way" means while shrinking: the same bound fails and, when the bound
is on an anomaly, a finding of it with the same cause is there."""

from __future__ import annotations

from dataclasses import dataclass

from simulator.checker.names import Anomaly
from simulator.verdict import Run

_ANOMALIES = {a.value for a in Anomaly}


@dataclass(frozen=True)
class Failure:
    bound: str  # the name whose bound failed (an anomaly, a metric or a claim's key)
    text: str  # the bound as written: `lost_write <= 0`
    cause: str | None  # the cause of that anomaly's first finding
    summary: str  # that finding's summary, or what was found

    def describe(self) -> str:
        said = self.summary
        if self.cause and self.cause not in said:
            said += f" ({self.cause})"
        return f"{self.text}: {said}"


def failure_of(run: Run) -> Failure | None:
    """The run's first failed bound, with the first finding behind it; None if it passes."""
    failed = [o for o in run.outcomes if not o.passed]
    if not failed:
        return None
    outcome = failed[0]
    name = outcome.expectation.name
    if name in _ANOMALIES:
        findings = [f for f in run.result.findings if f.anomaly.value == name]
        if findings:
            first = findings[0]
            return Failure(name, outcome.expectation.text, first.cause, first.summary)
    shown = outcome.shown or f"got {outcome.value:g}"
    return Failure(name, outcome.expectation.text, None, shown)


def fails_the_same_way(run: Run, failure: Failure) -> bool:
    """Whether `run` fails `failure`'s bound, for the same cause where it has one."""
    if not any(o.expectation.name == failure.bound and not o.passed for o in run.outcomes):
        return False
    if failure.cause is None:
        return True
    return any(
        f.anomaly.value == failure.bound and f.cause == failure.cause for f in run.result.findings
    )
