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
  Not run without --full (the table says so; nothing is extrapolated into a figure).

Each size runs once: at these sizes a run takes from seconds to many minutes, and the noise
of a shared machine is small against a 10x step. Exits 1 when a target measured is missed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import tempfile
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
SIZES = (1_000, 10_000, 100_000)
FULL = (*SIZES, 1_000_000)
GROWTH_TARGET = 11.0
WALL_TARGET = 120.0  # seconds, the 1M run
RSS_TARGET = 2048.0  # MiB, the 1M run

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
    from simulator.report.folder import write_folder
    from simulator.report.render import render
    from simulator.scenario.loader import load_text
    from simulator.sim.driver import Simulation
    from simulator.verdict import judge_history

    loaded = load_text(f"scale_{writes}.yaml", scenario_text(writes))
    simulation = Simulation(loaded)
    events = counting(simulation.env)
    peaks = []  # peak RSS so far, after each phase: which phase holds the memory
    history, sim = timed(simulation.run)
    peaks.append(peak_rss())
    judged, checked = timed(lambda: judge_history(loaded, history))
    peaks.append(peak_rss())
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


def child(writes: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--one", str(writes)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the {writes:,}-write run failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def total(result: dict[str, Any], key: str) -> float:
    return float(sum(result[phase][key] for phase in ("simulate", "check", "report")))


def rows_of(results: Sequence[dict[str, Any]]) -> list[tuple[str, ...]]:
    rows = []
    for r in results:
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


def figures(results: Sequence[dict[str, Any]], full: bool) -> list[tuple[str, str, bool | None]]:
    """(figure, ratio or value, met?); met is None for a figure not run."""
    out: list[tuple[str, str, bool | None]] = []
    for small, big in itertools.pairwise(results):
        ratio = total(big, "cpu") / total(small, "cpu")
        name = f"growth {small['writes']:,} -> {big['writes']:,} writes"
        out.append((name, f"{ratio:.2f} (target <= {GROWTH_TARGET:g})", ratio <= GROWTH_TARGET))
    million = [r for r in results if r["writes"] >= 900_000]
    if not full or not million:
        out.append(("wall_1m", "not run (--full runs it)", None))
        out.append(("rss_1m", "not run (--full runs it)", None))
        return out
    wall, rss = total(million[0], "wall"), million[0]["max_rss_mib"]
    out.append(("wall_1m", f"{wall:.0f} s (target <= {WALL_TARGET:g})", wall <= WALL_TARGET))
    out.append(("rss_1m", f"{rss:,.0f} MiB (target <= {RSS_TARGET:g})", rss <= RSS_TARGET))
    return out


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--full", action="store_true", help="also the 1M-write run")
    parser.add_argument("--sizes", help="comma-separated write counts instead of 1000,10000,100000")
    args = parser.parse_args(argv)
    if args.one is not None:
        print(json.dumps(one(args.one)))
        return 0
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else list(SIZES)
    if args.full:
        sizes = list(FULL)
    results = []
    for writes in sizes:
        print(f"running {writes:,} writes ...", file=sys.stderr, flush=True)
        results.append(child(writes))
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
    judged = figures(results, args.full)
    met = {True: "yes", False: "no", None: "not run"}
    print(markdown(("figure", "measured", "met?"), [(n, v, met[m]) for n, v, m in judged]))
    return 1 if any(m is False for _, _, m in judged) else 0


if __name__ == "__main__":
    sys.exit(main())
