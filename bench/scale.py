"""The scale family: 100 devices of 20 users over 30 days, at 1k, 10k and 100k writes (and
1M with --full), each simulated, checked and reported in a fresh process of its own.

Issue #14 item 5 asks that 10x the writes cost at most 11x the time, and that the 1M-write run
simulate, check and report in at most 120 s of wall time on one core, in at most 2 GiB RSS.
Each size differs only in how many entries a device writes a day (writes / 3,000), so what
grows is the work per write, on top of a fixed cost: 100 devices connecting, keeping their
connections and catching up over 30 days. Each size runs in a child process (`--one N`) so its
peak RSS is its own; the child times the three phases in CPU and wall seconds, counts the
simpy events it processed, then runs a bare simpy loop (timeout, put, get) of the same event
count, which gives the run's ratio to bare simpy.

Figures:
- growth (each size over the one before): total CPU seconds at 10x the writes over those at
  1x. Target 11.
- wall_1m: the 1M run's wall seconds. Target 120. rss_1m: its peak RSS in MiB. Target 2,048.

The parent watches each child (its peak RSS from /proc, its wall time, and the phase and share
of the scenario it has reached, which the child prints on stderr) and stops it:
- by default, the 1M run as soon as both its targets are missed for certain (past 120 s of
  wall time and past 2 GiB): the figures then say how far it got, measured, not extrapolated;
- with --full, the 1M run goes on to its end;
- any run, when its peak RSS passes RSS_SAFETY of the memory available when the bench started
  or its wall time passes --max-wall, so a run too big for the machine is reported, not
  killed by the kernel with the machine's other work.

Each size runs once: at these sizes a run takes from seconds to many minutes, and the noise
of a shared machine is small against a 10x step. Exits 1 when a target measured is missed or a
run failed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

USERS = 20
DEVICES_PER_USER = 5
DAYS = 30
MILLION = 1_000_000
SIZES = (1_000, 10_000, 100_000, MILLION)
GROWTH_TARGET = 11.0
WALL_TARGET = 120.0  # seconds, the 1M run
RSS_TARGET = 2048.0  # MiB, the 1M run
RSS_SAFETY = 0.8  # of the memory available at the start: a child past it is stopped
MAX_WALL = 3 * 3600.0  # seconds a child may take, unless --max-wall says otherwise
POLL = 0.25  # wall seconds between two looks at a child
PROGRESS = "progress"  # the child's stderr lines: `progress PHASE SHARE`

T = TypeVar("T")


def scenario_text(writes: int) -> str:
    """The family's member of about `writes` user writes (entries only)."""
    rate = writes / (USERS * DEVICES_PER_USER * DAYS)
    lines = [
        f"name: scale_{writes}",
        "seed: 1",
        f"duration: {DAYS}d",
        "settle: 10m",
        "devices:",
    ]
    for u in range(USERS):
        for d in range(DEVICES_PER_USER):
            # Clocks a few seconds apart, so devices of one user do not write in lockstep.
            lines.append(
                f"  - {{name: u{u}d{d}, user: user{u}, quota: 1GB, "
                f"clock: {{offset: {(37 * d) % 120}s}}, "
                f"workload: {{entries_per_day: {rate:.6g}, pieces_per_day: 0, "
                f"active_hours: [0, 24]}}}}"
            )
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Phase:
    cpu: float
    wall: float


def timed(action: Callable[[], T]) -> tuple[T, Phase]:
    cpu, wall = time.process_time(), time.perf_counter()
    result = action()
    return result, Phase(time.process_time() - cpu, time.perf_counter() - wall)


