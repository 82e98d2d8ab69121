"""Report contents, rendered in memory from a real run."""

from __future__ import annotations

import base64
import json
import re
import xml.etree.ElementTree as ET

import pytest

from simulator.report.render import render
from simulator.runner import run
from simulator.scenario.loader import Loaded
from simulator.verdict import Run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def rendered() -> tuple[Run, dict[str, bytes]]:
    from tests_support import SMALL_YAML

    from simulator.scenario.loader import load_text

    loaded: Loaded = load_text("small.yaml", SMALL_YAML)
    result = run(loaded)
    return result, render(result)


def test_html_is_self_contained_and_has_every_section(
    rendered: tuple[Run, dict[str, bytes]],
) -> None:
    _, files = rendered
    html = files["report.html"].decode()
    for section in ("summary", "anomalies", "metrics", "plots", "scenario"):
        assert f'<section id="{section}">' in html
    assert not re.search(r"""(src|href)=["']https?:""", html)
    images = re.findall(r"""src=["']data:image/png;base64,([^"']+)["']""", html)
    assert len(images) == len([n for n in files if n.endswith(".png")]) >= 7
    assert all(base64.b64decode(i).startswith(PNG_MAGIC) for i in images)


def test_anomalies_are_shown_with_their_evidence(rendered: tuple[Run, dict[str, bytes]]) -> None:
    result, files = rendered
    html = files["report.html"].decode()
    assert result.result.findings, "the small scenario reloads while offline, so it loses writes"
    for finding in result.result.findings[:5]:
        assert finding.entity_id is not None and finding.entity_id in html
    assert "outbox lost on reload" in html


def test_summary_matches_the_run(rendered: tuple[Run, dict[str, bytes]]) -> None:
    result, files = rendered
    summary = json.loads(files["summary.json"])
    assert summary["history_hash"] == result.history.digest()
    assert summary["anomalies"] == result.result.counts
    assert len(summary["findings"]) == len(result.result.findings)
    assert files["history.jsonl"].decode() == "".join(result.history.lines())


def test_plots_are_png_from_real_data(rendered: tuple[Run, dict[str, bytes]]) -> None:
    _, files = rendered
    for name in ("timeline.png", "frame_sizes.png", "frame_size_cdf.png", "anomalies.png"):
        assert files[name].startswith(PNG_MAGIC) and len(files[name]) > 10_000


def test_junit_has_one_case_per_expectation(rendered: tuple[Run, dict[str, bytes]]) -> None:
    result, files = rendered
    suite = ET.fromstring(files["junit.xml"])
    assert [c.get("name") for c in suite.iter("testcase")] == [
        o.expectation.text for o in result.outcomes
    ]


def test_a_run_and_its_report_build_one_dataframe(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests_support import SMALL_YAML

    from simulator.history import History
    from simulator.report.render import render
    from simulator.scenario.loader import load_text

    calls = []
    real = History.to_frame
    monkeypatch.setattr(History, "to_frame", lambda self: calls.append(1) or real(self))
    render(run(load_text("small.yaml", SMALL_YAML)))
    assert len(calls) == 1
