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
- serve_vs_echo and serve_vs_echo_p99 (item 7), in wall time, not CPU: the two servers run in
  subprocesses of their own (`syncsim serve --profile proposed` on a SQLite file in a temporary
  folder, and bench/echo_server.py, a raw websockets echo server with serve's websockets
  settings), and the load generator runs in this process, on this machine. The generator opens
  500 connections (one user each, with a valid token), then each sends 20 ENTRY_CREATED frames
  with a valid entry and a messageId, one at a time: the next once the answer to the previous
  one is in (serve's ACK naming that messageId, the echo's copy). A run is timed from when every
  connection is open (serve's WELCOME read) until the last answer, and every answer is checked.
  Each side's median of messages per second and of the 99th percentile (nearest rank) of the
  latency from send to answer, over interleaved runs after one untimed run each, gives two
  ratios: serve_vs_echo = echo rate / serve rate, target 2 (serve at 0.5x the echo's rate or
  better), and serve_vs_echo_p99 = serve p99 / echo p99, target 2.

`python bench/run.py` prints the table and exits 1 when a target is missed (0 when all are
met); `--quick` is a smoke run (a day instead of a week, 100 and 1,000 writes, 50 connections
of 4 messages, three repetitions) whose figures are noisier.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlencode

import simpy
from websockets.asyncio.client import ClientConnection, connect

from simulator import auth
from simulator.checker.check import check
from simulator.history import History, Kind
from simulator.protocol.codec import Frame, FrameType
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
    connections: int  # serve_vs_echo: connections open at once
    messages: int  # serve_vs_echo: frames each connection sends in a run


FULL = Sizes(
    repeats=5,
    sim_hours=7 * 24,
    sim_rate=40,
    ops_hours=24,
    ops_rate=330,
    connections=500,
    messages=20,
)
QUICK = Sizes(
    repeats=3, sim_hours=24, sim_rate=40, ops_hours=6, ops_rate=130, connections=50, messages=4
)


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


# -- serve_vs_echo: syncsim serve against a raw echo server, over real sockets ------------------

BENCH = Path(__file__).resolve().parent
LOAD_SECRET = "a-bench-secret-long-enough-for-hs256-keys!"
LOAD_TIMEOUT = 120.0  # seconds a whole run, or the start of a server, may take
CONNECT_AT_ONCE = 50  # handshakes under way at once: a listen backlog is about 100
SERVE_LINE = re.compile(r"WebSocket (ws://\S+)")
ECHO_LINE = re.compile(r"echo: (ws://\S+)")


@dataclass
class Subprocess:
    """A server in a process of its own, listening at `url`."""

    process: subprocess.Popen[str]
    url: str


def start_subprocess(command: list[str], line: re.Pattern[str]) -> Subprocess:
    """Start `command` and wait for the line that names its URL, within LOAD_TIMEOUT."""
    env = {**os.environ, "SYNCSIM_JWT_SECRET": LOAD_SECRET}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    first = process.stdout.readline()  # each prints its URL once it listens
    found = line.search(first)
    if found is None:
        process.kill()
        process.wait()
        raise RuntimeError(f"{command[1:4]} did not start: {first!r}")
    return Subprocess(process, found.group(1))


def stop_subprocess(server: Subprocess) -> None:
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout=LOAD_TIMEOUT)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@contextlib.contextmanager
def load_servers() -> Iterator[tuple[Subprocess, Subprocess]]:
    """The echo server and `syncsim serve` (profile proposed, a SQLite file of its own)."""
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        echo = start_subprocess(
            [sys.executable, str(BENCH / "echo_server.py"), "--port", "0"], ECHO_LINE
        )
        stack.callback(stop_subprocess, echo)
        db = str(Path(folder) / "serve.db")
        serve = [sys.executable, "-m", "simulator.cli", "serve", "--port", "0", "--db", db]
        served = start_subprocess([*serve, "--profile", "proposed"], SERVE_LINE)
        stack.callback(stop_subprocess, served)
        yield echo, served


@dataclass(frozen=True)
class Load:
    """What one run sends: per connection, its URL and its frames, each with the text its
    answer must hold; `welcome` when the server greets a connection before anything else."""

    urls: list[str]
    frames: list[list[tuple[str, str]]]
    welcome: bool


