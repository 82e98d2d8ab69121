"""More anomalies against literal histories: leak, a merge accepted against the rule, local
write failures (quota), outbox losses (retries, wipe) and duplicates.

As in `test_anomalies.py`, every history is spelled out row by row and the comment after a row
is its index, which is what findings cite as evidence. Each anomaly is shown where it is found,
with its cause and evidence, and where it is not.
"""

from __future__ import annotations

import pytest
from histories import (
    ENTRY,
    PIECE,
    USER,
    applied,
    at,
    device_snapshot,
    entry_held,
    found,
    holds,
    lost,
    merged,
    meta,
    piece_held,
    queue,
    ref,
    run,
    sent,
    server_holds,
    write,
    write_failed,
)

from simulator.checker.findings import Finding
from simulator.checker.names import Anomaly
from simulator.history import SERVER, Record


def only(findings: tuple[Finding, ...], anomaly: Anomaly) -> Finding:
    """The single finding of this anomaly."""
    matching = [f for f in findings if f.anomaly is anomaly]
    assert len(matching) == 1, matching
    return matching[0]


def placeholder(t: float) -> Record:
    """A server frame standing where a `server_applied` row is in the evidence variant, so
    row indexes stay the same in both variants."""
    return sent(t, SERVER, frame_type="SYNC_RESPONSE")


# -- leak -------------------------------------------------------------------------------------


def test_leak_bob_merges_and_holds_an_entry_only_alice_wrote() -> None:
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "a1", "fpA"),  # 1 alice's entry
        sent(10, "phone", "phone#1", "a1"),  # 2
        applied(10.05, "a1", "fpA", write_id="phone#1"),  # 3
        merged(
            10.2,
            "laptop",
            "a1",
            fingerprint="fpA",
            updated_at=at(10),
            local_fingerprint=None,
            local_updated_at=None,
            frame_type="ENTRY_CREATED",
            user="bob",
        ),  # 4 the broadcast reached bob's laptop
        device_snapshot("phone"),  # 5
        holds("phone", "a1", "fpA", at(10)),  # 6
        device_snapshot("laptop", user="bob"),  # 7
        holds("laptop", "a1", "fpA", at(10), user="bob"),  # 8 and bob keeps it
        server_holds("a1", "fpA", at(10)),  # 9
    ]
    result = run(rows)
    # The laptop also holds, as bob's, an entry the server does not have for bob.
    assert found(result) == {"leak": 1, "divergence": 1}
    leak = only(result.findings, Anomaly.LEAK)
    assert leak.cause == "another user's data"
    assert (leak.user, leak.entity_type, leak.entity_id) == ("bob", ENTRY, "a1")
    assert leak.devices == ("laptop",)
    assert leak.rows == (4,)  # one finding per device and entity: the first sighting, the merge
    assert leak.t == 10.2
    assert "alice" in leak.summary and "bob" in leak.summary
    divergence = only(result.findings, Anomaly.DIVERGENCE)
    assert (divergence.user, divergence.devices, divergence.cause, divergence.rows) == (
        "bob",
        ("laptop",),
        "absent on server",
        (8,),
    )


def test_leak_seen_only_in_the_final_snapshot() -> None:
    # No merge row (a REST pull, say): the final snapshot alone is the evidence.
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "a1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "a1"),  # 2
        device_snapshot("phone"),  # 3
        holds("phone", "a1", "fpA", at(10)),  # 4
        device_snapshot("laptop", user="bob"),  # 5
        holds("laptop", "a1", "fpA", at(10), user="bob"),  # 6
        server_holds("a1", "fpA", at(10)),  # 7
    ]
    leak = only(run(rows).findings, Anomaly.LEAK)
    assert (leak.user, leak.entity_id, leak.devices, leak.rows) == ("bob", "a1", ("laptop",), (6,))


