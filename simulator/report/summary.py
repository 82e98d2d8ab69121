"""summary.json: the machine-readable verdict and figures of a run."""

from __future__ import annotations

import json
from typing import Any

from simulator.verdict import Run


def summary(run: Run) -> dict[str, Any]:
    scenario = run.loaded.scenario
    return {
        "scenario": scenario.name,
        "source": run.loaded.source,
        "seed": scenario.seed,
        "profile": run.loaded.profile.flags(),
        "verdict": run.verdict.value,
        "doubts": list(run.result.doubts),
        "history_hash": run.history.digest(),
        "history_rows": len(run.history),
        "anomalies": run.result.counts,
        "metrics": run.result.metrics,
        "expectations": [
            {
                "name": o.expectation.name,
                "op": getattr(o.expectation, "op", "claim"),
                "bound": getattr(o.expectation, "bound", None),
                "value": o.value,
                "found": o.shown,
                "passed": o.passed,
                "text": o.expectation.text,
                "known_gap": o.expectation.known_gap,
                "gap_shows": o.gap_shows,
            }
            for o in run.outcomes
        ],
        "findings": [f.to_dict() for f in run.result.findings],
    }


def summary_json(run: Run) -> str:
    return json.dumps(summary(run), indent=2, sort_keys=False) + "\n"
