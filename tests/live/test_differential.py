"""The differential gate's judgement, on literal differences: what it explains and what it
does not."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import SECRET

from simulator.history import IN_FLIGHT, NOT_SENT, Kind, Record
from simulator.live.diff import Differences, Found, lost_in_flight
from simulator.live.differential import (
    INCONCLUSIVE,
    TIMING,
    Case,
    as_json,
    judge,
    markdown,
    run_case,
    settle,
)
from simulator.scenario.loader import Loaded, load_text

PLAIN = "duration: 1d\ndevices: [{name: phone}, {name: laptop}]\n"
PRELOADED = PLAIN + "preload: [{entries: 10, over: 60d}]\n"
STORM = "duration: 1d\ndevices: [{name: phone, link: {max_message: 64KB}}]\n"


def loaded(text: str, profile: str = "legacy") -> Loaded:
    return load_text("case.yaml", text, profile)


def differences(
    anomalies: tuple[tuple[str, int, int], ...] = (),
    sim_only: tuple[Found, ...] = (),
    live_only: tuple[Found, ...] = (),
    verdicts: tuple[str, str] = ("pass", "pass"),
    expectations: tuple[tuple[str, str, str], ...] = (),
) -> Differences:
    findings = tuple((a, sim_only, live_only) for a, _, _ in anomalies)
    return Differences(expectations, anomalies, (), (), (), verdicts, (), findings)


def lost(entity_id: str, cause: str) -> Found:
    return Found("logbook_entry", entity_id, ("phone",), cause)


def test_the_same_counts_and_verdicts_agree() -> None:
    assert judge(loaded(PLAIN), differences()) == ([], [])


def test_a_finding_only_live_is_never_explained() -> None:
    d = differences((("lost_write", 2, 3),), live_only=(lost("e9", "frame lost in flight: x"),))
    assert judge(loaded(PLAIN), d) == ([], ["lost_write: simulated 2, live 3"])


def test_fewer_live_coincidences_of_a_frame_and_a_fault_are_timing() -> None:
    d = differences(
        (("lost_write", 3, 2),), sim_only=(lost("e1", "frame lost in flight: partition"),)
    )
    assert judge(loaded(PLAIN), d) == ([("lost_write", 3, 2, TIMING)], [])


def test_a_finding_only_live_is_timing_where_the_live_history_proves_a_frame_lost_in_flight():
    # duplicate_sync_requests: the phone's connection dropped while the item's broadcast was
    # on its way (the server's commit before it is seconds of scenario time at the gate's
    # scale); the live history records that frame lost, and the phone never got the item.
    never = Found("logbook_entry", "e9", ("phone",), "never received")
    base = differences(
        (("missing_history", 0, 1),),
        live_only=(never,),
        verdicts=("pass", "fail"),
        expectations=(("missing_history <= 0", "pass", "FAIL"),),
    )
    proven = replace(base, live_in_flight=frozenset({("e9", "phone")}))
    explained, unexplained = judge(loaded(PLAIN), proven)
    assert unexplained == [] and explained[0] == ("missing_history", 0, 1, TIMING)
    # No such row, or one for another device or another item: a finding like any other.
    for evidence in (frozenset(), frozenset({("e9", "laptop")}), frozenset({("e8", "phone")})):
        assert judge(loaded(PLAIN), replace(base, live_in_flight=evidence))[1] == [
            "missing_history: simulated 0, live 1",
            "expectation `missing_history <= 0`: simulated pass, live FAIL",
        ]
    # Proven live items beside simulated ones of another cause: still unexplained.
    mixed = replace(
        proven,
        anomalies=(("missing_history", 2, 3),),
        findings=(("missing_history", (lost("e1", "lost on reload"),), (never,)),),
    )
    assert "missing_history: simulated 2, live 3" in judge(loaded(PLAIN), mixed)[1]


def test_the_evidence_is_a_frame_lost_when_its_live_connection_closed() -> None:
    def row(kind: Kind, reason: str | None, entity: str | None = "e9") -> Record:
        return Record(t=1.0, kind=kind, device="phone", entity_id=entity, reason=reason)

    history = [
        row(Kind.FRAME_LOST, f"{IN_FLIGHT} (connection dropped)"),
        row(Kind.FRAME_LOST, f"{IN_FLIGHT} (server closed 1006)", entity="e8"),
        row(Kind.FRAME_LOST, NOT_SENT, entity="e7"),  # never left: no race with a fault
        row(Kind.FRAME_LOST, "oversized", entity="e6"),
        row(Kind.FRAME_LOST, f"{IN_FLIGHT} (connection dropped)", entity=None),  # a PING
        row(Kind.DISCONNECT, IN_FLIGHT, entity="e5"),
    ]
    assert lost_in_flight(history) == {("e9", "phone"), ("e8", "phone")}


def test_fewer_live_findings_of_another_cause_are_not_explained() -> None:
    d = differences((("lost_write", 3, 2),), sim_only=(lost("e1", "lost on reload"),))
    assert judge(loaded(PLAIN), d) == ([], ["lost_write: simulated 3, live 2"])


def test_less_missing_history_live_is_not_explained_by_a_preload() -> None:
    # The gate's server dates each preloaded item at its own time, as the simulation does.
    d = differences(
        (("missing_history", 180, 60),),
        sim_only=(Found("logbook_entry", "e1", ("phone",), "older than the window"),),
        verdicts=("pass", "fail"),
        expectations=(("missing_history >= 100", "pass", "FAIL"),),
    )
    assert judge(loaded(PRELOADED), d)[1] == [
        "missing_history: simulated 180, live 60",
        "expectation `missing_history >= 100`: simulated pass, live FAIL",
    ]


def test_a_live_run_that_never_went_quiet_is_explained_only_by_a_reconnect_storm() -> None:
    d = differences(verdicts=("pass", "inconclusive"))
    explained, unexplained = judge(loaded(STORM), d)
    assert unexplained == [] and explained[0][0] == INCONCLUSIVE
    assert judge(loaded(STORM, "proposed"), d) == (
        [],
        ["verdict: simulated pass, live inconclusive"],
    )
    assert judge(loaded(PLAIN), d)[1] == ["verdict: simulated pass, live inconclusive"]


RACES = PLAIN + "hot_items: [{devices: [phone, laptop], every: 15m, within: 3s}]\n"


def test_races_below_the_loops_resolution_explain_fewer_lww_violations_live() -> None:
    sim_only = (Found("logbook_entry", "e1", ("phone", "tablet"), "overwritten by an older write"),)
    # The same item, the same cause, between another pair of devices: no new finding.
    swapped = (Found("logbook_entry", "e2", ("laptop", "tablet"), "overwritten by an older write"),)
    also_sim = (
        *sim_only,
        Found("logbook_entry", "e2", ("laptop", "phone"), "overwritten by an older write"),
    )
    d = differences((("lww_violation", 3, 1),), sim_only=also_sim, live_only=swapped)
    explained, unexplained = judge(loaded(RACES), d)
    assert unexplained == [] and explained[0][3].startswith("edits closer than the event loop")
    # Without edits that close, the same difference is not explained.
    assert judge(loaded(PLAIN), d)[1] == ["lww_violation: simulated 3, live 1"]
    # A race may also come out the other way live: an item only live is explained there.
    new = (Found("logbook_entry", "e3", ("laptop",), ""),)
    d = differences((("resurrection", 0, 1),), live_only=new)
    assert judge(loaded(RACES), d)[1] == []
    assert judge(loaded(PLAIN), d)[1] == ["resurrection: simulated 0, live 1"]


QUOTA = "duration: 1d\ndevices: [{name: phone, quota: 72KB}, {name: laptop}]\n"


def test_the_write_that_meets_a_full_quota_may_differ_by_a_tenth_either_way() -> None:
    other = (Found("logbook_entry", "e9", ("phone",), "quota: quota exceeded"),)
    close = differences((("lost_write", 24, 23),), live_only=other)
    assert judge(loaded(QUOTA), close)[1] == []
    far = differences((("lost_write", 24, 20),), live_only=other)
    assert judge(loaded(QUOTA), far)[1] == ["lost_write: simulated 24, live 20"]
    assert judge(loaded(PLAIN), close)[1] == ["lost_write: simulated 24, live 23"]


GATE = """
name: small_gate
seed: 12
duration: 6h
settle: 10m
profile: legacy
preload:
  - {user: alice, entries: 150, pieces: 10, over: 20d}
