"""report.html: one self-contained page (images inlined, no script, no network) a person reads
first, to decide whether a release is safe.

Order: verdict and expectations, anomalies with their evidence, key figures, plots, and the
scenario as it ran (seed included).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from html import escape

import yaml

from simulator.checker.findings import Finding, WriteRef
from simulator.checker.names import METRICS, anomaly_info
from simulator.checker.preflight import preflight_rows
from simulator.history import Record
from simulator.report import fmt
from simulator.report.plots import Plot
from simulator.report.summary import summary
from simulator.units import format_duration
from simulator.verdict import Run

MAX_FINDINGS_SHOWN = 200
MAX_ROWS_SHOWN = 12
FOLD_OVER = 8  # an anomaly with more findings than this starts folded

STYLE = """
:root{--pass:#1e7b34;--pass-bg:#e6f4ea;--fail:#b3261e;--fail-bg:#fce8e6;--line:#d9dce1;
--muted:#5f6368;--head:#f1f3f4}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#202124;
background:#fafafa;line-height:1.4}
header{background:#263238;color:#fff;padding:1.1em 2em .9em}
header h1{margin:0;font-size:1.5em;font-weight:600}
header p{margin:.3em 0 0;color:#cfd8dc;font-size:.92em}
header code{color:#fff}
nav{background:#fff;border-bottom:1px solid var(--line);padding:.5em 2em;position:sticky;top:0;
z-index:2;font-size:.92em}
nav a{margin-right:1.3em;color:#1a5fb4;text-decoration:none}
main{max-width:1180px;margin:0 auto;padding:0 2em 3em}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:.6em 1.4em 1.2em;
margin-top:1.4em}
h2{font-size:1.3em;margin:.5em 0 .6em;padding-bottom:.3em;border-bottom:1px solid var(--line)}
h3{font-size:1.08em;margin:1.3em 0 .3em}
table{border-collapse:collapse;margin:.5em 0;font-size:.88em}
td,th{border:1px solid var(--line);padding:.3em .65em;text-align:left;vertical-align:top}
th{background:var(--head);font-weight:600}
table.compact td{white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.failed td{background:var(--fail-bg)}
.pass{color:var(--pass);font-weight:600}.fail{color:var(--fail);font-weight:600}
.banner{display:flex;align-items:center;gap:1.2em;padding:.8em 1.1em;border-radius:8px;
margin:.4em 0 .9em}
.banner.pass{background:var(--pass-bg);border:1px solid #a8dab5}
.banner.fail{background:var(--fail-bg);border:1px solid #f4b4ae}
.banner.inconclusive{background:#fff4e5;border:1px solid #f6c26b}.inconclusive{color:#8a5300}
.banner .word{font-size:2em;font-weight:700;letter-spacing:.04em}
.banner .why{color:#202124;font-weight:400}
.cards{display:flex;flex-wrap:wrap;gap:.7em;margin:.4em 0 1em}
.card{border:1px solid var(--line);border-radius:6px;padding:.45em .9em;min-width:9.5em;
background:#fff}
.card b{display:block;font-size:1.25em}.card span{color:var(--muted);font-size:.82em}
.card.bad b{color:var(--fail)}
figure{margin:1.2em 0 1.6em}
figure img{width:100%;height:auto;border:1px solid #eee;background:#fff}
figcaption{color:var(--muted);font-size:.88em;margin-top:.3em}
figcaption b{color:#202124}
.muted{color:var(--muted)} code,pre{font-size:.85em}
pre{background:#f6f8fa;padding:.8em;overflow-x:auto;border-radius:6px;max-height:40em}
.evidence td{font-size:.95em}.evidence .rows{font-family:ui-monospace,monospace;font-size:.9em}
.meaning{color:var(--muted)}
details{margin:.8em 0}summary{cursor:pointer}summary h3{display:inline;margin:0}
summary .meaning{margin-left:.6em;font-size:.9em}
.chips span{display:inline-block;border:1px solid var(--line);border-radius:12px;
padding:.05em .7em;margin:.15em .3em .15em 0;font-size:.88em;background:#fff}
.chips span.bad{border-color:#f4b4ae;background:var(--fail-bg);color:var(--fail)}
"""


def _table(
    head: Iterable[str], rows: Iterable[Iterable[str]], css: str = "", row_css: Sequence[str] = ()
) -> str:
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = []
    for index, row in enumerate(rows):
        klass = f' class="{row_css[index]}"' if index < len(row_css) and row_css[index] else ""
        body.append(f"<tr{klass}>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>")
    klass = f' class="{css}"' if css else ""
    return f"<table{klass}><tr>{header}</tr>{''.join(body)}</table>"


def _num(text: str) -> str:
    return f'<span style="white-space:nowrap">{text}</span>'


def _mark(passed: bool) -> str:
    return "<span class='pass'>pass</span>" if passed else "<span class='fail'>FAIL</span>"


class _Clock:
    """True and device times as UTC wall-clock readings, with the raw seconds on hover."""

    def __init__(self, start_epoch: float) -> None:
        self.start = start_epoch

    def __call__(self, t: float, short: bool = False) -> str:
        when = datetime.fromtimestamp(self.start + t, UTC)
        shown = f"{when:%a %H:%M:%S}" if short else f"{when:%a %d %b %H:%M:%S}"
        return f'<span title="{t:,.3f} s since the scenario start">{shown}</span>'


# -- verdict ---------------------------------------------------------------------------------


def _verdict(run: Run) -> str:
    word, css = run.verdict.value.upper(), run.verdict.value
    total = len(run.outcomes)
    if run.result.doubts:
        reasons = "; ".join(escape(r) for r in run.result.doubts)
        why = f"The evidence cannot be trusted, so no count is judged: {reasons}."
    elif not total:
        why = "This scenario sets no expectations, so nothing can fail."
    elif run.passed and run.gaps:
        gaps = "; ".join(
            f"<b>{escape(o.expectation.text)}</b> (got "
            f"{escape(fmt.value(o.expectation.name, o.value))}: "
            f"{escape(o.expectation.known_gap or '')})"
            for o in run.gaps
        )
        held = total - len(run.gaps)
        why = f"{held} of {total} expectations hold; expected failures (known gaps): {gaps}"
    elif run.passed:
        why = f"All {total} expectations hold."
    else:
        failed = "; ".join(
            f"<b>{escape(o.expectation.text)}</b> "
            f"(got {escape(fmt.value(o.expectation.name, o.value))})"
            for o in run.failed
        )
        why = f"{len(run.failed)} of {total} expectations failed: {failed}"
    return (
        f'<div id="verdict" class="banner {css}"><span class="word {css}">{word}</span>'
        f'<span class="why">{why}</span></div>'
    )


def _cards(run: Run) -> str:
    metrics = run.result.metrics
    found = sum(run.result.counts.values())
    cards = [
        (str(found), "anomalies found", found > 0),
        (fmt.count(metrics.get("writes", 0)), "user writes", False),
        (
            fmt.count(metrics.get("unconverged_writes", 0)),
            "writes never converged",
            metrics.get("unconverged_writes", 0) > 0,
        ),
        (fmt.seconds(metrics.get("p95_convergence_lag", 0)), "p95 convergence lag", False),
        (fmt.size(metrics.get("max_frame_bytes", 0)), "largest frame", False),
        (
            fmt.count(metrics.get("queue_drops", 0)),
            "outbox drops",
            metrics.get("queue_drops", 0) > 0,
        ),
    ]
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card{" bad" if bad else ""}"><b>{escape(v)}</b>'
            f"<span>{escape(label)}</span></div>"
            for v, label, bad in cards
        )
        + "</div>"
    )


def _expectations(run: Run) -> str:
    if not run.outcomes:
        return "<p class='muted'>This scenario sets no expectations (no <code>expect:</code>).</p>"
    rows = [
        (
            escape(o.expectation.name),
            _num(escape(fmt.bound(o.expectation.name, o.expectation.op, o.expectation.bound))),
            _num(escape(fmt.value(o.expectation.name, o.value))),
            _mark(o.passed)
            + (
                f" <span class='muted'>known gap: {escape(o.expectation.known_gap or '')}</span>"
                if o.gap_shows
                else ""
            ),
        )
        for o in run.outcomes
    ]
    css = ["" if o.passed else "failed" for o in run.outcomes]
    return _table(("anomaly or metric", "bound", "value", "result"), rows, row_css=css)


# -- anomalies -------------------------------------------------------------------------------


def _write_cell(write: WriteRef, clock: _Clock) -> str:
    return (
        f"<b>{escape(write.op)}</b> {escape(write.write_id)} on {escape(write.device)}: "
        f"true {clock(write.t)}, device {clock(write.device_time)}"
        + (f", updatedAt <code>{escape(write.updated_at)}</code>" if write.updated_at else "")
        + f" (row {write.row})"
    )


def _row_text(row: int, records: Sequence[Record], clock: _Clock) -> str:
    """`#433 frame_sent ENTRY_CREATED @laptop 513 B, Mon 12:19:19`: one history row, briefly."""
    if not 0 <= row < len(records):
        return f"#{row}"
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
    return f"{escape(text)}, {clock(record.t, short=True)}"


def _finding_row(finding: Finding, clock: _Clock, records: Sequence[Record]) -> tuple[str, ...]:
    entity = (
        f"{escape(finding.entity_type or '')}<br><code>{escape(finding.entity_id)}</code>"
        if finding.entity_id
        else "-"
    )
    when = clock(finding.t) if finding.t is not None else "final snapshot"
    writes = "<br>".join(_write_cell(w, clock) for w in finding.writes) or "-"
    rows = "<br>".join(_row_text(r, records, clock) for r in finding.rows[:MAX_ROWS_SHOWN])
    if len(finding.rows) > MAX_ROWS_SHOWN:
        rows += f"<br>... {len(finding.rows) - MAX_ROWS_SHOWN} more in summary.json"
    return (
        entity,
        escape(", ".join(finding.devices) or "-"),
        escape(finding.cause or "-"),
        when,
        writes,
        f"<div class='rows'>{rows or '-'}</div>",
        escape(finding.summary),
    )


def _findings(run: Run, clock: _Clock) -> str:
    counts = run.result.counts
    chips = "".join(
        f"<span class='{'bad' if n else ''}'>{escape(name)}: {n}</span>"
        for name, n in counts.items()
    )
    sections = [f"<div class='chips'>{chips}</div>"]
    if not run.result.findings:
        sections.append("<p>No anomaly found.</p>")
        return "".join(sections)
    by_kind: dict[str, list[Finding]] = {}
    for finding in run.result.findings:
        by_kind.setdefault(finding.anomaly.value, []).append(finding)
    head = (
        "entity",
        "devices",
        "cause",
        "when (true time, UTC)",
        "writes involved (true / device time)",
        "frames and history rows",
        "what happened",
    )
    records = run.history.records
    for kind, found in by_kind.items():
        shown = found[:MAX_FINDINGS_SHOWN]
        more = (
            f"<p class='muted'>{len(found) - len(shown)} more in summary.json</p>"
            if len(found) > len(shown)
            else ""
        )
        # Long lists start folded, so the plots stay within reach; the counts are above.
        opened = " open" if len(found) <= FOLD_OVER else ""
        sections.append(
            f"<details{opened}><summary><h3 id='anomaly-{escape(kind)}'>{escape(kind)} "
            f"({len(found)})</h3> <span class='meaning'>"
            f"{escape(anomaly_info(kind).meaning)}</span></summary>"
            f"{_table(head, (_finding_row(f, clock, records) for f in shown), 'evidence')}{more}"
            "</details>"
        )
    return "".join(sections)


# -- figures, plots, scenario ----------------------------------------------------------------


def _figures(metrics: Mapping[str, float]) -> str:
    rows = (
        (
            escape(name),
            f"<span class='num'>{escape(fmt.value(name, value))}</span>",
            escape(METRICS[name][1] if name in METRICS else ""),
        )
        for name, value in metrics.items()
    )
    return _table(("metric", "value", "meaning"), rows)


def _plots(plots: Sequence[Plot]) -> str:
    parts = []
    for plot in plots:
        if plot.png is None:
            parts.append(
                f"<figure id='plot-{plot.name}'><figcaption><b>{escape(plot.title)}</b>: not "
                f"drawn, {escape(plot.skipped or 'no data')}.</figcaption></figure>"
            )
            continue
        svg = f" Also as <code>{escape(plot.name)}.svg</code>." if plot.svg is not None else ""
        data = base64.b64encode(plot.png).decode()
        parts.append(
            f"<figure id='plot-{plot.name}'><img alt='{escape(plot.title)}' "
            f"src='data:image/png;base64,{data}'>"
            f"<figcaption><b>{escape(plot.title)}.</b> {escape(plot.caption)}{svg}"
            "</figcaption></figure>"
        )
    return "".join(parts)


def _flags(values: Mapping[str, object]) -> str:
    return _table(("flag", "value"), ((escape(k), escape(str(v))) for k, v in values.items()))


def _preflight(run: Run) -> str:
    """A live run's capability preflight: what the endpoint did against what the profile
    expects; empty for a simulated run."""
    rows = preflight_rows(run.history)
    if not rows:
        return ""
    detail = rows[0].detail or {}
    why = f"<p class='fail'>{escape(str(rows[0].reason))}</p>" if rows[0].reason else ""
    found = [c for c in detail.get("capabilities", []) if isinstance(c, dict)]
    cells = [
        (
            escape(str(c.get("name"))),
            f"<code>{escape(str(c.get('flag')))}</code>",
            escape(str(c.get("expected"))),
            escape("not probed" if c.get("observed") is None else str(c.get("observed"))),
            _mark(bool(c.get("matches")))
            + (" (the client relies on it)" if c.get("relied_on") and not c.get("matches") else ""),
        )
        for c in found
    ]
    head = ("capability", "profile flag", "profile expects", "endpoint did", "matches")
    return f"<h3>Endpoint preflight</h3>{why}" + _table(head, cells)


def report_html(run: Run, plots: Sequence[Plot]) -> str:
    scenario = run.loaded.scenario
    facts = summary(run)
    clock = _Clock(float(scenario.start))
    as_ran = yaml.safe_dump(scenario.model_dump(mode="json", by_alias=True), sort_keys=False)
    started = datetime.fromtimestamp(float(scenario.start), UTC).strftime("%Y-%m-%d %H:%M UTC")
    verdict = run.verdict.value.upper()
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{verdict}: {escape(scenario.name)} ({escape(run.loaded.profile.name)}) - syncsim</title>
<style>{STYLE}</style></head><body>
<header><h1>syncsim report: {escape(scenario.name)}</h1>
<p>profile <b>{escape(run.loaded.profile.name)}</b> &middot; seed <b>{scenario.seed}</b>
&middot; from {started}, {format_duration(scenario.duration)} simulated plus
{format_duration(scenario.settle)} settle &middot; {len(scenario.devices)} devices &middot;
history {facts["history_rows"]:,} rows, hash <code>{facts["history_hash"][:16]}</code></p>
</header>
<nav><a href="#summary">Verdict</a><a href="#anomalies">Anomalies</a>
<a href="#metrics">Key figures</a><a href="#plots">Plots</a><a href="#scenario">Scenario</a></nav>
<main>
<section id="summary"><h2>Verdict</h2>{_verdict(run)}{_preflight(run)}{_cards(run)}
<h3>Expectations</h3>{_expectations(run)}</section>
<section id="anomalies"><h2>Anomalies</h2>{_findings(run, clock)}</section>
<section id="metrics"><h2>Key figures</h2>{_figures(run.result.metrics)}</section>
<section id="plots"><h2>Plots</h2>{_plots(plots)}</section>
<section id="scenario"><h2>Scenario as it ran</h2>
<p>From <code>{escape(run.loaded.source)}</code>, seed <b>{scenario.seed}</b>, profile
<b>{escape(run.loaded.profile.name)}</b>; defaults filled in, times in seconds, sizes in
bytes. The same scenario, profile and seed give the same history, byte for byte.</p>
<pre>{escape(as_ran)}</pre>
<h3>Profile flags</h3>{_flags(run.loaded.profile.flags())}</section>
</main></body></html>
"""