def test_no_leak_when_each_user_gets_only_their_own() -> None:
    # Alice's tablet merges alice's entry; bob's laptop merges bob's entry. Nothing crosses.
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "a1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "a1"),  # 2
        merged(
            10.2,
            "tablet",
            "a1",
            fingerprint="fpA",
            updated_at=at(10),
            local_fingerprint=None,
            local_updated_at=None,
            frame_type="ENTRY_CREATED",
        ),  # 3
        write(20, "desktop", "desktop#1", "create", "b1", "fpQ", user="bob"),  # 4
        sent(20, "desktop", "desktop#1", "b1", user="bob"),  # 5
        merged(
            20.2,
            "laptop",
            "b1",
            fingerprint="fpQ",
            updated_at=at(20),
            local_fingerprint=None,
            local_updated_at=None,
            frame_type="ENTRY_CREATED",
            user="bob",
        ),  # 6
        device_snapshot("phone"),  # 7
        holds("phone", "a1", "fpA", at(10)),  # 8
        device_snapshot("tablet"),  # 9
        holds("tablet", "a1", "fpA", at(10)),  # 10
        device_snapshot("desktop", user="bob"),  # 11
        holds("desktop", "b1", "fpQ", at(20), user="bob"),  # 12
        device_snapshot("laptop", user="bob"),  # 13
        holds("laptop", "b1", "fpQ", at(20), user="bob"),  # 14
        server_holds("a1", "fpA", at(10)),  # 15
        server_holds("b1", "fpQ", at(20), user="bob"),  # 16
    ]
    assert run(rows).findings == ()


# -- lww_violation: a merge accepted against the rule ------------------------------------------


def skewed_merge_rows(lww: str) -> list[Record]:
    """The phone's clock is 20 s slow. The tablet edits e1 at t=30 (10:00:30, version 2); the
    phone edits it later, at t=40, but stamps 10:00:20 (version 3). The tablet accepts the
    phone's edit: right by version, wrong by updatedAt."""
    return [
        meta(lww=lww),  # 0
        write(25, "phone", "phone#1", "create", "e1", "fp0", device_time=5),  # 1
        sent(25, "phone", "phone#1", "e1", device_time=5),  # 2
        applied(25.05, "e1", "fp0", write_id="phone#1"),  # 3 version 1
        write(30, "tablet", "tablet#1", "update", "e1", "fpA"),  # 4
        sent(30, "tablet", "tablet#1", "e1", frame_type="ENTRY_UPDATED"),  # 5
        applied(30.05, "e1", "fpA", write_id="tablet#1"),  # 6 version 2
        write(40, "phone", "phone#2", "update", "e1", "fpB", device_time=20),  # 7
        sent(40, "phone", "phone#2", "e1", frame_type="ENTRY_UPDATED", device_time=20),  # 8
        applied(40.05, "e1", "fpB", write_id="phone#2"),  # 9 version 3
        merged(
            40.1,
            "tablet",
            "e1",
            fingerprint="fpB",
            updated_at=at(20),
            local_fingerprint="fpA",
            local_updated_at=at(30),
            version=3,
            local_version=2,
        ),  # 10 accepted: higher version, older updatedAt
        device_snapshot("phone"),  # 11
        holds("phone", "e1", "fpB", at(20)),  # 12
        device_snapshot("tablet"),  # 13
        holds("tablet", "e1", "fpB", at(20)),  # 14
        server_holds("e1", "fpB", at(20)),  # 15
    ]


def test_merge_with_a_higher_version_but_older_updated_at_breaks_the_updated_at_rule() -> None:
    rows = skewed_merge_rows("updated_at")
    assert rows[10].updated_at == "2026-03-02T10:00:20.000Z"
    result = run(rows)
    # Everyone ends with the last write (fpB): the only fault is the merge itself.
    assert found(result) == {"lww_violation": 1}
    finding = only(result.findings, Anomaly.LWW_VIOLATION)
    assert finding.cause == "merge accepted against the rule"
    assert (finding.user, finding.entity_type, finding.entity_id) == (USER, ENTRY, "e1")
    assert finding.devices == ("tablet",)
    assert finding.rows == (10,)
    assert finding.t == 40.1
    assert finding.writes == ()
    assert "updated_at rule" in finding.summary and "ENTRY_UPDATED" in finding.summary


def test_merge_with_a_higher_version_but_older_updated_at_is_right_under_version_first() -> None:
    assert run(skewed_merge_rows("version_first")).findings == ()


# Each case: one accepted merge of e1 on the tablet, which held a local copy (fpA).
# (rule, incoming version, local version, incoming updatedAt, local updatedAt, violation)
MERGE_CASES = [
    ("updated_at", None, None, 10, 20, True),  # older accepted
    ("updated_at", None, None, 20, 20, True),  # the same stamp is not newer
    ("updated_at", None, None, 30, 20, False),
    ("updated_at", 3, 2, 10, 20, True),  # versions are not read under updated_at
    ("updated_at", 1, 2, 30, 20, False),
    ("version_first", 3, 2, 10, 20, False),  # a higher version wins whatever the stamps
    ("version_first", 2, 2, 30, 20, True),  # the same version is not higher
    ("version_first", 1, 2, 30, 20, True),  # a lower version accepted
    ("version_first", None, 2, 10, 20, True),  # no incoming version: updatedAt decides
    ("version_first", None, 2, 30, 20, False),
    ("version_first", 3, None, 10, 20, True),  # no local version: updatedAt decides
]


