"""The syncsim command as a user meets it: exit codes, one-line errors, report files."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from tests_support import SMALL_YAML

from simulator.cli import main

FAILING = SMALL_YAML.replace("expect:\n  payload: 0", "expect:\n  writes: {lte: 3}\n  payload: 0")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_run_writes_a_full_report_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = write(tmp_path, "small.yaml", SMALL_YAML)
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert {
        "summary.json",
        "report.html",
        "junit.xml",
        "history.jsonl",
        "timeline.png",
        "frame_sizes.png",
        "summary.md",
    } <= names
    summary = json.loads((out / "summary.json").read_text())
    assert summary["verdict"] == "pass" and summary["seed"] == 3
    assert len(summary["history_hash"]) == 64
    assert "small: PASS" in capsys.readouterr().out


def test_failed_expectation_exits_1_and_names_the_bound(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = write(tmp_path, "small.yaml", FAILING)
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "FAILED writes <= 3: got" in printed
    suite = ET.parse(out / "junit.xml").getroot()
    failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert failed == ["writes <= 3"]
    assert suite.get("failures") == "1" and suite.get("tests") == "2"


def test_seed_override_changes_the_history(tmp_path: Path) -> None:
    scenario = write(tmp_path, "small.yaml", SMALL_YAML)
    main(["run", str(scenario), "--out", str(tmp_path / "a")])
    main(["run", str(scenario), "--out", str(tmp_path / "b"), "--seed", "99"])
    a = json.loads((tmp_path / "a" / "summary.json").read_text())
    b = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert b["seed"] == 99 and a["history_hash"] != b["history_hash"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            SMALL_YAML.replace("latency: 80ms", "latncy: 80ms"),
            "bad.yaml:8: devices[0].link.latncy: unknown field (did you mean 'latency'?)",
        ),
        (
            SMALL_YAML.replace("latency: 80ms", "latency: -80ms"),
            "bad.yaml:8: devices[0].link.latency: must not be negative",
        ),
        (SMALL_YAML.replace("duration: 2d", "duration: [2d"), "bad.yaml:"),
        (
            SMALL_YAML.replace("payload: 0", "lost_writes: 0"),
            "bad.yaml:19: expect.lost_writes: unknown",
        ),
    ],
)
def test_bad_scenario_is_one_line_exit_2_and_keeps_old_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text("earlier report")
    scenario = write(tmp_path, "bad.yaml", text)
    assert main(["run", str(scenario), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(f"syncsim: {tmp_path / expected}")
    assert "Traceback" not in err
    assert (out / "summary.json").read_text() == "earlier report"


def test_missing_file_and_bad_arguments_exit_2(tmp_path: Path) -> None:
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["run"])
    assert exit_info.value.code == 2


def test_check_rejudges_a_saved_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    passing = write(tmp_path, "small.yaml", SMALL_YAML)
    failing = write(tmp_path, "failing.yaml", FAILING)
    main(["run", str(passing), "--out", str(tmp_path / "out")])
    history = tmp_path / "out" / "history.jsonl"
    assert main(["check", str(history), "--scenario", str(passing)]) == 0
    assert main(["check", str(history), "--scenario", str(failing)]) == 1
    broken = write(
        tmp_path, "broken.jsonl", history.read_text().replace('"kind":"write"', '"kind":"typo"', 1)
    )
    assert main(["check", str(broken)]) == 2
    assert ":" in capsys.readouterr().err


def test_e2e_validates_everything_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "a.yaml", SMALL_YAML)
    write(tmp_path, "b.yaml", SMALL_YAML.replace("seed: 3", "sed: 3"))
    assert main(["e2e", str(tmp_path)]) == 2
    assert "b.yaml" in capsys.readouterr().err


def test_console_script_has_no_traceback_on_bad_input(tmp_path: Path) -> None:
    scenario = write(tmp_path, "bad.yaml", "duration: -1d\ndevices: [{name: a}]\n")
    done = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "run", str(scenario)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == f"syncsim: {scenario}:1: duration: must not be negative"


def test_version_and_help_name_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("syncsim 0.")
    with pytest.raises(SystemExit):
        main(["--help"])
    shown = capsys.readouterr().out
    assert "exit codes:" in shown and "4  inconclusive" in shown and "`" not in shown


def test_run_takes_a_profile(tmp_path: Path) -> None:
    scenario = write(tmp_path, "small.yaml", SMALL_YAML)
    assert main(["run", str(scenario), "--profile", "seq", "--out", str(tmp_path / "o")]) == 0
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["profile"]["name"] == "seq"


def test_matrix_runs_the_profiles_asked_for_in_that_order(tmp_path: Path) -> None:
    scenario = write(tmp_path, "small.yaml", SMALL_YAML)
    out = tmp_path / "m"
    args = ["matrix", str(scenario), "--out", str(out), "--profile", "seq", "--profile", "legacy"]
    assert main(args) == 0
    assert [row["profile"] for row in json.loads((out / "matrix.json").read_text())["rows"]] == [
        "seq",
        "legacy",
    ]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["legacy", "seq"]


@pytest.mark.slow  # the library under every profile (7 s of CPU)
def test_e2e_runs_every_profile_by_default_and_writes_one_junit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The README and the CI example say the gate is every scenario under every profile.
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    write(scenarios, "small.yaml", SMALL_YAML)
    monkeypatch.chdir(tmp_path)
    assert main(["e2e", "scenarios", "--junit", "junit.xml"]) == 0
    assert "3 passed, 0 failed" in capsys.readouterr().out
    suites = ET.parse(tmp_path / "junit.xml").getroot()
    assert [s.get("name") for s in suites] == [
        "syncsim.small.legacy",
        "syncsim.small.proposed",
        "syncsim.small.seq",
    ]
    assert main(["e2e", "scenarios", "--own-profile"]) == 0
    assert "1 passed, 0 failed" in capsys.readouterr().out


GAP = SMALL_YAML.replace(
    "expect:\n  payload: 0", 'expect:\n  payload: 0\n  writes: {lte: 0, known_gap: "we write"}'
)


def test_a_known_gap_is_reported_as_an_expected_failure_and_xpass_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    assert main(["run", str(write(tmp_path, "gap.yaml", GAP)), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "PASS" in printed and "KNOWN GAP writes <= 0: got" in printed and "we write" in printed
    suite = ET.parse(out / "junit.xml").getroot()
    (skipped,) = [c for c in suite.iter("testcase") if c.find("skipped") is not None]
    assert skipped.get("name") == "writes <= 0" and suite.get("failures") == "0"
    gone = GAP.replace("writes: {lte: 0", "writes: {gte: 0")
    assert main(["run", str(write(tmp_path, "gone.yaml", gone)), "--out", str(out)]) == 1
    assert "the gap is gone; remove known_gap" in capsys.readouterr().out
