"""report.html: one self-contained page (images inlined, no script, no network) a person reads
first, to decide whether a release is safe.

Order: verdict and expectations, anomalies with their evidence and each finding's story, key
figures, plots, and the scenario as it ran (seed included). The markup is the template
`templates/report.html.j2`; this module only turns a run into the plain values it shows, and
the template environment escapes every one of them.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import yaml

from simulator.checker.findings import Finding
from simulator.checker.names import METRICS, anomaly_info
from simulator.checker.preflight import preflight_rows
from simulator.history import Record
from simulator.protocol.kinds import KINDS
from simulator.report import fmt
from simulator.report.plots import Plot
from simulator.report.story import Stories, Story
from simulator.report.summary import summary
from simulator.report.templating import render_page
from simulator.units import format_duration
from simulator.verdict import Run

MAX_FINDINGS_SHOWN = 200
MAX_ROWS_SHOWN = 12
STORIES_OPEN = 3  # per anomaly, the first stories start open; the rest are a click away

_KIND_LABELS = {k.name: k.label for k in KINDS}


@dataclass(frozen=True)
class Moment:
    """A time as a UTC wall-clock reading, with the seconds since the start on hover."""

    shown: str
    seconds: float


class _Clock:
    def __init__(self, start_epoch: float) -> None:
        self.start = start_epoch

    def __call__(self, t: float, short: bool = False) -> Moment:
        when = datetime.fromtimestamp(self.start + t, UTC)
        return Moment(f"{when:%a %H:%M:%S}" if short else f"{when:%a %d %b %H:%M:%S}", t)


def plot_view(plot: Plot) -> dict[str, Any]:
    """What a figure shows: the PNG inlined as base64, or why it was not drawn."""
    return {
        "name": plot.name,
        "title": plot.title,
        "caption": plot.caption,
        "data": None if plot.png is None else base64.b64encode(plot.png).decode(),
        "svg": plot.svg is not None,
        "skipped": plot.skipped or "no data",
    }


# -- verdict ---------------------------------------------------------------------------------


def _verdict(run: Run) -> dict[str, Any]:
    got = fmt.outcome_value

    return {
        "word": run.verdict.value.upper(),
        "css": run.verdict.value,
        "doubts": list(run.result.doubts),
        "total": len(run.outcomes),
        "passed": run.passed,
        "gaps": [
            {"text": o.expectation.text, "value": got(o), "gap": o.expectation.known_gap or ""}
            for o in run.gaps
        ],
        "failed": [{"text": o.expectation.text, "value": got(o)} for o in run.failed],
    }


def _cards(run: Run) -> list[dict[str, Any]]:
    metrics = run.result.metrics
    found = sum(run.result.counts.values())
    unconverged = metrics.get("unconverged_writes", 0)
    drops = metrics.get("queue_drops", 0)
    return [
        {"value": str(found), "label": "anomalies found", "bad": found > 0},
        {"value": fmt.count(metrics.get("writes", 0)), "label": "user writes", "bad": False},
        {"value": fmt.count(unconverged), "label": "writes never converged", "bad": unconverged},
        {
            "value": fmt.seconds(metrics.get("p95_convergence_lag", 0)),
            "label": "p95 convergence lag",
            "bad": False,
        },
        {
            "value": fmt.size(metrics.get("max_frame_bytes", 0)),
            "label": "largest frame",
            "bad": False,
        },
        {"value": fmt.count(drops), "label": "outbox drops", "bad": drops > 0},
    ]


def _outcomes(run: Run) -> list[dict[str, Any]]:
    return [
        {
            "name": o.expectation.name,
            "bound": fmt.outcome_bound(o),
            "value": fmt.outcome_value(o),
            "passed": o.passed,
            "gap_shows": o.gap_shows,
            "known_gap": o.expectation.known_gap or "",
        }
        for o in run.outcomes
    ]


def _preflight(run: Run) -> dict[str, Any] | None:
    """A live run's capability preflight: what the endpoint did against what the profile
    expects; None for a simulated run."""
    rows = preflight_rows(run.history)
    if not rows:
        return None
    detail = rows[0].detail or {}
    found = [c for c in detail.get("capabilities", []) if isinstance(c, dict)]
    return {
        "reason": rows[0].reason,
        "capabilities": [
            {
                "name": str(c.get("name")),
                "flag": str(c.get("flag")),
                "expected": str(c.get("expected")),
                "observed": "not probed" if c.get("observed") is None else str(c.get("observed")),
                "matches": bool(c.get("matches")),
                "relied_on": bool(c.get("relied_on")),
            }
            for c in found
        ],
    }


# -- anomalies -------------------------------------------------------------------------------


def _row_text(row: int, records: Sequence[Record], clock: _Clock) -> dict[str, Any]:
    """`#433 frame_sent ENTRY_CREATED @laptop 513 B`: one history row, briefly."""
    if not 0 <= row < len(records):
        return {"text": f"#{row}", "at": None}
    record = records[row]
    parts = [f"#{row}", record.kind.value]
    parts += [p for p in (record.frame_type, record.op) if p]
    if record.device:
        parts.append(f"@{record.device}")
    if record.bytes is not None:
        parts.append(f"{record.bytes:,} B")
    text = " ".join(parts)
    if record.reason:
        text += f": {record.reason}"
    return {"text": text, "at": clock(record.t, short=True)}


def _story(story: Story, named: set[str], clock: _Clock) -> dict[str, Any]:
    return {
        "kind": _KIND_LABELS.get(story.entity_type, story.entity_type),
        "entity_id": story.entity_id,
        "label": story.label,
        "writes": [
            {
                "true": clock(w.t),
                "device_time": clock(w.device_time),
                "device": w.device,
                "write_id": w.write_id,
                "row": w.row,
                "op": w.op,
                "updated_at": w.updated_at,
                "kept_by": story.kept_by(w),
                "named": w.write_id in named,
            }
            for w in story.writes
        ],
        "endings": story.endings,
    }


def _finding(
    finding: Finding, anchor: str, stories: Stories, clock: _Clock, records: Sequence[Record]
) -> dict[str, Any]:
    named = {w.write_id for w in finding.writes}
    return {
        "anchor": anchor,
        "entity_type": finding.entity_type or "",
        "entity_id": finding.entity_id,
        "label": stories.label(finding.entity_type, finding.entity_id),
        "devices": ", ".join(finding.devices),
        "cause": finding.cause,
        "when": None if finding.t is None else clock(finding.t),
        "writes": [
            {
                "op": w.op,
                "write_id": w.write_id,
                "device": w.device,
                "true": clock(w.t),
                "device_time": clock(w.device_time),
                "updated_at": w.updated_at,
                "row": w.row,
            }
            for w in finding.writes
        ],
        "rows": [_row_text(r, records, clock) for r in finding.rows[:MAX_ROWS_SHOWN]],
        "more_rows": max(0, len(finding.rows) - MAX_ROWS_SHOWN),
        "summary": finding.summary,
        "stories": [_story(s, named, clock) for s in stories.of(finding)],
    }


def _anomalies(run: Run, clock: _Clock) -> list[dict[str, Any]]:
    by_kind: dict[str, list[Finding]] = {}
    for finding in run.result.findings:
        by_kind.setdefault(finding.anomaly.value, []).append(finding)
    if not by_kind:
        return []
    records = run.history.records
    stories = Stories(records)
    shown = []
    for kind, found in by_kind.items():
        info = anomaly_info(kind)
        views = [
            _finding(f, f"story-{kind}-{n}", stories, clock, records)
            for n, f in enumerate(found[:MAX_FINDINGS_SHOWN], start=1)
        ]
        shown.append(
            {
                "kind": kind,
                "count": len(found),
                "meaning": info.meaning,
                "rule": info.rule,
                "findings": views,
                "more": max(0, len(found) - MAX_FINDINGS_SHOWN),
            }
        )
    return shown


# -- the page --------------------------------------------------------------------------------


def _metrics(metrics: Mapping[str, float]) -> list[tuple[str, str, str]]:
    return [
        (name, fmt.value(name, value), METRICS[name][1] if name in METRICS else "")
        for name, value in metrics.items()
    ]


def report_html(run: Run, plots: Sequence[Plot]) -> str:
    scenario = run.loaded.scenario
    facts = summary(run)
    clock = _Clock(float(scenario.start))
    started = datetime.fromtimestamp(float(scenario.start), UTC)
    return render_page(
        "report.html.j2",
        head={
            "name": scenario.name,
            "profile": run.loaded.profile.name,
            "seed": scenario.seed,
            "started": f"{started:%Y-%m-%d %H:%M UTC}",
            "duration": format_duration(scenario.duration),
            "settle": format_duration(scenario.settle),
            "devices": len(scenario.devices),
            "rows": facts["history_rows"],
            "hash": facts["history_hash"][:16],
        },
        verdict=_verdict(run),
        preflight=_preflight(run),
        cards=_cards(run),
        outcomes=_outcomes(run),
        counts=list(run.result.counts.items()),
        anomalies=_anomalies(run, clock),
        stories_open=STORIES_OPEN,
        metrics=_metrics(run.result.metrics),
        plots=[plot_view(p) for p in plots],
        scenario={
            "source": run.loaded.source,
            "as_ran": yaml.safe_dump(
                scenario.model_dump(mode="json", by_alias=True), sort_keys=False
            ),
            "flags": [(k, str(v)) for k, v in run.loaded.profile.flags().items()],
        },
    )
