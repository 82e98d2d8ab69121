"""Scripted `steps`: precise cases whose outcome is known row by row, in the simulator."""

from __future__ import annotations

import pytest

from simulator.checker.check import check
from simulator.history import History, Kind, Record
from simulator.plan.actions import ArmCrash, ScriptedAct, Step
from simulator.plan.compile import Plan, compile_plan
from simulator.scenario.loader import load_text
from simulator.sim.driver import Simulation

QUIET = "workload: {entries_per_day: 0, pieces_per_day: 0}"
TWO = f"""
duration: 3h
profile: PROFILE
devices:
  - {{name: phone, {QUIET}}}
  - {{name: laptop, clock: {{offset: 5m}}, {QUIET}}}
steps:
"""


def simulate(steps: str, profile: str = "legacy", head: str = TWO) -> History:
    return Simulation(load_text("steps.yaml", head.replace("PROFILE", profile) + steps)).run()


def rows(history: History, kind: Kind, **match: object) -> list[Record]:
    return [
        r for r in history if r.kind is kind and all(getattr(r, k) == v for k, v in match.items())
    ]


def created_id(history: History, device: str = "phone") -> str:
    (write,) = rows(history, Kind.WRITE, device=device, op="create")
    assert write.entity_id is not None
    return write.entity_id


# The laptop's clock is 5 minutes fast and its edit, made offline, reaches the server after the
# phone's edit made 2 s later in true time: the legacy rule (updatedAt) keeps the laptop's.
LOST_UPDATE = """\
  - {at: 10m, device: phone, do: create, item: E1}
  - {at: 59m, device: laptop, do: offline}
  - {at: 1h, device: laptop, do: update, item: E1, fields: {notes: laptop}}
  - {at: 1h2s, device: phone, do: update, item: E1, fields: {notes: phone}}
  - {at: 1h1m, device: laptop, do: online}
"""


def test_a_fast_clock_costs_the_later_edit_exactly_one_lost_update_under_legacy() -> None:
    history = simulate(LOST_UPDATE)
    result = check(history)
    e1 = created_id(history)
    assert result.counts["lost_update"] == 1
    (finding,) = [f for f in result.findings if f.anomaly == "lost_update"]
    assert finding.entity_id == e1 and finding.devices == ("laptop", "phone")
    assert finding.cause == "clock skew: the rule was followed"
    assert sum(result.counts.values()) == 1  # nothing else is wrong


def test_both_edits_online_the_later_arrival_wins_and_the_fast_laptop_diverges() -> None:
    """The same edits with both devices online: the legacy server keeps what arrives last (the
    phone's), and the laptop refuses it as older than its own stamp: a divergence, not a
    lost update."""
    history = simulate(
        "  - {at: 10m, device: phone, do: create, item: E1}\n"
        "  - {at: 1h, device: laptop, do: update, item: E1}\n"
        "  - {at: 1h2s, device: phone, do: update, item: E1}\n"
    )
    result = check(history)
    assert result.counts["lost_update"] == 0
    assert result.counts["divergence"] == 1


@pytest.mark.parametrize("profile", ["legacy", "proposed", "seq"])
def test_a_delete_made_offline_arriving_after_a_later_edit_deletes_it(profile: str) -> None:
    history = simulate(
        "  - {at: 10m, device: phone, do: create, item: E1}\n"
        "  - {at: 50m, device: phone, do: offline}\n"
        "  - {at: 1h, device: phone, do: delete, item: E1}\n"
        "  - {at: 1h10m, device: phone, do: update, item: E1}\n"
        "  - {at: 1h30m, device: laptop, do: update, item: E1, fields: {notes: later}}\n"
        "  - {at: 2h, device: phone, do: online}\n",
        profile,
    )
    e1 = created_id(history)
    # The phone no longer holds E1 when its second step comes: recorded, not raised.
    (skipped,) = rows(history, Kind.STEP_SKIPPED, device="phone")
    assert (skipped.op, skipped.entity_id) == ("update", e1)
    assert skipped.reason == "the device does not hold its item"
    lost = [f for f in check(history).findings if f.anomaly == "lost_write"]
    assert [(f.entity_id, f.devices, f.cause) for f in lost] == [
        (e1, ("laptop",), "delivered, yet deleted by an older delete on the server")
    ]


OFFLINE_WRITES = """\
  - {{at: 50m, device: phone, do: offline}}
  - {{at: 1h, device: phone, do: create, item: A}}
  - {{at: 1h1m, device: phone, do: create, item: B}}
  - {{at: 1h2m, device: phone, do: create, item: C}}
  - {{at: 1h3m, device: phone, do: create, item: D}}
  - {{at: 1h30m, device: phone, do: crash, when: {when}}}
  - {{at: 2h, device: phone, do: online}}
"""


