"""Every file of a report directory, rendered in memory as name -> bytes."""

from __future__ import annotations

from simulator.checker.expectations import Expectation
from simulator.checker.view import View
from simulator.report.html import report_html
from simulator.report.junit import junit_xml
from simulator.report.markdown import summary_markdown
from simulator.report.plots import gated_frame_bounds, plot_files, report_plots
from simulator.report.summary import summary_json
from simulator.verdict import Run


def render(run: Run) -> dict[str, bytes]:
    scenario = run.loaded.scenario
    view = run.result.view or View(run.history)
    limits = scenario.limits
    bounds = gated_frame_bounds(
        [e for e in run.loaded.expectations if isinstance(e, Expectation)],
        limits.max_frame_bytes,
        limit_is_default="max_frame_bytes" not in limits.model_fields_set,
    )
    plots = report_plots(view, run.result.findings, bounds)
    files = {
        "summary.json": summary_json(run).encode(),
        "junit.xml": junit_xml(run).encode(),
        "history.jsonl": run.history.encoded(),
        "report.html": report_html(run, plots).encode(),
        "summary.md": summary_markdown(run).encode(),
    }
    return {**files, **plot_files(plots)}
