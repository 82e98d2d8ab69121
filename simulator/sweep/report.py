"""A sweep's report: the verdict over the seeds, each bound's outcome, the failing and crashed
seeds (each with the command that reproduces it), and every anomaly and metric as a
distribution over the seeds, in a table and in plots.

Files: sweep.csv (the per-seed table), sweep.json, sweep.md, sweep.html (self-contained), and
the plots as PNG.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from simulator.checker.names import METRICS, anomaly_info
from simulator.report import fmt
from simulator.report.html import plot_view
from simulator.report.plots import Plot, png_bytes
from simulator.report.templating import render_page
from simulator.scenario.loader import Loaded
from simulator.sweep.judge import SweepVerdict
from simulator.sweep.result import SeedResult
from simulator.sweep.table import VALUES, frame

# The metrics whose spread over seeds says the most, drawn beside the anomalies found.
DRAWN_METRICS = (
    "p95_convergence_lag",
    "unconverged_writes",
    "queue_drops",
    "max_outbox_depth",
    "bytes_per_change",
    "sync_requests",
)


@dataclass(frozen=True)
class Timing:
    wall_s: float
    workers: int
    where: str  # "local processes" or the scheduler's address

    def per_second(self, seeds: int) -> float:
        return seeds / self.wall_s if self.wall_s > 0 else 0.0


def distribution(results: Sequence[SeedResult]) -> dict[str, dict[str, float]]:
    """Per anomaly and metric: seeds with a nonzero value, and min, p50, p95, max, mean."""
    ran = [r for r in results if r.verdict != "crash"]
    out: dict[str, dict[str, float]] = {}
    for name in VALUES:
        values = np.asarray([r.values[name] for r in ran if name in r.values], dtype=float)
        if not len(values):
            continue
        p50, p95 = np.percentile(values, [50, 95])
        out[name] = {
            "seeds_nonzero": int((values > 0).sum()),
            "min": float(values.min()),
            "p50": float(p50),
            "p95": float(p95),
            "max": float(values.max()),
            "mean": float(values.mean()),
        }
    return out


def command(loaded: Loaded, seed: int) -> str:
    """The command that plays one seed again, alone."""
    parts = ["syncsim", "run", loaded.source, "--seed", str(seed)]
    return shlex.join([*parts, "--profile", loaded.profile.name])


def summary(
    loaded: Loaded, results: Sequence[SeedResult], verdict: SweepVerdict, timing: Timing
) -> dict[str, Any]:
    ordered = sorted(results, key=lambda r: r.seed)
    return {
        "scenario": loaded.scenario.name,
        "source": loaded.source,
        "profile": loaded.profile.name,
        "seeds": len(results),
        "verdict": "pass" if verdict.passed else "fail",
        "outcomes": [asdict(o) for o in verdict.outcomes],
        "distribution": distribution(results),
        "failing": [
            {
                "seed": r.seed,
                "failed": list(r.failed_text),
                "command": command(loaded, r.seed),
                "report": r.report,
            }
            for r in ordered
            if r.verdict not in ("pass", "crash")
        ],
        "crashed": [
            {"seed": r.seed, "traceback": r.error, "command": command(loaded, r.seed)}
            for r in ordered
            if r.verdict == "crash"
        ],
        "timing": {
            "wall_s": round(timing.wall_s, 3),
            "workers": timing.workers,
            "where": timing.where,
            "seeds_per_s": round(timing.per_second(len(results)), 3),
        },
    }


def _anomaly_plot(facts: dict[str, Any]) -> Plot:
    seeds = max(1, int(facts["seeds"]))
    found = {name: d for name, d in facts["distribution"].items() if name not in METRICS}
    figure = Figure(figsize=(8, 0.35 * max(3, len(found)) + 1))
    axes = figure.add_subplot()
    names = list(found)
    shares = [found[n]["seeds_nonzero"] / seeds for n in names]
    axes.barh(names, shares, color=[anomaly_info(n).colour for n in names])
    for index, name in enumerate(names):
        count = found[name]["seeds_nonzero"]
        axes.text(shares[index], index, f" {count} of {seeds} (max {found[name]['max']:g})",
                  va="center", fontsize=8)  # fmt: skip
    axes.set_xlim(0, 1.25)
    axes.invert_yaxis()
    axes.set_xlabel("share of seeds with at least one finding")
    return Plot(
        "anomalies_over_seeds",
        "Anomalies over the seeds",
        "For each anomaly, the share of seeds whose run found it at least once, with the most "
        "findings one seed had.",
        png_bytes(figure),
    )


def _spread_plot(results: Sequence[SeedResult], facts: dict[str, Any]) -> Plot:
    ran = [r for r in results if r.verdict != "crash"]
    found = [n for n, d in facts["distribution"].items() if n not in METRICS and d["max"] > 0]
    names = found + [m for m in DRAWN_METRICS if m in facts["distribution"]]
    columns = 3
    rows = max(1, -(-len(names) // columns))
    figure = Figure(figsize=(10, 2.4 * rows))
    for index, name in enumerate(names):
        axes = figure.add_subplot(rows, columns, index + 1)
        values = np.asarray([r.values.get(name, 0.0) for r in ran], dtype=float)
        colour = anomaly_info(name).colour if name not in METRICS else "#4c72b0"
        axes.hist(values, bins=min(30, max(5, len(set(values.tolist())))), color=colour)
        p50, p95 = np.percentile(values, [50, 95])
        for value, style in ((p50, "--"), (p95, ":")):
            axes.axvline(value, color="black", linestyle=style, linewidth=1)
        axes.set_title(f"{name} (p50 {fmt.value(name, p50)}, p95 {fmt.value(name, p95)})",
                       fontsize=8)  # fmt: skip
        axes.tick_params(labelsize=7)
    figure.tight_layout()
    return Plot(
        "distributions",
        "Distributions over the seeds",
        "Histograms over the seeds of each anomaly found and of key metrics, one value per "
        "seed; dashed: the median, dotted: the 95th percentile.",
        png_bytes(figure),
    )


def _markdown(facts: dict[str, Any]) -> str:
    lines = [
        f"## {facts['scenario']}: {facts['verdict'].upper()} over {facts['seeds']} seeds",
        "",
        f"Profile `{facts['profile']}`, {facts['timing']['seeds_per_s']:g} seeds/s on "
        f"{facts['timing']['workers']} workers ({facts['timing']['where']}).",
        "",
        "| bound | found | result |",
        "|---|---|---|",
    ]
    lines += [
        f"| {o['text']} | {o['found']} | {'pass' if o['holds'] else '**FAIL**'} |"
        for o in facts["outcomes"]
    ]
    if facts["failing"] or facts["crashed"]:
        lines += ["", "Seeds to look at:", ""]
        lines += [f"- `{f['command']}`: {'; '.join(f['failed'])}" for f in facts["failing"]]
        lines += [f"- `{c['command']}`: crashed" for c in facts["crashed"]]
    return "\n".join(lines) + "\n"


def render_sweep(
    loaded: Loaded, results: Sequence[SeedResult], verdict: SweepVerdict, timing: Timing
) -> dict[str, bytes]:
    facts = summary(loaded, results, verdict, timing)
    plots = [_anomaly_plot(facts), _spread_plot(results, facts)]
    html = render_page(
        "sweep.html.j2",
        facts=facts,
        plots=[plot_view(p) for p in plots],
        names={n: (METRICS[n][1] if n in METRICS else anomaly_info(n).meaning) for n in VALUES},
        shown={
            n: {k: (v if k == "seeds_nonzero" else fmt.value(n, v)) for k, v in d.items()}
            for n, d in facts["distribution"].items()
        },
    )
    files = {
        "sweep.csv": frame(results).to_csv(index=False).encode(),
        "sweep.json": (json.dumps(facts, indent=2) + "\n").encode(),
        "sweep.md": _markdown(facts).encode(),
        "sweep.html": html.encode(),
    }
    for plot in plots:
        files.update(plot.files())
    return files
