"""Every file of a report directory, rendered in memory as name -> bytes."""

from __future__ import annotations

from simulator.checker.view import View
from simulator.report.html import report_html
from simulator.report.junit import junit_xml
from simulator.report.plots import plot_files, report_plots
from simulator.report.summary import summary_json
from simulator.verdict import Run


def render(run: Run) -> dict[str, bytes]:
    scenario = run.loaded.scenario
    view = run.result.view or View(run.history)
    plots = report_plots(view, run.result.findings, scenario.limits.max_frame_bytes)
    files = {
        "summary.json": summary_json(run).encode(),
        "junit.xml": junit_xml(run).encode(),
        "history.jsonl": run.history.encoded(),
        "report.html": report_html(run, plots).encode(),
    }
    return {**files, **plot_files(plots)}
