"""Benchmarks: every figure is a ratio against a baseline measured in the same run.

This machine is noisy, so absolute seconds mean little; ratios of costs measured side by side
do. Each figure times its baseline and its measured case in interleaved repetitions (baseline,
measured, baseline, measured, ...), in CPU seconds of this process (`time.process_time`, so
time spent descheduled on a shared machine is not counted), after a collection of garbage, and
takes the median of each side: ratio = median(measured) / median(baseline), per unit where
the two sides do different amounts of work. Before the timed repetitions, one untimed run of
each side counts its events or writes (runs are deterministic, so the timed runs do the same)
and warms caches up.

Events are simpy events *processed*: calls of `Environment.step` that popped an event during
the run (the `until` event that ends the run included; the call that finds the queue empty and
ends a run without `until` not), counted by replacing the environment's `step` with a counting
wrapper in the untimed run only. The bare simpy loop's events are counted the same way.

Figures (met when the ratio is at most the target; targets from issue #14):

- sim_vs_simpy: the simulation's CPU cost per simpy event over that of a bare simpy loop doing
  the same number of events (within two): one process doing `timeout`, `Store.put`,
  `Store.get`, three events a round. The scenario: three devices of one user for a week, 40
  entries a day each, one offline for a day. Target 3 (item 1).
- linear_in_time: the simulation's cost per simpy event in a run four times as long (four
  weeks) over that in the one-week run. 1.0 if linear; target 1.1, the 10% that item 5 allows
  (10x the writes in at most 11x the time).
- linear_in_ops: the time of a run with ten times the workload (about 10,000 writes) over that
  of the 1x run (about 1,000), same devices and day, scaled to exactly ten times the writes:
  10 * (t10 / w10) / (t1 / w1). Keep-alives are an hour apart in both (the profile flag
  `ping_interval_s`), so user operations dominate both runs (the note gives the share a run
  without writes takes of the 1x time); keep-alive cost is what the first two figures
  measure. Target 11 (item 5).
- checker_vs_load: `check(history)` over `History.load(path).to_frame()` of the same history
  (the sim_vs_simpy run's). Target 1.5 (item 4).
- checker_growth: how `check`'s cost grows with the history: its time per n log n (n rows) on
  the history of a run with sixteen times the writes (the sim_vs_simpy run's scenario at 16x
  its entries a day) over that on the 1x history. 1.0 if check is O(n log n), below 1 if it is
  linear; a check that goes through every write once per item it judges is far above. The
  note gives the 4x run's figure too. Target 1.2 (item 4).
- report_share: what writing the report (`render` and the report folder written to disk, and
  the key figures `syncsim run` prints) costs of a whole run (simulate, check, report) of the
  sim_vs_simpy week. Target 0.2 (item 6).

`python bench/run.py` prints the table and exits 1 when a target is missed (0 when all are
met); `--quick` is a smoke run (a day instead of a week, 100 and 1,000 writes, three
repetitions) whose figures are noisier.
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import simpy

from simulator.checker.check import check
from simulator.history import History, Kind
from simulator.report.folder import write_folder
from simulator.report.render import render
from simulator.report.text import figure_lines
from simulator.scenario.loader import Loaded, load_text
from simulator.sim.driver import Simulation
from simulator.verdict import Run, judge_history

SCENARIO = """
name: bench
seed: 1
duration: {hours}h
{flags}devices:
  - {{name: phone, offline: [{{from: {off}m, to: {on}m}}], workload: {{{workload}}}}}
  - {{name: laptop, clock: {{offset: 5m}}, workload: {{{workload}}}}}
  - {{name: tablet, workload: {{{workload}}}}}
"""


@dataclass(frozen=True)
class Sizes:
    """How big each figure's scenarios are and how often each side is timed."""

    repeats: int
    sim_hours: int  # sim_vs_simpy and checker_vs_load; linear_in_time: this and 4x
    sim_rate: float  # entries per device per day
    ops_hours: int  # linear_in_ops
    ops_rate: float  # entries per device per day at 1x


FULL = Sizes(repeats=5, sim_hours=7 * 24, sim_rate=40, ops_hours=24, ops_rate=330)
QUICK = Sizes(repeats=3, sim_hours=24, sim_rate=40, ops_hours=6, ops_rate=130)


@dataclass(frozen=True)
class Figure:
    name: str
    baseline: str  # what the baseline side measured, for the table
    measured: str
    ratio: float
    target: float  # met when ratio <= target
    note: str = ""

    @property
    def met(self) -> bool:
        return self.ratio <= self.target


COLUMNS = ("figure", "baseline", "measured", "ratio", "target", "met?")