@pytest.mark.parametrize(
    ("lww", "version", "local_version", "stamp", "local_stamp", "bad"), MERGE_CASES
)
def test_merge_judged_by_the_profiles_rule(
    lww: str,
    version: int | None,
    local_version: int | None,
    stamp: float,
    local_stamp: float,
    bad: bool,
) -> None:
    rows = [
        meta(lww=lww),  # 0
        merged(
            50,
            "tablet",
            "e1",
            fingerprint="fpB",
            updated_at=at(stamp),
            local_fingerprint="fpA",
            local_updated_at=at(local_stamp),
            version=version,
            local_version=local_version,
        ),  # 1
    ]
    result = run(rows)
    if bad:
        assert found(result) == {"lww_violation": 1}
        finding = only(result.findings, Anomaly.LWW_VIOLATION)
        assert (finding.rows, finding.devices, finding.cause) == (
            (1,),
            ("tablet",),
            "merge accepted against the rule",
        )
        assert f"{lww} rule" in finding.summary
    else:
        assert result.findings == ()


def older_merge(
    t: float,
    entity_id: str,
    *,
    accepted: bool = True,
    frame_type: str = "ENTRY_UPDATED",
    entity_type: str = ENTRY,
) -> Record:
    """A merge on the tablet that is older by both rules: updatedAt 10:00:10 against 10:00:20,
    version 1 against 2."""
    return merged(
        t,
        "tablet",
        entity_id,
        fingerprint="fpB",
        updated_at=at(10),
        local_fingerprint="fpA",
        local_updated_at=at(20),
        version=1,
        local_version=2,
        accepted=accepted,
        frame_type=frame_type,
        entity_type=entity_type,
    )


@pytest.mark.parametrize("lww", ["updated_at", "version_first"])
def test_no_merge_violation_when_refused_new_or_a_delete(lww: str) -> None:
    rows = [
        meta(lww=lww),  # 0
        older_merge(50, "e1", accepted=False),  # 1 refused: fine
        merged(
            51,
            "tablet",
            "e2",
            fingerprint="fpX",
            updated_at=at(10),
            local_fingerprint=None,
            local_updated_at=None,
        ),  # 2 nothing local to beat
        older_merge(52, "e3", frame_type="ENTRY_DELETED"),  # 3 a delete is not judged by the rule
        older_merge(53, "score_1", frame_type="PIECE_REMOVED", entity_type=PIECE),  # 4 nor this
    ]
    assert run(rows).findings == ()
    # The same older merge, accepted as an update, is a violation under either rule.
    rows.append(older_merge(54, "e1"))  # 5
    finding = only(run(rows).findings, Anomaly.LWW_VIOLATION)
    assert (finding.rows, finding.entity_id) == ((5,), "e1")


# -- lost_write: a write localStorage refused (quota) -----------------------------------------


def test_lost_write_quota_exceeded() -> None:
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),  # 2
        applied(10.05, "e1", "fpA", write_id="phone#1"),  # 3
        write_failed(30, "phone", "phone#2", "update", "e1"),  # 4 localStorage is full
        device_snapshot("phone"),  # 5
        holds("phone", "e1", "fpA", at(10)),  # 6
        server_holds("e1", "fpA", at(10)),  # 7
    ]
    result = run(rows)
    # Everything agrees on fpA; the refused edit exists nowhere but in row 4.
    assert found(result) == {"lost_write": 1}
    finding = only(result.findings, Anomaly.LOST_WRITE)
    assert finding.cause == "quota: quota exceeded"
    assert (finding.user, finding.entity_type, finding.entity_id) == (USER, ENTRY, "e1")
    assert finding.devices == ("phone",)
    assert finding.rows == (4,)
    assert finding.t == 30
    assert finding.writes == ()  # no WRITE row: the write never happened locally
    assert "failed locally" in finding.summary