def load(base_url: str, sizes: Sizes, run: int, *, echo: bool) -> Load:
    """`sizes.messages` ENTRY_CREATED frames for each of `sizes.connections` users; entry ids
    and messageIds are new in every run, so each frame stores a row."""
    now = time.time()
    urls, frames = [], []
    for c in range(sizes.connections):
        user = f"load-{c}"
        token = auth.mint(LOAD_SECRET, user, now)
        urls.append(f"{base_url}?{urlencode({'userId': user, 'token': token})}")
        mine = []
        for m in range(sizes.messages):
            name = f"r{run}-c{c}-m{m}"
            entry = {
                "id": name,
                "timestamp": int(now * 1000),
                "duration": 30,
                "type": "practice",
                "instrument": "piano",
                "pieces": [{"id": "p1", "title": "Prelude", "composer": "Bach"}],
                "notes": "scales, then the prelude slowly",
                "device_id": "phone",
            }
            frame = Frame.make(FrameType.ENTRY_CREATED, now, entry=entry, messageId=name)
            text = frame.encode()
            # The echo's answer is the frame itself; serve's ACK names the messageId.
            mine.append((text, text if echo else f'"messageId":"{name}","entityType"'))
        frames.append(mine)
    return Load(urls, frames, welcome=not echo)


@dataclass(frozen=True)
class Pass:
    """One timed run: wall seconds from every connection open to the last answer, and each
    message's latency from its send to its answer."""

    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    @property
    def p99(self) -> float:
        """The 99th percentile, nearest rank."""
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


async def _talk(
    ws: ClientConnection, frames: list[tuple[str, str]], latencies: list[float]
) -> None:
    for text, expected in frames:
        sent = time.perf_counter()
        await ws.send(text)
        answer = await ws.recv()
        latencies.append(time.perf_counter() - sent)
        if not isinstance(answer, str) or expected not in answer:
            raise RuntimeError(f"unexpected answer {str(answer)[:200]!r} to {text[:200]!r}")


async def _drive(work: Load) -> Pass:
    async with contextlib.AsyncExitStack() as stack, asyncio.timeout(LOAD_TIMEOUT):
        connections: list[ClientConnection] = []
        for i in range(0, len(work.urls), CONNECT_AT_ONCE):
            batch = work.urls[i : i + CONNECT_AT_ONCE]
            connections += await asyncio.gather(
                *(stack.enter_async_context(connect(url)) for url in batch)
            )
        if work.welcome:
            await asyncio.gather(*(ws.recv() for ws in connections))
        latencies: list[float] = []
        start = time.perf_counter()
        await asyncio.gather(
            *(
                _talk(ws, frames, latencies)
                for ws, frames in zip(connections, work.frames, strict=True)
            )
        )
        seconds = time.perf_counter() - start
    return Pass(seconds, latencies)


def drive(work: Load) -> Pass:
    return asyncio.run(_drive(work))


def serve_vs_echo(sizes: Sizes) -> list[Figure]:
    with load_servers() as (echo, served):
        runs = iter(range(1_000_000))

        def once(server: Subprocess, is_echo: bool) -> Pass:
            gc.collect()
            return drive(load(server.url, sizes, next(runs), echo=is_echo))

        once(echo, True)  # untimed: connections, caches and serve's database warm up
        once(served, False)
        passes: tuple[list[Pass], list[Pass]] = ([], [])
        for _ in range(sizes.repeats):
            passes[0].append(once(echo, True))
            passes[1].append(once(served, False))
    echo_rate, serve_rate = (statistics.median(p.rate for p in side) for side in passes)
    echo_p99, serve_p99 = (statistics.median(p.p99 for p in side) for side in passes)
    shape = f"{sizes.connections} connections x {sizes.messages} ENTRY_CREATED, one at a time"
    return [
        Figure(
            "serve_vs_echo",
            f"{echo_rate:,.0f} msg/s echo",
            f"{serve_rate:,.0f} msg/s serve",
            echo_rate / serve_rate,
            2.0,
            f"echo rate / serve rate: serve at {serve_rate / echo_rate:.2f}x the echo's "
            f"messages per second (target 0.5x); {shape}; wall time",
        ),
        Figure(
            "serve_vs_echo_p99",
            f"{echo_p99 * 1e3:.1f} ms p99 echo",
            f"{serve_p99 * 1e3:.1f} ms p99 serve",
            serve_p99 / echo_p99,
            2.0,
            f"serve p99 / echo p99 of the latency from send to answer; {shape}",
        ),
    ]


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
        *serve_vs_echo(sizes),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: small scenarios, three repetitions"
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    print(
        f"{sizes.repeats} interleaved repetitions, medians of CPU seconds "
        "(serve_vs_echo: of wall seconds)",
        flush=True,
    )
    figures = measure(sizes)
    print(table(figures))
    code = exit_code(figures)
    if code:
        missed = ", ".join(f.name for f in figures if not f.met)
        print(f"target missed: {missed}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
