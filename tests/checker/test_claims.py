"""Precise expectations: how named items end, which findings are there, and nothing else."""

from __future__ import annotations

import pytest

from simulator.checker.claims import Claim
from simulator.errors import ScenarioError
from simulator.runner import run
from simulator.scenario.loader import load_text
from simulator.verdict import Run

# The laptop, 5 minutes fast, edits E1 offline; the phone edits it 2 s later; the laptop's
# edit arrives last and wins by its later updatedAt (legacy): a lost update.
LOST_UPDATE = """\
name: lost_update_by_clock
duration: 2h
settle: 5m
devices:
  - {name: phone, workload: {entries_per_day: 0, pieces_per_day: 0}}
  - {name: laptop, clock: {offset: 5m}, workload: {entries_per_day: 0, pieces_per_day: 0}}
steps:
  - {at: 10m, device: phone, do: create, item: E1}
  - {at: 59m, device: laptop, do: offline}
  - {at: 1h, device: laptop, do: update, item: E1, fields: {notes: laptop}, name: early}
  - {at: 1h2s, device: phone, do: update, item: E1, fields: {notes: phone}, name: late}
  - {at: 1h1m, device: laptop, do: online}
  - {at: 1h30m, device: phone, do: create, item: E2}
  - {at: 1h31m, device: phone, do: delete, item: E2, name: gone}
expect:
"""


def judged(expect: str, profile: str = "legacy") -> Run:
    return run(load_text("c.yaml", LOST_UPDATE + expect, profile))


def outcomes(result: Run) -> dict[str, tuple[bool, str | None]]:
    return {o.expectation.text: (o.passed, o.shown) for o in result.outcomes}


def test_the_final_state_of_each_item_on_each_holder() -> None:
    result = judged(
        "  final:\n    E1: {from_step: early, where: [server, phone, laptop]}\n    E2: deleted\n"
    )
    assert outcomes(result) == {
        "E1 ends as written by step early on server, phone, laptop": (
            True,
            "server: the write of step early (laptop#1); phone: the write of step early "
            "(laptop#1); laptop: the write of step early (laptop#1)",
        ),
        "E2 ends deleted on server": (True, "server: deleted"),
    }
    wrong = judged("  final: {E1: {from_step: late}, E2: absent}\n")
    assert outcomes(wrong) == {
        "E1 ends as written by step late on server": (False, "server: a live copy"),
        "E2 ends absent on server": (False, "server: deleted"),
    }
    assert not wrong.passed


def test_listed_findings_and_only_those() -> None:
    listed = "  findings: [{anomaly: lost_update, item: E1, cause: CLOCK SKEW}]\n"
    result = judged(listed + "  only_listed: true\n")
    assert result.passed and [o.shown for o in result.outcomes] == [
        "1 such finding(s)",
        "none other",
    ]
    # Under proposed the laptop's earlier edit overwrites the later one: another anomaly.
    other = judged(listed + "  only_listed: true\n", "proposed")
    found = outcomes(other)
    assert found["a lost_update finding on E1 caused by 'CLOCK SKEW'"] == (
        False,
        "0 such finding(s)",
    )
    passed, shown = found["no finding but those listed"]
    assert not passed and shown is not None and shown.startswith("1 other(s): laptop's earlier")


def test_a_profile_block_replaces_the_claims_it_repeats() -> None:
    text = (
        "  final: {E1: {from_step: early}}\n"
        "expect_by_profile:\n"
        "  proposed:\n"
        "    final: {E1: {from_step: early, where: [phone]}}\n"
    )
    legacy = load_text("c.yaml", LOST_UPDATE + text, "legacy").expectations
    proposed = load_text("c.yaml", LOST_UPDATE + text, "proposed").expectations
    assert [e.text for e in legacy] == ["E1 ends as written by step early on server"]
    assert [e.text for e in proposed] == ["E1 ends as written by step early on phone"]
    assert all(isinstance(e, Claim) for e in proposed)


@pytest.mark.parametrize(
    ("expect", "field", "message"),
    [
        (
            "  final: {E9: deleted}\n",
            "expect.final.E9",
            "no step creates an item 'E9'; items: E1, E2",
        ),
        (
            "  final: {E1: {from_step: nowhere}}\n",
            "expect.final.E1.from_step",
            "no step named 'nowhere' writes; named: early, gone, late",
        ),
        ("  final: {E1: lost}\n", "expect.final.E1.state", "must be one of deleted, absent"),
        (
            "  final: {E1: {from_step: early, where: [tablet]}}\n",
            "expect.final.E1.where",
            "unknown holder 'tablet': server or a device",
        ),
        ("  findings: [{anomaly: lost, item: E1}]\n", "expect.findings.0.anomaly", None),
        ("  findings: [{anomaly: lost_write, item: E7}]\n", "expect.findings.0.item", None),
        ("  only_listed: yes please\n", "expect.only_listed", "must be true or false"),
    ],
)
def test_a_claim_naming_what_the_scenario_lacks_is_refused_on_its_line(
    expect: str, field: str, message: str | None
) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_text("c.yaml", LOST_UPDATE + expect)
    assert caught.value.field == field
    assert caught.value.line == LOST_UPDATE.count("\n") + 1
    if message is not None:
        assert caught.value.message == message


def test_one_item_may_end_apart_per_holder() -> None:
    result = judged(
        "  final:\n"
        "    E1: [{from_step: early}, {from_step: early, where: [phone]}, "
        "{state: deleted, where: [laptop]}]\n"
    )
    assert [(o.expectation.text, o.passed) for o in result.outcomes] == [
        ("E1 ends as written by step early on server", True),
        ("E1 ends as written by step early on phone", True),
        ("E1 ends deleted on laptop", False),
    ]