# Reconnecting, the legacy phone sends SYNC_REQUEST and then its four queued creates.
@pytest.mark.parametrize(("when", "sent"), [("before", 0), ("during", 2), ("after", 5)])
def test_a_crash_before_during_or_after_the_drain_sends_that_many_frames(
    when: str, sent: int
) -> None:
    history = simulate(OFFLINE_WRITES.format(when=when))
    (crash,) = rows(history, Kind.CRASH, device="phone")
    assert crash.detail == {"sent": sent, "unsent": 5 - sent, "when": when}
    left = [r for r in rows(history, Kind.FRAME_SENT, device="phone") if r.t == crash.t]
    assert len(left) == sent
    unsent = rows(history, Kind.FRAME_LOST, device="phone", reason="crash")
    assert len(unsent) == 5 - sent
    assert rows(history, Kind.RELOAD, device="phone", reason="crash")
    # The in-memory queue is lost on the crash's reload: what did not leave is lost.
    assert check(history).counts["lost_write"] == len([r for r in unsent if r.write_id])


def test_a_crash_before_sending_loses_nothing_with_the_persisted_outbox() -> None:
    history = simulate(OFFLINE_WRITES.format(when="before"), profile="proposed")
    (crash,) = rows(history, Kind.CRASH, device="phone")
    assert crash.detail is not None and crash.detail["sent"] == 0
    assert check(history).counts["lost_write"] == 0


def test_a_step_on_an_item_its_device_does_not_hold_yet_is_skipped() -> None:
    history = simulate(
        "  - {at: 5m, device: laptop, do: offline}\n"
        "  - {at: 10m, device: phone, do: create, item: E1}\n"
        "  - {at: 20m, device: laptop, do: update, item: E1}\n"
        "  - {at: 30m, device: laptop, do: online}\n"
        "  - {at: 40m, device: laptop, do: update, item: E1}\n"
    )
    (skipped,) = rows(history, Kind.STEP_SKIPPED)
    assert (skipped.device, skipped.t, skipped.detail) == ("laptop", 1200.0, {"item": "E1"})
    assert len(rows(history, Kind.WRITE, device="laptop", op="update")) == 1


def test_fields_merge_over_what_the_step_generates() -> None:
    history = simulate(
        "  - {at: 10m, device: phone, do: create, item: E1, fields: {notes: mine, duration: 7}}\n"
        "  - {at: 20m, device: phone, do: add_piece, item: P, title: Clair de lune,"
        " composer: Debussy, status: learning}\n"
        "  - {at: 30m, device: phone, do: update_piece, item: P, fields: {status: polished}}\n"
        "  - {at: 40m, device: laptop, do: remove_piece, item: P}\n"
    )
    live = rows(history, Kind.SNAPSHOT, op="live", device="server")
    assert [r.entity_type for r in live] == ["logbook_entry"]
    writes = [(r.device, r.op, r.entity_type) for r in rows(history, Kind.WRITE)]
    assert writes == [
        ("phone", "create", "logbook_entry"),
        ("phone", "create", "repertoire_piece"),
        ("phone", "update", "repertoire_piece"),
        ("laptop", "delete", "repertoire_piece"),
    ]


def test_accept_backfill_pulls_the_history_the_prompt_offered() -> None:
    head = TWO.replace("PROFILE", "PROFILE\nflags: {backfill: confirm}")
    history = simulate(
        "  - {at: 10m, device: phone, do: accept_backfill}\n"
        "  - {at: 20m, device: phone, do: accept_backfill}\n",
        profile="proposed",
        head=head,
    )
    ops = [r.op for r in rows(history, Kind.BACKFILL, device="phone")]
    assert ops == ["prompted", "requested", "done"]
    (skipped,) = rows(history, Kind.STEP_SKIPPED, device="phone")
    assert (skipped.t, skipped.op, skipped.reason) == (
        1200.0,
        "accept_backfill",
        "no backfill prompt is pending",
    )


def test_a_step_changes_no_random_act() -> None:
    busy = "workload: {entries_per_day: 50, pieces_per_day: 5, active_hours: [0, 24]}"
    head = f"duration: 1d\nseed: 3\ndevices:\n  - {{name: phone, {busy}}}\n"
    script = (
        "steps:\n  - {at: 1h, device: phone, do: create, item: X}\n"
        "  - {at: 2h, device: phone, do: crash, when: after}\n"
    )
    plain = compile_plan(load_text("a.yaml", head).scenario)
    scripted = compile_plan(load_text("b.yaml", head + script).scenario)
    mine = [
        Step(3600.0, "phone", scripted_create(scripted)),
        Step(7200.0, "phone", ArmCrash("after")),
    ]
    assert [s for s in scripted if s not in mine] == list(plain)
    assert len(scripted) == len(plain) + 2


def scripted_create(plan: Plan) -> ScriptedAct:
    (act,) = [s.action for s in plan if isinstance(s.action, ScriptedAct)]
    return act