def table(figures: Sequence[Figure]) -> str:
    """The figures as a Markdown table, then a line of notes per figure."""
    rows = [COLUMNS] + [
        (
            f.name,
            f.baseline,
            f.measured,
            f"{f.ratio:.2f}",
            f"<= {f.target:g}",
            "yes" if f.met else "no",
        )
        for f in figures
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [line(rows[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(row) for row in rows[1:]]
    out += [f"- {f.name}: {f.note}" for f in figures if f.note]
    return "\n".join(out)


def exit_code(figures: Sequence[Figure]) -> int:
    """0 when every target is met, 1 when any is missed."""
    return 0 if all(f.met for f in figures) else 1


# -- measuring ---------------------------------------------------------------------------------


def interleaved(repeats: int, actions: Sequence[Callable[[], object]]) -> list[float]:
    """The median CPU seconds of each action over `repeats` rounds, timed in turn: A, B, A, B..."""
    times: list[list[float]] = [[] for _ in actions]
    for _ in range(repeats):
        for spent, action in zip(times, actions, strict=True):
            gc.collect()
            start = time.process_time()
            action()
            spent.append(time.process_time() - start)
    return [statistics.median(spent) for spent in times]


def counting(env: simpy.Environment) -> list[int]:
    """Count the events `env` processes from now on: the returned list's one item."""
    count = [0]
    step = env.step

    def counted() -> None:
        try:
            step()
        except simpy.core.EmptySchedule:
            raise  # nothing was popped
        except simpy.core.StopSimulation:
            count[0] += 1  # the `until` event
            raise
        count[0] += 1

    env.step = counted  # type: ignore[method-assign]
    return count


def bare_simpy(events: int) -> simpy.Environment:
    """A bare simpy loop of about `events` processed events (within two): one process doing
    timeout, put and get, three events a round, plus its start and its end."""
    env = simpy.Environment()
    store: simpy.Store = simpy.Store(env)

    def loop(rounds: int) -> Iterator[simpy.Event]:
        for _ in range(rounds):
            yield env.timeout(0.01)
            yield store.put(None)
            yield store.get()

    env.process(loop(max(1, (events - 2) // 3)))
    return env


def bare_events(events: int) -> int:
    env = bare_simpy(events)
    count = counting(env)
    env.run()
    return count[0]


def run_bare(events: int) -> None:
    bare_simpy(events).run()


def scenario(hours: int, rate: float, offline_h: float, ping_s: float | None = None) -> Loaded:
    """Three devices of one user for `hours`, each writing `rate` entries a day; the phone is
    offline for `offline_h` hours from `offline_h` on (a day from day one, in a week)."""
    workload = f"entries_per_day: {rate:g}"
    flags = ""
    if ping_s is not None:
        workload += ", active_hours: [0, 24]"
        flags = f"flags: {{ping_interval_s: {ping_s:g}}}\n"
    off = round(offline_h * 60)
    text = SCENARIO.format(hours=hours, flags=flags, workload=workload, off=off, on=2 * off)
    return load_text("bench.yaml", text)


@dataclass(frozen=True)
class Counted:
    events: int
    writes: int
    history: History


def counted_run(loaded: Loaded) -> Counted:
    """One untimed run of `loaded`, counting its simpy events and its user writes."""
    simulation = Simulation(loaded)
    count = counting(simulation.env)
    history = simulation.run()
    writes = sum(1 for r in history if r.kind is Kind.WRITE)
    return Counted(count[0], writes, history)


def simulate(loaded: Loaded) -> Callable[[], object]:
    return lambda: Simulation(loaded).run()


def per_event(seconds: float, events: int) -> str:
    return f"{seconds / events * 1e6:.2f} us/event"


def sim_vs_simpy(sizes: Sizes, loaded: Loaded, sim: Counted) -> Figure:
    events = bare_events(sim.events)
    run_bare(events)  # warm up as the simulation's counting run did
    t_bare, t_sim = interleaved(sizes.repeats, [lambda: run_bare(sim.events), simulate(loaded)])
    base, measured = t_bare / events, t_sim / sim.events
    return Figure(
        "sim_vs_simpy",
        per_event(t_bare, events),
        per_event(t_sim, sim.events),
        measured / base,
        3.0,
        f"{sim.events:,} simpy events in the simulation of {sizes.sim_hours} h, "
        f"{events:,} in the bare loop",
    )


def linear_in_time(sizes: Sizes, loaded: Loaded, sim: Counted) -> Figure:
    longer = scenario(4 * sizes.sim_hours, sizes.sim_rate, sizes.sim_hours / 7)
    long_run = counted_run(longer)
    t_short, t_long = interleaved(sizes.repeats, [simulate(loaded), simulate(longer)])
    base, measured = t_short / sim.events, t_long / long_run.events
    return Figure(
        "linear_in_time",
        per_event(t_short, sim.events),
        per_event(t_long, long_run.events),
        measured / base,
        1.1,
        f"{sizes.sim_hours} h ({sim.events:,} events) against {4 * sizes.sim_hours} h "
        f"({long_run.events:,} events)",
    )


def linear_in_ops(sizes: Sizes) -> Figure:
    idle, small, large = (
        scenario(sizes.ops_hours, rate, sizes.ops_hours / 7, ping_s=3600)
        for rate in (0, sizes.ops_rate, 10 * sizes.ops_rate)
    )
    counted_run(idle)
    one, ten = counted_run(small), counted_run(large)
    t_idle, t_one, t_ten = interleaved(
        sizes.repeats, [simulate(idle), simulate(small), simulate(large)]
    )
    return Figure(
        "linear_in_ops",
        f"{t_one:.3f} s / {one.writes:,} writes",
        f"{t_ten:.3f} s / {ten.writes:,} writes",
        10 * (t_ten / ten.writes) / (t_one / one.writes),
        11.0,
        f"time for 10x the writes over 1x ({sizes.ops_hours} h, 3 devices); a run without "
        f"writes takes {t_idle / t_one:.0%} of the 1x time",
    )


def checker_vs_load(sizes: Sizes, sim: Counted) -> Figure:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.jsonl"
        sim.history.save(path)
        History.load(path).to_frame()
        check(sim.history)
        t_load, t_check = interleaved(
            sizes.repeats, [lambda: History.load(path).to_frame(), lambda: check(sim.history)]
        )
    return Figure(
        "checker_vs_load",
        f"{t_load:.3f} s load",
        f"{t_check:.3f} s check",
        t_check / t_load,
        1.5,
        f"a history of {len(sim.history):,} rows",
    )


def _per_n_log_n(seconds: float, rows: int) -> float:
    return seconds / (rows * math.log(rows))


def checker_growth(sizes: Sizes, sim: Counted) -> Figure:
    runs = [sim] + [
        counted_run(scenario(sizes.sim_hours, k * sizes.sim_rate, sizes.sim_hours / 7))
        for k in (4, 16)
    ]
    for counted in runs[1:]:
        check(counted.history)  # warm up as the 1x history was in checker_vs_load
    times = interleaved(sizes.repeats, [_checking(c.history) for c in runs])
    rows = [len(c.history) for c in runs]
    per = [_per_n_log_n(t, n) for t, n in zip(times, rows, strict=True)]
    return Figure(
        "checker_growth",
        f"{times[0]:.3f} s / {rows[0]:,} rows",
        f"{times[2]:.3f} s / {rows[2]:,} rows",
        per[2] / per[0],
        1.2,
        f"check time per n log n at 16x the writes over 1x; 4x: {per[1] / per[0]:.2f} "
        f"({times[1]:.3f} s / {rows[1]:,} rows)",
    )


def _checking(history: History) -> Callable[[], object]:
    return lambda: check(history)


def _reporting(judged: Run, folder: Path) -> Callable[[], object]:
    """What `syncsim run` does once the run is judged: the report folder and the key figures.
    A fresh History each time, so each report encodes the history as a run's report does."""

    def report() -> None:
        fresh = replace(judged, history=History(judged.history.records))
        write_folder(folder / "report", render(fresh))
        figure_lines(fresh)

    return report


def report_share(sizes: Sizes, loaded: Loaded, sim: Counted) -> Figure:
    judged = judge_history(loaded, sim.history)
    with tempfile.TemporaryDirectory() as folder:
        report = _reporting(judged, Path(folder))
        report()
        t_sim, t_check, t_report = interleaved(
            sizes.repeats, [simulate(loaded), _checking(sim.history), report]
        )
    total = t_sim + t_check + t_report
    return Figure(
        "report_share",
        f"{total:.3f} s run",
        f"{t_report:.3f} s report",
        t_report / total,
        0.2,
        f"of a run of {sizes.sim_hours} h: simulate {t_sim:.3f} s, check {t_check:.3f} s, "
        f"report {t_report:.3f} s",
    )


def measure(sizes: Sizes) -> list[Figure]:
    loaded = scenario(sizes.sim_hours, sizes.sim_rate, sizes.sim_hours / 7)
    sim = counted_run(loaded)
    return [
        sim_vs_simpy(sizes, loaded, sim),
        linear_in_time(sizes, loaded, sim),
        linear_in_ops(sizes),
        checker_vs_load(sizes, sim),
        checker_growth(sizes, sim),
        report_share(sizes, loaded, sim),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: small scenarios, three repetitions"
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    print(f"{sizes.repeats} interleaved repetitions, medians of CPU seconds", flush=True)
    figures = measure(sizes)
    print(table(figures))
    code = exit_code(figures)
    if code:
        missed = ", ".join(f.name for f in figures if not f.met)
        print(f"target missed: {missed}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
