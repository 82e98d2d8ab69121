"""Every file of a report directory, rendered in memory as name -> bytes."""

from __future__ import annotations

from simulator.report.html import report_html
from simulator.report.junit import junit_xml
from simulator.report.plots import frame_sizes_png, timeline_png
from simulator.report.summary import summary_json
from simulator.runner import Run


def render(run: Run) -> dict[str, bytes]:
    scenario = run.loaded.scenario
    frame = run.history.to_frame()
    plots = {
        "timeline.png": timeline_png(
            frame, run.result.findings, scenario.duration, scenario.settle
        ),
        "frame_sizes.png": frame_sizes_png(frame, scenario.limits.max_frame_bytes),
    }
    files = {
        "summary.json": summary_json(run).encode(),
        "junit.xml": junit_xml(run).encode(),
        "history.jsonl": "".join(run.history.lines()).encode(),
        "report.html": report_html(run, plots).encode(),
    }
    return {**files, **plots}
