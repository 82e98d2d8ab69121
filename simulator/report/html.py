"""report.html: one self-contained page (images inlined, no network) a person reads first.

Order: verdict and expectations, anomalies with their evidence, key figures, plots, and the
scenario as it ran.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from html import escape

import yaml

from simulator.checker.findings import Finding
from simulator.report.summary import summary
from simulator.runner import Run
from simulator.scenario.units import format_duration

MAX_FINDINGS_SHOWN = 200

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1150px;color:#222}
h1{margin-bottom:.2em}
h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}
.pass{color:#1e7b34;font-weight:600} .fail{color:#b3261e;font-weight:600}
.verdict{font-size:1.6em;padding:.4em .8em;border-radius:6px;display:inline-block}
.verdict.pass{background:#e3f4e6} .verdict.fail{background:#fbe4e2}
img{max-width:100%;border:1px solid #eee;margin:.5em 0} code,pre{font-size:.85em}
pre{background:#f7f7f7;padding:.8em;overflow-x:auto} .muted{color:#777}
"""


def _table(head: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{header}</tr>{body}</table>"


def _verdict(run: Run) -> str:
    word, css = ("PASS", "pass") if run.passed else ("FAIL", "fail")
    failed = ", ".join(escape(o.expectation.text) for o in run.failed)
    note = f"<p>Failed: {failed}</p>" if failed else "<p>Every expectation holds.</p>"
    return f'<div id="verdict" class="verdict {css}">{word}</div>{note}'


def _mark(passed: bool) -> str:
    return "<span class='pass'>pass</span>" if passed else "<span class='fail'>FAIL</span>"


def _expectations(run: Run) -> str:
    if not run.outcomes:
        return "<p class='muted'>This scenario sets no expectations (no <code>expect:</code>).</p>"
    rows = [(escape(o.expectation.text), f"{o.value:g}", _mark(o.passed)) for o in run.outcomes]
    return _table(("expectation", "value", "result"), rows)


def _write_cells(finding: Finding) -> str:
    parts = [
        f"{escape(w.write_id)} {escape(w.op)} on {escape(w.device)}: "
        f"true {format_duration(w.t)}, device {format_duration(w.device_time)}, "
        f"updatedAt {escape(w.updated_at or '-')} (row {w.row})"
        for w in finding.writes
    ]
    return "<br>".join(parts) or "-"


def _findings(run: Run) -> str:
    if not run.result.findings:
        return "<p>No anomaly found.</p>"
    counts = _table(
        ("anomaly", "count"), ((escape(k), str(v)) for k, v in run.result.counts.items())
    )
    sections = [counts]
    by_kind: dict[str, list[Finding]] = {}
    for finding in run.result.findings:
        by_kind.setdefault(finding.anomaly.value, []).append(finding)
    for kind, found in by_kind.items():
        shown = found[:MAX_FINDINGS_SHOWN]
        rows = [
            (
                escape(f.entity_id or "-"),
                escape(", ".join(f.devices)),
                escape(f.cause or "-"),
                _write_cells(f),
                escape(", ".join(str(r) for r in f.rows[:12])),
                escape(f.summary),
            )
            for f in shown
        ]
        more = (
            f"<p class='muted'>{len(found) - len(shown)} more in summary.json</p>"
            if len(found) > len(shown)
            else ""
        )
        head = (
            "entity",
            "devices",
            "cause",
            "writes (true / device time)",
            "history rows",
            "what happened",
        )
        sections.append(
            f"<h3 id='anomaly-{escape(kind)}'>{escape(kind)} ({len(found)})</h3>"
            f"{_table(head, rows)}{more}"
        )
    return "".join(sections)


def _figures(metrics: Mapping[str, float]) -> str:
    return _table(("metric", "value"), ((escape(k), f"{v:g}") for k, v in metrics.items()))


def _images(plots: Mapping[str, bytes]) -> str:
    return "".join(
        f'<figure><img alt="{escape(name)}" '
        f'src="data:image/png;base64,{base64.b64encode(png).decode()}"></figure>'
        for name, png in plots.items()
    )


def report_html(run: Run, plots: Mapping[str, bytes]) -> str:
    scenario = run.loaded.scenario
    facts = summary(run)
    as_ran = yaml.safe_dump(scenario.model_dump(mode="json", by_alias=True), sort_keys=False)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>syncsim: {escape(scenario.name)}</title>
<style>{_STYLE}</style></head><body>
<h1>syncsim report: {escape(scenario.name)}</h1>
<p class="muted">profile <b>{escape(run.loaded.profile.name)}</b>, seed {scenario.seed},
{format_duration(scenario.duration)} simulated plus {format_duration(scenario.settle)} settle,
{len(scenario.devices)} devices, history {facts["history_rows"]} rows,
hash <code>{facts["history_hash"][:16]}</code></p>
<section id="summary"><h2>Verdict</h2>{_verdict(run)}
<h3>Expectations</h3>{_expectations(run)}</section>
<section id="anomalies"><h2>Anomalies</h2>{_findings(run)}</section>
<section id="metrics"><h2>Key figures</h2>{_figures(run.result.metrics)}</section>
<section id="plots"><h2>Plots</h2>{_images(plots)}</section>
<section id="scenario"><h2>Scenario as it ran</h2><p>From <code>{escape(run.loaded.source)}</code>,
defaults filled in, seed {scenario.seed}; times in seconds.</p><pre>{escape(as_ran)}</pre>
<h3>Profile flags</h3>{_figures_any(run.loaded.profile.flags())}</section>
</body></html>
"""


def _figures_any(values: Mapping[str, object]) -> str:
    return _table(("flag", "value"), ((escape(k), escape(str(v))) for k, v in values.items()))