def peak_rss() -> float:
    """This process's peak resident set so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one(writes: int) -> dict[str, Any]:
    """Simulate, check and report the member of `writes` writes in this process."""
    from run import bare_simpy, counting

    from simulator.history import Kind
    from simulator.progress import attach
    from simulator.report.folder import write_folder
    from simulator.report.render import render
    from simulator.scenario.loader import load_text
    from simulator.sim.driver import Simulation
    from simulator.verdict import judge_history

    loaded = load_text(f"scale_{writes}.yaml", scenario_text(writes))
    simulation = Simulation(loaded)
    events = counting(simulation.env)
    # The parent's watch reads how far the run is; the ticker's 200 events are counted too.
    attach(simulation.env, loaded.scenario.duration + loaded.scenario.settle, tell_simulated)
    peaks = []  # peak RSS so far, after each phase: which phase holds the memory
    history, sim = timed(simulation.run)
    peaks.append(peak_rss())
    tell("check", 0.0)
    judged, checked = timed(lambda: judge_history(loaded, history))
    peaks.append(peak_rss())
    tell("report", 0.0)
    with tempfile.TemporaryDirectory() as folder:
        _, reported = timed(lambda: write_folder(Path(folder) / "report", render(judged)))
    peaks.append(peak_rss())
    bare = bare_simpy(events[0])
    _, baseline = timed(bare.run)
    return {
        "writes": sum(1 for r in history if r.kind is Kind.WRITE),
        "rows": len(history),
        "events": events[0],
        "simulate": sim.__dict__,
        "check": checked.__dict__,
        "report": reported.__dict__,
        "bare_simpy_cpu": baseline.cpu,
        "max_rss_mib": peaks[-1],
        "peak_rss_after_phases_mib": peaks,
    }


def is_million(writes: int) -> bool:
    """The 1M run, asked (1,000,000) or as played (a few thousand writes under)."""
    return writes >= 900_000


def tell(phase: str, share: float) -> None:
    """The child's progress, one stderr line the parent's watch reads."""
    print(f"{PROGRESS} {phase} {share:.4f}", file=sys.stderr, flush=True)


def tell_simulated(now: float, total: float) -> None:
    tell("simulate", now / total)


@dataclass(frozen=True)
class Watch:
    """When the parent stops a child: `until_missed` stops it once both 1M targets are
    missed for certain; `max_rss` (MiB) and `max_wall` (s) are the safety bounds."""

    until_missed: bool
    max_rss: float
    max_wall: float


def stop_reason(watch: Watch, wall: float, rss: float) -> str | None:
    """Why a child `wall` seconds in with a peak RSS of `rss` MiB is stopped now, if it is."""
    if rss > watch.max_rss:
        return f"its peak RSS passed {watch.max_rss:,.0f} MiB, the safety bound"
    if wall > watch.max_wall:
        return f"it ran past {watch.max_wall:,.0f} s, the safety bound"
    if watch.until_missed and wall > WALL_TARGET and rss > RSS_TARGET:
        return f"both targets were missed (past {WALL_TARGET:g} s and {RSS_TARGET:,.0f} MiB)"
    return None


def read_progress(line: str) -> str | None:
    """How far a child is, from its `progress PHASE SHARE` line (`7.5% simulated`, `checking`,
    `reporting`); None for any other line."""
    parts = line.split()
    if len(parts) != 3 or parts[0] != PROGRESS:
        return None
    if parts[1] != "simulate":
        return {"check": "checking", "report": "reporting"}.get(parts[1])
    try:
        return f"{float(parts[2]):.1%} simulated"
    except ValueError:
        return None


def peak_rss_of(pid: int) -> float:
    """A running process's peak resident set so far, MiB (VmHWM); 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def available_mib() -> float:
    """Memory available for new work on this machine now (MemAvailable), MiB."""
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("/proc/meminfo has no MemAvailable")


class Stderr:
    """A child's stderr, read on a thread as it comes: its last progress and all it said."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self.progress = "0.0% simulated"
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            told = read_progress(line)
            if told is None:
                self.lines.append(line)
            else:
                self.progress = told

    def text(self) -> str:
        self._thread.join(timeout=5.0)
        return "".join(self.lines[-40:])


def child(writes: int, watch: Watch) -> dict[str, Any]:
    """Run one size in a child process under `watch`: its result, or what stopped or failed
    it (`stopped` or `failed`, with its wall time, peak RSS and how far it got)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--one", str(writes)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stderr is not None
    stderr = Stderr(process.stderr)
    started, peak, reason = time.perf_counter(), 0.0, None
    while process.poll() is None:
        peak = max(peak, peak_rss_of(process.pid))
        reason = stop_reason(watch, time.perf_counter() - started, peak)
        if reason is not None:
            process.kill()
            break
        time.sleep(POLL)
    out = process.communicate()[0]
    wall = time.perf_counter() - started
    ended = {"writes": writes, "wall": wall, "max_rss_mib": peak, "reached": stderr.progress}
    if reason is not None:
        return {**ended, "stopped": reason}
    if process.returncode != 0 or not out.strip():
        return {**ended, "failed": f"exit {process.returncode}: {stderr.text().strip()}"}
    result: dict[str, Any] = json.loads(out.splitlines()[-1])
    return result


def ended_early(result: dict[str, Any]) -> str | None:
    """Why a run has no phases to show (stopped or failed), or None for a whole run."""
    if "stopped" in result:
        return f"stopped: {result['stopped']}"
    if "failed" in result:
        return f"failed: {result['failed']}"
    return None


