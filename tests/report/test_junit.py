"""junit.xml: one testcase per expectation; failures are exactly the failed expectations."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from simulator.verdict import Run


def test_failures_match_the_failed_expectations(eventful: tuple[Run, dict[str, bytes]]) -> None:
    result, files = eventful
    suite = ET.fromstring(files["junit.xml"])
    cases = list(suite.iter("testcase"))
    assert [c.get("name") for c in cases] == [o.expectation.text for o in result.outcomes]
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failed == [o.expectation.text for o in result.failed]
    assert failed, "the eventful scenario fails two bounds on purpose"
    assert suite.get("tests") == str(len(result.outcomes))
    assert suite.get("failures") == str(len(result.failed))
    assert suite.get("name") == "syncsim.eventful"


def test_a_failure_names_bound_value_and_evidence(eventful: tuple[Run, dict[str, bytes]]) -> None:
    result, files = eventful
    suite = ET.fromstring(files["junit.xml"])
    lost = next(c for c in suite.iter("testcase") if c.get("name") == "lost_write <= 0")
    failure = lost.find("failure")
    assert failure is not None
    count = result.result.counts["lost_write"]
    assert failure.get("message") == f"expected lost_write <= 0, got {count}"
    evidence = (failure.text or "").splitlines()
    assert evidence and all("lost" in line or "never" in line or line for line in evidence)
    first = next(f for f in result.result.findings if f.anomaly.value == "lost_write")
    assert evidence[0] == first.summary
