"""The pytest plugin: scenario files as test items, run in a scratch project by pytester.

The plugin comes in through its `pytest11` entry point, as it does for a user, so these tests
need syncsim installed (`make install`). Scenarios here are tiny (hours, one or two devices)
and runs are narrowed with `-k`, so each inner session takes a few seconds, mostly reports.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from tests_support import TINY_FAIL, TINY_PASS

from simulator import pytest_plugin

pytest_plugins = ["pytester"]

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

BROKEN = """\
name: broken
duration: 1h
devices:
  - name: phone
    link: {latncy: 50ms}
"""

# A workflow that happens to have both keys a scenario has: never collected.
WORKFLOW = """\
name: ci
on: [push]
duration: 5
devices: [a]
jobs: {}
"""


@pytest.fixture(autouse=True)
def _plugin_installed(request: pytest.FixtureRequest) -> None:
    if not request.config.pluginmanager.has_plugin("syncsim"):
        pytest.fail("the syncsim pytest11 entry point is not installed: run `make install`")


@pytest.fixture(autouse=True, scope="module")
def _warm(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Run and render one scenario out here first. pytester's in-process runs drop every
    module they imported when they end, and numpy cannot be imported twice in one process:
    what is imported out here stays."""
    from simulator.cli import write_report
    from simulator.runner import run
    from simulator.scenario.loader import load_text

    write_report(run(load_text("warm.yaml", TINY_PASS)), tmp_path_factory.mktemp("warm"))


def _junit_cases(path: Path) -> dict[str, str | None]:
    """Each testcase's name and its failure message (None when it passed)."""
    cases: dict[str, str | None] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        failure = case.find("failure")
        cases[case.attrib["name"]] = None if failure is None else failure.attrib["message"]
    return cases


def test_collects_only_scenario_files(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"scenarios/tiny_pass": TINY_PASS})
    pytester.makefile(".yml", **{".github/workflows/ci": WORKFLOW})
    pytester.makefile(".yaml", **{"config/settings": WORKFLOW, "fixtures/tiny": TINY_PASS})
    result = pytester.runpytest("--collect-only", "-q", ".")
    ids = [line for line in result.outlines if "::" in line]
    assert ids == [
        "scenarios/tiny_pass.yaml::tiny_pass[legacy]",
        "scenarios/tiny_pass.yaml::tiny_pass[proposed]",
        "scenarios/tiny_pass.yaml::tiny_pass[seq]",
    ]


def test_the_rule_is_the_directory_name() -> None:
    assert pytest_plugin.is_scenario_file(Path("scenarios/x.yaml"))
    assert pytest_plugin.is_scenario_file(Path("team/sync/scenarios/x.yaml"))
    assert not pytest_plugin.is_scenario_file(Path("scenarios/x.yml"))
    assert not pytest_plugin.is_scenario_file(Path("scenarios/nested/x.yaml"))
    assert not pytest_plugin.is_scenario_file(Path(".github/workflows/scenarios.yaml"))
    assert pytest_plugin.is_scenario_file(Path("e2e/x.yaml"), ["e2e"])


def test_runs_passing_and_failing_scenarios_with_k_and_junit(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"scenarios/tiny_pass": TINY_PASS})
    pytester.makefile(".yaml", **{"scenarios/tiny_fail": TINY_FAIL})
    result = pytester.runpytest("scenarios", "-k", "legacy", "--junitxml=junit.xml")
    result.assert_outcomes(passed=1, failed=1, deselected=4)
    result.stdout.fnmatch_lines(
        [
            "*tiny_fail: FAIL (profile legacy, seed 1)*",
            "*FAILED lost_write <= 0: got [1-9]*",
            "*report: reports/tiny_fail/2*Z/legacy/report.html*",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    # The session's run in the store, and `latest` pointing at it.
    assert (pytester.path / "reports/tiny_fail/latest/legacy/report.html").is_file()
    assert (pytester.path / "reports/tiny_pass/latest/legacy/summary.json").is_file()
    cases = _junit_cases(pytester.path / "junit.xml")
    assert set(cases) == {"tiny_pass[legacy]", "tiny_fail[legacy]"}
    assert cases["tiny_pass[legacy]"] is None
    assert "FAILED lost_write <= 0: got" in (cases["tiny_fail[legacy]"] or "")


@pytest.mark.slow  # scenarios under every profile (6 s of CPU)
def test_every_profile_then_the_matrix_table(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"scenarios/tiny_fail": TINY_FAIL})
    result = pytester.runpytest("scenarios", "-v")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*tiny_fail.yaml::tiny_fail?legacy? FAILED*",
            "*tiny_fail.yaml::tiny_fail?proposed? PASSED*",
            "*tiny_fail.yaml::tiny_fail?seq? PASSED*",
        ]
    )
    table = (pytester.path / "reports/tiny_fail/latest/matrix.md").read_text()
    assert "| legacy | FAIL |" in table and "| proposed | pass |" in table


