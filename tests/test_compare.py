"""`syncsim compare`: a regression is flagged (exit 1), identical runs pass (exit 0), bad input
is refused with the path (exit 2). Reports come from real runs of one small scenario."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import pytest
from tests_support import SMALL_YAML

from simulator.cli import run_compare, write_comparison, write_report
from simulator.compare import compare, judge_row
from simulator.errors import UsageError
from simulator.runner import run
from simulator.scenario.loader import load_text

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """legacy, proposed, and a second legacy run of the same scenario and seed."""
    root = tmp_path_factory.mktemp("reports")
    out = {}
    for name, profile in (("legacy", "legacy"), ("proposed", "proposed"), ("again", "legacy")):
        out[name] = write_report(
            run(load_text("small.yaml", SMALL_YAML, profile)), root / name / "small"
        )
    return out


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("compare"))
    return target


def test_legacy_after_proposed_is_a_regression(
    reports: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cmp"
    assert run_compare(reports["proposed"], reports["legacy"], out=out) == 1
    printed = capsys.readouterr().out
    assert "compare: NEW is worse than BASE (tolerance 10%)" in printed
    assert re.search(r"WORSE small: lost_write 0 -> [1-9]", printed)
    body = json.loads((out / "compare.json").read_text())
    assert body["worse"] is True and body["verdict"] == "worse"
    [pair] = body["pairs"]
    assert pair["base"]["profile"] == "proposed" and pair["new"]["profile"] == "legacy"
    assert {"lost_write", "divergence"} <= set(pair["regressions"])
    rows = {r["name"]: r for r in pair["rows"]}
    lost = rows["lost_write"]
    assert lost["base"] == 0 and lost["new"] > 0 and lost["result"] == "worse"
    # Every anomaly count and metric of the summaries is in the table.
    summary = json.loads((reports["legacy"] / "summary.json").read_text())
    assert set(rows) == set(summary["anomalies"]) | set(summary["metrics"])
    assert rows["writes"]["direction"] == "neutral"


def test_the_page_has_the_table_and_three_overlays(
    reports: dict[str, Path], tmp_path: Path
) -> None:
    comparison = compare(reports["proposed"], reports["legacy"])
    out = tmp_path / "cmp"
    html = (write_comparison(comparison, out) / "compare.html").read_text()
    assert ">WORSE<" in html
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html)
    images = re.findall(r"""src=["']data:image/png;base64,([^"']+)["']""", html)
    assert len(images) == 3
    assert all(base64.b64decode(i).startswith(PNG_MAGIC) for i in images)
    for title in ("Frame-size CDF", "Convergence lag CDF", "Anomalies by type"):
        assert f"<b>{title}.</b>" in html
    assert "lost_write" in html and "p95_convergence_lag" in html


def test_two_identical_runs_are_not_worse(
    reports: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = json.loads((reports["legacy"] / "summary.json").read_text())
    new = json.loads((reports["again"] / "summary.json").read_text())
    assert base["history_hash"] == new["history_hash"]
    monkeypatch.chdir(tmp_path)
    assert run_compare(reports["legacy"], reports["again"]) == 0
    assert "NEW is not worse than BASE" in capsys.readouterr().out
    # A comparison is a run of its own in the store, never written into NEW's report.
    assert not (reports["again"] / "compare").exists()
    written = json.loads((tmp_path / "reports/compare/latest/compare.json").read_text())
    assert written["worse"] is False
    assert {r["result"] for r in written["pairs"][0]["rows"]} == {"same"}


def test_metrics_are_judged_with_a_relative_tolerance(
    reports: dict[str, Path], tmp_path: Path
) -> None:
    new = _copy(reports["legacy"], tmp_path / "new")
    summary = json.loads((new / "summary.json").read_text())
    summary["metrics"]["bytes_sent"] *= 1.05
    summary["metrics"]["max_frame_bytes"] *= 0.5  # smaller: better, never worse
    summary["metrics"]["writes"] *= 3  # the workload: shown, not judged
    (new / "summary.json").write_text(json.dumps(summary))
    within = compare(reports["legacy"], new)
    assert not within.worse
    rows = {r.name: r for r in within.pairs[0].rows}
    assert rows["bytes_sent"].result == "within tolerance"
    assert rows["max_frame_bytes"].result == "better"
    assert rows["writes"].result == "not judged"
    beyond = compare(reports["legacy"], new, tolerance_pct=1)
    assert beyond.worse
    assert [r.name for r in beyond.pairs[0].regressions] == ["bytes_sent"]


def test_judging_rules() -> None:
    # An anomaly count up at all is worse, whatever the tolerance.
    assert judge_row("lost_write", "anomaly", 10, 11, tolerance=5.0).worse
    assert judge_row("lost_write", "anomaly", 3, 1, tolerance=0.1).result == "better"
    # A metric from 0 that grows is worse; one with no BASE value is not judged.
    assert judge_row("frames_lost", "metric", 0, 1, tolerance=0.1).worse
    assert judge_row("frames_lost", "metric", None, 1, tolerance=0.1).result == "not judged"
    # Beyond the relative tolerance, in the bad direction only.
    assert judge_row("p95_convergence_lag", "metric", 100, 111, tolerance=0.1).worse
    assert not judge_row("p95_convergence_lag", "metric", 100, 110, tolerance=0.1).worse
    assert judge_row("unknown_metric", "metric", 1, 100, tolerance=0.1).result == "not judged"


def test_folders_of_reports_are_matched_by_scenario(
    reports: dict[str, Path], tmp_path: Path
) -> None:
    base, new = tmp_path / "base", tmp_path / "new"
    _copy(reports["legacy"], base / "small")
    _copy(reports["legacy"], new / "small")
    other = _copy(reports["legacy"], base / "other")
    summary = json.loads((other / "summary.json").read_text())
    summary["scenario"] = "other"
    (other / "summary.json").write_text(json.dumps(summary))
    comparison = compare(base, new)
    assert [p.key for p in comparison.pairs] == ["small"]
    assert comparison.only_in_base == ("other",)
    assert comparison.worse, "a scenario missing from NEW counts as worse"
    assert compare(new, base).only_in_new == ("other",)
    assert not compare(new, base).worse


def test_matrix_folders_are_matched_by_profile(reports: dict[str, Path], tmp_path: Path) -> None:
    base, new = tmp_path / "base", tmp_path / "new"
    for root in (base, new):
        _copy(reports["legacy"], root / "legacy")
        _copy(reports["proposed"], root / "proposed")
        (root / "matrix.json").write_text("{}")
    same = compare(base, new)
    assert same.matched_by == "profile" and not same.worse
    assert [p.key for p in same.pairs] == ["legacy", "proposed"]
    # A matrix's proposed folder replaced by a legacy run: that profile regressed.
    shutil.rmtree(new / "proposed")
    _copy(reports["legacy"], new / "proposed")
    summary = json.loads((new / "proposed" / "summary.json").read_text())
    summary["profile"]["name"] = "proposed"
    (new / "proposed" / "summary.json").write_text(json.dumps(summary))
    regressed = compare(base, new)
    assert [p.key for p in regressed.pairs if p.worse] == ["proposed"]
    # One report against a matrix: matched by its profile.
    single = compare(reports["proposed"], base)
    assert [p.key for p in single.pairs] == ["proposed"] and not single.worse


def test_bad_input_names_the_path(reports: dict[str, Path], tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    cases: list[tuple[Path, Path, str]] = [
        (empty, reports["legacy"], f"{empty}/summary.json: missing"),
        (reports["legacy"], tmp_path / "nope", f"{tmp_path / 'nope'}: no such directory"),
    ]
    broken = _copy(reports["legacy"], tmp_path / "broken")
    (broken / "summary.json").write_text("{not json")
    cases.append((reports["legacy"], broken, f"{broken / 'summary.json'}: not JSON"))
    no_history = _copy(reports["legacy"], tmp_path / "no_history")
    (no_history / "history.jsonl").unlink()
    cases.append((reports["legacy"], no_history, f"{no_history / 'history.jsonl'}: missing"))
    for base, new, message in cases:
        with pytest.raises(UsageError) as error:
            compare(base, new)
        assert error.value.exit_code == 2
        assert str(error.value).startswith(message), str(error.value)
    left, right = tmp_path / "left", tmp_path / "right"
    _copy(reports["legacy"], left / "small")
    elsewhere = _copy(reports["legacy"], right / "elsewhere")
    summary = json.loads((elsewhere / "summary.json").read_text())
    summary["scenario"] = "elsewhere"
    (elsewhere / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(UsageError, match="nothing to compare"):
        compare(left, right)
    with pytest.raises(UsageError, match="--tolerance"):
        compare(reports["legacy"], reports["again"], tolerance_pct=-5)


def test_the_command_exit_codes(
    reports: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from simulator.cli import main

    monkeypatch.chdir(tmp_path)
    out = str(tmp_path / "cmp")
    assert main(["compare", str(reports["proposed"]), str(reports["legacy"]), "--out", out]) == 1
    assert (tmp_path / "cmp" / "compare.html").is_file()
    assert main(["compare", str(reports["legacy"]), str(reports["again"]), "--out", out]) == 0
    # With a tolerance large enough for every metric, only the anomaly counts can fail it.
    assert (
        main(["compare", str(reports["legacy"]), str(reports["proposed"]), "--tolerance", "1e6"])
        == 0
    )
    capsys.readouterr()
    missing = tmp_path / "missing"
    assert main(["compare", str(missing), str(reports["legacy"])]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"syncsim: {missing}: no such directory"
    assert (
        main(["compare", str(reports["legacy"]), str(reports["again"]), "--tolerance", "-1"]) == 2
    )