def test_lost_write_quota_not_superseded_by_a_write_to_another_entry() -> None:
    rows = [
        meta(),  # 0
        write_failed(30, "phone", "phone#1", "create", "e1"),  # 1
        write(40, "phone", "phone#2", "create", "e2", "fpX"),  # 2 a later write, another entry
        sent(40, "phone", "phone#2", "e2"),  # 3
        applied(40.05, "e2", "fpX", write_id="phone#2"),  # 4
        device_snapshot("phone"),  # 5
        holds("phone", "e2", "fpX", at(40)),  # 6
        server_holds("e2", "fpX", at(40)),  # 7
    ]
    result = run(rows)
    assert found(result) == {"lost_write": 1}
    finding = only(result.findings, Anomaly.LOST_WRITE)
    assert (finding.cause, finding.entity_id, finding.rows) == ("quota: quota exceeded", "e1", (1,))


def test_no_lost_write_when_a_later_write_supersedes_the_failed_one() -> None:
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),  # 2
        applied(10.05, "e1", "fpA", write_id="phone#1"),  # 3
        write_failed(30, "phone", "phone#2", "update", "e1"),  # 4
        write(40, "phone", "phone#3", "update", "e1", "fpC"),  # 5 space freed, edited again
        sent(40, "phone", "phone#3", "e1", frame_type="ENTRY_UPDATED"),  # 6
        applied(40.05, "e1", "fpC", write_id="phone#3"),  # 7
        device_snapshot("phone"),  # 8
        holds("phone", "e1", "fpC", at(40)),  # 9
        server_holds("e1", "fpC", at(40)),  # 10
    ]
    assert run(rows).findings == ()


# -- lost_write: the outbox gave up (retries) or was wiped ------------------------------------


def retries_rows(evidence: bool) -> list[Record]:
    """The phone's edit is sent twice and lost in flight twice; then its retries run out."""
    return [
        meta(lww="version_first"),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),  # 2
        applied(10.05, "e1", "fpA", write_id="phone#1") if evidence else placeholder(10.05),  # 3
        write(30, "phone", "phone#2", "update", "e1", "fpB"),  # 4
        queue(30, "phone", "enqueue", "phone#2", "e1", depth=1),  # 5
        queue(30, "phone", "send", "phone#2", "e1", depth=1),  # 6
        sent(30, "phone", "phone#2", "e1", frame_type="ENTRY_UPDATED"),  # 7
        lost(30.05, "phone", "phone#2", "e1", frame_type="ENTRY_UPDATED"),  # 8
        queue(60, "phone", "send", "phone#2", "e1", depth=1),  # 9
        sent(60, "phone", "phone#2", "e1", frame_type="ENTRY_UPDATED"),  # 10
        lost(60.05, "phone", "phone#2", "e1", frame_type="ENTRY_UPDATED"),  # 11
        queue(120, "phone", "drop", "phone#2", "e1", reason="retries"),  # 12
        device_snapshot("phone"),  # 13
        holds("phone", "e1", "fpB", at(30)),  # 14
        server_holds("e1", "fpA", at(10)),  # 15
    ]


@pytest.mark.parametrize("evidence", [True, False], ids=["server-evidence", "live"])
def test_lost_write_dropped_after_its_retries_ran_out(evidence: bool) -> None:
    rows = retries_rows(evidence)
    result = run(rows)
    assert found(result) == {"lost_write": 1, "divergence": 1}
    finding = only(result.findings, Anomaly.LOST_WRITE)
    # The queue's own reason wins over "frame lost in flight": it says why nothing was resent.
    assert finding.cause == "dropped from the outbox after its retries ran out"
    assert (finding.entity_id, finding.devices) == ("e1", ("phone",))
    assert finding.writes == (ref(4, rows[4]),)
    assert finding.rows == (5, 6, 7, 8, 9, 10, 11, 12, 15)  # frames, losses, queue, server row
    divergence = only(result.findings, Anomaly.DIVERGENCE)
    assert (divergence.devices, divergence.rows) == (("phone",), (14, 15))
    assert result.metrics["queue_drops"] == 1


