"""`check`: history in, findings and metrics out."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from simulator.checker import convergence, duplicates, metrics, rules, server_rules
from simulator.checker.doubts import doubts
from simulator.checker.findings import Finding
from simulator.checker.names import Anomaly
from simulator.checker.view import View
from simulator.checker.writes import WriteJudge
from simulator.history import History


@dataclass(frozen=True)
class CheckResult:
    findings: tuple[Finding, ...]
    metrics: dict[str, float]
    doubts: tuple[str, ...] = ()  # why the verdict cannot be trusted (see doubts.py)
    # The history's table, kept so the report slices the same one: one DataFrame per run.
    view: View | None = field(default=None, repr=False, compare=False)

    @property
    def counts(self) -> dict[str, int]:
        tally = Counter(f.anomaly for f in self.findings)
        return {a.value: tally.get(a, 0) for a in Anomaly}

    def values(self) -> dict[str, float]:
        """Every anomaly count and metric by name, what `expect:` bounds read."""
        return {**{k: float(v) for k, v in self.counts.items()}, **self.metrics}


def check(history: History) -> CheckResult:
    view = View(history)
    found = (
        WriteJudge(view).findings()
        + convergence.findings(view)
        + rules.merge_violations(view)
        + duplicates.findings(view)
        + rules.leaks(view)
        + metrics.payload(view)
        + server_rules.violations(view)
    )
    return CheckResult(tuple(found), metrics.measure(view), doubts(view), view)