# The users write only from 3h, after the outage: however long a loaded machine takes to
# stop and start the server, no write can be on its way when it goes down.
devices:
  - name: phone
    workload: {entries_per_day: 30, active_hours: [3, 24]}
  - name: laptop
    workload: {entries_per_day: 30, active_hours: [3, 24]}
faults:
  - {kind: server_outage, from: 2h, to: 2h20m}
"""


@pytest.mark.slow
def test_a_case_of_the_gate_runs_both_ways_and_agrees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCSIM_JWT_SECRET", SECRET)
    path = tmp_path / "small_gate.yaml"
    path.write_text(GATE)
    case = run_case(path, "legacy", tmp_path / "out")
    assert case.agrees, case.unexplained
    # The preload reaches 20 days back, past legacy's 7-day window: the simulation misses the
    # older part, and so does the live run, whose server dated each item at its own time.
    counts = dict((a, (s, v)) for a, s, v in case.differences.anomalies)
    assert "missing_history" not in counts
    simulated = json.loads((tmp_path / "out" / "sim" / "summary.json").read_text())
    assert simulated["anomalies"]["missing_history"] > 0
    for name in ("diff.md", "sim/report.html", "live/report.html"):
        assert (tmp_path / "out" / name).exists()


def test_a_storm_bound_on_sync_requests_is_explained_only_for_a_storm() -> None:
    d = differences(
        verdicts=("pass", "fail"), expectations=(("sync_requests >= 500", "pass", "FAIL"),)
    )
    explained, unexplained = judge(loaded(STORM), d)
    assert unexplained == [] and explained[0][0] == "sync_requests"
    assert judge(loaded(PLAIN), d)[1] == [
        "expectation `sync_requests >= 500`: simulated pass, live FAIL"
    ]


WEEK = "duration: 7d\ndevices: [{name: phone}, {name: laptop}]\n"


def test_outbox_drops_are_never_explained() -> None:
    # Live, an outbox item is resent no sooner than the endpoint's answer time in wall time
    # (`server.answer_wait`), so a week at the gate's scale (30,000x), whose 254 s of
    # backoff are 8 ms of wall, drops no more than the simulation: a difference is a finding.
    d = differences(verdicts=("pass", "fail"), expectations=(("queue_drops <= 0", "pass", "FAIL"),))
    for profile in ("proposed", "legacy"):
        assert judge(loaded(WEEK, profile), d)[1] == [
            "expectation `queue_drops <= 0`: simulated pass, live FAIL"
        ]


def _case(*unexplained: str) -> Case:
    return Case("s", "legacy", ("pass", "pass"), differences(), (), unexplained, 4000.0)


def test_a_differing_case_is_played_live_again_and_the_second_run_decides() -> None:
    plays: list[str] = []

    def again(result: Case) -> Callable[[], Case]:
        return lambda: plays.append("again") or result

    assert settle(_case(), again(_case("x"))) == _case() and plays == []  # agreed: no replay
    raced = settle(_case("lost_write: simulated 0, live 1"), again(_case()))
    assert raced.agrees and raced.first_attempt == ("lost_write: simulated 0, live 1",)
    assert "agrees on a second live run (the first: lost_write" in markdown([raced])
    twice = settle(_case("lost_write: simulated 0, live 1"), again(_case("lost_write: 0, 2")))
    assert not twice.agrees and twice.unexplained == ("lost_write: 0, 2",)
    assert json.loads(as_json([twice]))[0]["first_attempt"] == ["lost_write: simulated 0, live 1"]
    assert plays == ["again", "again"]