@pytest.mark.parametrize("evidence", [True, False], ids=["server-evidence", "live"])
def test_lost_write_outbox_lost_when_storage_was_wiped(evidence: bool) -> None:
    rows = [
        meta(lww="version_first"),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),  # 2
        applied(10.05, "e1", "fpA", write_id="phone#1") if evidence else placeholder(10.05),  # 3
        write(30, "phone", "phone#2", "update", "e1", "fpB"),  # 4 offline edit
        queue(30, "phone", "enqueue", "phone#2", "e1", depth=1),  # 5
        queue(50, "phone", "lost", "phone#2", "e1", reason="wipe"),  # 6 storage wiped
        device_snapshot("phone"),  # 7
        holds("phone", "e1", "fpA", at(10)),  # 8 pulled back from the server after the wipe
        server_holds("e1", "fpA", at(10)),  # 9
    ]
    result = run(rows)
    assert found(result) == {"lost_write": 1}
    finding = only(result.findings, Anomaly.LOST_WRITE)
    assert finding.cause == "outbox lost when storage was wiped"
    assert (finding.entity_id, finding.devices) == ("e1", ("phone",))
    assert finding.writes == (ref(4, rows[4]),)
    assert finding.rows == (5, 6, 9)
    assert result.metrics["queue_drops"] == 1


@pytest.mark.parametrize(("queue_op", "reason"), [("drop", "retries"), ("lost", "wipe")])
def test_no_lost_write_when_a_later_write_supersedes_the_lost_item(
    queue_op: str, reason: str
) -> None:
    rows = [
        meta(lww="version_first"),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),  # 2
        applied(10.05, "e1", "fpA", write_id="phone#1"),  # 3
        write(30, "phone", "phone#2", "update", "e1", "fpB"),  # 4
        queue(30, "phone", "enqueue", "phone#2", "e1", depth=1),  # 5
        queue(50, "phone", queue_op, "phone#2", "e1", reason=reason),  # 6
        write(70, "phone", "phone#3", "update", "e1", "fpC"),  # 7 the user edits again
        queue(70, "phone", "enqueue", "phone#3", "e1", depth=1),  # 8
        queue(70, "phone", "send", "phone#3", "e1", depth=1),  # 9
        sent(70, "phone", "phone#3", "e1", frame_type="ENTRY_UPDATED"),  # 10
        applied(70.05, "e1", "fpC", write_id="phone#3"),  # 11
        queue(70.1, "phone", "ack", "phone#3", "e1"),  # 12
        device_snapshot("phone"),  # 13
        holds("phone", "e1", "fpC", at(70)),  # 14
        server_holds("e1", "fpC", at(70)),  # 15
    ]
    result = run(rows)
    assert result.findings == ()
    assert result.metrics["queue_drops"] == 1  # still a drop, but nothing the user wants is lost


# -- duplicate: one piece under two score ids -------------------------------------------------

BACH = "prelude in c-j.s. bach"  # the id an older client gave "J.S. Bach"
JS_BACH = "prelude  in c-js bach"  # and the one "JS Bach" with a doubled space got


def test_duplicate_piece_same_normalized_score_id_on_the_server() -> None:
    rows = [
        meta(),  # 0
        piece_held(SERVER, BACH, "Prelude in C", "J.S. Bach"),  # 1
        piece_held(SERVER, JS_BACH, "Prelude  in C", "JS Bach"),  # 2
        piece_held(SERVER, "score_9", "Clair de lune", "Debussy"),  # 3 another piece
    ]
    result = run(rows)
    assert found(result) == {"duplicate": 1}
    finding = only(result.findings, Anomaly.DUPLICATE)
    assert finding.cause == "same normalized score id"
    assert (finding.user, finding.entity_type) == (USER, PIECE)
    assert finding.entity_id == JS_BACH  # the first of the ids, sorted (a space sorts first)
    assert finding.devices == ("server",)
    assert finding.rows == (1, 2)
    assert BACH in finding.summary and JS_BACH in finding.summary
    assert "under 2 ids" in finding.summary


def test_duplicate_piece_held_twice_by_a_device_names_it_too() -> None:
    rows = [
        meta(),  # 0
        device_snapshot("phone"),  # 1
        piece_held("phone", BACH, "Prelude in C", "J.S. Bach"),  # 2
        piece_held("phone", JS_BACH, "Prelude  in C", "JS Bach"),  # 3
        piece_held(SERVER, BACH, "Prelude in C", "J.S. Bach"),  # 4
        piece_held(SERVER, JS_BACH, "Prelude  in C", "JS Bach"),  # 5
    ]
    result = run(rows)
    assert found(result) == {"duplicate": 1}
    finding = only(result.findings, Anomaly.DUPLICATE)
    assert finding.devices == ("phone", "server")
    assert finding.rows == (2, 3, 4, 5)


