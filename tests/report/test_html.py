"""report.html: verdict and expectations first, then evidence, plots and the scenario."""

from __future__ import annotations

import base64
import re
from html import escape
from html.parser import HTMLParser
from pathlib import Path

from simulator.checker.names import anomaly_info
from simulator.report.plots import report_plots
from simulator.report.render import render
from simulator.report.story import Stories
from simulator.runner import run
from simulator.scenario.loader import load_text
from simulator.verdict import Run

SECTIONS = ["summary", "anomalies", "metrics", "plots", "scenario"]


class _Page(HTMLParser):
    """Sections in order, the text of every table row inside each, and the rows of each
    table class (`evidence`, `story-writes`)."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.rows: dict[str, list[list[str]]] = {}
        self.by_class: dict[str, list[list[str]]] = {}
        self._table: str = ""
        self.images: list[str] = []
        self.scripts = 0
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "section":
            self.sections.append(values.get("id") or "")
        elif tag == "table":
            self._table = values.get("class") or ""
        elif tag == "tr":
            self._row = []
        elif tag in {"td", "th"}:
            self._cell = []
        elif tag == "img":
            self.images.append(values.get("src") or "")
        elif tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in {"td", "th"} and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.setdefault(self.sections[-1], []).append(self._row)
            self.by_class.setdefault(self._table, []).append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _page(files: dict[str, bytes]) -> tuple[str, _Page]:
    html = files["report.html"].decode()
    page = _Page()
    page.feed(html)
    return html, page


def test_sections_come_in_the_order_a_reader_needs(eventful: tuple[Run, dict[str, bytes]]) -> None:
    _, page = _page(eventful[1])
    assert page.sections == SECTIONS


def test_page_is_self_contained(eventful: tuple[Run, dict[str, bytes]]) -> None:
    html, page = _page(eventful[1])
    assert page.scripts == 0
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html)
    assert all(src.startswith("data:image/png;base64,") for src in page.images)


def test_every_drawn_plot_is_embedded_once(eventful: tuple[Run, dict[str, bytes]]) -> None:
    _, files = eventful
    _, page = _page(files)
    embedded = [base64.b64decode(src.split(",", 1)[1]) for src in page.images]
    pngs = {name: data for name, data in files.items() if name.endswith(".png")}
    assert sorted(embedded) == sorted(pngs.values())


def test_verdict_and_expectations_table(eventful: tuple[Run, dict[str, bytes]]) -> None:
    result, files = eventful
    html, page = _page(files)
    assert not result.passed
    assert 'class="banner fail"' in html and ">FAIL<" in html
    for outcome in result.failed:
        assert escape(outcome.expectation.text) in html
    head, *rows = [r for r in page.rows["summary"]]
    assert head == ["anomaly or metric", "bound", "value", "result"]
    assert [(r[0], r[3]) for r in rows] == [
        (o.expectation.name, "pass" if o.passed else "FAIL") for o in result.outcomes
    ]
    by_name = {r[0]: r for r in rows}
    assert by_name["writes"][1] == "≤ 5"
    assert by_name["writes"][2] == f"{result.result.metrics['writes']:,.0f}"
    assert by_name["max_frame_bytes"][1] == "≤ 65,536 B (64.0 KiB)"


def test_each_anomaly_has_its_evidence(eventful: tuple[Run, dict[str, bytes]]) -> None:
    result, files = eventful
    html, page = _page(files)
    evidence = [r for r in page.by_class["evidence"] if r[0] != "entity"]
    findings = result.result.findings
    kinds = dict.fromkeys(f.anomaly for f in findings)  # one table per kind, in found order
    grouped = [f for kind in kinds for f in findings if f.anomaly is kind]
    assert len(evidence) == len(grouped)
    for finding, row in zip(grouped, evidence, strict=True):
        assert finding.entity_id is not None and finding.entity_id in row[0]
        assert row[1] == ", ".join(finding.devices)
        assert row[2] == (finding.cause or "-")
        for write in finding.writes:
            assert write.write_id in row[4]
        for number in finding.rows[:12]:
            assert f"#{number} " in row[5]
    for kind, count in result.result.counts.items():
        if count:
            assert f'id="anomaly-{kind}">{kind} ({count})</h3>' in html


def test_key_figures_carry_units(eventful: tuple[Run, dict[str, bytes]]) -> None:
    result, files = eventful
    _, page = _page(files)
    figures = {r[0]: r[1] for r in page.rows["metrics"][1:]}
    assert set(figures) == set(result.result.metrics)
    assert figures["max_frame_bytes"].endswith(")") or figures["max_frame_bytes"].endswith(" B")
    assert figures["p50_convergence_lag"].endswith(("ms", "s", ")"))


def test_scenario_as_it_ran_names_the_seed(eventful: tuple[Run, dict[str, bytes]]) -> None:
    result, files = eventful
    html, page = _page(files)
    scenario = html[html.index('<section id="scenario">') :]
    assert f"seed <b>{result.loaded.scenario.seed}</b>" in scenario
    assert "seed: 11" in scenario
    assert ["flag", "value"] in page.rows["scenario"]


def test_a_plot_without_data_says_why(eventful: tuple[Run, dict[str, bytes]]) -> None:
    from simulator.checker.view import View
    from simulator.report.html import report_html
    from simulator.runner import run
    from simulator.scenario.loader import load_text

    lonely = run(load_text("lonely.yaml", "name: lonely\nduration: 1d\ndevices: [{name: only}]\n"))
    plots = report_plots(View(lonely.history), lonely.result.findings)
    html = report_html(lonely, plots)
    assert "Convergence lag CDF</b>: not drawn, no write reached another device" in html
    assert "No anomaly found." in html
    assert "This scenario sets no expectations" in html


def test_every_item_finding_has_its_story_with_labels_and_endings(
    eventful: tuple[Run, dict[str, bytes]],
) -> None:
    """Each finding about an item links to a story that lists its writes (true and device
    time, who held each at the end) and what every holder ended with."""
    result, files = eventful
    html, page = _page(files)
    stories = Stories(result.history.records)
    numbered: dict[str, int] = {}
    for finding in result.result.findings:
        kind = finding.anomaly.value
        numbered[kind] = numbered.get(kind, 0) + 1
        if finding.entity_id is None:
            continue
        anchor = f"story-{kind}-{numbered[kind]}"
        assert f'href="#{anchor}"' in html and f'id="{anchor}"' in html
        story = html[html.index(f'id="{anchor}"') :].split("</details>", 1)[0]
        assert escape(anomaly_info(kind).rule) in story
        for told in stories.of(finding):
            assert told.label is not None and escape(told.label) in story
            for write in told.writes:
                assert f"{escape(write.write_id)} (row {write.row})" in story
            for ending in told.endings:
                assert f"<li>{escape(ending.holder)} ended with <b>{escape(ending.held)}" in story
    # The writes tables are their own tables, never rows of the evidence table.
    assert page.by_class["story-writes"]


def test_scenario_text_cannot_become_markup(tmp_path: Path) -> None:
    """Names and known-gap texts come from the scenario: the template escapes them."""
    hostile = (
        "name: '<script>x</script>'\nduration: 1h\ndevices: [{name: '<b>phone</b>'}]\n"
        "expect:\n  writes: {lte: 0, known_gap: '<img src=x onerror=alert(1)>'}\n"
    )
    result = run(load_text("hostile.yaml", hostile))
    html = render(result)["report.html"].decode()
    assert "<script>" not in html and "<img src=x" not in html and "<b>phone</b>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
