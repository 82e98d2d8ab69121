"""The server's rules (checker/server_rules.py), each on a literal history: a clean exchange
where no rule is broken, and for each rule the same exchange broken in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from simulator.checker.check import check
from simulator.checker.names import Anomaly
from simulator.checker.server_rules import RULES_BY_NAME, SERVER_RULES
from simulator.history import NOT_A_FRAME, SERVER, History, Kind, Record
from simulator.protocol.timefmt import iso_z

ENTRY = "logbook_entry"
START = 1_772_409_600.0  # 2026-03-02T00:00:00Z
END = 1000.0
PROPOSED = {
    "name": "proposed",
    "lww": "version_first",
    "idempotency": "message_id",
    "version_in_broadcasts": True,
    "repertoire_bulk": True,
    "repertoire_bulk_event": "REPERTOIRE_BULK_SYNC",
    "bulk_chunk_size": 500,
    "window_days": 30,
}
LEGACY = {
    "name": "legacy",
    "lww": "updated_at",
    "idempotency": "none",
    "version_in_broadcasts": False,
    "repertoire_bulk": False,
    "repertoire_bulk_event": "REPERTOIRE_BULK_SYNC",
    "bulk_chunk_size": 0,
    "window_days": 7,
}


def at(t: float) -> str:
    return iso_z(START + t)


def meta(profile: dict[str, Any] = PROPOSED) -> Record:
    devices = {d: {"user": "alice", "faithful_link": True} for d in ("phone", "laptop")}
    detail = {"scenario": "literal", "profile": profile, "mode": "sim", "devices": devices}
    return Record(t=0.0, kind=Kind.META, detail=detail)


def frame(
    kind: Kind,
    t: float,
    device: str,
    frame_type: str,
    *,
    entity: str | None = None,
    fp: str | None = None,
    reason: str | None = None,
    message_id: str | None = None,
    **facts: Any,
) -> Record:
    return Record(
        t=t,
        kind=kind,
        device=device,
        user="alice",
        device_time=t,
        conn=f"{device}:1",
        frame_type=frame_type,
        bytes=100,
        entity_type=None if entity is None else ENTRY,
        entity_id=entity,
        fingerprint=fp,
        reason=reason,
        message_id=message_id,
        detail=facts or None,
    )


def up(t: float, device: str, frame_type: str, **kw: Any) -> Record:
    return frame(Kind.FRAME_SENT, t, device, frame_type, **kw)


def down(t: float, device: str, frame_type: str, **kw: Any) -> Record:
    return frame(Kind.FRAME_RECV, t, device, frame_type, **kw)


def ack(t: float, device: str, seq: int, version: int | None = 1, **kw: Any) -> Record:
    facts = {"last_seq": seq, "at": at(t - 0.05)}
    if version is not None:
        facts["version"] = version
    return down(t, device, "SYNC_RESPONSE", reason="Mutation applied", **facts, **kw)


def connect(t: float, device: str) -> Record:
    return Record(
        t=t, kind=Kind.CONNECT, device=device, user="alice", device_time=t, conn=f"{device}:1"
    )


def snapshot(device: str) -> Record:
    return Record(
        t=END, kind=Kind.SNAPSHOT, device=device, user="alice", device_time=END, op="device"
    )


def server_holds(entity: str, fp: str, *, live: bool = True) -> Record:
    return Record(
        t=END,
        kind=Kind.SNAPSHOT,
        device=SERVER,
        user="alice",
        op="live" if live else "deleted",
        entity_type=ENTRY,
        entity_id=entity,
        fingerprint=fp,
    )


def keepalive(device: str, pings: int, pongs: int) -> Record:
    tally = {"PING": [pings, 8 * pings], "PONG": [pongs, 8 * pongs]}
    return Record(
        t=END, kind=Kind.KEEPALIVE, device=device, user="alice", conn=f"{device}:1", detail=tally
    )


def exchange(profile: dict[str, Any] = PROPOSED) -> list[Record]:
    """Both devices connected throughout; the phone creates e1, the server acknowledges it and
    tells the laptop; the laptop catches up from nothing and gets e1."""
    versioned = profile["version_in_broadcasts"]
    paged = {"page": 0} if profile["bulk_chunk_size"] else {}
    seq = {"seq": 1, "version": 1} if versioned else {}
    rows = [
        meta(profile),
        connect(1, "phone"),
        connect(1, "laptop"),
        down(1, "phone", "WELCOME"),
        down(1, "laptop", "WELCOME"),
        up(10, "phone", "ENTRY_CREATED", entity="e1", fp="A", message_id="m1"),
        ack(10.1, "phone", 1, 1 if versioned else None, message_id="m1"),
        down(10.1, "laptop", "ENTRY_CREATED", entity="e1", fp="A", at=at(10.05), **seq),
        up(20, "laptop", "SYNC_REQUEST"),
        down(20.1, "laptop", "BULK_SYNC", items=1, ids=["e1"], last_seq=1, at=at(20), **paged),
    ]
    if profile["repertoire_bulk"]:
        rows.append(down(20.1, "laptop", "REPERTOIRE_BULK_SYNC", items=0, ids=[], **paged))
    rows += [
        down(20.1, "laptop", "SYNC_RESPONSE", reason="Sync complete", last_seq=1, at=at(20)),
        keepalive("phone", 3, 3),
        keepalive("laptop", 3, 3),
        snapshot("phone"),
        snapshot("laptop"),
        server_holds("e1", "A"),
    ]
    return rows


def violations(rows: list[Record]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for finding in check(History(rows)).findings:
        if finding.anomaly is Anomaly.PROTOCOL_VIOLATION:
            found.setdefault(str(finding.cause), []).append(finding.summary)
    return found


def where(rows: list[Record], pick: Callable[[Record], bool]) -> int:
    return next(i for i, r in enumerate(rows) if pick(r))


@pytest.mark.parametrize("profile", [PROPOSED, LEGACY], ids=["proposed", "legacy"])
def test_a_clean_exchange_breaks_no_rule(profile: dict[str, Any]) -> None:
    assert violations(exchange(profile)) == {}


def test_every_rule_has_its_protocol_words() -> None:
    assert len({r.name for r in SERVER_RULES}) == len(SERVER_RULES)
    assert all(r.says.endswith(".") for r in SERVER_RULES)


# -- one test per rule: the exchange broken where that rule looks ---------------------------


def test_auth() -> None:
    def handshake(token: str, status: int) -> Record:
        return Record(
            t=30, kind=Kind.HANDSHAKE, device="laptop", user="alice", device_time=30, op=token,
            detail={"status": status},
        )  # fmt: skip

    right = [handshake("expired", 401), handshake("other_user", 403), handshake("valid", 101)]
    assert violations(exchange() + right) == {}
    found = violations([*exchange(), handshake("expired", 101), handshake("no_token", 401)])
    assert found["auth"] == [
        "laptop opened a connection with expired credentials and got HTTP 101; the protocol "
        "answers 401",
        "laptop opened a connection with no_token credentials and got HTTP 401; the protocol "
        "answers 400",
    ]


def test_welcome() -> None:
    rows = exchange()
    del rows[where(rows, lambda r: r.device == "laptop" and r.frame_type == "WELCOME")]
    assert violations(rows)["welcome"] == [
        "the first frame on laptop:1 was ENTRY_CREATED, not WELCOME"
    ]


def test_frame_shape() -> None:
    rows = exchange()
    rows.insert(5, down(5, "phone", NOT_A_FRAME, reason="timestamp missing or not ISO 8601 with Z"))
    rows[3] = down(1, "phone", "WELCOME", data_in_control=["entries"])
    found = violations(rows)["frame_shape"]
    assert found == [
        "a WELCOME on phone:1 carries data: entries",
        "phone:1 received text that is no frame: timestamp missing or not ISO 8601 with Z",
    ]


def test_pong() -> None:
    rows = exchange()
    rows[where(rows, lambda r: r.kind is Kind.KEEPALIVE)] = keepalive("phone", 3, 2)
    assert violations(rows) == {}  # the last PING may be on its way at the end
    rows[where(rows, lambda r: r.kind is Kind.KEEPALIVE)] = keepalive("phone", 3, 1)
    assert violations(rows)["pong"] == ["phone:1 sent 3 PINGs and got 1 PONGs"]


def test_answered() -> None:
    rows = exchange()
    acked = where(rows, lambda r: r.reason == "Mutation applied")
    unanswered = rows[:acked] + rows[acked + 1 :]
    assert "ENTRY_CREATED sent on phone:1 got no answer" in violations(unanswered)["answered"]
    wrong = list(rows)
    wrong[acked] = replace(rows[acked], reason="Sync complete")
    assert violations(wrong)["answered"] == [
        "ENTRY_CREATED sent on phone:1 was answered SYNC_RESPONSE 'Sync complete', not "
        "'Mutation applied'"
    ]


def test_an_unanswered_frame_at_the_very_end_of_a_simulated_run_is_not_judged() -> None:
    rows = exchange()
    rows.insert(-5, up(END - 1, "phone", "ENTRY_UPDATED", entity="e1", fp="B"))
    assert "answered" not in violations(rows)


def test_broadcast() -> None:
    rows = exchange()
    told = where(rows, lambda r: r.device == "laptop" and r.frame_type == "ENTRY_CREATED")
    del rows[told]
    found = violations(rows)
    assert found["broadcast"] == [
        "laptop:1 never heard of the change to e1 acknowledged on phone:1"
    ]


def test_a_retry_of_an_applied_mutation_is_not_broadcast_again() -> None:
    rows = exchange()
    rows.insert(8, up(15, "phone", "ENTRY_CREATED", entity="e1", fp="A", message_id="m1"))
    rows.insert(9, ack(15.1, "phone", 1, message_id="m1"))
    assert violations(rows) == {}


def test_refused_unchanged() -> None:
    rows = exchange()
    refused = [
        up(30, "phone", "ENTRY_UPDATED", entity="e1", fp="B"),
        down(30.1, "phone", "ERROR", reason="invalid ENTRY_UPDATED: duration"),
    ]
    assert violations(rows[:10] + refused + rows[10:]) == {}
    spread = down(30.1, "laptop", "ENTRY_UPDATED", entity="e1", fp="B", seq=2, version=2)
    found = violations([*rows[:10], *refused, spread, *rows[10:]])
    assert found["refused_unchanged"] == ["ENTRY_UPDATED of e1 was refused, yet broadcast"]


def test_validation() -> None:
    bad = '{"type":"ENTRY_UPDATED","timestamp":"2026-03-02T00:00:30.000Z","entry":{"id":"e9"}}'
    step = up(30, "phone", "ENTRY_UPDATED", entity="e9", step="s1", text=bad)
    rows = exchange()
    refused = [step, down(30.1, "phone", "ERROR", reason="invalid ENTRY_UPDATED: timestamp")]
    assert violations(rows[:10] + refused + rows[10:]) == {}
    taken = [step, ack(30.1, "phone", 2)]
    found = violations(rows[:10] + taken + rows[10:])
    assert found["validation"][0].startswith("the server took a frame the protocol refuses (")


def test_seq_order() -> None:
    rows = exchange()
    later = [
        down(40, "laptop", "ENTRY_UPDATED", entity="e2", fp="X", seq=5, version=1),
        up(41, "laptop", "ENTRY_CREATED", entity="e3", fp="Y", message_id="m3"),
        ack(41.1, "laptop", 3, message_id="m3"),
    ]
    found = violations(rows[:-5] + later + rows[-5:])
    assert found["seq_order"] == [
        "ENTRY_CREATED of e3 was acknowledged with seq 3, after laptop had seen seq 5"
    ]


def test_version_order() -> None:
    rows = exchange()
    acked = where(rows, lambda r: r.reason == "Mutation applied")
    rows[acked] = ack(10.1, "phone", 1, version=2, message_id="m1")
    back = down(50, "laptop", "ENTRY_UPDATED", entity="e1", fp="Z", seq=2, version=1)
    found = violations([*rows[:-5], back, *rows[-5:]])
    assert found["version_order"] == [
        "the first write of e1 got version 2",
        "e1 came back at version 1 after 1",
    ]
    assert "version_order" not in violations(exchange(LEGACY))  # legacy sends no versions


def test_catch_up() -> None:
    rows = exchange()
    page = where(rows, lambda r: r.frame_type == "BULK_SYNC")
    rows[page] = down(20.1, "laptop", "BULK_SYNC", items=0, ids=[], page=0, at=at(20))
    found = violations(rows)
    assert found["catch_up"] == [
        "a catch-up on laptop:1 left out 1 changed item(s) it was asked for: e1"
    ]


@pytest.mark.parametrize(
    ("cursor", "asked"),
    [
        ({"last_seq": 1}, False),  # e1 is seq 1: not after the cursor
        ({"last_sync_time": at(5)}, True),
        ({"last_sync_time": at(10.06)}, False),  # after e1 was stored, within the margin
        ({"last_sync_time": at(900)}, True),  # in the future: the window
        ({"last_sync_time": "yesterday"}, True),  # unreadable: the window
    ],
)
def test_a_catch_up_is_judged_by_the_cursor_it_was_asked_with(
    cursor: dict[str, Any], asked: bool
) -> None:
    rows = exchange()
    request = where(rows, lambda r: r.frame_type == "SYNC_REQUEST")
    rows[request] = up(20, "laptop", "SYNC_REQUEST", **cursor)
    page = where(rows, lambda r: r.frame_type == "BULK_SYNC")
    rows[page] = down(20.1, "laptop", "BULK_SYNC", items=0, ids=[], page=0, at=at(20))
    assert ("catch_up" in violations(rows)) is asked


def test_catch_up_end() -> None:
    rows = exchange()
    end = where(rows, lambda r: r.reason == "Sync complete")
    rows[end] = down(20.1, "laptop", "SYNC_RESPONSE", reason="Sync complete", last_seq=0)
    assert violations(rows)["catch_up_end"] == [
        "a catch-up on laptop:1 ended with lastSeq 0, after 1"
    ]


def test_catch_up_frames() -> None:
    legacy = exchange(LEGACY)
    end = where(legacy, lambda r: r.reason == "Sync complete")
    extra = [
        down(20.1, "laptop", "REPERTOIRE_BULK_SYNC", items=0, ids=[]),
        down(20.1, "laptop", "BULK_SYNC", items=0, ids=[]),
    ]
    found = violations(legacy[:end] + extra + legacy[end:])["catch_up_frames"]
    assert found == [
        "a catch-up on laptop:1: a REPERTOIRE_BULK_SYNC (the profile sends ['BULK_SYNC'])",
        "a catch-up on laptop:1: 2 BULK_SYNC frames where the profile sends one",
    ]
    paged = exchange()
    page = where(paged, lambda r: r.frame_type == "BULK_SYNC")
    paged[page] = down(20.1, "laptop", "BULK_SYNC", items=501, ids=["e1"], page=1, at=at(20))
    found = violations(paged)["catch_up_frames"]
    assert found == [
        "a catch-up on laptop:1: BULK_SYNC pages numbered [1], not 0, 1, 2 ...",
        "a catch-up on laptop:1: a BULK_SYNC page of 501 items, over the page size 500",
    ]


def test_a_deleted_item_is_sent_as_a_delete_frame() -> None:
    rows = exchange()
    deleted = [
        up(15, "phone", "ENTRY_DELETED", entity="e1", message_id="m2"),
        ack(15.1, "phone", 2, version=2, message_id="m2"),
        down(15.1, "laptop", "ENTRY_DELETED", entity="e1", seq=2, version=2, at=at(15)),
    ]
    rows = rows[:8] + deleted + rows[8:]
    rows[-1] = server_holds("e1", "A", live=False)
    assert violations(rows)["catch_up_frames"] == [
        "a catch-up on laptop:1: deleted item(s) sent live in a batch: e1"
    ]


def test_idempotent() -> None:
    rows = exchange()
    again = [
        up(15, "phone", "ENTRY_CREATED", entity="e1", fp="A", message_id="m1"),
        ack(15.1, "phone", 2, message_id="m1"),
    ]
    found = violations(rows[:8] + again + rows[8:])
    assert found["idempotent"] == ["messageId m1 was applied 2 times (seqs [1, 2])"]
    assert "idempotent" not in violations(exchange(LEGACY)[:8] + again + exchange(LEGACY)[8:])


def test_durable() -> None:
    gone = exchange()[:-1]
    assert violations(gone)["durable"] == [
        "e1 was acknowledged (seq 1) and is gone, though no one deleted it"
    ]
    rows = exchange()
    newer = [
        up(30, "phone", "ENTRY_UPDATED", entity="e1", fp="B", message_id="m2"),
        ack(30.1, "phone", 2, version=2, message_id="m2"),
        down(30.1, "laptop", "ENTRY_UPDATED", entity="e1", fp="B", seq=2, version=2, at=at(30)),
    ]
    rows = rows[:-5] + newer + rows[-5:]
    rows[-1] = server_holds("e1", "B")
    assert violations(rows) == {}
    rows[-1] = server_holds("e1", "A")
    assert violations(rows)["durable"] == [
        "the server ended with e1 as of seq 1, after acknowledging seq 2"
    ]


def _rest(op: str, t: float, **detail: Any) -> Record:
    return Record(
        t=t, kind=Kind.REST, device="laptop", user="alice", device_time=t, op=op, detail=detail
    )


def test_rest_pull() -> None:
    rows = exchange()
    fine = _rest("pull", 60, step="p", asked=59.9, status=200, ids={"entries": ["e1"]})
    assert violations([*rows[:-5], fine, *rows[-5:]]) == {}
    short = _rest("pull", 60, step="p", asked=59.9, status=200, ids={"entries": []})
    assert violations([*rows[:-5], short, *rows[-5:]])["rest_pull"] == [
        "a REST pull for alice left out live item(s): e1"
    ]


def test_rest_push() -> None:
    rows = exchange()
    first = _rest("push", 60, key="k", status=200, answer={"applied": 1, "lastSeq": 2})
    same = _rest("push", 61, key="k", status=200, answer={"applied": 1, "lastSeq": 2})
    other = _rest("push", 62, key="k", status=200, answer={"applied": 1, "lastSeq": 3})
    assert violations([*rows[:-5], first, same, *rows[-5:]]) == {}
    found = violations([*rows[:-5], first, other, *rows[-5:]])["rest_push"]
    assert found[0].startswith("a repeated REST push under key 'k' was answered")


def test_stored_form() -> None:
    rows = exchange()
    told = where(rows, lambda r: r.device == "laptop" and r.frame_type == "ENTRY_CREATED")
    rows[told] = replace(rows[told], detail={**(rows[told].detail or {}), "unknown_fields": ["x"]})
    assert violations(rows)["stored_form"] == [
        "a ENTRY_CREATED on laptop:1 holds fields the schema does not know: x"
    ]


def test_a_connection_that_was_cut_or_lossy_is_not_judged_for_answers() -> None:
    rows = exchange()
    acked = where(rows, lambda r: r.reason == "Mutation applied")
    cut = Record(
        t=50, kind=Kind.DISCONNECT, device="phone", user="alice", device_time=50, conn="phone:1",
        reason="connection dropped",
    )  # fmt: skip
    rows = rows[:acked] + rows[acked + 1 :] + [cut]
    assert "answered" not in violations(rows)


def test_every_rule_is_tested_here() -> None:
    tested = {name.removeprefix("test_") for name in globals() if name.startswith("test_")}
    assert set(RULES_BY_NAME) <= tested


def test_every_rule_can_be_broken_on_purpose_and_nothing_else() -> None:
    from simulator.protocol.breaks import Break

    assert {b.value for b in Break} == set(RULES_BY_NAME)


def test_the_acknowledgement_of_a_retry_does_not_date_the_row() -> None:
    """A retry (a messageId sent before) is acknowledged when it comes, under the first seq:
    its time is not when the row was stored, so a time cursor between the two asks nothing."""
    rows = exchange()
    retry = [
        up(15, "phone", "ENTRY_CREATED", entity="e1", fp="A", message_id="m1"),
        ack(15.1, "phone", 1, message_id="m1"),
    ]
    rows = rows[:8] + retry + rows[8:]
    request = where(rows, lambda r: r.frame_type == "SYNC_REQUEST")
    rows[request] = up(20, "laptop", "SYNC_REQUEST", last_sync_time=at(12))
    page = where(rows, lambda r: r.frame_type == "BULK_SYNC")
    rows[page] = down(20.1, "laptop", "BULK_SYNC", items=0, ids=[], page=0, at=at(20))
    # The broadcast at 10.05 still dates e1's row: before the cursor, so not asked for.
    assert "catch_up" not in violations(rows)
