"""The checker against literal histories: each anomaly where it is found, and where it is not.

Every history is spelled out row by row (see `histories.py` for the one-line builders); the
comment after a row is its index, which is what findings cite as evidence. Two modes are
covered where the checker decides delivery: with server evidence (`server_applied` rows, as the
simulator records them) and without (a live server: delivery judged from frames sent minus
frames lost).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from histories import (
    ENTRY,
    USER,
    applied,
    at,
    device_snapshot,
    found,
    holds,
    keepalive,
    lost,
    merge,
    meta,
    queue,
    ref,
    reload,
    run,
    sent,
    server_holds,
    write,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.checker.findings import Finding
from simulator.checker.names import EXPECTABLE, Anomaly
from simulator.errors import UsageError
from simulator.history import SERVER, History, Kind, Record


def only(findings: tuple[Finding, ...], anomaly: Anomaly) -> Finding:
    """The single finding of this anomaly."""
    matching = [f for f in findings if f.anomaly is anomaly]
    assert len(matching) == 1, matching
    return matching[0]


# -- a clean run ------------------------------------------------------------------------------


def clean_rows() -> list[Record]:
    return [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),  # 2
        applied(10.05, "e1", "fpA"),  # 3
        sent(10.05, SERVER, frame_type="ENTRY_CREATED"),  # 4 broadcast to the tablet
        write(20, "tablet", "tablet#1", "create", "e2", "fpX"),  # 5
        sent(20, "tablet", "tablet#1", "e2"),  # 6
        applied(20.05, "e2", "fpX"),  # 7
        write(30, "phone", "phone#2", "update", "e1", "fpB"),  # 8
        sent(30, "phone", "phone#2", "e1", frame_type="ENTRY_UPDATED"),  # 9
        applied(30.05, "e1", "fpB"),  # 10
        device_snapshot("phone"),  # 11
        holds("phone", "e1", "fpB", at(30)),  # 12
        holds("phone", "e2", "fpX", at(20)),  # 13
        device_snapshot("tablet"),  # 14
        holds("tablet", "e1", "fpB", at(30)),  # 15
        holds("tablet", "e2", "fpX", at(20)),  # 16
        server_holds("e1", "fpB", at(30)),  # 17
        server_holds("e2", "fpX", at(20)),  # 18
    ]


@pytest.mark.parametrize("evidence", [True, False], ids=["server-evidence", "live"])
def test_clean_history_has_every_count_zero(evidence: bool) -> None:
    rows = clean_rows()
    if not evidence:
        rows = [r for r in rows if r.kind is not Kind.SERVER_APPLIED]
    result = run(rows)
    assert result.findings == ()
    assert result.counts == {a.value: 0 for a in Anomaly}
    assert result.metrics["writes"] == 3


def test_values_name_exactly_what_expectations_may_bound() -> None:
    result = run(clean_rows())
    assert set(result.values()) == EXPECTABLE


def test_empty_history_is_judged_without_error() -> None:
    result = run([meta()])
    assert result.findings == ()
    assert result.metrics["writes"] == 0
    assert result.metrics["max_frame_bytes"] == 0


# -- lost_write -------------------------------------------------------------------------------

QUEUE_LOSSES = [
    ("drop", "expired", "dropped from the offline queue: older than its retention"),
    ("drop", "cap", "dropped from the offline queue: queue full"),
    ("lost", "reload", "outbox lost on reload"),
]


@pytest.mark.parametrize("evidence", [True, False], ids=["server-evidence", "live"])
@pytest.mark.parametrize(("queue_op", "reason", "cause"), QUEUE_LOSSES)
def test_lost_write_dropped_from_the_offline_queue(
    queue_op: str, reason: str, cause: str, evidence: bool
) -> None:
    # The phone creates e1 online, then edits it offline; the edit leaves the queue unsent.
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),  # 2
        (
            applied(10.05, "e1", "fpA")
            if evidence
            else sent(10.05, SERVER, frame_type="SYNC_RESPONSE")
        ),  # 3
        write(30, "phone", "phone#2", "update", "e1", "fpB"),  # 4
        queue(30, "phone", "enqueue", "phone#2", "e1"),  # 5
        queue(60, "phone", queue_op, "phone#2", "e1", reason=reason),  # 6
        device_snapshot("phone"),  # 7
        holds("phone", "e1", "fpB", at(30)),  # 8
        server_holds("e1", "fpA", at(10)),  # 9
    ]
    result = run(rows)
    assert found(result) == {"lost_write": 1, "divergence": 1}
    lost_write = only(result.findings, Anomaly.LOST_WRITE)
    assert lost_write.cause == cause
    assert (lost_write.user, lost_write.entity_type, lost_write.entity_id) == (USER, ENTRY, "e1")
    assert lost_write.devices == ("phone",)
    assert lost_write.writes == (ref(4, rows[4]),)
    assert lost_write.rows == (5, 6, 9)  # the queue rows and the server's final row
    assert lost_write.t == 30
    # The phone still shows its own edit, which the server never got.
    divergence = only(result.findings, Anomaly.DIVERGENCE)
    assert (divergence.devices, divergence.entity_id, divergence.rows) == (("phone",), "e1", (8, 9))


def test_lost_write_frame_lost_in_flight_with_server_evidence() -> None:
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),  # 2
        applied(10.05, "e1", "fpA"),  # 3
        write(20, "tablet", "tablet#1", "create", "e2", "fpX"),  # 4
        sent(20, "tablet", "tablet#1", "e2"),  # 5
        lost(20.05, "tablet", "tablet#1", "e2"),  # 6 the socket closed before it arrived
        device_snapshot("phone"),  # 7
        holds("phone", "e1", "fpA", at(10)),  # 8
        device_snapshot("tablet"),  # 9
        holds("tablet", "e1", "fpA", at(10)),  # 10
        holds("tablet", "e2", "fpX", at(20)),  # 11
        server_holds("e1", "fpA", at(10)),  # 12
    ]
    result = run(rows)
    assert found(result) == {"lost_write": 1, "divergence": 1}
    finding = only(result.findings, Anomaly.LOST_WRITE)
    assert finding.cause == "frame lost in flight when the connection dropped"
    assert (finding.entity_id, finding.devices) == ("e2", ("tablet",))
    assert finding.writes == (ref(4, rows[4]),)
    assert finding.rows == (5, 6)  # no server row: the server never had e2
    divergence = only(result.findings, Anomaly.DIVERGENCE)
    assert (divergence.devices, divergence.entity_id, divergence.cause) == (
        ("tablet",),
        "e2",
        "absent on server",
    )


def test_lost_write_frame_lost_in_flight_live() -> None:
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),  # 2
        write(20, "tablet", "tablet#1", "create", "e2", "fpX"),  # 3
        sent(20, "tablet", "tablet#1", "e2"),  # 4
        lost(20.05, "tablet", "tablet#1", "e2"),  # 5
        device_snapshot("phone"),  # 6
        holds("phone", "e1", "fpA", at(10)),  # 7
        device_snapshot("tablet"),  # 8
        holds("tablet", "e1", "fpA", at(10)),  # 9
        holds("tablet", "e2", "fpX", at(20)),  # 10
        server_holds("e1", "fpA", at(10)),  # 11
    ]
    result = run(rows)
    assert found(result) == {"lost_write": 1, "divergence": 1}
    finding = only(result.findings, Anomaly.LOST_WRITE)
    assert finding.cause == "frame lost in flight when the connection dropped"
    assert (finding.entity_id, finding.devices) == ("e2", ("tablet",))
    assert finding.writes == (ref(3, rows[3]),)
    assert finding.rows == (4, 5)


@pytest.mark.parametrize("evidence", [True, False], ids=["server-evidence", "live"])
def test_lost_write_never_sent(evidence: bool) -> None:
    # The phone edits e1 offline; the edit is still queued when the run ends.
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),  # 2
        (
            applied(10.05, "e1", "fpA")
            if evidence
            else sent(10.05, SERVER, frame_type="SYNC_RESPONSE")
        ),  # 3
        write(30, "phone", "phone#2", "update", "e1", "fpB"),  # 4
        queue(30, "phone", "enqueue", "phone#2", "e1"),  # 5
        device_snapshot("phone", queue_depth=1),  # 6
        holds("phone", "e1", "fpB", at(30)),  # 7
        server_holds("e1", "fpA", at(10)),  # 8
    ]
    result = run(rows)
    assert found(result) == {"lost_write": 1, "divergence": 1}
    finding = only(result.findings, Anomaly.LOST_WRITE)
    assert finding.cause == "never sent"
    assert (finding.entity_id, finding.devices) == ("e1", ("phone",))
    assert finding.writes == (ref(4, rows[4]),)
    assert finding.rows == (5, 8)


def delivered_but_missing_rows(evidence: bool) -> list[Record]:
    """The tablet's e2 was sent and not lost, yet the server's final snapshot lacks it."""
    return [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),  # 2
        (
            applied(10.05, "e1", "fpA")
            if evidence
            else sent(10.05, SERVER, frame_type="SYNC_RESPONSE")
        ),  # 3
        write(20, "tablet", "tablet#1", "create", "e2", "fpX"),  # 4
        sent(20, "tablet", "tablet#1", "e2"),  # 5
        device_snapshot("tablet"),  # 6
        holds("tablet", "e1", "fpA", at(10)),  # 7
        holds("tablet", "e2", "fpX", at(20)),  # 8
        server_holds("e1", "fpA", at(10)),  # 9
    ]


def test_lost_write_sent_but_never_applied_with_server_evidence() -> None:
    # With server evidence, a frame sent and not lost still was not delivered: no applied row.
    rows = delivered_but_missing_rows(evidence=True)
    result = run(rows)
    assert found(result) == {"lost_write": 1, "divergence": 1}
    finding = only(result.findings, Anomaly.LOST_WRITE)
    assert finding.cause == "never delivered"
    assert (finding.entity_id, finding.devices) == ("e2", ("tablet",))
    assert finding.writes == (ref(4, rows[4]),)
    assert finding.rows == (5,)


def test_lost_write_delivered_yet_missing_live() -> None:
    # Without server evidence the same frames count as delivered: the server lost it.
    rows = delivered_but_missing_rows(evidence=False)
    result = run(rows)
    assert found(result) == {"lost_write": 1, "divergence": 1}
    finding = only(result.findings, Anomaly.LOST_WRITE)
    assert finding.cause == "delivered, yet missing on the server"
    assert (finding.entity_id, finding.devices) == ("e2", ("tablet",))
    assert finding.writes == (ref(4, rows[4]),)
    assert finding.rows == (5,)


def test_lost_write_applied_yet_missing_with_server_evidence() -> None:
    rows = [
        meta(),  # 0
        write(20, "tablet", "tablet#1", "create", "e2", "fpX"),  # 1
        sent(20, "tablet", "tablet#1", "e2"),  # 2
        applied(20.05, "e2", "fpX"),  # 3 the server stored it ...
        device_snapshot("tablet"),  # 4
        holds("tablet", "e2", "fpX", at(20)),  # 5
        # ... but its final snapshot has no e2 at all
    ]
    result = run(rows)
    assert found(result) == {"lost_write": 1, "divergence": 1}
    finding = only(result.findings, Anomaly.LOST_WRITE)
    assert finding.cause == "delivered, yet missing on the server"
    assert (finding.entity_id, finding.devices) == ("e2", ("tablet",))
    assert finding.writes == (ref(1, rows[1]),)
    assert finding.rows == (2,)


def test_lost_write_deleted_by_an_older_delete() -> None:
    # The tablet deletes e1 offline; the phone edits it later; the stale delete arrives last.
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),  # 2
        applied(10.05, "e1", "fpA"),  # 3
        write(20, "tablet", "tablet#1", "delete", "e1"),  # 4
        queue(20, "tablet", "enqueue", "tablet#1", "e1"),  # 5
        write(30, "phone", "phone#2", "update", "e1", "fpB"),  # 6
        sent(30, "phone", "phone#2", "e1", frame_type="ENTRY_UPDATED"),  # 7
        applied(30.05, "e1", "fpB"),  # 8
        queue(90, "tablet", "send", "tablet#1", "e1"),  # 9
        sent(90, "tablet", "tablet#1", "e1", frame_type="ENTRY_DELETED"),  # 10
        applied(90.05, "e1", "fpB", op="delete"),  # 11
        device_snapshot("phone"),  # 12
        device_snapshot("tablet"),  # 13
        server_holds("e1", "fpB", at(30), deleted=True),  # 14
    ]
    result = run(rows)
    assert found(result) == {"lost_write": 1}
    finding = only(result.findings, Anomaly.LOST_WRITE)
    assert finding.cause == "delivered, yet deleted by an older delete on the server"
    assert (finding.entity_id, finding.devices) == ("e1", ("phone",))
    assert finding.writes == (ref(6, rows[6]),)
    assert finding.rows == (7, 14)


@pytest.mark.parametrize("evidence", [True, False], ids=["server-evidence", "live"])
def test_no_lost_write_when_the_dropped_write_was_superseded(evidence: bool) -> None:
    # An offline edit expires from the queue, but a later edit of the same entry gets through:
    # nothing the user still wants is lost.
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),  # 2
        write(30, "phone", "phone#2", "update", "e1", "fpB"),  # 3
        queue(30, "phone", "enqueue", "phone#2", "e1"),  # 4
        queue(60, "phone", "drop", "phone#2", "e1", reason="expired"),  # 5
        write(70, "phone", "phone#3", "update", "e1", "fpC"),  # 6
        queue(70, "phone", "enqueue", "phone#3", "e1"),  # 7
        queue(80, "phone", "drop", "phone#3", "e1", reason="superseded"),  # 8
        write(85, "phone", "phone#4", "update", "e1", "fpD"),  # 9
        queue(85, "phone", "enqueue", "phone#4", "e1"),  # 10
        queue(90, "phone", "send", "phone#4", "e1"),  # 11
        sent(90, "phone", "phone#4", "e1", frame_type="ENTRY_UPDATED"),  # 12
        device_snapshot("phone"),  # 13
        holds("phone", "e1", "fpD", at(85)),  # 14
        server_holds("e1", "fpD", at(85)),  # 15
    ]
    if evidence:
        rows += [applied(10.05, "e1", "fpA"), applied(90.05, "e1", "fpD")]
    result = run(rows)
    assert result.findings == ()
    assert result.metrics["queue_drops"] == 1  # the expiry; the superseded drop is no loss


def test_live_delivery_counts_a_resent_frame() -> None:
    # Live mode: sent twice, lost once, so delivered. The server then kept an older value,
    # which is an lww_violation, not a lost_write.
    rows = [
        meta(),  # 0
        write(5, "phone", "phone#1", "create", "e1", "fp0"),  # 1
        sent(5, "phone", "phone#1", "e1"),  # 2
        write(10, "tablet", "tablet#1", "update", "e1", "fpA"),  # 3
        queue(10, "tablet", "enqueue", "tablet#1", "e1"),  # 4
        write(20, "phone", "phone#2", "update", "e1", "fpB"),  # 5
        sent(20, "phone", "phone#2", "e1", frame_type="ENTRY_UPDATED"),  # 6
        lost(20.05, "phone", "phone#2", "e1", frame_type="ENTRY_UPDATED"),  # 7
        sent(25, "phone", "phone#2", "e1", frame_type="ENTRY_UPDATED"),  # 8 resent
        queue(100, "tablet", "send", "tablet#1", "e1"),  # 9
        sent(100, "tablet", "tablet#1", "e1", frame_type="ENTRY_UPDATED"),  # 10
        server_holds("e1", "fpA", at(10)),  # 11
    ]
    result = run(rows)
    assert found(result) == {"lww_violation": 1}
    finding = only(result.findings, Anomaly.LWW_VIOLATION)
    assert finding.writes == (ref(3, rows[3]), ref(5, rows[5]))


def test_live_delivery_ignores_a_frame_that_never_left_the_device() -> None:
    rows = [
        meta(),  # 0
        write(5, "phone", "phone#1", "create", "e1", "fp0"),  # 1
        sent(5, "phone", "phone#1", "e1"),  # 2
        write(10, "tablet", "tablet#1", "update", "e1", "fpA"),  # 3
        queue(10, "tablet", "enqueue", "tablet#1", "e1"),  # 4
        write(20, "phone", "phone#2", "update", "e1", "fpB"),  # 5
        lost(20, "phone", "phone#2", "e1", reason="no open connection"),  # 6 never on the wire
        sent(25, "phone", "phone#2", "e1", frame_type="ENTRY_UPDATED"),  # 7 sent, not lost
        queue(100, "tablet", "send", "tablet#1", "e1"),  # 8
        sent(100, "tablet", "tablet#1", "e1", frame_type="ENTRY_UPDATED"),  # 9
        server_holds("e1", "fpA", at(10)),  # 10
    ]
    result = run(rows)
    assert found(result) == {"lww_violation": 1}


# -- lost_update ------------------------------------------------------------------------------


def test_lost_update_clock_skew() -> None:
    # The phone's clock is 5 minutes fast. Offline, it edits e1 at t=10 (stamped 10:05:10);
    # the tablet edits e1 at t=20 (stamped 10:00:20). When the phone's edit arrives, the
    # later-stamped, earlier-made edit wins everywhere: the rule held, the tablet's edit is lost.
    rows = [
        meta(),  # 0
        write(5, "tablet", "tablet#1", "create", "e1", "fp0"),  # 1
        sent(5, "tablet", "tablet#1", "e1"),  # 2
        applied(5.05, "e1", "fp0"),  # 3
        write(10, "phone", "phone#1", "update", "e1", "fpA", device_time=310),  # 4
        queue(10, "phone", "enqueue", "phone#1", "e1", device_time=310),  # 5
        write(20, "tablet", "tablet#2", "update", "e1", "fpB"),  # 6
        sent(20, "tablet", "tablet#2", "e1", frame_type="ENTRY_UPDATED"),  # 7
        applied(20.05, "e1", "fpB"),  # 8
        queue(100, "phone", "send", "phone#1", "e1", device_time=400),  # 9
        sent(100, "phone", "phone#1", "e1", frame_type="ENTRY_UPDATED", device_time=400),  # 10
        applied(100.05, "e1", "fpA"),  # 11
        merge(100.1, "tablet", "e1", accepted=True, fingerprint="fpA"),  # 12
        device_snapshot("phone"),  # 13
        holds("phone", "e1", "fpA", at(310)),  # 14
        device_snapshot("tablet"),  # 15
        holds("tablet", "e1", "fpA", at(310)),  # 16
        server_holds("e1", "fpA", at(310)),  # 17
    ]
    assert rows[4].updated_at == "2026-03-02T10:05:10.000Z"
    assert rows[6].updated_at == "2026-03-02T10:00:20.000Z"
    result = run(rows)
    assert found(result) == {"lost_update": 1}
    finding = only(result.findings, Anomaly.LOST_UPDATE)
    assert finding.cause == "clock skew: the rule was followed"
    assert (finding.entity_id, finding.devices) == ("e1", ("phone", "tablet"))
    winner, loser = finding.writes
    assert winner == ref(4, rows[4])
    assert (winner.t, winner.device_time) == (10, 310)  # both clocks are in the evidence
    assert loser == ref(6, rows[6])
    assert sorted(finding.rows) == [5, 7, 9, 10, 17]
    assert finding.t == 20


def test_no_lost_update_when_the_fast_clock_writes_last() -> None:
    # Same 5-minute skew, but the phone's edit is also the later one in true time.
    rows = [
        meta(),  # 0
        write(5, "tablet", "tablet#1", "create", "e1", "fp0"),  # 1
        sent(5, "tablet", "tablet#1", "e1"),  # 2
        applied(5.05, "e1", "fp0"),  # 3
        write(20, "tablet", "tablet#2", "update", "e1", "fpB"),  # 4
        sent(20, "tablet", "tablet#2", "e1", frame_type="ENTRY_UPDATED"),  # 5
        applied(20.05, "e1", "fpB"),  # 6
        write(30, "phone", "phone#1", "update", "e1", "fpA", device_time=330),  # 7
        sent(30, "phone", "phone#1", "e1", frame_type="ENTRY_UPDATED", device_time=330),  # 8
        applied(30.05, "e1", "fpA"),  # 9
        device_snapshot("phone"),  # 10
        holds("phone", "e1", "fpA", at(330)),  # 11
        device_snapshot("tablet"),  # 12
        holds("tablet", "e1", "fpA", at(330)),  # 13
        server_holds("e1", "fpA", at(330)),  # 14
    ]
    assert run(rows).findings == ()


# -- lww_violation ----------------------------------------------------------------------------


def test_lww_violation_live() -> None:
    # Clocks are right. The tablet edits e1 offline at t=10; the phone edits it at t=20 and
    # delivers. The tablet's older edit arrives last and the server keeps it: the rule broke.
    rows = [
        meta(),  # 0
        write(5, "phone", "phone#1", "create", "e1", "fp0"),  # 1
        sent(5, "phone", "phone#1", "e1"),  # 2
        write(10, "tablet", "tablet#1", "update", "e1", "fpA"),  # 3
        queue(10, "tablet", "enqueue", "tablet#1", "e1"),  # 4
        write(20, "phone", "phone#2", "update", "e1", "fpB"),  # 5
        sent(20, "phone", "phone#2", "e1", frame_type="ENTRY_UPDATED"),  # 6
        queue(100, "tablet", "send", "tablet#1", "e1"),  # 7
        sent(100, "tablet", "tablet#1", "e1", frame_type="ENTRY_UPDATED"),  # 8
        merge(100.1, "phone", "e1", accepted=False, fingerprint="fpA"),  # 9 phone keeps fpB
        device_snapshot("phone"),  # 10
        holds("phone", "e1", "fpB", at(20)),  # 11
        device_snapshot("tablet"),  # 12
        holds("tablet", "e1", "fpA", at(10)),  # 13
        server_holds("e1", "fpA", at(10)),  # 14
    ]
    result = run(rows)
    assert found(result) == {"lww_violation": 1, "divergence": 1}
    finding = only(result.findings, Anomaly.LWW_VIOLATION)
    assert finding.cause == "overwritten by an older write"
    assert (finding.entity_id, finding.devices) == ("e1", ("phone", "tablet"))
    assert finding.writes == (ref(3, rows[3]), ref(5, rows[5]))
    assert sorted(finding.rows) == [4, 6, 7, 8, 14]
    divergence = only(result.findings, Anomaly.DIVERGENCE)
    assert (divergence.devices, divergence.cause, divergence.rows) == (
        ("phone",),
        "different value",
        (11, 14),
    )


def test_lww_violation_with_server_evidence() -> None:
    rows = [
        meta(),  # 0
        write(5, "phone", "phone#1", "create", "e1", "fp0"),  # 1
        sent(5, "phone", "phone#1", "e1"),  # 2
        applied(5.05, "e1", "fp0"),  # 3
        write(10, "tablet", "tablet#1", "update", "e1", "fpA"),  # 4
        queue(10, "tablet", "enqueue", "tablet#1", "e1"),  # 5
        write(20, "phone", "phone#2", "update", "e1", "fpB"),  # 6
        sent(20, "phone", "phone#2", "e1", frame_type="ENTRY_UPDATED"),  # 7
        applied(20.05, "e1", "fpB"),  # 8
        queue(100, "tablet", "send", "tablet#1", "e1"),  # 9
        sent(100, "tablet", "tablet#1", "e1", frame_type="ENTRY_UPDATED"),  # 10
        applied(100.05, "e1", "fpA"),  # 11
        server_holds("e1", "fpA", at(10)),  # 12
    ]
    result = run(rows)
    assert found(result) == {"lww_violation": 1}
    finding = only(result.findings, Anomaly.LWW_VIOLATION)
    assert finding.writes == (ref(4, rows[4]), ref(6, rows[6]))
    assert finding.devices == ("phone", "tablet")


def test_no_lww_violation_when_the_last_write_never_left() -> None:
    # The server holds an older value, but only because the newest edit was never sent:
    # that is a lost_write, not a broken rule.
    rows = [
        meta(),  # 0
        write(5, "phone", "phone#1", "create", "e1", "fp0"),  # 1
        sent(5, "phone", "phone#1", "e1"),  # 2
        applied(5.05, "e1", "fp0"),  # 3
        write(20, "phone", "phone#2", "update", "e1", "fpB"),  # 4
        queue(20, "phone", "enqueue", "phone#2", "e1"),  # 5
        server_holds("e1", "fp0", at(5)),  # 6
    ]
    result = run(rows)
    assert found(result) == {"lost_write": 1}
    assert only(result.findings, Anomaly.LOST_WRITE).cause == "never sent"


# -- divergence -------------------------------------------------------------------------------


def test_divergence_device_holds_a_different_value() -> None:
    # The tablet got e1's create but not the phone's later edit.
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),  # 2
        write(20, "phone", "phone#2", "update", "e1", "fpB"),  # 3
        sent(20, "phone", "phone#2", "e1", frame_type="ENTRY_UPDATED"),  # 4
        device_snapshot("phone"),  # 5
        holds("phone", "e1", "fpB", at(20)),  # 6
        device_snapshot("tablet"),  # 7
        holds("tablet", "e1", "fpA", at(10)),  # 8
        server_holds("e1", "fpB", at(20)),  # 9
    ]
    result = run(rows)
    assert found(result) == {"divergence": 1}
    finding = only(result.findings, Anomaly.DIVERGENCE)
    assert finding.cause == "different value"
    assert (finding.user, finding.entity_id, finding.devices) == (USER, "e1", ("tablet",))
    assert finding.rows == (8, 9)
    assert at(10) in finding.summary and at(20) in finding.summary


@pytest.mark.parametrize(("deleted", "state"), [(False, "absent"), (True, "deleted")])
def test_divergence_device_holds_what_the_server_lacks(deleted: bool, state: str) -> None:
    rows = [
        meta(),  # 0
        device_snapshot("tablet"),  # 1
        holds("tablet", "e9", "fpZ", at(5)),  # 2
    ]
    if deleted:
        rows.append(server_holds("e9", "fpZ", at(5), deleted=True))  # 3
    result = run(rows)
    assert found(result) == {"divergence": 1}
    finding = only(result.findings, Anomaly.DIVERGENCE)
    assert finding.cause == f"{state} on server"
    assert (finding.entity_id, finding.devices, finding.rows) == ("e9", ("tablet",), (2,))


def test_no_divergence_across_users() -> None:
    # Bob's laptop holds his own entry and none of alice's: nothing differs for either user.
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),  # 2
        write(15, "laptop", "laptop#1", "create", "b1", "fpQ", user="bob"),  # 3
        sent(15, "laptop", "laptop#1", "b1", user="bob"),  # 4
        device_snapshot("phone"),  # 5
        holds("phone", "e1", "fpA", at(10)),  # 6
        device_snapshot("laptop", user="bob"),  # 7
        holds("laptop", "b1", "fpQ", at(15), user="bob"),  # 8
        server_holds("e1", "fpA", at(10)),  # 9
        server_holds("b1", "fpQ", at(15), user="bob"),  # 10
    ]
    assert run(rows).findings == ()


# -- missing_history --------------------------------------------------------------------------


def test_missing_history_never_received() -> None:
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),  # 2
        device_snapshot("phone"),  # 3
        holds("phone", "e1", "fpA", at(10)),  # 4
        device_snapshot("tablet"),  # 5
        server_holds("e1", "fpA", at(10)),  # 6
    ]
    result = run(rows)
    assert found(result) == {"missing_history": 1}
    finding = only(result.findings, Anomaly.MISSING_HISTORY)
    assert finding.cause == "never received"
    assert (finding.entity_id, finding.devices, finding.rows) == ("e1", ("tablet",), (6,))


def test_missing_history_every_merge_refused() -> None:
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),  # 2
        merge(10.1, "tablet", "e1", accepted=False, fingerprint="fpA"),  # 3
        merge(50.1, "tablet", "e1", accepted=False, fingerprint="fpA"),  # 4
        device_snapshot("phone"),  # 5
        holds("phone", "e1", "fpA", at(10)),  # 6
        device_snapshot("tablet"),  # 7
        server_holds("e1", "fpA", at(10)),  # 8
    ]
    result = run(rows)
    assert found(result) == {"missing_history": 1}
    finding = only(result.findings, Anomaly.MISSING_HISTORY)
    assert finding.cause == "received but every merge refused it"
    assert (finding.entity_id, finding.devices, finding.rows) == ("e1", ("tablet",), (8,))


def test_missing_history_received_then_removed() -> None:
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),  # 2
        merge(10.1, "tablet", "e1", accepted=True, fingerprint="fpA"),  # 3
        device_snapshot("phone"),  # 4
        holds("phone", "e1", "fpA", at(10)),  # 5
        device_snapshot("tablet"),  # 6
        server_holds("e1", "fpA", at(10)),  # 7
    ]
    finding = only(run(rows).findings, Anomaly.MISSING_HISTORY)
    assert finding.cause == "received, then removed"
    assert finding.devices == ("tablet",)


def test_no_missing_history_for_another_users_device() -> None:
    # Bob's laptop lacks alice's e1, as it should; alice's devices have it.
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),  # 2
        device_snapshot("phone"),  # 3
        holds("phone", "e1", "fpA", at(10)),  # 4
        device_snapshot("laptop", user="bob"),  # 5
        server_holds("e1", "fpA", at(10)),  # 6
        server_holds("b7", "fpQ", at(1), deleted=True, user="bob"),  # 7
    ]
    assert run(rows).findings == ()


# -- resurrection -----------------------------------------------------------------------------


def test_resurrection_live_on_the_server() -> None:
    # The phone deletes e1 and the delete is delivered, yet the server ends with e1 live.
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),  # 2
        write(20, "phone", "phone#2", "delete", "e1"),  # 3
        sent(20, "phone", "phone#2", "e1", frame_type="ENTRY_DELETED"),  # 4
        device_snapshot("tablet"),  # 5
        holds("tablet", "e1", "fpA", at(10)),  # 6
        server_holds("e1", "fpA", at(10)),  # 7
    ]
    result = run(rows)
    assert found(result) == {"resurrection": 1}
    finding = only(result.findings, Anomaly.RESURRECTION)
    assert finding.cause is None  # the delete was delivered: nothing on the device explains it
    assert (finding.entity_id, finding.devices) == ("e1", ("server", "tablet"))
    assert finding.writes == (ref(3, rows[3]),)
    assert finding.rows == (4, 7)


def test_resurrection_on_a_device_after_a_delivered_delete() -> None:
    # The server has the tombstone; the tablet never dropped its copy. The same fact is
    # reported twice: as a resurrection and as a divergence of the tablet.
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),  # 2
        applied(10.05, "e1", "fpA"),  # 3
        write(20, "phone", "phone#2", "delete", "e1"),  # 4
        sent(20, "phone", "phone#2", "e1", frame_type="ENTRY_DELETED"),  # 5
        applied(20.05, "e1", "fpA", op="delete"),  # 6
        device_snapshot("phone"),  # 7
        device_snapshot("tablet"),  # 8
        holds("tablet", "e1", "fpA", at(10)),  # 9
        server_holds("e1", "fpA", at(10), deleted=True),  # 10
    ]
    result = run(rows)
    assert found(result) == {"resurrection": 1, "divergence": 1}
    finding = only(result.findings, Anomaly.RESURRECTION)
    assert finding.cause is None
    assert (finding.entity_id, finding.devices) == ("e1", ("tablet",))
    assert finding.rows == (5, 10)
    assert only(result.findings, Anomaly.DIVERGENCE).cause == "deleted on server"


def test_resurrection_of_an_undelivered_delete_names_the_cause() -> None:
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),  # 2
        applied(10.05, "e1", "fpA"),  # 3
        write(20, "phone", "phone#2", "delete", "e1"),  # 4
        queue(20, "phone", "enqueue", "phone#2", "e1"),  # 5
        reload(30, "phone"),  # 6
        queue(30, "phone", "lost", "phone#2", "e1", reason="reload"),  # 7
        server_holds("e1", "fpA", at(10)),  # 8
    ]
    result = run(rows)
    assert found(result) == {"resurrection": 1}
    finding = only(result.findings, Anomaly.RESURRECTION)
    assert finding.cause == "outbox lost on reload"
    assert (finding.devices, finding.rows) == (("server",), (5, 7, 8))


def test_no_resurrection_when_the_delete_holds_or_a_create_follows() -> None:
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),  # 2
        write(20, "phone", "phone#2", "delete", "e1"),  # 3
        sent(20, "phone", "phone#2", "e1", frame_type="ENTRY_DELETED"),  # 4
        write(30, "tablet", "tablet#1", "create", "e2", "fpX"),  # 5
        sent(30, "tablet", "tablet#1", "e2"),  # 6
        write(40, "tablet", "tablet#2", "delete", "e2"),  # 7
        sent(40, "tablet", "tablet#2", "e2", frame_type="ENTRY_DELETED"),  # 8
        write(50, "tablet", "tablet#3", "create", "e2", "fpY"),  # 9 e2 comes back on purpose
        sent(50, "tablet", "tablet#3", "e2"),  # 10
        device_snapshot("phone"),  # 11
        holds("phone", "e2", "fpY", at(50)),  # 12
        device_snapshot("tablet"),  # 13
        holds("tablet", "e2", "fpY", at(50)),  # 14
        server_holds("e1", "fpA", at(10), deleted=True),  # 15
        server_holds("e2", "fpY", at(50)),  # 16
    ]
    assert run(rows).findings == ()


# -- payload ----------------------------------------------------------------------------------


def test_payload_frame_over_the_limit() -> None:
    rows = [
        meta(max_frame_bytes=1_048_576),  # 0
        sent(10, "phone", frame_type="SYNC_REQUEST", nbytes=120),  # 1
        sent(10.1, SERVER, frame_type="BULK_SYNC", nbytes=1_048_577),  # 2
        sent(20, "phone", "phone#1", "e1", nbytes=1_048_576),  # 3 exactly the limit: fine
        write(20, "phone", "phone#1", "create", "e1", "fpA"),  # 4
        server_holds("e1", "fpA", at(20)),  # 5
    ]
    result = run(rows)
    assert found(result) == {"payload": 1}
    finding = only(result.findings, Anomaly.PAYLOAD)
    assert (finding.devices, finding.rows, finding.t, finding.user) == (
        ("server",),
        (2,),
        10.1,
        USER,
    )
    assert "BULK_SYNC" in finding.summary and "1048577" in finding.summary
    assert result.metrics["max_frame_bytes"] == 1_048_577


def test_payload_device_frame_over_the_limit() -> None:
    rows = [
        meta(max_frame_bytes=2048),  # 0
        write(20, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(20, "phone", "phone#1", "e1", nbytes=4096),  # 2
        server_holds("e1", "fpA", at(20)),  # 3
    ]
    finding = only(run(rows).findings, Anomaly.PAYLOAD)
    assert (finding.devices, finding.rows) == (("phone",), (2,))


def test_no_payload_without_a_limit_or_within_it() -> None:
    big = sent(10.1, SERVER, frame_type="BULK_SYNC", nbytes=5_000_000)
    assert run([meta(max_frame_bytes=None), big]).findings == ()
    assert run([meta(max_frame_bytes=5_000_000), big]).findings == ()


# -- metrics ----------------------------------------------------------------------------------


def test_metrics() -> None:
    rows = [
        meta(),  # 0
        sent(1, "phone", frame_type="SYNC_REQUEST", nbytes=100),  # 1
        sent(1.1, SERVER, frame_type="SYNC_RESPONSE", nbytes=2000),  # 2
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 3
        sent(10, "phone", "phone#1", "e1", nbytes=500),  # 4
        write(20, "phone", "phone#2", "update", "e1", "fpB"),  # 5
        queue(20, "phone", "enqueue", "phone#2", "e1"),  # 6
        write(21, "phone", "phone#3", "update", "e1", "fpC"),  # 7
        queue(21, "phone", "drop", "phone#2", "e1", reason="superseded"),  # 8 not a loss
        queue(21, "phone", "enqueue", "phone#3", "e1"),  # 9
        queue(30, "phone", "drop", "phone#3", "e1", reason="cap"),  # 10
        write(40, "phone", "phone#4", "delete", "e1"),  # 11
        queue(40, "phone", "enqueue", "phone#4", "e1"),  # 12
        queue(50, "phone", "drop", "phone#4", "e1", reason="expired"),  # 13
        write(55, "phone", "phone#5", "create", "e2", "fpX"),  # 14
        queue(55, "phone", "enqueue", "phone#5", "e2"),  # 15
        reload(60, "phone"),  # 16
        queue(60, "phone", "lost", "phone#5", "e2", reason="reload"),  # 17
        sent(70, "phone", frame_type="SYNC_REQUEST", nbytes=100),  # 18
        lost(70.05, "phone", "phone#1", "e1"),  # 19
        keepalive(80, "phone", ping=(4, 40), pong=(4, 44)),  # 20
        keepalive(90, "tablet", ping=(1, 10), pong=(0, 0)),  # 21
    ]
    metrics = run(rows).metrics
    expected = {
        "writes": 5,
        "frames_sent": 4 + 4 + 4 + 1,  # frame rows plus keep-alive counts
        "frames_lost": 1,
        "bytes_sent": 100 + 2000 + 500 + 100 + 40 + 44 + 10,
        "max_frame_bytes": 2000,  # keep-alive sizes are totals, not frames
        "sync_requests": 2,
        "queue_drops": 3,  # cap, expired, reload; superseded is not counted
        "reloads": 1,
        "bytes_per_change": (100 + 2000 + 500 + 100) / 5,  # keep-alives left out
        "connections": 0,
        "sync_requests_per_connection": 0,  # no connection rows: no division by zero
        "unconverged_writes": 0,  # one device only: nobody else to converge
    }
    assert {k: metrics[k] for k in expected} == expected


# -- history files ----------------------------------------------------------------------------


def test_history_round_trip_keeps_the_digest(tmp_path: Path) -> None:
    rows = [
        *clean_rows(),
        merge(50, "tablet", "e1", accepted=False, fingerprint="fpA"),
        keepalive(80, "phone", ping=(4, 40), pong=(4, 44)),
        Record(t=81.5, kind=Kind.PEER_ERROR, device="phone", detail={"text": "Überlauf ✓"}),
    ]
    history = History(rows)
    path = tmp_path / "history.jsonl"
    history.save(path)
    loaded = History.load(path)
    assert loaded.digest() == history.digest()
    assert loaded.records == history.records
    assert loaded.meta == history.meta
    assert run(loaded.records).counts == run(rows).counts


@pytest.mark.parametrize(
    "bad",
    [
        "{not json",
        json.dumps({"t": 1.0, "kind": "teleport"}),
        json.dumps({"t": 1.0}),
        json.dumps({"t": 1.0, "kind": "write", "colour": "red"}),
        json.dumps(["t", 1.0]),
        "",
    ],
    ids=["not-json", "unknown-kind", "no-kind", "unknown-field", "not-an-object", "blank"],
)
def test_history_load_names_file_and_line_of_a_bad_row(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "history.jsonl"
    good = meta().to_json()
    path.write_text(f"{good}\n{bad}\n{good}\n", encoding="utf-8")
    with pytest.raises(UsageError, match=rf"^{re.escape(str(path))}:2: "):
        History.load(path)


def test_history_load_of_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read history"):
        History.load(tmp_path / "nope.jsonl")


def test_history_load_of_a_non_utf8_row_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    path.write_bytes(meta().to_json().encode() + b'\n{"t":1,"kind":"meta","reason":"\xff"}\n')
    with pytest.raises(UsageError, match=rf"^{re.escape(str(path))}:2: "):
        History.load(path)


# -- property: everything delivered and everywhere means nothing to report ---------------------

DEVICES = ("phone", "tablet")
ENTITIES = ("e1", "e2", "e3")


@st.composite
def delivered_histories(draw: st.DrawFn) -> list[Record]:
    """Random writes on two devices, each delivered (with or without server evidence), and
    final snapshots in which every device and the server hold each entity's last write."""
    evidence = draw(st.booleans())
    steps = draw(
        st.lists(
            st.tuples(st.sampled_from(DEVICES), st.sampled_from(ENTITIES), st.booleans()),
            min_size=1,
            max_size=25,
        )
    )
    rows: list[Record] = [meta()]
    state: dict[str, tuple[str, float] | None] = {}  # entity -> (fingerprint, stamp) or deleted
    last_fp: dict[str, str] = {}
    counters = dict.fromkeys(DEVICES, 0)
    for number, (device, entity, delete) in enumerate(steps, start=1):
        t = float(number * 10)
        counters[device] += 1
        write_id = f"{device}#{counters[device]}"
        present = state.get(entity) is not None
        if present and delete:
            rows.append(write(t, device, write_id, "delete", entity))
            rows.append(sent(t, device, write_id, entity, frame_type="ENTRY_DELETED"))
            if evidence:
                rows.append(applied(t + 0.05, entity, last_fp[entity], op="delete"))
            state[entity] = None
            continue
        op = "update" if present else "create"
        fp = f"fp{number}"
        rows.append(write(t, device, write_id, op, entity, fp))
        rows.append(sent(t, device, write_id, entity))
        if evidence:
            rows.append(applied(t + 0.05, entity, fp))
        state[entity] = (fp, t)
        last_fp[entity] = fp
    for device in DEVICES:
        rows.append(device_snapshot(device))
        for entity, held in sorted(state.items()):
            if held is not None:
                rows.append(holds(device, entity, held[0], at(held[1])))
    for entity, held in sorted(state.items()):
        if held is None:
            rows.append(server_holds(entity, last_fp[entity], deleted=True))
        else:
            rows.append(server_holds(entity, held[0], at(held[1])))
    return rows


@settings(max_examples=100, deadline=None)
@given(delivered_histories())
def test_property_delivered_everywhere_finds_nothing(rows: list[Record]) -> None:
    result = run(rows)
    assert result.findings == ()
    writes = [r for r in rows if r.kind is Kind.WRITE]
    assert result.metrics["writes"] == len(writes)
    assert result.metrics["frames_sent"] == len(writes)
