"""DeviceClient against Coordinator + ServerStore, wired by hand with no simpy in between.

The driver is `Loopback` (tests/protocol/loopback.py): it opens connections when a client asks
for one, carries every `Send.text` to `Coordinator.receive` and every `Outgoing.text` to the
addressed client's `receive`, and keeps a record of what each side said and observed, so a test
can ask "which frames did device B get" or "which queue events did device A report".
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from loopback import (
    DAY,
    HOUR,
    T0,
    Loopback,
    actions,
    entry_fields,
    live_rows,
    make_client,
    snapshot,
    stored_entry,
)

from simulator.protocol.client import (
    CloseConnection,
    ConnState,
    CursorMoved,
    DeviceClient,
    Merged,
    OpenConnection,
    PeerError,
    QueueEvent,
    Send,
    UserWrite,
)
from simulator.protocol.codec import BadFrame, Frame, FrameType, decode
from simulator.protocol.coordinator import Applied, Outgoing, Refused
from simulator.protocol.entities import clean_entry, fingerprint
from simulator.protocol.kinds import ENTRY
from simulator.protocol.profile import resolve
from simulator.protocol.timefmt import iso_z, parse_iso_z

# -- connect and catch-up -----------------------------------------------------------------


def test_connect_gets_welcome_then_sends_sync_request_without_cursor():
    wire = Loopback()
    phone = make_client("phone")
    wire.connect(phone, T0)

    assert phone.state is ConnState.OPEN
    assert wire.types_got("phone") == ["WELCOME", "BULK_SYNC", "SYNC_RESPONSE"]
    assert wire.types_sent("phone") == ["SYNC_REQUEST"]
    request = wire.sent["phone"][0]
    assert "lastSyncTime" not in request.fields
    assert request.timestamp == iso_z(T0)
    assert wire.got["phone"][1].get("entries") == []
    done = wire.got["phone"][2]
    assert done.get("message") == "Sync complete"
    assert done.get("lastSeq") == 0
    # Only the BULK_SYNC moved the cursor; WELCOME and SYNC_RESPONSE did not.
    assert [c.reason for c in wire.of("phone", CursorMoved)] == ["BULK_SYNC"]
    assert phone.last_sync_time == iso_z(T0)


def test_bulk_sync_without_cursor_is_limited_to_the_seven_day_window():
    wire = Loopback()
    ancient = wire.store.write(
        "alice", ENTRY, "ancient", stored_entry("ancient", T0 - 8 * DAY), "x", T0 - 8 * DAY
    )
    recent = wire.store.write(
        "alice", ENTRY, "recent", stored_entry("recent", T0 - 6 * DAY), "x", T0 - 6 * DAY
    )
    today = wire.store.write(
        "alice", ENTRY, "today", stored_entry("today", T0 - HOUR), "x", T0 - HOUR
    )
    wire.store.write("bob", ENTRY, "bobs", stored_entry("bobs", T0 - HOUR), "x", T0 - HOUR)

    phone = make_client("phone")
    wire.connect(phone, T0)

    bulk = [f for f in wire.got["phone"] if f.type is FrameType.BULK_SYNC]
    assert len(bulk) == 1
    sent_ids = [e["id"] for e in bulk[0].get("entries")]
    assert sent_ids == ["recent", "today"]  # seq order, the 8-day-old row left out
    assert set(phone.entries) == {"recent", "today"}
    assert phone.entries["recent"] == recent.data
    assert "ancient" not in phone.entries and "bobs" not in phone.entries
    assert wire.got["phone"][-1].get("lastSeq") == today.seq
    assert ancient.seq < recent.seq < today.seq


def test_bulk_sync_with_an_older_cursor_sends_rows_beyond_the_window():
    wire = Loopback()
    wire.store.write(
        "alice", ENTRY, "ancient", stored_entry("ancient", T0 - 8 * DAY), "x", T0 - 8 * DAY
    )
    wire.store.write(
        "alice", ENTRY, "older", stored_entry("older", T0 - 10 * DAY), "x", T0 - 10 * DAY
    )
    laptop = make_client("laptop")
    laptop.last_sync_time = iso_z(T0 - 9 * DAY)
    wire.connect(laptop, T0)

    request = wire.sent["laptop"][0]
    assert request.type is FrameType.SYNC_REQUEST
    assert request.get("lastSyncTime") == iso_z(T0 - 9 * DAY)
    entries = wire.got["laptop"][1].get("entries")
    assert [e["id"] for e in entries] == ["ancient"]  # not the 10-day-old one
    assert set(laptop.entries) == {"ancient"}


def test_catch_up_cursor_is_strict_and_deleted_rows_come_as_entry_deleted():
    wire = Loopback()
    wire.store.write("alice", ENTRY, "edge", stored_entry("edge", T0 - DAY), "x", T0 - DAY)
    wire.store.write("alice", ENTRY, "gone", stored_entry("gone", T0 - DAY), "x", T0 - DAY + 1)
    tomb = wire.store.write("alice", ENTRY, "gone", {}, None, T0 - DAY + 2, deleted=True)

    tablet = make_client("tablet")
    tablet.entries["gone"] = stored_entry("gone", T0 - 2 * DAY)
    tablet.last_sync_time = iso_z(T0 - DAY)  # exactly the time of "edge"
    wire.connect(tablet, T0)

    assert wire.types_got("tablet") == ["WELCOME", "BULK_SYNC", "ENTRY_DELETED", "SYNC_RESPONSE"]
    assert wire.got["tablet"][1].get("entries") == []  # "edge" is not after the cursor
    assert wire.got["tablet"][2].get("entryId") == "gone"
    assert wire.got["tablet"][3].get("lastSeq") == tomb.seq
    assert "gone" not in tablet.entries
    deletes = [m for m in wire.of("tablet", Merged) if m.via == "ENTRY_DELETED"]
    assert deletes and deletes[0].accepted and deletes[0].reason == "deleted"


def test_fresh_cursor_and_empty_queue_skip_the_sync_request():
    wire = Loopback()
    phone = make_client("phone")
    phone.last_sync_time = iso_z(T0 - 10)
    wire.connect(phone, T0)
    assert wire.types_sent("phone") == []
    assert wire.types_got("phone") == ["WELCOME"]
    assert phone.last_sync_time == iso_z(T0 - 10)


def test_a_server_cursor_in_the_future_falls_back_to_the_window():
    wire = Loopback()
    wire.store.write("alice", ENTRY, "old", stored_entry("old", T0 - 8 * DAY), "x", T0 - 8 * DAY)
    wire.store.write("alice", ENTRY, "new", stored_entry("new", T0 - DAY), "x", T0 - DAY)
    wire.coord.open("raw", "alice", T0)
    future = Frame.make(FrameType.SYNC_REQUEST, T0, lastSyncTime=iso_z(T0 + DAY))
    wire.coord.receive("raw", future.encode(), T0)
    frames = [o.frame for o in wire.coord.drain() if isinstance(o, Outgoing)]
    bulk = [f for f in frames if f.type is FrameType.BULK_SYNC]
    assert [e["id"] for e in bulk[0].get("entries")] == ["new"]


# -- live mutations -----------------------------------------------------------------------


def test_write_while_connected_is_stored_acked_and_broadcast_to_the_same_user_only():
    wire = Loopback()
    phone, laptop = make_client("phone", seed=1), make_client("laptop", seed=2)
    other = make_client("bobs-phone", user="bob", seed=3)
    for client in (phone, laptop, other):
        wire.connect(client, T0)
    seq_before = max((r.seq for r in wire.store.rows()), default=0)
    mark = wire.mark()

    entry_id = phone.create_entry(entry_fields(), T0 + 60)
    wire.settle(phone, T0 + 60)

    row = wire.store.get("alice", ENTRY, entry_id)
    assert row is not None and row.version == 1 and not row.deleted
    assert row.seq > seq_before
    assert row.data == phone.entries[entry_id]
    assert row.checksum == fingerprint(phone.entries[entry_id])
    assert row.device_id == "phone"

    (write,) = wire.of("phone", UserWrite)
    assert (write.op, write.entity_id) == ("create", entry_id)
    assert write.fingerprint == fingerprint(phone.entries[entry_id])

    (ack,) = wire.got_since(mark, "phone")
    assert ack.type is FrameType.SYNC_RESPONSE
    assert ack.get("message") == "Mutation applied"
    assert ack.get("lastSeq") == row.seq

    (pushed,) = wire.got_since(mark, "laptop")
    assert pushed.type is FrameType.ENTRY_CREATED
    assert pushed.timestamp == iso_z(T0 + 60)
    assert pushed.get("entry") == row.data
    assert laptop.entries[entry_id] == phone.entries[entry_id]

    assert wire.got_since(mark, "bobs-phone") == []
    assert other.entries == {}
    assert wire.store.get("bob", ENTRY, entry_id) is None

    applied = [s for s in wire.server if isinstance(s, Applied)]
    assert [(a.conn_id, a.version, a.seq) for a in applied] == [(wire.conn_of["phone"], 1, row.seq)]


def test_update_and_delete_bump_version_and_seq_and_reach_the_other_device():
    wire = Loopback()
    phone, laptop = make_client("phone", seed=1), make_client("laptop", seed=2)
    wire.connect(phone, T0)
    wire.connect(laptop, T0)

    entry_id = phone.create_entry(entry_fields(), T0 + 1)
    wire.settle(phone, T0 + 1)
    first = wire.store.get("alice", ENTRY, entry_id)

    laptop.update_entry(entry_id, {"duration": 45, "notes": "slow practice"}, T0 + 2)
    wire.settle(laptop, T0 + 2)
    second = wire.store.get("alice", ENTRY, entry_id)
    assert second.version == 2 and second.seq > first.seq
    assert second.data["duration"] == 45 and second.data["device_id"] == "laptop"
    assert phone.entries[entry_id]["duration"] == 45
    assert phone.entries[entry_id]["notes"] == "slow practice"

    phone.delete_entry(entry_id, T0 + 3)
    wire.settle(phone, T0 + 3)
    third = wire.store.get("alice", ENTRY, entry_id)
    assert third.version == 3 and third.seq > second.seq and third.deleted
    assert third.deleted_at == T0 + 3
    assert entry_id not in laptop.entries
    assert wire.got["laptop"][-1].type is FrameType.ENTRY_DELETED
    assert wire.got["laptop"][-1].get("entryId") == entry_id


def test_two_devices_converge_after_offline_and_online_writes():
    wire = Loopback()
    phone, laptop = make_client("phone", seed=1), make_client("laptop", seed=2)
    wire.connect(laptop, T0)
    phone.network_changed(False, T0)
    phone.start(T0)
    offline_ids = [phone.create_entry(entry_fields(duration=d), T0 + d) for d in (5, 10)]
    online_id = laptop.create_entry(entry_fields(duration=20), T0 + 20)
    wire.settle(laptop, T0 + 20)

    phone.network_changed(True, T0 + HOUR)
    wire.connect(phone, T0 + HOUR, start=False)

    live = live_rows(wire.store, "alice")
    assert set(live) == {*offline_ids, online_id}
    assert phone.entries == laptop.entries == {k: r.data for k, r in live.items()}


# -- offline queue ------------------------------------------------------------------------


def test_offline_writes_are_queued_newest_wins_and_sent_after_sync_request():
    wire = Loopback()
    phone = make_client("phone")
    phone.network_changed(False, T0)
    phone.start(T0)
    assert actions(phone) == []  # offline: no connection asked for

    first = phone.create_entry(entry_fields(duration=10), T0 + 1)
    second = phone.create_entry(entry_fields(duration=20), T0 + 2)
    phone.update_entry(first, {"duration": 11}, T0 + 3)
    phone.update_entry(first, {"duration": 12}, T0 + 4)
    outputs = phone.drain()
    assert not any(isinstance(o, Send) for o in outputs)
    events = [e for e in outputs if isinstance(e, QueueEvent)]
    assert [(e.op, e.entity_id, e.reason) for e in events] == [
        ("enqueue", first, ""),
        ("enqueue", second, ""),
        ("drop", first, "superseded"),
        ("enqueue", first, ""),
        ("drop", first, "superseded"),
        ("enqueue", first, ""),
    ]
    assert [e.depth for e in events if e.op == "enqueue"] == [1, 2, 2, 2]
    # The superseded item is the earlier write of the same entity, named by its write id.
    assert [e.write_id for e in events if e.op == "drop"] == ["phone#1", "phone#3"]
    assert len(phone.queue) == 2

    phone.network_changed(True, T0 + 10)
    wire.connect(phone, T0 + 10, start=False)
    assert wire.types_sent("phone") == ["SYNC_REQUEST", "ENTRY_CREATED", "ENTRY_UPDATED"]
    created, updated = wire.sent["phone"][1:]
    assert created.get("entry")["id"] == second
    assert updated.get("entry")["id"] == first
    assert updated.get("entry")["duration"] == 12
    assert updated.timestamp == iso_z(T0 + 10)  # re-stamped on the wire
    assert updated.get("entry")["updatedAt"] == iso_z(T0 + 4)  # content kept
    assert len(phone.queue) == 0
    sends = [e.entity_id for e in wire.of("phone", QueueEvent) if e.op == "send"]
    assert sends == [second, first]

    rows = live_rows(wire.store, "alice")
    assert rows[first].data["duration"] == 12 and rows[first].version == 1
    assert rows[second].data["duration"] == 20


def test_queue_not_empty_forces_sync_request_even_with_a_fresh_cursor():
    wire = Loopback()
    phone = make_client("phone")
    phone.last_sync_time = iso_z(T0 - 5)
    phone.network_changed(False, T0)
    phone.create_entry(entry_fields(), T0)
    phone.network_changed(True, T0 + 1)
    wire.connect(phone, T0 + 1, start=False)
    assert wire.types_sent("phone") == ["SYNC_REQUEST", "ENTRY_CREATED"]
    assert wire.sent["phone"][0].get("lastSyncTime") == iso_z(T0 - 5)


def test_queued_items_older_than_48_hours_are_dropped_as_expired():
    wire = Loopback()
    phone = make_client("phone")
    phone.network_changed(False, T0)
    stale = phone.create_entry(entry_fields(duration=1), T0)
    gone = phone.create_entry(entry_fields(duration=4), T0 + 0.25 * HOUR)
    phone.delete_entry(gone, T0 + 0.5 * HOUR)  # a queued delete expires like any change
    edge = phone.create_entry(entry_fields(duration=2), T0 + HOUR)
    fresh = phone.create_entry(entry_fields(duration=3), T0 + 47 * HOUR)
    phone.drain()

    connect_at = T0 + HOUR + 48 * HOUR  # exactly 48 h after `edge`: still kept
    phone.network_changed(True, connect_at)
    wire.connect(phone, connect_at, start=False)

    drops = [e for e in wire.of("phone", QueueEvent) if e.op == "drop"]
    assert [(d.entity_id, d.reason) for d in drops] == [(stale, "expired"), (gone, "expired")]
    sent = [f.get("entry")["id"] for f in wire.sent["phone"] if f.type is FrameType.ENTRY_CREATED]
    assert sent == [edge, fresh]
    assert set(live_rows(wire.store, "alice")) == {edge, fresh}
    assert wire.store.get("alice", ENTRY, gone) is None
    assert stale in phone.entries  # the device keeps it locally; only the server misses it


def test_queue_cap_of_200_drops_the_oldest():
    wire = Loopback()
    phone = make_client("phone")
    phone.network_changed(False, T0)
    ids = [phone.create_entry(entry_fields(duration=i), T0 + i) for i in range(201)]
    events = [o for o in phone.drain() if isinstance(o, QueueEvent)]
    drops = [e for e in events if e.op == "drop"]
    assert [(d.entity_id, d.reason) for d in drops] == [(ids[0], "cap")]
    assert drops[0].write_id == "phone#1"
    assert max(e.depth for e in events) == 200
    assert len(phone.queue) == 200

    phone.network_changed(True, T0 + HOUR)
    wire.connect(phone, T0 + HOUR, start=False)
    assert set(live_rows(wire.store, "alice")) == set(ids[1:])


def test_reload_loses_the_queue_but_keeps_entries_and_cursor():
    wire = Loopback()
    phone = make_client("phone")
    wire.connect(phone, T0)
    cursor = phone.last_sync_time
    assert cursor == iso_z(T0)
    wire.disconnect(phone, T0 + 10)
    phone.network_changed(False, T0 + 11)
    a = phone.create_entry(entry_fields(duration=1), T0 + 20)
    b = phone.create_entry(entry_fields(duration=2), T0 + 30)
    phone.drain()

    phone.reload(T0 + 40)
    outputs = phone.drain()
    lost = [o for o in outputs if isinstance(o, QueueEvent)]
    assert [(e.op, e.entity_id, e.reason) for e in lost] == [
        ("lost", a, "reload"),
        ("lost", b, "reload"),
    ]
    assert [e.write_id for e in lost] == ["phone#1", "phone#2"]
    assert not any(isinstance(o, OpenConnection) for o in outputs)  # still offline
    assert len(phone.queue) == 0
    assert set(phone.entries) == {a, b}
    assert phone.last_sync_time == cursor

    phone.network_changed(True, T0 + 50)
    wire.connect(phone, T0 + 50, start=False)
    assert wire.types_sent("phone") == ["SYNC_REQUEST", "SYNC_REQUEST"]
    assert wire.sent["phone"][1].get("lastSyncTime") == cursor
    assert live_rows(wire.store, "alice") == {}


def test_reload_while_connected_asks_to_close_and_reopen():
    wire = Loopback()
    phone = make_client("phone")
    wire.connect(phone, T0)
    phone.reload(T0 + 5)
    outputs = actions(phone)
    assert outputs == [CloseConnection(1), OpenConnection(2)]
    assert phone.state is ConnState.CONNECTING
    assert phone.next_deadline() is None  # no ping pending after a reload


# -- merge --------------------------------------------------------------------------------


def _push(client: DeviceClient, entry: dict[str, Any], now: float, type_=FrameType.ENTRY_UPDATED):
    client.receive(Frame.make(type_, now, entry=entry).encode(), now)
    (merged,) = [o for o in client.drain() if isinstance(o, Merged)]
    return merged


def test_merge_keeps_the_local_entry_against_an_older_or_equal_updated_at():
    laptop = make_client("laptop")
    local = stored_entry("e1", T0, duration=30)
    laptop.entries["e1"] = dict(local)

    older = stored_entry("e1", T0 - 60, duration=99)
    merged = _push(laptop, older, T0 + 1)
    assert not merged.accepted
    assert merged.reason == "not newer by updatedAt"
    assert merged.incoming_updated_at == iso_z(T0 - 60)
    assert merged.local_updated_at == iso_z(T0)
    assert laptop.entries["e1"] == local

    same = stored_entry("e1", T0, duration=77)
    assert not _push(laptop, same, T0 + 2).accepted
    assert laptop.entries["e1"] == local


def test_merge_takes_an_entry_with_newer_updated_at():
    laptop = make_client("laptop")
    laptop.entries["e1"] = stored_entry("e1", T0, duration=30)
    newer = stored_entry("e1", T0 + 1, duration=45)
    merged = _push(laptop, newer, T0 + 5, FrameType.ENTRY_CREATED)
    assert merged.accepted and merged.reason == "newer updatedAt" and merged.via == "ENTRY_CREATED"
    assert merged.incoming_fingerprint == fingerprint(newer)
    assert laptop.entries["e1"] == newer


def test_merge_inside_bulk_sync_judges_each_entry():
    laptop = make_client("laptop")
    laptop.entries["keep"] = stored_entry("keep", T0, duration=1)
    laptop.entries["take"] = stored_entry("take", T0, duration=2)
    frame = Frame.make(
        FrameType.BULK_SYNC,
        T0,
        entries=[
            stored_entry("keep", T0 - 1, duration=10),
            stored_entry("take", T0 + 1, duration=20),
            stored_entry("new", T0 - DAY, duration=30),
        ],
    )
    laptop.receive(frame.encode(), T0 + 10)
    verdicts = {
        m.entity_id: (m.accepted, m.reason) for m in laptop.drain() if isinstance(m, Merged)
    }
    assert verdicts == {
        "keep": (False, "not newer by updatedAt"),
        "take": (True, "newer updatedAt"),
        "new": (True, "new"),
    }
    assert laptop.entries["keep"]["duration"] == 1
    assert laptop.entries["take"]["duration"] == 20
    assert laptop.entries["new"]["duration"] == 30


def test_merge_accepts_a_new_entry_without_updated_at():
    laptop = make_client("laptop")
    entry = {"id": "e9", **entry_fields()}  # the server accepts entries without updatedAt
    assert clean_entry(entry) == {**entry}
    merged = _push(laptop, entry, T0, FrameType.ENTRY_CREATED)
    assert merged.reason == "new"
    assert merged.accepted
    assert "e9" in laptop.entries


# -- cursor -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "moves"),
    [
        (Frame.make(FrameType.WELCOME, T0, message="Connected"), False),
        (Frame.make(FrameType.PONG, T0), False),
        (Frame.make(FrameType.SYNC_RESPONSE, T0, message="Sync complete", lastSeq=3), False),
        (Frame.make(FrameType.ERROR, T0, error="nope"), False),
        (Frame.make(FrameType.BULK_SYNC, T0, entries=[]), True),
        (Frame.make(FrameType.ENTRY_CREATED, T0, entry=stored_entry("a", T0)), True),
        (Frame.make(FrameType.ENTRY_UPDATED, T0, entry=stored_entry("a", T0)), True),
        (Frame.make(FrameType.ENTRY_DELETED, T0, entryId="a"), True),
    ],
    ids=lambda v: v.type.value if isinstance(v, Frame) else str(v),
)
def test_cursor_moves_only_on_data_frames(frame: Frame, moves: bool):
    phone = make_client("phone")
    phone.last_sync_time = iso_z(T0 - DAY)
    phone.receive(frame.encode(), T0 + 30)
    cursor_events = [o for o in phone.drain() if isinstance(o, CursorMoved)]
    if moves:
        assert phone.last_sync_time == iso_z(T0 + 30)  # the device's own clock
        assert cursor_events == [CursorMoved(iso_z(T0 + 30), frame.type.value)]
    else:
        assert phone.last_sync_time == iso_z(T0 - DAY)
        assert cursor_events == []


def test_bad_bulk_sync_does_not_move_the_cursor():
    phone = make_client("phone")
    phone.receive(Frame.make(FrameType.BULK_SYNC, T0, entries="nope").encode(), T0)
    outputs = phone.drain()
    assert [type(o) for o in outputs] == [PeerError]
    assert phone.last_sync_time is None


@pytest.mark.parametrize(
    "cursor",
    [iso_z(T0 + HOUR), "2026-03-01T00:00:00+00:00", "yesterday", "2026-02-30T00:00:00.000Z"],
)
def test_a_future_or_invalid_cursor_is_discarded_on_connect(cursor: str):
    wire = Loopback()
    wire.store.write("alice", ENTRY, "old", stored_entry("old", T0 - 8 * DAY), "x", T0 - 8 * DAY)
    wire.store.write("alice", ENTRY, "new", stored_entry("new", T0 - DAY), "x", T0 - DAY)
    laptop = make_client("laptop")
    laptop.last_sync_time = cursor
    wire.connect(laptop, T0)

    request = wire.sent["laptop"][0]
    assert request.type is FrameType.SYNC_REQUEST
    assert "lastSyncTime" not in request.fields
    assert wire.of("laptop", CursorMoved)[0] == CursorMoved(
        None, "discarded future or invalid cursor"
    )
    assert set(laptop.entries) == {"new"}
    assert laptop.last_sync_time == iso_z(T0)


# -- the server refuses bad frames ----------------------------------------------------------


def _entry_frame(**entry_overrides: Any) -> str:
    entry = {"id": "bad-1", **entry_fields(), "updatedAt": iso_z(T0)}
    entry.update(entry_overrides)
    entry = {k: v for k, v in entry.items() if v is not _MISSING}
    return json.dumps({"type": "ENTRY_CREATED", "timestamp": iso_z(T0), "entry": entry})


_MISSING = object()

BAD_FRAMES = {
    "invalid-json": '{"type": "PING", "timestamp": ',
    "not-an-object": '["PING"]',
    "unknown-type": json.dumps({"type": "ENTRY_EXPLODED", "timestamp": iso_z(T0)}),
    "lower-case-frame-type": json.dumps({"type": "ping", "timestamp": iso_z(T0)}),
    "missing-timestamp": json.dumps({"type": "ENTRY_CREATED", "entry": {"id": "x"}}),
    "offset-timestamp": json.dumps(
        {
            "type": "ENTRY_CREATED",
            "timestamp": "2026-03-02T00:00:00.000+00:00",
            "entry": {"id": "bad-1", **entry_fields()},
        }
    ),
    "float-duration": _entry_frame(duration=30.5),
    "string-duration": _entry_frame(duration="30"),
    "negative-duration": _entry_frame(duration=-1),
    "upper-case-type": _entry_frame(type="PRACTICE"),
    "missing-instrument": _entry_frame(instrument=_MISSING),
    "blank-instrument": _entry_frame(instrument="  "),
    "offset-updated-at": _entry_frame(updatedAt="2026-03-02T00:00:00.000+00:00"),
    "bad-mood": _entry_frame(mood="Proud"),
    "entry-not-an-object": json.dumps(
        {"type": "ENTRY_UPDATED", "timestamp": iso_z(T0), "entry": "x"}
    ),
    "delete-without-id": json.dumps({"type": "ENTRY_DELETED", "timestamp": iso_z(T0)}),
    "server-frame-from-a-client": json.dumps(
        {"type": "BULK_SYNC", "timestamp": iso_z(T0), "entries": []}
    ),
}

BUGGY_BAD_FRAMES = {
    "list-as-entry-type": pytest.param(
        _entry_frame(type=["practice"]),
        id="list-as-entry-type",
    ),
    "object-as-mood": pytest.param(
        _entry_frame(mood={"x": 1}),
        id="object-as-mood",
    ),
    "huge-integer": pytest.param(
        '{"type":"PING","timestamp":"2026-03-02T00:00:00.000Z","n":' + "9" * 5000 + "}",
        id="huge-integer",
    ),
    "nan-timestamp": pytest.param(
        _entry_frame().replace(f'"timestamp": {int(T0 * 1000)}', '"timestamp": NaN'),
        id="nan-timestamp",
    ),
}


def _refusal_world():
    wire = Loopback()
    phone, laptop = make_client("phone", seed=1), make_client("laptop", seed=2)
    bobs = make_client("bobs", user="bob", seed=3)
    for client in (phone, laptop, bobs):
        wire.connect(client, T0)
    phone.create_entry(entry_fields(), T0 + 1)
    wire.settle(phone, T0 + 1)
    wire.server.clear()
    return wire


def _assert_refused(text: str, expect_in_error: str | None = None):
    wire = _refusal_world()
    before = snapshot(wire.store)
    conn = wire.conn_of["phone"]
    wire.coord.receive(conn, text, T0 + 5)
    outputs = wire.coord.drain()

    outgoing = [o for o in outputs if isinstance(o, Outgoing)]
    assert [(o.conn_id, o.frame.type) for o in outgoing] == [(conn, FrameType.ERROR)]
    error = outgoing[0].frame.get("error")
    assert isinstance(error, str) and error
    if expect_in_error is not None:
        assert expect_in_error in error
    assert json.loads(outgoing[0].text)["timestamp"].endswith("Z")
    refused = [o for o in outputs if isinstance(o, Refused)]
    assert refused == [Refused(conn, error)]
    assert not any(isinstance(o, Applied) for o in outputs)
    assert snapshot(wire.store) == before


@pytest.mark.parametrize("text", list(BAD_FRAMES.values()), ids=list(BAD_FRAMES))
def test_server_refuses_bad_frames_with_error_and_changes_nothing(text: str):
    _assert_refused(text)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (BAD_FRAMES["invalid-json"], "invalid JSON"),
        (BAD_FRAMES["unknown-type"], "frame type"),
        (BAD_FRAMES["offset-timestamp"], "timestamp"),
        (BAD_FRAMES["float-duration"], "duration:"),
        (BAD_FRAMES["upper-case-type"], "type: 'PRACTICE'"),
        (BAD_FRAMES["missing-instrument"], "instrument:"),
        (BAD_FRAMES["offset-updated-at"], "updatedAt:"),
        (BAD_FRAMES["delete-without-id"], "entryId:"),
        (BAD_FRAMES["server-frame-from-a-client"], "unsupported event BULK_SYNC"),
    ],
)
def test_server_error_names_what_was_wrong(text: str, field: str):
    _assert_refused(text, field)


@pytest.mark.parametrize("text", list(BUGGY_BAD_FRAMES.values()))
def test_server_refuses_malformed_values_without_crashing(text: str):
    _assert_refused(text)


def test_client_reports_a_server_error_without_touching_its_state():
    wire = Loopback()
    phone = make_client("phone")
    wire.connect(phone, T0)
    entries, cursor = dict(phone.entries), phone.last_sync_time
    phone.receive(Frame.make(FrameType.ERROR, T0 + 1, error="invalid entry").encode(), T0 + 1)
    (error,) = phone.drain()
    assert isinstance(error, PeerError) and "invalid entry" in error.reason
    assert (phone.entries, phone.last_sync_time) == (entries, cursor)

    phone.receive("{not json", T0 + 2)
    (bad,) = phone.drain()
    assert isinstance(bad, PeerError) and bad.reason == "invalid JSON"


def test_frames_from_a_closed_connection_are_ignored():
    wire = Loopback()
    phone = make_client("phone")
    conn = wire.connect(phone, T0)
    wire.disconnect(phone, T0 + 1)
    before = snapshot(wire.store)
    frame = Frame.make(FrameType.ENTRY_CREATED, T0 + 2, entry=stored_entry("z", T0 + 2))
    wire.coord.receive(conn, frame.encode(), T0 + 2)
    assert wire.coord.drain() == []
    assert snapshot(wire.store) == before


# -- keep-alive and reconnect -------------------------------------------------------------


def test_ping_every_30_seconds_is_answered_with_pong_without_moving_the_cursor():
    wire = Loopback()
    phone = make_client("phone")
    wire.connect(phone, T0)
    cursor = phone.last_sync_time
    assert phone.next_deadline() == T0 + 30

    phone.tick(T0 + 29)
    assert phone.drain() == []

    phone.tick(T0 + 30)
    wire.settle(phone, T0 + 30)
    assert wire.types_sent("phone")[-1] == "PING"
    assert wire.types_got("phone")[-1] == "PONG"
    assert phone.last_sync_time == cursor
    assert phone.next_deadline() == T0 + 60
    assert wire.of("phone", CursorMoved)[-1].reason == "BULK_SYNC"


def test_reconnect_backoff_doubles_five_times_then_waits_for_the_network():
    phone = make_client("phone")
    now = T0
    phone.start(now)
    assert actions(phone) == [OpenConnection(1)]
    deadlines = []
    for _ in range(5):
        phone.connection_failed(now)
        assert phone.state is ConnState.CLOSED
        deadline = phone.next_deadline()
        deadlines.append(deadline - now)
        phone.tick(deadline - 0.001)
        assert phone.drain() == []
        now = deadline
        phone.tick(now)
        assert phone.drain() == [OpenConnection(phone.attempt)]
        assert phone.state is ConnState.CONNECTING
    assert deadlines == [1.0, 2.0, 4.0, 8.0, 16.0]

    phone.connection_failed(now)
    assert phone.next_deadline() is None
    phone.tick(now + DAY)
    assert phone.drain() == []

    phone.network_changed(True, now + DAY)
    assert phone.drain() == [OpenConnection(7)]
    phone.connection_failed(now + DAY)
    assert phone.next_deadline() == now + DAY + 1


def test_reconnect_delay_is_capped_at_30_seconds():
    phone = make_client("phone", profile=resolve("legacy", {"reconnect_tries": 8}))
    phone.start(T0)
    phone.drain()
    now, delays = T0, []
    for _ in range(8):
        phone.connection_failed(now)
        delays.append(phone.next_deadline() - now)
        now = phone.next_deadline()
        phone.tick(now)
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]


def test_a_closed_connection_reconnects_after_one_second_and_going_offline_cancels_it():
    wire = Loopback()
    phone = make_client("phone")
    wire.connect(phone, T0)
    wire.disconnect(phone, T0 + 100)
    assert phone.next_deadline() == T0 + 101  # no ping left over
    phone.network_changed(False, T0 + 100.5)
    assert phone.next_deadline() is None
    phone.tick(T0 + 200)
    assert phone.drain() == []
    assert phone.state is ConnState.CLOSED


# -- frames.decode never raises ---------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
containers = st.lists(json_values, max_size=3) | st.dictionaries(st.text(), json_values, max_size=3)
wire_times = st.integers(0, 4_000_000_000_000).map(lambda ms: iso_z(ms / 1000))


def _frame_like(type_values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    base = st.fixed_dictionaries(
        {}, optional={"type": type_values, "timestamp": wire_times | json_values}
    )
    keys = st.text().filter(lambda k: k not in ("type", "timestamp"))
    extra = st.dictionaries(keys, json_values, max_size=4)
    return st.tuples(base, extra).map(lambda pair: {**pair[1], **pair[0]})


def _check_decoded(result: object) -> None:
    assert isinstance(result, Frame | BadFrame)
    if isinstance(result, Frame):
        assert isinstance(result.type, FrameType)
        assert parse_iso_z(result.timestamp) is not None
        assert "type" not in result.fields and "timestamp" not in result.fields
    else:
        assert isinstance(result.reason, str) and result.reason


@settings(max_examples=300)
@given(st.text())
def test_decode_never_raises_on_text(text: str):
    _check_decoded(decode(text))


@settings(max_examples=300)
@given(st.binary())
def test_decode_never_raises_on_bytes(data: bytes):
    _check_decoded(decode(data))


@settings(max_examples=300)
@given(json_values)
def test_decode_never_raises_on_any_json_value(value: object):
    _check_decoded(decode(json.dumps(value)))


@settings(max_examples=300)
@given(_frame_like(st.sampled_from([t.value for t in FrameType]) | scalars))
def test_decode_never_raises_on_frame_like_objects(body: dict[str, Any]):
    result = decode(json.dumps(body))
    _check_decoded(result)
    valid_type = isinstance(body.get("type"), str) and body["type"] in set(FrameType)
    valid_time = parse_iso_z(body.get("timestamp")) is not None
    assert isinstance(result, Frame) == (valid_type and valid_time)
    if isinstance(result, Frame):
        assert dict(result.fields) == {
            k: v for k, v in body.items() if k not in ("type", "timestamp")
        }


@settings(max_examples=50)
@given(_frame_like(containers).filter(lambda body: "type" in body))
@example({"type": []})
def test_decode_never_raises_on_a_container_as_frame_type(body: dict[str, Any]):
    result = decode(json.dumps(body))
    assert isinstance(result, BadFrame)
    assert result.reason == "unknown or missing frame type"


def test_decode_refuses_a_timestamp_with_a_trailing_newline():
    text = json.dumps({"type": "PING", "timestamp": "2026-03-02T00:00:00.000Z\n"})
    result = decode(text)
    assert isinstance(result, BadFrame)
    assert "timestamp" in result.reason


@given(st.sampled_from(list(FrameType)), st.dictionaries(st.text(), json_values, max_size=3))
def test_encoded_frames_decode_to_themselves(type_: FrameType, fields: dict[str, Any]):
    fields = {k: v for k, v in fields.items() if k not in ("type", "timestamp")}
    frame = Frame.make(type_, T0, **fields)
    assert decode(frame.encode()) == frame
    assert decode(frame.encode().encode("utf-8")) == frame


def test_decode_never_raises_on_a_huge_integer():
    _check_decoded(decode("9" * 5000))
