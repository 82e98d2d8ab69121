"""One run of a scenario: simulate it with the simpy driver, then judge the history."""

from __future__ import annotations

from dataclasses import replace

from simulator.progress import ProgressCallback, ambient, attach
from simulator.protocol.breaks import Break
from simulator.scenario.loader import Loaded
from simulator.sim.driver import Simulation
from simulator.verdict import Run, judge_history


def with_seed(loaded: Loaded, seed: int | None) -> Loaded:
    if seed is None:
        return loaded
    return replace(loaded, scenario=loaded.scenario.model_copy(update={"seed": seed}))


def run(
    loaded: Loaded,
    progress: ProgressCallback | None = None,
    breaks: frozenset[Break] = frozenset(),
) -> Run:
    """Simulate and judge. `progress(now, total)` hears the simulated time as it passes
    (default: the terminal bar, when one is installed); it never changes the history.
    `breaks`: server rules the simulated server breaks on purpose (the probes' own test)."""
    simulation = Simulation(loaded, breaks)
    scenario = loaded.scenario
    total = scenario.duration + scenario.settle
    report = progress if progress is not None else ambient(scenario.name)
    if report is not None:
        attach(simulation.env, total, report)
    history = simulation.run()
    if report is not None:
        report(total, total)
    return judge_history(loaded, history)
