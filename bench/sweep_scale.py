"""How a sweep's throughput grows with workers: offline_week over the same seeds with 1 and
2 local worker processes, timed in turn (1, 2, 1, 2, ...), medians of seeds per second.

Issue #15 item 5: seeds per second at 1 and 2 workers on this machine, and how many cores a
cluster would need for 1M seeds. The figure is the speedup, rate at 2 workers over rate at
1, target 1.7 (near linear on 2 cores). It is wall time: a sweep is for the wall clock, and
on a machine shared with other work the speedup says as much about the other work as about
the sweep, so the load average before and after is printed beside it. The cluster estimate
is 1M seeds over the 1-worker rate, in core-hours, assuming a cluster core runs a seed as
fast as one of these cores and the scheduler's overhead is small against a seed's run (a few
hundred ms each): an estimate, labelled as one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 1.7
MILLION = 1_000_000


def sweep_rate(scenario: str, seeds: int, workers: int, out: Path) -> float:
    """Seeds per second of one sweep, from its start to its last seed's result."""
    command = [
        sys.executable,
        "-m",
        "simulator.cli",
        "sweep",
        scenario,
        "--seeds",
        f"1-{seeds}",
        "--workers",
        str(workers),
        "--keep",
        "none",
        "--out",
        str(out),
    ]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1: some seed failed a bound, which is no concern here
        raise SystemExit(f"the sweep failed ({done.returncode}):\n{done.stderr[-2000:]}")
    facts = json.loads((out / "sweep.json").read_text())
    if facts["seeds"] != seeds:
        raise SystemExit(f"the sweep ran {facts['seeds']} seeds, not {seeds}")
    return seeds / seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scenario", default="scenarios/offline_week.yaml")
    parser.add_argument("--seeds", type=int, default=200, help="seeds per sweep (default 200)")
    parser.add_argument("--repeats", type=int, default=3, help="sweeps per worker count")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    rates: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as folder:
        for r in range(args.repeats):
            for workers in (1, 2):
                out = Path(folder) / f"w{workers}-{r}"
                rates[workers].append(sweep_rate(args.scenario, args.seeds, workers, out))
    one, two = (statistics.median(rates[w]) for w in (1, 2))
    speedup = two / one
    core_hours = MILLION / one / 3600
    print(f"{args.scenario}, seeds 1-{args.seeds}, {args.repeats} sweeps per worker count")
    print(f"load average before: {load_before:.1f}, after: {os.getloadavg()[0]:.1f}")
    print("| figure | baseline | measured | ratio | target | met? |")
    print("|---|---|---|---|---|---|")
    met = "yes" if speedup >= TARGET else "no"
    print(
        f"| sweep_speedup | {one:.2f} seeds/s, 1 worker | {two:.2f} seeds/s, 2 workers | "
        f"{speedup:.2f} | >= {TARGET:g} | {met} |"
    )
    print(
        f"estimate: 1M seeds take {core_hours:,.0f} core-hours at the 1-worker rate: "
        f"{core_hours:,.0f} cores for an hour, {core_hours / 24:,.0f} for a day"
    )
    return 0 if speedup >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
