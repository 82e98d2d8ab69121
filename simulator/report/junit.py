"""junit.xml: one testcase per expectation, so CI shows each failed bound by name."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from simulator.report import fmt
from simulator.verdict import Run


def junit_xml(run: Run) -> str:
    text = ET.tostring(_suite(run), encoding="unicode", xml_declaration=True)
    return str(text) + "\n"


def junit_suites(runs: list[Run]) -> str:
    """Every run's suite in one file, as `syncsim e2e --junit` writes it."""
    root = ET.Element("testsuites", name="syncsim")
    for run in runs:
        root.append(_suite(run, by_profile=True))
    return str(ET.tostring(root, encoding="unicode", xml_declaration=True)) + "\n"


def _suite(run: Run, by_profile: bool = False) -> ET.Element:
    # In one file of many runs, the same scenario appears once per profile.
    name = run.loaded.scenario.name + (f".{run.loaded.profile.name}" if by_profile else "")
    suite = ET.Element(
        "testsuite",
        name=f"syncsim.{name}",
        tests=str(len(run.outcomes)),
        failures=str(len(run.failed)),
        errors=str(int(bool(run.result.doubts))),
    )
    if run.result.doubts:
        # An inconclusive run is an error, not a pass: CI must not read it as green.
        case = ET.SubElement(suite, "testcase", classname=f"syncsim.{name}", name="evidence")
        error = ET.SubElement(case, "error", message="inconclusive", type="Inconclusive")
        error.text = "\n".join(run.result.doubts)
    for outcome in run.outcomes:
        case = ET.SubElement(
            suite, "testcase", classname=f"syncsim.{name}", name=outcome.expectation.text
        )
        if outcome.gap_shows:
            # pytest's xfail in JUnit terms: reported, not a failure.
            skipped = ET.SubElement(
                case,
                "skipped",
                message=f"expected failure (known gap): {outcome.expectation.known_gap}",
            )
            skipped.text = _evidence(run, outcome.expectation.name)
        elif not outcome.passed:
            failure = ET.SubElement(
                case,
                "failure",
                message=f"expected {outcome.expectation.text}, got {fmt.got(outcome)}",
                type="ExpectationFailed",
            )
            failure.text = _evidence(run, outcome.expectation.name)
    return suite


def _evidence(run: Run, name: str) -> str:
    lines = [f.summary for f in run.result.findings if f.anomaly.value == name][:20]
    return "\n".join(lines)
