"""summary.md, the CI job summary and the end-of-run figures, read from real report folders
written by `syncsim run` (no mocks): what they say must be what summary.json says."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from tests_support import SMALL_YAML

from simulator.cli import main
from simulator.report import fmt
from simulator.report.markdown import cell

# The small scenario reloads the phone while it is offline, so it loses writes: here a
# known gap, described in the scenario's own words.
GAP_WORDS = "the in-memory queue is lost on reload"
WITH_GAP = SMALL_YAML.replace(
    "expect:\n  payload: 0",
    f'expect:\n  payload: 0\n  lost_write:\n    lte: 0\n    known_gap: "{GAP_WORDS}"',
)
# A gap marked on a bound that holds: the gap is gone, and the run fails (a strict XPASS).
GAP_GONE = SMALL_YAML.replace(
    "expect:\n  payload: 0", 'expect:\n  payload:\n    lte: 0\n    known_gap: "frames too big"'
)
FAILING = SMALL_YAML.replace("expect:\n  payload: 0", "expect:\n  payload: 0\n  writes: {lte: 3}")


def run_cli(tmp_path: Path, text: str, name: str = "small") -> tuple[int, Path, dict[str, Any]]:
    scenario = tmp_path / f"{name}.yaml"
    scenario.write_text(text)
    out = tmp_path / name
    code = main(["run", str(scenario), "--out", str(out)])
    return code, out, json.loads((out / "summary.json").read_text())


def table_rows(markdown: str, first: str) -> dict[str, list[str]]:
    """Rows of the table whose header starts with `first`, by their first cell."""
    rows: dict[str, list[str]] = {}
    inside = False
    for line in markdown.splitlines():
        if line.startswith(f"| {first} |"):
            inside = True
            continue
        if inside and not line.startswith("|"):
            break
        if inside and not line.startswith("| ---"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            rows[cells[0]] = cells[1:]
    return rows


@pytest.fixture(scope="module")
def gap_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path, dict[str, Any]]:
    return run_cli(tmp_path_factory.mktemp("gap"), WITH_GAP)


def test_summary_md_has_the_verdict_and_the_known_gap_in_the_scenarios_words(
    gap_report: tuple[int, Path, dict[str, Any]],
) -> None:
    code, out, summary = gap_report
    assert code == 0 and summary["verdict"] == "pass"
    markdown = (out / "summary.md").read_text()
    assert markdown.startswith("## ✅ small: PASS\n")
    assert "**PASS**: 1 of 2 expectations hold; 1 expected failure (known gap)." in markdown
    rows = table_rows(markdown, "anomaly or metric")
    lost = summary["anomalies"]["lost_write"]
    assert lost > 0
    assert rows["`lost_write`"] == ["≤ 0", str(lost), f"expected failure (known gap): {GAP_WORDS}"]
    assert rows["`payload`"] == ["≤ 0", "0", "pass"]


def test_summary_md_counts_every_anomaly_found(
    gap_report: tuple[int, Path, dict[str, Any]],
) -> None:
    _, out, summary = gap_report
    markdown = (out / "summary.md").read_text()
    found = {k: v for k, v in summary["anomalies"].items() if v}
    rows = table_rows(markdown, "anomaly")
    assert {k.strip("`"): int(v[0]) for k, v in rows.items()} == found
    assert f"{sum(found.values())} found." in markdown


def test_summary_md_gives_the_metrics_own_percentiles(
    gap_report: tuple[int, Path, dict[str, Any]],
) -> None:
    _, out, summary = gap_report
    metrics = summary["metrics"]
    rows = table_rows((out / "summary.md").read_text(), "distribution")
    lag = rows["convergence lag"]
    assert lag[1] == fmt.short_seconds(metrics["p50_convergence_lag"])
    assert lag[2] == fmt.short_seconds(metrics["p95_convergence_lag"])
    assert lag[4] == fmt.short_seconds(metrics["max_convergence_lag"])
    assert rows["catch-up bytes"][4] == fmt.short_size(metrics["max_catch_up_bytes"])
    assert rows["catch-up bytes"][5] == fmt.short_size(metrics["mean_catch_up_bytes"])
    assert rows["frame size, keep-alives excluded"][4] == fmt.short_size(metrics["max_frame_bytes"])
    figures = table_rows((out / "summary.md").read_text(), "figure")
    assert figures["user writes"][0].startswith(f"{metrics['writes']:,.0f} (")
    assert figures["`bytes_per_change`"][0].startswith(
        f"{fmt.short_size(metrics['bytes_per_change'])}: a mean"
    )


def test_summary_md_fails_a_gap_that_is_gone_and_a_bound_that_failed(tmp_path: Path) -> None:
    code, out, _ = run_cli(tmp_path, GAP_GONE)
    assert code == 1
    markdown = (out / "summary.md").read_text()
    assert markdown.startswith("## ❌ small: FAIL\n")
    (result,) = table_rows(markdown, "anomaly or metric")["`payload`"][2:]
    assert result.startswith("**FAIL**: marked as a known gap, but the bound holds now")
    assert "frames too big" in result
    code, out, _ = run_cli(tmp_path, FAILING, "failing")
    markdown = (out / "summary.md").read_text()
    assert code == 1 and "**FAIL**: 1 of 2 expectations failed." in markdown
    assert table_rows(markdown, "anomaly or metric")["`writes`"][2] == "**FAIL**"


def test_scenario_words_cannot_break_the_table() -> None:
    assert cell("a | b\nc <b>d</b> \\") == "a \\| b c &lt;b&gt;d&lt;/b&gt; \\\\"


def test_github_step_summary_gets_the_same_markdown_appended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = tmp_path / "step_summary.md"
    job.write_text("# an earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(job))
    _, first, _ = run_cli(tmp_path, WITH_GAP, "first")
    _, second, _ = run_cli(tmp_path, FAILING, "second")
    text = job.read_text()
    assert text.startswith("# an earlier step\n")  # appended, never replaced
    for out in (first, second):
        own = (out / "summary.md").read_text()
        # The same Markdown, but the link names the report's own path.
        linked = own.replace(
            "[report.html](<report.html>)", f"[{out}/report.html](<{out}/report.html>)"
        )
        assert linked in text
    assert text.index("## ✅ small: PASS") < text.index("## ❌ small: FAIL")
    assert f"expected failure (known gap): {GAP_WORDS}" in text


def test_an_unwritable_step_summary_warns_and_keeps_the_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path))  # a folder: cannot append
    code, out, _ = run_cli(tmp_path, WITH_GAP)
    assert code == 0 and (out / "summary.md").exists()
    err = capsys.readouterr().err.strip()
    assert err.startswith("syncsim: warning: GITHUB_STEP_SUMMARY: ") and len(err.splitlines()) == 1


def test_without_the_variable_nothing_is_appended(tmp_path: Path) -> None:
    run_cli(tmp_path, WITH_GAP)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small", "small.yaml"]


# -- the end-of-run figures on stdout ----------------------------------------------------------


def test_syncsim_run_ends_with_key_figures_and_percentiles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, summary = run_cli(tmp_path, WITH_GAP)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "small: PASS (profile legacy, seed 3)"
    report = printed.index(f"  report: {out / 'report.html'}")
    figures = printed[report + 1 :]
    labels = [re.match(r"  (\S+(?: \S+)?) \.+ ", line) for line in figures]
    assert [m.group(1) for m in labels if m] == [
        "writes",
        "anomalies",
        "convergence lag",
        "catch-up bytes",
        "bytes_per_change",
        "frames",
    ]
    assert len({m.end() for m in labels if m}) == 1, "values start in one column"
    by_label = {m.group(1): line[m.end() :] for m, line in zip(labels, figures, strict=True) if m}
    metrics = summary["metrics"]
    assert by_label["writes"].startswith(f"{metrics['writes']:,.0f} (")
    assert by_label["anomalies"] == f"{sum(summary['anomalies'].values())} found"
    lag = by_label["convergence lag"]
    assert f"p50={fmt.short_seconds(metrics['p50_convergence_lag'])} " in lag
    assert f"p95={fmt.short_seconds(metrics['p95_convergence_lag'])} " in lag
    assert "p99=" in lag and f"max={fmt.short_seconds(metrics['max_convergence_lag'])} " in lag
    assert "p99=" in by_label["catch-up bytes"]
    assert by_label["bytes_per_change"].startswith(fmt.short_size(metrics["bytes_per_change"]))
    assert by_label["frames"].startswith(f"{metrics['frames_sent']:,.0f} sent")
    # Percentile columns line up between the two distributions.
    assert lag.index("p95=") == by_label["catch-up bytes"].index("p95=")
