"""The run store: every run in a folder of its own, `latest` at the newest complete one."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests_support import SMALL_YAML

from simulator import cli
from simulator.cli import main
from simulator.report.store import LATEST, mark_latest, new_run, runs

NOON = datetime(2026, 12, 6, 12, 0, 0, tzinfo=UTC)


def test_two_runs_in_one_second_get_two_folders_in_order(tmp_path: Path) -> None:
    first = new_run(tmp_path, "x", NOON)
    second = new_run(tmp_path, "x", NOON)
    later = new_run(tmp_path, "x", NOON.replace(second=1))
    assert [p.name for p in (first, second, later)] == [
        "20261206T120000Z",
        "20261206T120000Z-2",
        "20261206T120001Z",
    ]
    assert runs(tmp_path, "x") == [first, second, later]


def test_latest_moves_to_the_newest_and_is_relative(tmp_path: Path) -> None:
    first, second = new_run(tmp_path, "x", NOON), new_run(tmp_path, "x", NOON)
    mark_latest(first)
    link = mark_latest(second)
    assert link == tmp_path / "x" / LATEST
    assert os.readlink(link) == second.name  # relative: the store can be moved or copied
    assert link.resolve() == second.resolve()
    assert runs(tmp_path, "x") == [first, second]  # the link is no run


def _small(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_YAML)
    return path


def test_each_syncsim_run_is_kept_and_latest_is_the_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    scenario = _small(tmp_path)
    assert main(["run", str(scenario)]) == 0
    assert main(["run", str(scenario), "--seed", "99"]) == 0
    kept = runs(Path("reports"), "small")
    assert len(kept) == 2
    seeds = [json.loads((p / "summary.json").read_text())["seed"] for p in kept]
    assert seeds == [3, 99]  # the first run's report is still there, as it was
    latest = Path("reports/small/latest")
    assert latest.resolve() == kept[1].resolve()
    printed = capsys.readouterr().out
    assert f"report: {kept[0] / 'report.html'}" in printed
    assert f"report: {kept[1] / 'report.html'}" in printed


def test_a_report_that_cannot_be_written_leaves_latest_where_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    scenario = _small(tmp_path)
    assert main(["run", str(scenario)]) == 0
    before = Path("reports/small/latest").resolve()

    def full_disk(run: object, out: Path) -> Path:
        raise cli.UsageError(f"{out}: cannot write the report: No space left on device")

    monkeypatch.setattr(cli, "write_report", full_disk)
    assert main(["run", str(scenario), "--seed", "5"]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert Path("reports/small/latest").resolve() == before


def test_out_writes_exactly_there_and_touches_no_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(_small(tmp_path)), "--out", "mine"]) == 0
    assert Path("mine/report.html").is_file()
    assert not Path("reports").exists()


@pytest.mark.slow  # matrix and e2e over several profiles (6 s of CPU)
def test_matrix_and_e2e_store_a_run_with_a_folder_per_profile_and_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "small.yaml").write_text(SMALL_YAML)
    assert main(["matrix", "scenarios/small.yaml", "--profile", "legacy"]) == 0
    assert main(["e2e", "scenarios"]) == 0
    matrix, gate = runs(Path("reports"), "small")
    assert sorted(p.name for p in matrix.iterdir()) == ["legacy", "matrix.json", "matrix.md"]
    assert {"legacy", "proposed", "seq", "matrix.md"} <= {p.name for p in gate.iterdir()}
    assert Path("reports/small/latest").resolve() == gate.resolve()
