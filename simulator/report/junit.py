"""junit.xml: one testcase per expectation, so CI shows each failed bound by name."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from simulator.verdict import Run


def junit_xml(run: Run) -> str:
    name = run.loaded.scenario.name
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
        if not outcome.passed:
            failure = ET.SubElement(
                case,
                "failure",
                message=f"expected {outcome.expectation.text}, got {outcome.value:g}",
                type="ExpectationFailed",
            )
            failure.text = _evidence(run, outcome.expectation.name)
    text = ET.tostring(suite, encoding="unicode", xml_declaration=True)
    return str(text) + "\n"


def _evidence(run: Run, name: str) -> str:
    lines = [f.summary for f in run.result.findings if f.anomaly.value == name][:20]
    return "\n".join(lines)
