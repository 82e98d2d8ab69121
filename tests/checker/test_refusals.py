"""refused_write: an ERROR linked to the write it refused, by messageId or by order."""

from __future__ import annotations

from histories import (
    at,
    device_snapshot,
    found,
    holds,
    meta,
    received,
    run,
    sent,
    server_holds,
    write,
)

from simulator.checker.names import Anomaly
from simulator.checker.refusals import refusals
from simulator.checker.view import View
from simulator.history import History


def test_refused_write_linked_by_order_behind_an_ack() -> None:
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1", fingerprint="fpA"),  # 2
        write(11, "phone", "phone#2", "create", "e2", "fpB"),  # 3
        sent(11, "phone", "phone#2", "e2", fingerprint="fpB"),  # 4
        received(10.1, "phone", "SYNC_RESPONSE", 60, reason="Mutation applied"),  # 5
        received(11.1, "phone", "ERROR", 80, reason="invalid ENTRY_CREATED: duration"),  # 6
        server_holds("e1", "fpA", at(10)),  # 7
        device_snapshot("phone"),  # 8
        holds("phone", "e1", "fpA", at(10)),  # 9
    ]
    result = run(rows)
    assert found(result) == {"refused_write": 1}
    (finding,) = result.findings
    assert finding.anomaly is Anomaly.REFUSED_WRITE and finding.entity_id == "e2"
    assert finding.cause == (
        "refused by the server: invalid ENTRY_CREATED: duration (ERROR linked by order)"
    )
    assert finding.rows == (3, 4, 6)


def test_refused_write_linked_by_message_id_out_of_order() -> None:
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1", message_id="m1", fingerprint="fpA"),  # 2
        write(10, "phone", "phone#2", "create", "e2", "fpB"),  # 3
        sent(10, "phone", "phone#2", "e2", message_id="m2", fingerprint="fpB"),  # 4
        received(10.1, "phone", "ERROR", 80, reason="no", message_id="m1"),  # 5
        received(10.2, "phone", "SYNC_RESPONSE", 60, reason="ok", message_id="m2"),  # 6
        server_holds("e2", "fpB", at(10)),  # 7
    ]
    result = run(rows)
    assert found(result) == {"refused_write": 1}
    assert result.findings[0].entity_id == "e1"
    assert result.findings[0].cause == "refused by the server: no"


def test_no_refused_write_when_the_resend_was_stored() -> None:
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1", fingerprint="fpA"),  # 2
        received(10.1, "phone", "ERROR", 80, reason="busy"),  # 3
        sent(40, "phone", "phone#1", "e1", fingerprint="fpA"),  # 4 the outbox retried
        received(40.1, "phone", "SYNC_RESPONSE", 60, reason="Mutation applied"),  # 5
        server_holds("e1", "fpA", at(10)),  # 6
    ]
    assert found(run(rows)) == {}


def test_an_error_answering_a_catch_up_refuses_no_write() -> None:
    rows = [
        meta(),  # 0
        sent(5, "phone", frame_type="SYNC_REQUEST", nbytes=80),  # 1
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 2
        sent(10, "phone", "phone#1", "e1", fingerprint="fpA"),  # 3
        received(10.1, "phone", "ERROR", 80, reason="bad cursor"),  # 4 answers row 1
        received(10.2, "phone", "SYNC_RESPONSE", 60, reason="Mutation applied"),  # 5
        server_holds("e1", "fpA", at(10)),  # 6
    ]
    assert found(run(rows)) == {}


def test_order_skips_what_the_server_is_known_to_hold_when_it_never_acks() -> None:
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1", fingerprint="fpA"),  # 2 stored, never acked
        write(20, "phone", "phone#2", "create", "e2", "fpB"),  # 3
        sent(20, "phone", "phone#2", "e2", fingerprint="fpB"),  # 4
        received(20.1, "phone", "ERROR", 80, reason="nope"),  # 5
        server_holds("e1", "fpA", at(10)),  # 6
    ]
    (refusal,) = refusals(View(History(rows))).values()
    assert (refusal.write_id, refusal.linked_by) == ("phone#2", "order, skipping 1 the server took")
    assert found(run(rows)) == {"refused_write": 1}