def test_x_stops_at_the_first_failure(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", **{"scenarios/tiny_fail": TINY_FAIL})
    result = pytester.runpytest("scenarios", "-x")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*stopping after 1 failures*"])


def test_a_bad_scenario_is_one_failed_item_with_the_loader_line(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".yaml", **{"scenarios/broken": BROKEN})
    pytester.makefile(".yaml", **{"scenarios/tiny_pass": TINY_PASS})
    result = pytester.runpytest("scenarios", "-k", "broken", "--junitxml=junit.xml")
    result.assert_outcomes(failed=1, deselected=3)
    message = (
        "scenarios/broken.yaml:5: devices[0].link.latncy: unknown field (did you mean 'latency'?)"
    )
    assert message in result.outlines  # the loader's line, alone on its line
    assert "Traceback" not in result.stdout.str()
    assert "ERROR collecting" not in result.stdout.str()
    assert _junit_cases(pytester.path / "junit.xml") == {"broken": message}


def test_a_flag_refused_under_one_profile_fails_that_item_only(
    pytester: pytest.Pytester,
) -> None:
    # A persisted outbox without ACKs is refused; legacy keeps its in-memory queue and runs.
    text = TINY_PASS + "flags: {acks: false}\n"
    pytester.makefile(".yaml", **{"scenarios/tiny_pass": text})
    result = pytester.runpytest("scenarios", "-k", "proposed or legacy")
    result.assert_outcomes(passed=1, failed=1, deselected=1)
    result.stdout.fnmatch_lines(["*scenarios/tiny_pass.yaml:*: flags.acks: *needs acks*"])


@pytest.mark.slow  # runs library scenarios; the plugin's paths are the other tests'
def test_turning_the_persisted_outbox_off_fails_the_scenarios_that_guard_it(
    pytester: pytest.Pytester,
) -> None:
    # The library's reload_with_unsent bounds proposed's lost_write, and offline_week (where
    # the plan's own conflict gaps lose writes too, a known gap) its queue_drops; run them under
    # proposed with the outbox back in memory and that bound, by name, must fail.
    guards = {"reload_with_unsent": "lost_write", "offline_week": "queue_drops"}
    for name in guards:
        text = (SCENARIOS / f"{name}.yaml").read_text(encoding="utf-8")
        assert "\nflags:" not in text
        pytester.makefile(".yaml", **{f"scenarios/{name}": text + "flags: {outbox: memory}\n"})
    result = pytester.runpytest("scenarios", "-k", "proposed", "--junitxml=junit.xml")
    result.assert_outcomes(failed=2, deselected=4)
    cases = _junit_cases(pytester.path / "junit.xml")
    assert set(cases) == {f"{name}[proposed]" for name in guards}
    # The failure's message is cut after a few lines (the known gaps come first); its text
    # holds the whole report.
    texts = {
        case.attrib["name"]: case.findtext("failure") or ""
        for case in ET.parse(pytester.path / "junit.xml").getroot().iter("testcase")
    }
    for name, bound in guards.items():
        assert f"FAILED {bound} <= " in texts[f"{name}[proposed]"]


def test_a_known_gap_is_an_xfail_and_a_gap_that_is_gone_fails(pytester: pytest.Pytester) -> None:
    gap = TINY_FAIL.replace(
        "  lost_write: 0\n",
        '  lost_write: {lte: 0, known_gap: "the in-memory queue dies with the page"}\n',
    )
    pytester.makefile(".yaml", **{"scenarios/tiny_gap": gap.replace("tiny_fail", "tiny_gap")})
    result = pytester.runpytest("scenarios", "-rxX")
    # legacy shows the gap (xfail); proposed and seq no longer lose the write: the gap is
    # gone there, and the mark must go (a strict XPASS: a failure).
    result.assert_outcomes(xfailed=1, failed=2)
    result.stdout.fnmatch_lines(["*XFAIL*tiny_gap?legacy?*the in-memory queue dies with the page*"])
    result.stdout.fnmatch_lines(["*the gap is gone; remove known_gap*"])
