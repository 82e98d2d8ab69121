"""`syncsim matrix`: one scenario under every profile, tabulated.

The table shows which planned change closes which failure: a row per profile, a column per
anomaly and key figure, and whether that profile met its expectations.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from simulator.checker.names import Anomaly
from simulator.live.commands import SIMULATED, LiveTarget, play
from simulator.protocol.profile import PROFILES
from simulator.runner import with_seed
from simulator.scenario.loader import load
from simulator.verdict import Run

FIGURES = ("writes", "sync_requests", "queue_drops", "bytes_sent", "max_frame_bytes")


@dataclass(frozen=True)
class MatrixRow:
    profile: str
    run: Run


def run_matrix(
    path: Path,
    seed: int | None = None,
    target: LiveTarget = SIMULATED,
    profiles: tuple[str, ...] = tuple(PROFILES),
) -> list[MatrixRow]:
    """Each of `profiles`' runs, in that order (live when `target` or the scenario names an
    endpoint); every profile is validated before the first one runs."""
    loaded = [with_seed(load(path, name), seed) for name in profiles]
    return [MatrixRow(one.profile.name, play(one, target)) for one in loaded]


def _cells(row: MatrixRow) -> dict[str, object]:
    counts = row.run.result.counts
    metrics = row.run.result.metrics
    return {
        "profile": row.profile,
        "verdict": "pass" if row.run.passed else row.run.verdict.value.upper(),
        **{a.value: counts[a.value] for a in Anomaly},
        **{f: metrics[f] for f in FIGURES},
        "failed": [o.expectation.text for o in row.run.failed],
    }


def matrix_json(rows: list[MatrixRow]) -> str:
    scenario = rows[0].run.loaded.scenario
    body = {"scenario": scenario.name, "seed": scenario.seed, "rows": [_cells(r) for r in rows]}
    return json.dumps(body, indent=2) + "\n"


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}"
    if isinstance(value, list):
        return "; ".join(str(v) for v in value) or "-"
    return str(value)


def matrix_markdown(rows: list[MatrixRow]) -> str:
    table = [_cells(r) for r in rows]
    head = list(table[0])
    scenario = rows[0].run.loaded.scenario
    lines = [
        f"# {scenario.name}: anomalies by profile (seed {scenario.seed})",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    lines += ["| " + " | ".join(_fmt(cells[h]) for h in head) + " |" for cells in table]
    return "\n".join(lines) + "\n"