@pytest.mark.parametrize(
    ("title", "deleted"),
    [("Prelude in D", False), ("Prelude  in C", True)],
    ids=["titles-differ", "one-deleted"],
)
def test_no_duplicate_piece_when_titles_differ_or_one_is_deleted(title: str, deleted: bool) -> None:
    rows = [
        meta(),  # 0
        piece_held(SERVER, BACH, "Prelude in C", "J.S. Bach"),  # 1
        piece_held(SERVER, JS_BACH, title, "JS Bach", deleted=deleted),  # 2
    ]
    assert run(rows).findings == ()


def test_no_duplicate_piece_when_each_holder_has_one_id() -> None:
    # Two ids for one piece, but no snapshot holds both: the server and the phone disagree
    # on the id (a divergence), yet nothing is live twice in one place.
    rows = [
        meta(),  # 0
        device_snapshot("phone"),  # 1
        piece_held("phone", BACH, "Prelude in C", "J.S. Bach"),  # 2
        piece_held(SERVER, JS_BACH, "Prelude  in C", "JS Bach"),  # 3
    ]
    assert found(run(rows)) == {"divergence": 1, "missing_history": 1}


# -- duplicate: one entry's content under two ids ---------------------------------------------


def test_duplicate_entry_same_content_under_two_ids() -> None:
    rows = [
        meta(),  # 0
        entry_held(SERVER, "e1", "c1"),  # 1
        entry_held(SERVER, "e2", "c2"),  # 2
        entry_held(SERVER, "e7", "c1"),  # 3 the same entry saved again under a new id
    ]
    result = run(rows)
    assert found(result) == {"duplicate": 1}
    finding = only(result.findings, Anomaly.DUPLICATE)
    assert finding.cause == "same content under two ids"
    assert (finding.user, finding.entity_type, finding.entity_id) == (USER, ENTRY, "e1")
    assert finding.devices == ("server",)
    assert finding.rows == (1, 3)
    assert "one entry is live under 2 ids (e1, e7)" in finding.summary


def test_no_duplicate_entry_when_contents_differ_or_one_is_deleted() -> None:
    rows = [
        meta(),  # 0
        entry_held(SERVER, "e1", "c1"),  # 1
        entry_held(SERVER, "e2", "c2"),  # 2
        entry_held(SERVER, "e7", "c1", deleted=True),  # 3
    ]
    assert run(rows).findings == ()


# -- duplicate: one message applied twice -----------------------------------------------------


def test_duplicate_message_applied_twice() -> None:
    # The create's frame is resent after a reconnect and, without idempotency, stored again.
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),  # 2
        applied(10.05, "e1", "fpA", write_id="phone#1"),  # 3
        sent(20, "phone", "phone#1", "e1"),  # 4 resent: no ACK came
        applied(20.05, "e1", "fpA", write_id="phone#1"),  # 5 applied again
        device_snapshot("phone"),  # 6
        holds("phone", "e1", "fpA", at(10)),  # 7
        server_holds("e1", "fpA", at(10)),  # 8
    ]
    result = run(rows)
    assert found(result) == {"duplicate": 1}
    finding = only(result.findings, Anomaly.DUPLICATE)
    assert finding.cause == "message applied twice"
    assert (finding.user, finding.entity_type, finding.entity_id) == (USER, ENTRY, "e1")
    assert finding.devices == ("phone",)  # the device the write id names
    assert finding.rows == (3, 5)
    assert finding.t == 10.05
    assert "phone#1" in finding.summary and "2 times" in finding.summary


def test_no_duplicate_when_the_applied_write_ids_differ() -> None:
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),  # 2
        applied(10.05, "e1", "fpA", write_id="phone#1"),  # 3
        write(20, "phone", "phone#2", "update", "e1", "fpB"),  # 4
        sent(20, "phone", "phone#2", "e1", frame_type="ENTRY_UPDATED"),  # 5
        applied(20.05, "e1", "fpB", write_id="phone#2"),  # 6
        applied(30, "e9", "fpZ"),  # 7 no write behind it (preload, say): not counted
        applied(31, "e9", "fpZ"),  # 8
        device_snapshot("phone"),  # 9
        holds("phone", "e1", "fpB", at(20)),  # 10
        server_holds("e1", "fpB", at(20)),  # 11
    ]
    assert found(run(rows)) == {}