def total(result: dict[str, Any], key: str) -> float:
    return float(sum(result[phase][key] for phase in ("simulate", "check", "report")))


def rows_of(results: Sequence[dict[str, Any]]) -> list[tuple[str, ...]]:
    rows = []
    for r in results:
        why = ended_early(r)
        if why is not None:
            rows.append(
                (
                    f"{r['writes']:,} (asked)",
                    "-",
                    f"{r['reached']} when it ended",  # in the simulate column: how far
                    "-",
                    "-",
                    f"{r['wall']:.1f}",
                    f"{r['max_rss_mib']:,.0f}",
                    "stopped" if "stopped" in r else "failed",
                )
            )
            continue
        cpu = total(r, "cpu")
        rows.append(
            (
                f"{r['writes']:,}",
                f"{r['rows']:,}",
                f"{r['simulate']['cpu']:.1f}",
                f"{r['check']['cpu']:.1f}",
                f"{r['report']['cpu']:.1f}",
                f"{total(r, 'wall'):.1f}",
                " / ".join(f"{p:,.0f}" for p in r["peak_rss_after_phases_mib"]),
                f"{cpu / r['bare_simpy_cpu']:.1f}",
            )
        )
    return rows


def figures(results: Sequence[dict[str, Any]]) -> list[tuple[str, str, bool | None]]:
    """(figure, ratio or value, met?); met is None for a figure not measured."""
    out: list[tuple[str, str, bool | None]] = []
    whole = [r for r in results if ended_early(r) is None]
    for small, big in itertools.pairwise(whole):
        ratio = total(big, "cpu") / total(small, "cpu")
        name = f"growth {small['writes']:,} -> {big['writes']:,} writes"
        out.append((name, f"{ratio:.2f} (target <= {GROWTH_TARGET:g})", ratio <= GROWTH_TARGET))
    million = [r for r in results if is_million(r["writes"])]
    if not million:
        return [*out, ("wall_1m", "not run", None), ("rss_1m", "not run", None)]
    return [*out, *_million_figures(million[0])]


def _million_figures(run: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    why = ended_early(run)
    if why is None:
        wall, rss = total(run, "wall"), run["max_rss_mib"]
        return [
            ("wall_1m", f"{wall:.0f} s (target <= {WALL_TARGET:g})", wall <= WALL_TARGET),
            ("rss_1m", f"{rss:,.0f} MiB (target <= {RSS_TARGET:,.0f})", rss <= RSS_TARGET),
        ]
    wall, rss = run["wall"], run["max_rss_mib"]
    note = f"{run['reached']} after {wall:.0f} s, peak {rss:,.0f} MiB; {why}"
    # A run that ended early settles a target only when it had already passed it.
    wall_met = False if wall > WALL_TARGET else None
    rss_met = False if rss > RSS_TARGET else None
    return [
        ("wall_1m", f"over {WALL_TARGET:g} s: {note}" if wall_met is False else note, wall_met),
        ("rss_1m", f"over {RSS_TARGET:,.0f} MiB: {note}" if rss_met is False else note, rss_met),
    ]


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--full",
        action="store_true",
        help="let the 1M-write run go to its end (by default it is stopped once both of its "
        "targets are missed)",
    )
    parser.add_argument(
        "--sizes", help="comma-separated write counts instead of 1000,10000,100000,1000000"
    )
    parser.add_argument(
        "--max-wall", type=float, default=MAX_WALL, help="seconds any one run may take"
    )
    args = parser.parse_args(argv)
    if args.one is not None:
        print(json.dumps(one(args.one)))
        return 0
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else list(SIZES)
    safety = RSS_SAFETY * available_mib()
    results = []
    for writes in sizes:
        print(f"running {writes:,} writes ...", file=sys.stderr, flush=True)
        watch = Watch(is_million(writes) and not args.full, safety, args.max_wall)
        results.append(child(writes, watch))
    header = (
        "writes",
        "rows",
        "simulate CPU s",
        "check CPU s",
        "report CPU s",
        "wall s",
        "RSS MiB",
    )
    print(markdown((*header, "x bare simpy"), rows_of(results)))
    print()
    judged = figures(results)
    met = {True: "yes", False: "no", None: "not measured"}
    print(markdown(("figure", "measured", "met?"), [(n, v, met[m]) for n, v, m in judged]))
    early = [(r["writes"], why) for r in results if (why := ended_early(r)) is not None]
    for writes, why in early:
        print(f"\nthe {writes:,}-write run {why}")
    return 1 if early or any(m is False for _, _, m in judged) else 0


if __name__ == "__main__":
    sys.exit(main())
