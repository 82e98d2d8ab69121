"""One run of a scenario: simulate, check, judge the expectations."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from simulator.checker.check import CheckResult, check
from simulator.checker.expectations import Outcome, judge
from simulator.history import History
from simulator.progress import ProgressCallback, ambient, attach
from simulator.scenario.loader import Loaded
from simulator.sim.driver import Simulation


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
    def failed(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if not o.passed)


def with_seed(loaded: Loaded, seed: int | None) -> Loaded:
    if seed is None:
        return loaded
    return replace(loaded, scenario=loaded.scenario.model_copy(update={"seed": seed}))


def run(loaded: Loaded, progress: ProgressCallback | None = None) -> Run:
    """Simulate and judge. `progress(now, total)` hears the simulated time as it passes
    (default: the terminal bar, when one is installed); it never changes the history."""
    simulation = Simulation(loaded)
    scenario = loaded.scenario
    total = scenario.duration + scenario.settle
    report = progress if progress is not None else ambient(scenario.name)
    if report is not None:
        attach(simulation.env, total, report)
    history = simulation.run()
    if report is not None:
        report(total, total)
    return judge_history(loaded, history)


def judge_history(loaded: Loaded, history: History) -> Run:
    result = check(history)
    outcomes = tuple(judge(list(loaded.expectations), result.values()))
    return Run(loaded, history, result, outcomes)
