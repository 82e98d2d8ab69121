"""Benchmarks: every figure is a ratio against a baseline measured in the same run.

This machine is noisy, so absolute seconds mean little; ratios taken seconds apart do. Each
measurement is the best of a few repeats.

- sim_vs_simpy: simulation cost per frame over a bare simpy loop's cost per event, for the same
  number of events (DESIGN.md: within a small factor).
- linear_in_time: cost per frame of four simulated weeks over one week (1.0 if linear).
- linear_in_ops: marginal cost of a user operation between 1x and 4x the workload, over the
  marginal cost between no workload and 1x (1.0 if linear).
- checker_vs_load: checker time over the time to load the same history from disk into pandas.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import simpy

from simulator.checker.check import check
from simulator.history import History, Kind
from simulator.scenario.loader import Loaded, load_text
from simulator.sim.driver import Simulation

SCENARIO = """
name: bench
seed: 1
duration: {days}d
devices:
  - {{name: phone, offline: [{{from: 1d, to: 2d}}], workload: {{entries_per_day: {rate}}}}}
  - {{name: laptop, clock: {{offset: 5m}}, workload: {{entries_per_day: {rate}}}}}
  - {{name: tablet, workload: {{entries_per_day: {rate}}}}}
"""


def best(repeats: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def scenario(days: int, rate: float) -> Loaded:
    return load_text("bench", SCENARIO.format(days=days, rate=rate))


def frames_of(history: History) -> int:
    frames = sum(1 for r in history if r.kind is Kind.FRAME_SENT)
    for record in history:
        if record.kind is Kind.KEEPALIVE and record.detail:
            frames += sum(count for count, _ in record.detail.values())
    return frames


def bare_simpy(events: int) -> None:
    env = simpy.Environment()
    remaining = [events]

    def step(_event: object) -> None:
        remaining[0] -= 1
        if remaining[0] > 0:
            env.timeout(0.01).callbacks.append(step)

    env.timeout(0.01).callbacks.append(step)
    env.run()


def main() -> int:
    week = scenario(7, 40)
    history = Simulation(week).run()
    frames = frames_of(history)
    sim_time = best(3, lambda: Simulation(week).run())
    # Each frame is a send and a delivery: two simpy events in the bare loop too.
    base_time = best(3, lambda: bare_simpy(2 * frames))
    # Linear in time: cost per frame over four weeks against one week.
    month = scenario(28, 40)
    frames_month = frames_of(Simulation(month).run())
    t_month = best(3, lambda: Simulation(month).run())
    per_frame_ratio = (t_month / frames_month) / (sim_time / frames)
    # Linear in operations: the marginal cost of an operation, from 0 to 1x and from 1x to 4x.
    idle, small, large = scenario(7, 0), scenario(7, 20), scenario(7, 80)
    ops_small = sum(1 for r in Simulation(small).run() if r.kind is Kind.WRITE)
    ops_large = sum(1 for r in Simulation(large).run() if r.kind is Kind.WRITE)
    t_idle, t_small, t_large = (
        best(3, lambda s=s: Simulation(s).run()) for s in (idle, small, large)
    )
    marginal_ratio = ((t_large - t_small) / (ops_large - ops_small)) / (
        (t_small - t_idle) / ops_small
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.jsonl"
        history.save(path)
        load_time = best(3, lambda: History.load(path).to_frame())
    check_time = best(3, lambda: check(history))
    results = {
        "frames": frames,
        "sim_vs_simpy_per_event": round(sim_time / base_time, 2),
        "linear_in_time_cost_per_frame_28d_over_7d": round(per_frame_ratio, 2),
        "ops": [ops_small, ops_large],
        "linear_in_ops_marginal_cost_4x_over_1x": round(marginal_ratio, 2),
        "history_rows": len(history),
        "checker_vs_load": round(check_time / load_time, 2),
    }
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
