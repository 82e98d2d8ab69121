"""The seed's plan, flag by flag: `legacy`, `proposed` and `seq` driven through Loopback.

Each section follows one of the seed's testing requirements (seed/SYNC_TODO.md, "Testing
Requirements") or one profile flag. The clients and the coordinator are driven directly, so a
failure points at the protocol core, not at a simulation driver.
"""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
from loopback import (
    DAY,
    HOUR,
    LEGACY,
    T0,
    Loopback,
    entry_fields,
    make_client,
    snapshot,
    stored_entry,
)

from simulator.protocol.client import (
    BackfillEvent,
    ConnState,
    CursorMoved,
    DeviceClient,
    Merged,
    MigrationRan,
    PeerError,
    QueueEvent,
    RestPull,
    Send,
    UserWrite,
)
from simulator.protocol.codec import Frame, FrameType, decode
from simulator.protocol.coordinator import (
    Applied,
    Coordinator,
    Deduplicated,
    Outgoing,
    Refused,
    validate,
)
from simulator.protocol.entities import (
    ENTRY_TYPES,
    MOODS,
    PIECE_STATUSES,
    clean_piece,
    legacy_score_id,
    normalize_score_id,
)
from simulator.protocol.kinds import ENTRY, MUTATIONS, PIECE
from simulator.protocol.merge import bulk_merge_pieces, decide
from simulator.protocol.outbox import MemoryQueue, OutboxItem, PersistedOutbox
from simulator.protocol.profile import (
    PROFILES,
    Cursor,
    LwwRule,
    OutboxKind,
    Profile,
    UnknownProfile,
    resolve,
)
from simulator.protocol.storage import LocalStorage
from simulator.protocol.store import ServerStore
from simulator.protocol.timefmt import iso_z, parse_iso_z

PROPOSED = resolve("proposed")
SEQ = resolve("seq")
ALL = [
    pytest.param(LEGACY, id="legacy"),
    pytest.param(PROPOSED, id="proposed"),
    pytest.param(SEQ, id="seq"),
]
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}")
# Air on the G string, as four devices typed it.
AIR = "air on the 'g' string - bwv 1068||js bach"


def live(store: ServerStore, entity_type: str, user: str = "alice") -> dict[str, dict[str, Any]]:
    """What the server holds alive for the user, as {id: data}."""
    return {
        r.entity_id: r.data
        for r in store.rows(user)
        if r.entity_type == entity_type and not r.deleted
    }


def piece(score_id: str, title: str, composer: str | None, at: float, **extra: Any):
    data: dict[str, Any] = {"id": score_id, "scoreId": score_id, "title": title}
    data["status"] = "learning"
    if composer is not None:
        data["composer"] = composer
    data["updated_at"] = iso_z(at)
    data.update(extra)
    return data


def offline(client: DeviceClient, now: float) -> None:
    client.network_changed(False, now)
    client.start(now)
    client.drain()


def queue_events(outputs: list[Any], op: str | None = None) -> list[QueueEvent]:
    return [o for o in outputs if isinstance(o, QueueEvent) and (op is None or o.op == op)]


def mutation_sends(outputs: list[Any]) -> list[Send]:
    return [o for o in outputs if isinstance(o, Send) and o.frame.type in MUTATIONS]


def the_item(client: DeviceClient) -> OutboxItem:
    (item,) = client.storage.outbox.values()
    return item


# == persisted outbox (`proposed`): save, load, drain, resend, drop ========================


def test_persisted_outbox_saves_each_offline_write_with_message_id_and_retry_state():
    phone = make_client("phone", profile=PROPOSED)
    offline(phone, T0)
    entry_id = phone.create_entry(entry_fields(duration=10), T0 + 1)
    score_id = phone.add_piece("Etude Op. 10 No. 3", "Chopin", "learning", T0 + 2)
    outputs = phone.drain()

    assert not any(isinstance(o, Send) for o in outputs)
    enqueued = queue_events(outputs, "enqueue")
    assert [(e.entity_type, e.entity_id, e.depth) for e in enqueued] == [
        (ENTRY, entry_id, 1),
        (PIECE, score_id, 2),
    ]
    items = list(phone.storage.outbox.values())
    assert list(phone.storage.outbox) == [i.message_id for i in items]
    assert [i.message_id for i in items] == [e.message_id for e in enqueued]
    assert len({i.message_id for i in items}) == 2
    for item in items:
        assert UUID4.fullmatch(item.message_id)
        assert item.frame.get("messageId") == item.message_id
        assert (item.attempts, item.last_attempt, item.next_attempt) == (0, None, None)
        assert item.max_retries == PROPOSED.outbox_max_retries == 8
    assert items[0].frame.type is FrameType.ENTRY_CREATED
    assert items[0].frame.get("entry") == phone.entries[entry_id]
    assert items[1].frame.type is FrameType.PIECE_ADDED
    assert items[1].frame.get("piece") == phone.pieces[score_id]
    assert [i.queued_at for i in items] == [T0 + 1, T0 + 2]
    # The outbox counts against the localStorage quota, like the stores.
    assert phone.storage.used > sum(len(i.frame.encode()) for i in items)


def test_persisted_outbox_survives_a_reload_and_a_new_client_on_the_same_storage():
    wire = Loopback(PROPOSED)
    phone = wire.client("phone")
    offline(phone, T0)
    first = phone.create_entry(entry_fields(duration=10), T0 + 1)
    second = phone.create_entry(entry_fields(duration=20), T0 + 2)
    phone.drain()
    before = dict(phone.storage.outbox)

    phone.reload(T0 + 10)
    outputs = phone.drain()
    assert queue_events(outputs, "lost") == []
    assert phone.storage.outbox == before
    assert len(phone.queue) == 2

    # The page is closed and opened again: a new client object on the same localStorage.
    revived = DeviceClient("phone", "alice", PROPOSED, random.Random(99), phone.storage)
    assert isinstance(revived.outbox, PersistedOutbox)
    assert [i.entity_id for i in revived.outbox.items()] == [first, second]
    offline(revived, T0 + 20)
    revived.network_changed(True, T0 + 30)
    wire.connect(revived, T0 + 30, start=False)
    sent_ids = [f.get("messageId") for f in wire.sent["phone"] if f.type is FrameType.ENTRY_CREATED]
    assert sent_ids == list(before)
    assert set(live(wire.store, ENTRY)) == {first, second}
    assert revived.storage.outbox == {}


@pytest.mark.parametrize("profile", [LEGACY, resolve("proposed", {"outbox": "memory"})])
def test_memory_queue_loses_every_item_on_reload(profile: Profile):
    wire = Loopback(profile)
    phone = wire.client("phone")
    offline(phone, T0)
    entry_id = phone.create_entry(entry_fields(), T0 + 1)
    score_id = phone.add_piece("Etude", "Chopin", "learning", T0 + 2)
    phone.drain()

    phone.reload(T0 + 10)
    lost = queue_events(phone.drain(), "lost")
    assert [(e.entity_id, e.reason) for e in lost] == [(entry_id, "reload"), (score_id, "reload")]
    assert len(phone.queue) == 0
    assert entry_id in phone.entries and score_id in phone.pieces  # the stores survive

    phone.network_changed(True, T0 + 20)
    wire.connect(phone, T0 + 20, start=False)
    assert not any(f.type in MUTATIONS for f in wire.sent["phone"])
    assert wire.store.get("alice", ENTRY, entry_id) is None
    assert wire.store.get("alice", PIECE, score_id) is None


def test_drain_on_connect_sends_every_item_and_keeps_it_until_its_ack():
    store = ServerStore(":memory:")
    coord = Coordinator(store, PROPOSED)
    phone = make_client("phone", profile=PROPOSED)
    offline(phone, T0)
    first = phone.create_entry(entry_fields(duration=10), T0 + 1)
    second = phone.create_entry(entry_fields(duration=20), T0 + 2)
    score_id = phone.add_piece("Etude", "Chopin", "working", T0 + 3)
    message_ids = list(phone.storage.outbox)
    phone.drain()

    phone.network_changed(True, T0 + 10)
    coord.open("c1", "alice", T0 + 10)
    coord.drain()
    phone.connection_opened(T0 + 10)
    outputs = phone.drain()
    sends = [o for o in outputs if isinstance(o, Send)]
    assert sends[0].frame.type is FrameType.SYNC_REQUEST  # queued changes after the request
    mutations = mutation_sends(outputs)
    assert [s.frame.get("messageId") for s in mutations] == message_ids
    assert [s.frame.timestamp for s in mutations] == [iso_z(T0 + 10)] * 3
    assert [e.message_id for e in queue_events(outputs, "send")] == message_ids
    # Sent, not forgotten: every item stays, marked as attempted.
    assert list(phone.storage.outbox) == message_ids
    for item in phone.storage.outbox.values():
        assert (item.attempts, item.last_attempt) == (1, T0 + 10)

    for send in sends:
        coord.receive("c1", send.text, T0 + 10)
    acks = [
        o
        for o in coord.drain()
        if isinstance(o, Outgoing)
        and o.frame.type is FrameType.SYNC_RESPONSE
        and "messageId" in o.frame.fields
    ]
    assert [a.frame.get("messageId") for a in acks] == message_ids
    assert [a.frame.get("entityId") for a in acks] == [first, second, score_id]
    assert [a.frame.get("version") for a in acks] == [1, 1, 1]
    assert [a.frame.get("lastSeq") for a in acks] == [
        store.get("alice", ENTRY, first).seq,
        store.get("alice", ENTRY, second).seq,
        store.get("alice", PIECE, score_id).seq,
    ]

    phone.receive(acks[1].text, T0 + 11)
    (acked,) = queue_events(phone.drain(), "ack")
    assert (acked.entity_id, acked.message_id, acked.depth) == (second, message_ids[1], 2)
    assert list(phone.storage.outbox) == [message_ids[0], message_ids[2]]
    assert phone.storage.versions[(ENTRY, second)] == 1
    assert (ENTRY, first) not in phone.storage.versions

    phone.receive(acks[0].text, T0 + 11)
    phone.receive(acks[2].text, T0 + 11)
    assert [e.entity_id for e in queue_events(phone.drain(), "ack")] == [first, score_id]
    assert phone.storage.outbox == {}
    assert phone.storage.versions[(PIECE, score_id)] == 1


def test_a_write_lost_with_the_connection_is_resent_after_backoff_and_applied_once():
    wire = Loopback(PROPOSED)
    phone = wire.client("phone")
    wire.connect(phone, T0)
    wire.drop_next("phone", FrameType.ENTRY_CREATED)
    entry_id = phone.create_entry(entry_fields(), T0 + 10)
    wire.settle(phone, T0 + 10)

    assert phone.state is ConnState.CLOSED
    assert [f.type for f in wire.lost["phone"]] == [FrameType.ENTRY_CREATED]
    assert wire.store.get("alice", ENTRY, entry_id) is None
    item = the_item(phone)
    assert (item.attempts, item.last_attempt) == (1, T0 + 10)
    assert 2.0 <= item.next_attempt - (T0 + 10) <= 2.5

    # The connection comes back after one second; the item is not due yet.
    wire.reconnect(phone, T0 + 11)
    assert wire.types_sent("phone")[-1] == "SYNC_REQUEST"  # forced by the non-empty outbox
    assert wire.store.get("alice", ENTRY, entry_id) is None
    assert phone.next_deadline() == item.next_attempt

    wire.tick(phone, item.next_attempt)
    resent = wire.sent["phone"][-1]
    assert resent.type is FrameType.ENTRY_CREATED
    assert resent.get("messageId") == item.message_id
    row = wire.store.get("alice", ENTRY, entry_id)
    assert row is not None and row.version == 1 and row.data == phone.entries[entry_id]
    assert phone.storage.outbox == {}
    assert wire.server_of(Deduplicated) == []


def test_resend_backoff_doubles_with_jitter_then_the_item_is_dropped_after_max_retries():
    phone = make_client("phone", profile=PROPOSED, seed=7)
    phone.last_sync_time = iso_z(T0)  # a fresh cursor: no backfill, no SYNC_REQUEST
    phone.start(T0)
    phone.connection_opened(T0)
    phone.drain()
    entry_id = phone.create_entry(entry_fields(), T0)
    assert len(mutation_sends(phone.drain())) == 1  # attempt 1, never acknowledged

    now, ratios = T0, []
    for attempt in range(1, 9):
        item = the_item(phone)
        assert (item.attempts, item.last_attempt) == (attempt, now)
        base = 2.0 * 2 ** (attempt - 1)  # 2, 4, 8 ... 256 s, all under the 300 s cap
        delay = item.next_attempt - now
        assert base <= delay <= 1.25 * base
        ratios.append(delay / base)
        phone.tick(item.next_attempt - 0.01)
        assert mutation_sends(phone.drain()) == []  # not before it is due
        now = item.next_attempt
        phone.tick(now)
        outputs = phone.drain()
        if attempt < 8:
            (resend,) = mutation_sends(outputs)
            assert resend.frame.get("messageId") == item.message_id
            assert resend.frame.get("entry") == phone.entries[entry_id]
    assert mutation_sends(outputs) == []
    (dropped,) = queue_events(outputs, "drop")
    assert (dropped.entity_id, dropped.reason, dropped.depth) == (entry_id, "retries", 0)
    assert phone.storage.outbox == {}
    assert len({round(r, 9) for r in ratios}) == len(ratios)  # jittered, not a fixed factor


def test_a_held_resend_waits_until_the_hold_and_a_shorter_hold_changes_nothing():
    """Live, the transport holds a change the endpoint has and may still answer (`hold_resend`):
    no resend before the hold, whatever wakes the client; a hold before the backoff's due
    time leaves it; an acknowledged item has nothing left to hold."""
    phone = make_client("phone", profile=PROPOSED, seed=7)
    phone.last_sync_time = iso_z(T0)
    phone.start(T0)
    phone.connection_opened(T0)
    phone.drain()
    phone.create_entry(entry_fields(), T0)
    assert len(mutation_sends(phone.drain())) == 1
    item = the_item(phone)
    due = item.next_attempt
    phone.hold_resend(item.message_id, T0 + 1.0)  # before the backoff's due time: no change
    assert the_item(phone).next_attempt == due
    phone.hold_resend(item.message_id, T0 + 100.0)
    assert the_item(phone).next_attempt == T0 + 100.0
    phone.tick(due)
    phone.create_entry(entry_fields(), due)  # another change wakes the client to drain
    woken = [s.frame.get("messageId") for s in mutation_sends(phone.drain())]
    assert len(woken) == 1 and item.message_id not in woken
    assert phone.next_deadline() <= T0 + 100.0
    phone.tick(T0 + 100.0)
    sent = mutation_sends(phone.drain())
    (resend,) = [s for s in sent if s.frame.get("messageId") == item.message_id]
    assert resend.frame.get("entry") == item.frame.get("entry")
    phone.hold_resend("no-such-message", T0 + 500.0)  # nothing to hold: no error


@pytest.mark.parametrize(("profile", "kept"), [(LEGACY, False), (PROPOSED, True)])
def test_offline_retention_is_48_hours_in_legacy_and_7_days_in_proposed(profile, kept):
    wire = Loopback(profile)
    phone = wire.client("phone")
    offline(phone, T0)
    three_days = phone.create_entry(entry_fields(duration=3), T0)
    phone.drain()
    phone.network_changed(True, T0 + 3 * DAY)
    wire.connect(phone, T0 + 3 * DAY, start=False)
    drops = [(e.entity_id, e.reason) for e in wire.of("phone", QueueEvent) if e.op == "drop"]
    assert drops == ([] if kept else [(three_days, "expired")])
    assert (wire.store.get("alice", ENTRY, three_days) is not None) == kept


def test_persisted_outbox_drops_an_item_unacknowledged_after_7_days():
    wire = Loopback(PROPOSED)
    phone = wire.client("phone")
    offline(phone, T0)
    stale = phone.create_entry(entry_fields(duration=1), T0)
    edge = phone.create_entry(entry_fields(duration=2), T0 + 1)
    phone.drain()

    at = T0 + 1 + 7 * DAY  # exactly 7 days after `edge`: still kept
    phone.network_changed(True, at)
    wire.connect(phone, at, start=False)
    drops = [e for e in wire.of("phone", QueueEvent) if e.op == "drop"]
    assert [(d.entity_id, d.reason) for d in drops] == [(stale, "expired")]
    assert set(live(wire.store, ENTRY)) == {edge}
    assert phone.storage.outbox == {}


# -- the outbox classes on their own ------------------------------------------------------


def _item(entity_id: str, at: float, message_id: str | None = None) -> OutboxItem:
    frame = Frame.make(FrameType.ENTRY_DELETED, at, entryId=entity_id)
    return OutboxItem(message_id or f"m-{entity_id}-{at}", f"d#{at}", ENTRY, entity_id, frame, at)


def _persisted(storage: LocalStorage, seed: int = 3) -> PersistedOutbox:
    return PersistedOutbox(storage, 3, 100.0, 2, 2.0, 5.0, random.Random(seed))


def test_persisted_outbox_class_put_supersede_cap_and_storage():
    storage = LocalStorage()
    box = _persisted(storage)
    assert box.persisted and len(box) == 0 and box.next_due() is None
    assert box.put(_item("a", 0)) == []
    assert storage.outbox["m-a-0"].max_retries == 2  # the outbox stamps its retry limit
    assert storage.used > 0

    (superseded,) = box.put(_item("a", 1))
    assert (superseded.item.message_id, superseded.reason) == ("m-a-0", "superseded")
    assert list(storage.outbox) == ["m-a-1"]

    box.put(_item("b", 2))
    box.put(_item("c", 3))
    (capped,) = box.put(_item("d", 4))
    assert (capped.item.entity_id, capped.reason) == ("a", "cap")
    assert [i.entity_id for i in box.items()] == ["b", "c", "d"]

    # Loading: another outbox object on the same localStorage sees the same items.
    assert [i.entity_id for i in _persisted(storage).items()] == ["b", "c", "d"]
    assert box.lose() == [] and len(box) == 3

    for message_id in list(storage.outbox):
        assert box.ack(message_id) is not None
    assert box.ack("m-b-2") is None
    assert len(box) == 0 and storage.used == 0


def test_persisted_outbox_class_drain_backoff_retries_and_retention():
    storage = LocalStorage()
    box = _persisted(storage)
    box.put(_item("a", 0))
    box.put(_item("old", -89))

    due, dropped = box.drain(10)
    assert [i.entity_id for i in due] == ["a", "old"] and dropped == []
    first = storage.outbox["m-a-0"]
    assert (first.attempts, first.last_attempt) == (1, 10)
    assert 12 <= first.next_attempt <= 12.5  # 2 s times 1..1.25
    # The old item's retention (100 s) ends before any resend is due: the client wakes then.
    expires = box.next_due()
    assert expires is not None and 11 < expires < min(i.next_attempt for i in box.items())
    assert box.drain(11) == ([], [])  # exactly 100 s old: still kept
    assert len(box) == 2

    due, dropped = box.drain(expires)
    assert due == [] and [(d.item.entity_id, d.reason) for d in dropped] == [("old", "expired")]

    due, dropped = box.drain(first.next_attempt)
    second = storage.outbox["m-a-0"]
    assert [i.entity_id for i in due] == ["a"] and dropped == []
    assert second.attempts == 2
    assert 4 <= second.next_attempt - first.next_attempt <= 5  # 4 s, jitter under the 5 s cap

    due, dropped = box.drain(second.next_attempt)
    assert due == []
    assert [(d.item.entity_id, d.reason) for d in dropped] == [("a", "retries")]
    assert len(box) == 0

    # Jitter comes from the injected rng: the same seed gives the same schedule.
    again = _persisted(LocalStorage())
    again.put(_item("a", 0))
    again.put(_item("old", -89))
    (a_again, _), _ = again.drain(10)
    assert a_again.next_attempt == first.next_attempt


def test_memory_queue_class_dedupes_caps_expires_and_forgets():
    queue = MemoryQueue(cap=2, max_age_s=10)
    assert not queue.persisted
    assert queue.put(_item("a", 0)) == []
    (superseded,) = queue.put(_item("a", 1))
    assert superseded.reason == "superseded" and superseded.item.queued_at == 0
    queue.put(_item("b", 5))
    (capped,) = queue.put(_item("c", 6))
    assert (capped.item.entity_id, capped.reason) == ("a", "cap")
    assert queue.ack("m-b-5") is None and queue.next_due() is None

    fresh, expired = queue.drain(15.5)
    assert [i.entity_id for i in fresh] == ["c"]
    assert [(d.item.entity_id, d.reason) for d in expired] == [("b", "expired")]
    assert len(queue) == 0  # drained means gone, acknowledged or not

    queue.put(_item("d", 20))
    assert [i.entity_id for i in queue.lose()] == ["d"]
    assert len(queue) == 0


# == repertoire bulk merge ==================================================================

MESSY_AIR = [
    piece(
        legacy_score_id("Air on the \u2018G\u2019 String \u2013 BWV 1068", "J.S. Bach"),
        "Air on the \u2018G\u2019 String \u2013 BWV 1068",
        "J.S. Bach",
        T0 + 1,
        status="planned",
    ),
    piece(
        legacy_score_id("Air on the 'G' String - BWV 1068", "JS Bach"),
        "Air on the 'G' String - BWV 1068",
        "JS Bach",
        T0 + 3,
        status="polished",
    ),
    {
        "score_id": "AIR ON THE G",
        "title": "AIR ON THE \u2018G\u2019 STRING \u2014 BWV 1068",
        "composer": "J.S. BACH",
        "status": "working",
        "updatedAt": iso_z(T0 + 2),
    },
    {
        "id": "air-legacy",
        "title": "  Air  on the 'G'   String \u2013 BWV 1068 ",
        "composer": " J.S.  Bach ",
        "status": "learning",
        "updatedAt": iso_z(T0),
    },
]


def test_normalized_score_id_of_every_messy_spelling_is_the_same():
    for item in MESSY_AIR:
        assert normalize_score_id(item["title"], item["composer"]) == AIR
    assert normalize_score_id("Prelude in C", None) == "prelude in c-unknown"
    assert normalize_score_id("Anything", "Else", "score_123") == "score_123"


def test_bulk_merge_collapses_messy_spellings_into_one_piece_keeping_the_newest():
    (merged,) = bulk_merge_pieces(MESSY_AIR)
    assert merged.score_id == AIR
    assert merged.data["scoreId"] == AIR
    assert "score_id" not in merged.data and merged.data["id"] == AIR
    assert merged.data["status"] == "polished"  # the T0 + 3 copy
    assert merged.data["updated_at"] == iso_z(T0 + 3)
    assert merged.merged_from == (
        MESSY_AIR[0]["scoreId"],
        MESSY_AIR[1]["scoreId"],
        "AIR ON THE G",
        "air-legacy",
    )
    assert merged.version is None


def test_bulk_merge_ranks_by_updated_at_then_version_in_any_order():
    newer = piece("a-x", "A", "X", T0 + 10, status="working", version=1)
    older_high = piece("A-X", "A", "X", T0, status="planned", version=9)
    for items in ([newer, older_high], [older_high, newer]):
        (merged,) = bulk_merge_pieces(items)
        assert (merged.data["status"], merged.version) == ("working", 1)
        assert "version" not in merged.data

    low = piece("b-y", "B", "Y", T0, status="planned", version=2)
    high = piece("B-Y ", "B", "Y", T0, status="polished", version=5)
    bare = piece("b - y", "B", "Y", T0, status="archived")
    for items in ([low, high, bare], [bare, high, low], [high, bare, low]):
        (merged,) = bulk_merge_pieces(items)
        # The highest version wins, but it numbered the row "B-Y ", not "b-y": it is not
        # carried over to the normalized id, where it would outrank real later versions.
        assert (merged.data["status"], merged.version) == ("polished", None)


def test_bulk_merge_skips_items_without_id_or_title_and_keeps_score_ids():
    kept = piece("score_42", "Some Piece", "Someone", T0)
    result = bulk_merge_pieces([kept, {"title": "no id"}, {"scoreId": "no-title"}])
    assert [(p.score_id, p.data["title"]) for p in result] == [("score_42", "Some Piece")]


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        (PROPOSED, {AIR}),
        (LEGACY, {MESSY_AIR[0]["scoreId"], MESSY_AIR[1]["scoreId"], "AIR ON THE G", "air-legacy"}),
    ],
    ids=["proposed", "legacy"],
)
def test_client_bulk_merge_of_repertoire_bulk_sync(profile: Profile, expected: set[str]):
    phone = make_client("phone", profile=profile)
    frame = Frame.make(FrameType.REPERTOIRE_BULK_SYNC, T0, pieces=MESSY_AIR)
    phone.receive(frame.encode(), T0 + 5)
    assert set(phone.pieces) == expected
    merged = [m for m in phone.drain() if isinstance(m, Merged)]
    assert all(m.accepted and m.via == "REPERTOIRE_BULK_SYNC" for m in merged)
    if profile is PROPOSED:
        assert phone.pieces[AIR]["status"] == "polished"
        assert len(merged) == 1


def test_new_pieces_get_one_normalized_id_in_proposed_and_two_raw_ids_in_legacy():
    for profile, ids in [
        (PROPOSED, ["prelude in c-js bach", "prelude in c-js bach"]),
        (LEGACY, ["prelude in c-j.s. bach", "prelude in c-js bach"]),
    ]:
        phone = make_client("phone", profile=profile)
        offline(phone, T0)
        first = phone.add_piece("Prelude in C", "J.S. Bach", "learning", T0 + 1)
        second = phone.add_piece("  Prelude in C ", "JS Bach", "working", T0 + 2)
        assert [first, second] == ids
        assert len(phone.pieces) == len(set(ids))
        writes = [w.op for w in phone.drain() if isinstance(w, UserWrite)]
        assert writes == (["create", "update"] if profile is PROPOSED else ["create", "create"])


def test_bulk_merge_does_not_credit_another_rows_version_to_the_normalized_id():
    norm = normalize_score_id("Prelude in C", "J.S. Bach")
    raw = legacy_score_id("Prelude in C", "J.S. Bach")
    assert norm != raw
    phone = make_client("phone", profile=PROPOSED)
    bulk = [
        piece(raw, "Prelude in C", "J.S. Bach", T0, status="polished", version=5),
        piece(norm, "Prelude in C", "J.S. Bach", T0 - 10, status="learning", version=1),
    ]
    phone.receive(Frame.make(FrameType.REPERTOIRE_BULK_SYNC, T0, pieces=bulk).encode(), T0)
    phone.drain()
    # The server's row `norm` (version 1) is updated by another device: version 2.
    update = piece(norm, "Prelude in C", "J.S. Bach", T0 + 100, status="performance_ready")
    phone.receive(
        Frame.make(FrameType.PIECE_UPDATED, T0 + 100, piece=update, version=2, seq=9).encode(),
        T0 + 100,
    )
    assert phone.pieces[norm]["status"] == "performance_ready"


# == version-based conflict resolution ======================================================

LOCAL = {"id": "e", "updatedAt": iso_z(T0 + 100)}
OLDER = {"id": "e", "updatedAt": iso_z(T0)}
NEWER = {"id": "e", "updatedAt": iso_z(T0 + 200)}


@pytest.mark.parametrize(
    ("rule", "local", "local_version", "incoming", "incoming_version", "verdict"),
    [
        (LwwRule.VERSION_FIRST, LOCAL, 3, OLDER, 4, (True, "higher version")),
        (LwwRule.VERSION_FIRST, LOCAL, 5, NEWER, 4, (False, "not a higher version")),
        (LwwRule.VERSION_FIRST, LOCAL, 4, NEWER, 4, (False, "not a higher version")),
        (LwwRule.VERSION_FIRST, LOCAL, None, OLDER, 9, (False, "not newer by updatedAt")),
        (LwwRule.VERSION_FIRST, LOCAL, None, NEWER, 1, (True, "newer updatedAt")),
        (LwwRule.VERSION_FIRST, LOCAL, 9, NEWER, None, (True, "newer updatedAt")),
        (LwwRule.VERSION_FIRST, LOCAL, 1, OLDER, None, (False, "not newer by updatedAt")),
        (LwwRule.VERSION_FIRST, LOCAL, 1, LOCAL, None, (False, "not newer by updatedAt")),
        (LwwRule.VERSION_FIRST, None, 7, OLDER, 1, (True, "new")),
        (LwwRule.UPDATED_AT, LOCAL, 3, OLDER, 4, (False, "not newer by updatedAt")),
        (LwwRule.UPDATED_AT, LOCAL, 5, NEWER, 4, (True, "newer updatedAt")),
    ],
)
def test_decide(rule, local, local_version, incoming, incoming_version, verdict):
    assert decide(rule, local, local_version, incoming, incoming_version) == verdict


def _receive(client: DeviceClient, frame: Frame, now: float) -> Merged:
    client.receive(frame.encode(), now)
    (merged,) = [o for o in client.drain() if isinstance(o, Merged)]
    return merged


def test_client_tracks_versions_from_broadcasts_and_prefers_them_over_updated_at():
    phone = make_client("phone", profile=PROPOSED)
    first = stored_entry("e1", T0 + 100, duration=10)
    assert _receive(phone, Frame.make(FrameType.ENTRY_CREATED, T0, entry=first, version=3), T0)
    assert phone.storage.versions[(ENTRY, "e1")] == 3
    assert "version" not in phone.entries["e1"]

    newer_by_clock = stored_entry("e1", T0 + 500, duration=20)
    merged = _receive(
        phone, Frame.make(FrameType.ENTRY_UPDATED, T0, entry=newer_by_clock, version=2), T0
    )
    assert (merged.accepted, merged.reason) == (False, "not a higher version")
    assert (merged.incoming_version, merged.local_version) == (2, 3)
    assert phone.entries["e1"]["duration"] == 10

    older_by_clock = stored_entry("e1", T0, duration=30)
    merged = _receive(
        phone, Frame.make(FrameType.ENTRY_UPDATED, T0, entry=older_by_clock, version=4), T0
    )
    assert (merged.accepted, merged.reason) == (True, "higher version")
    assert phone.entries["e1"]["duration"] == 30
    assert phone.storage.versions[(ENTRY, "e1")] == 4

    # A broadcast without a version falls back to updatedAt.
    merged = _receive(phone, Frame.make(FrameType.ENTRY_UPDATED, T0, entry=newer_by_clock), T0)
    assert (merged.accepted, merged.reason) == (True, "newer updatedAt")


def test_client_tracks_versions_from_bulk_items():
    phone = make_client("phone", profile=PROPOSED)
    entries = [{**stored_entry("e1", T0), "version": 7}, {**stored_entry("e2", T0), "version": 2}]
    phone.receive(Frame.make(FrameType.BULK_SYNC, T0, entries=entries).encode(), T0)
    pieces = [piece("p-x", "P", "X", T0, version=4)]
    phone.receive(Frame.make(FrameType.REPERTOIRE_BULK_SYNC, T0, pieces=pieces).encode(), T0)
    assert phone.storage.versions == {(ENTRY, "e1"): 7, (ENTRY, "e2"): 2, (PIECE, "p-x"): 4}
    assert all("version" not in e for e in phone.entries.values())
    assert "version" not in phone.pieces["p-x"]


def test_legacy_client_ignores_versions():
    phone = make_client("phone")
    phone.entries["e1"] = stored_entry("e1", T0 + 100, duration=10)
    older = stored_entry("e1", T0, duration=30)
    merged = _receive(phone, Frame.make(FrameType.ENTRY_UPDATED, T0, entry=older, version=99), T0)
    assert (merged.accepted, merged.reason) == (False, "not newer by updatedAt")
    assert phone.entries["e1"]["duration"] == 10


def test_client_tracks_versions_from_acks():
    wire = Loopback(PROPOSED)
    phone = wire.client("phone")
    wire.connect(phone, T0)
    entry_id = phone.create_entry(entry_fields(), T0 + 1)
    wire.settle(phone, T0 + 1)
    assert phone.storage.versions[(ENTRY, entry_id)] == 1
    phone.update_entry(entry_id, {"duration": 50}, T0 + 2)
    wire.settle(phone, T0 + 2)
    assert phone.storage.versions[(ENTRY, entry_id)] == 2
    assert wire.store.get("alice", ENTRY, entry_id).version == 2


@pytest.mark.parametrize(("profile", "converges"), [(LEGACY, False), (PROPOSED, True)])
def test_an_update_from_a_slow_clock_reaches_the_other_device_only_by_version(
    profile: Profile, converges: bool
):
    wire = Loopback(profile)
    phone, laptop = wire.client("phone"), wire.client("laptop")
    wire.connect(phone, T0)
    wire.connect(laptop, T0)
    entry_id = phone.create_entry(entry_fields(duration=10), T0 + 100)
    wire.settle(phone, T0 + 100)
    # The laptop's clock is 90 s behind: its later edit carries an earlier updatedAt.
    laptop.update_entry(entry_id, {"duration": 20}, T0 + 10)
    wire.settle(laptop, T0 + 10)

    server = wire.store.get("alice", ENTRY, entry_id)
    assert server.data["duration"] == 20 and server.version == 2
    assert laptop.entries[entry_id] == server.data
    assert (phone.entries[entry_id] == server.data) is converges


# == full sync flow with repertoire =========================================================


def _device_a_writes(wire: Loopback, at: float) -> DeviceClient:
    tablet = wire.client("tablet")
    wire.connect(tablet, at)
    ids = [tablet.add_piece(f"Etude {n}", "Chopin", "learning", at + n) for n in range(1, 4)]
    tablet.update_piece(ids[0], {"status": "polished"}, at + 10)
    tablet.remove_piece(ids[2], at + 11)
    kept = tablet.create_entry(entry_fields(duration=10), at + 12)
    gone = tablet.create_entry(entry_fields(duration=20), at + 13)
    tablet.update_entry(kept, {"notes": "hands separately"}, at + 14)
    tablet.delete_entry(gone, at + 15)
    wire.settle(tablet, at + 15)
    return tablet


@pytest.mark.parametrize("backfill", ["off", "auto"])
def test_full_sync_flow_with_repertoire_under_proposed(backfill: str):
    wire = Loopback(resolve("proposed", {"backfill": backfill}))
    tablet = _device_a_writes(wire, T0)
    entries, pieces = live(wire.store, ENTRY), live(wire.store, PIECE)
    assert len(entries) == 1 and len(pieces) == 2

    phone = wire.client("phone")
    wire.connect(phone, T0 + HOUR)
    assert wire.types_got("phone") == [
        "WELCOME",
        "BULK_SYNC",
        "REPERTOIRE_BULK_SYNC",
        "ENTRY_DELETED",
        "PIECE_REMOVED",
        "SYNC_RESPONSE",
    ]
    bulk = wire.got["phone"][2]
    assert {p["scoreId"] for p in bulk.get("pieces")} == set(pieces)
    assert phone.entries == entries == tablet.entries
    assert phone.pieces == pieces == tablet.pieces
    for row in wire.store.rows("alice"):
        if not row.deleted:
            assert phone.storage.versions[(row.entity_type, row.entity_id)] == row.version
    if backfill == "off":
        vias = {m.entity_id: m.via for m in wire.of("phone", Merged) if m.accepted}
        assert {vias[p] for p in pieces} == {"REPERTOIRE_BULK_SYNC"}


def test_legacy_sends_no_repertoire_bulk_only_broadcasts_while_connected():
    wire = Loopback(LEGACY)
    tablet = _device_a_writes(wire, T0)
    assert len(live(wire.store, PIECE)) == 2

    phone = wire.client("phone")
    wire.connect(phone, T0 + HOUR)
    assert wire.types_got("phone") == ["WELCOME", "BULK_SYNC", "ENTRY_DELETED", "SYNC_RESPONSE"]
    assert phone.pieces == {}
    assert phone.entries == live(wire.store, ENTRY)

    score_id = tablet.add_piece("Nocturne", "Chopin", "planned", T0 + HOUR + 1)
    wire.settle(tablet, T0 + HOUR + 1)
    assert wire.types_got("phone")[-1] == "PIECE_ADDED"
    assert phone.pieces == {score_id: tablet.pieces[score_id]}


def test_a_repertoire_bulk_under_another_name_is_not_handled():
    """The seed's open question 1: the server says PIECE_BULK_SYNC, the client listens for
    REPERTOIRE_BULK_SYNC."""
    server_event = "PIECE_BULK_SYNC"
    profile = resolve(
        "proposed",
        {
            "backfill": "off",
            "repertoire_bulk_event": server_event,
            "client_repertoire_event": "REPERTOIRE_BULK_SYNC",
        },
    )
    wire = Loopback(profile)
    _device_a_writes(wire, T0)
    phone = wire.client("phone")
    wire.connect(phone, T0 + HOUR)
    assert server_event in wire.types_got("phone")
    errors = [e.reason for e in wire.of("phone", PeerError)]
    assert errors == [f"no handler for {server_event}; ignored"]
    assert phone.pieces == {}
    assert phone.entries == live(wire.store, ENTRY)
    # The unhandled frame is not data to the client: it does not move the cursor.
    reasons = [c.reason for c in wire.of("phone", CursorMoved)]
    assert "BULK_SYNC" in reasons and server_event not in reasons


def test_a_repertoire_bulk_under_the_other_name_works_when_both_sides_agree():
    profile = resolve(
        "proposed",
        {
            "backfill": "off",
            "repertoire_bulk_event": "PIECE_BULK_SYNC",
            "client_repertoire_event": "PIECE_BULK_SYNC",
        },
    )
    wire = Loopback(profile)
    _device_a_writes(wire, T0)
    phone = wire.client("phone")
    wire.connect(phone, T0 + HOUR)
    assert wire.of("phone", PeerError) == []
    assert phone.pieces == live(wire.store, PIECE) != {}


# == offline -> online ======================================================================


@pytest.mark.parametrize("profile", ALL)
def test_offline_writes_reach_the_server_after_reconnect(profile: Profile):
    wire = Loopback(profile)
    phone, laptop = wire.client("phone"), wire.client("laptop")
    wire.connect(phone, T0)
    wire.connect(laptop, T0)
    kept = phone.create_entry(entry_fields(duration=5), T0 + 1)
    doomed = phone.create_entry(entry_fields(duration=6), T0 + 2)
    old_piece = phone.add_piece("Etude", "Chopin", "learning", T0 + 3)
    wire.settle(phone, T0 + 3)

    wire.disconnect(phone, T0 + 10)
    phone.network_changed(False, T0 + 10)
    phone.update_entry(kept, {"duration": 50, "mood": "proud"}, T0 + 20)
    phone.delete_entry(doomed, T0 + 21)
    new_entry = phone.create_entry(entry_fields(duration=7), T0 + 22)
    new_piece = phone.add_piece("Nocturne", "Chopin", "planned", T0 + 23)
    phone.update_piece(new_piece, {"status": "working"}, T0 + 24)
    phone.remove_piece(old_piece, T0 + 25)
    wire.settle(phone, T0 + 25)
    assert set(live(wire.store, ENTRY)) == {kept, doomed}  # nothing went out

    phone.network_changed(True, T0 + HOUR)
    wire.connect(phone, T0 + HOUR, start=False)
    server_entries, server_pieces = live(wire.store, ENTRY), live(wire.store, PIECE)
    assert set(server_entries) == {kept, new_entry}
    assert set(server_pieces) == {new_piece}
    assert server_entries[kept] == phone.entries[kept]
    assert server_entries[kept]["duration"] == 50
    assert server_entries[new_entry] == phone.entries[new_entry]
    assert server_pieces[new_piece] == phone.pieces[new_piece]
    assert server_pieces[new_piece]["status"] == "working"
    assert wire.store.get("alice", ENTRY, doomed).deleted
    assert wire.store.get("alice", PIECE, old_piece).deleted
    assert laptop.entries == server_entries and laptop.pieces == server_pieces
    assert wire.server_of(Refused) == []
    if profile.outbox is OutboxKind.PERSISTED:
        assert phone.storage.outbox == {}


@pytest.mark.parametrize(
    ("profile", "resurrected"),
    [
        pytest.param(LEGACY, {"entry"}, id="legacy"),
        pytest.param(PROPOSED, {"entry", "piece"}, id="proposed"),
        pytest.param(SEQ, set(), id="seq"),
    ],
)
def test_catch_up_before_the_queued_delete_brings_the_deleted_item_back_without_tombstones(
    profile: Profile, resurrected: set[str]
):
    """PROTOCOL.md: queued changes go out after the SYNC_REQUEST, so the catch-up still carries
    the rows this device deleted offline, and a client without tombstones takes them as new.
    The device then shows what the server (and every other device) has deleted: a flaw of the
    real client that `legacy` and `proposed` must reproduce and `seq`'s tombstones remove."""
    wire = Loopback(profile)
    phone = wire.client("phone")
    wire.connect(phone, T0)
    entry_id = phone.create_entry(entry_fields(), T0 + 1)
    score_id = phone.add_piece("Etude", "Chopin", "learning", T0 + 2)
    wire.settle(phone, T0 + 2)
    wire.disconnect(phone, T0 + 10)
    phone.network_changed(False, T0 + 10)
    phone.delete_entry(entry_id, T0 + 20)
    phone.remove_piece(score_id, T0 + 21)

    phone.network_changed(True, T0 + HOUR)
    wire.connect(phone, T0 + HOUR, start=False)
    assert wire.types_sent("phone")[-3:] == ["SYNC_REQUEST", "ENTRY_DELETED", "PIECE_REMOVED"]
    assert wire.store.get("alice", ENTRY, entry_id).deleted
    assert wire.store.get("alice", PIECE, score_id).deleted
    assert (entry_id in phone.entries) is ("entry" in resurrected)
    assert (score_id in phone.pieces) is ("piece" in resurrected)


def _in_flight_world(profile: Profile):
    wire = Loopback(profile)
    phone, laptop = wire.client("phone"), wire.client("laptop")
    wire.connect(phone, T0)
    wire.connect(laptop, T0)
    return wire, phone, laptop


@pytest.mark.parametrize(
    ("profile", "key_prefix"), [(PROPOSED, "msg:"), (SEQ, "change:phone-")], ids=["proposed", "seq"]
)
def test_a_write_applied_but_unacknowledged_is_resent_and_applied_once(
    profile: Profile, key_prefix: str
):
    wire, phone, _ = _in_flight_world(profile)
    wire.drop_next("phone", FrameType.ENTRY_CREATED, reached_server=True)
    entry_id = phone.create_entry(entry_fields(), T0 + 10)
    wire.settle(phone, T0 + 10)

    assert phone.state is ConnState.CLOSED
    assert [f.type for f in wire.lost["phone"]] == [FrameType.SYNC_RESPONSE]  # the ack
    assert wire.store.get("alice", ENTRY, entry_id).version == 1
    item = the_item(phone)

    wire.reconnect(phone, T0 + 11)
    wire.tick(phone, item.next_attempt)
    creates = [f for f in wire.sent["phone"] if f.type is FrameType.ENTRY_CREATED]
    assert len(creates) == 2 and creates[0].fields == creates[1].fields

    row = wire.store.get("alice", ENTRY, entry_id)
    assert row.version == 1
    (dedup,) = wire.server_of(Deduplicated)
    assert dedup.key.startswith(key_prefix) and dedup.seq == row.seq
    if profile.idempotency.value == "message_id":
        assert dedup.key == f"msg:{item.message_id}"
    assert len(wire.server_of(Applied)) == 1
    assert phone.storage.outbox == {}
    assert [f.type for f in wire.got["laptop"]].count(FrameType.ENTRY_CREATED) == 1


@pytest.mark.parametrize("profile", [PROPOSED, SEQ], ids=["proposed", "seq"])
def test_a_duplicated_frame_is_applied_once_with_idempotency(profile: Profile):
    wire, phone, _ = _in_flight_world(profile)
    wire.duplicate_next("phone", FrameType.ENTRY_CREATED)
    entry_id = phone.create_entry(entry_fields(), T0 + 10)
    wire.settle(phone, T0 + 10)

    assert len(wire.duplicated["phone"]) == 1
    assert wire.store.get("alice", ENTRY, entry_id).version == 1
    assert len(wire.server_of(Deduplicated)) == 1
    assert len(wire.server_of(Applied)) == 1
    acks = [f for f in wire.got["phone"] if f.get("message") == "Mutation applied"]
    assert len(acks) == 2 and acks[0].get("lastSeq") == acks[1].get("lastSeq")
    assert phone.storage.outbox == {}
    assert wire.of("phone", PeerError) == []  # the second ack names a gone item: ignored
    assert [f.type for f in wire.got["laptop"]].count(FrameType.ENTRY_CREATED) == 1


@pytest.mark.parametrize(
    "profile",
    [LEGACY, resolve("legacy", {"acks": True})],
    ids=["legacy", "legacy+acks"],
)
def test_a_duplicated_frame_is_applied_twice_without_idempotency(profile: Profile):
    wire, phone, _ = _in_flight_world(profile)
    wire.duplicate_next("phone", FrameType.ENTRY_CREATED)
    entry_id = phone.create_entry(entry_fields(), T0 + 10)
    wire.settle(phone, T0 + 10)
    assert wire.store.get("alice", ENTRY, entry_id).version == 2
    assert wire.server_of(Deduplicated) == []
    assert len(wire.server_of(Applied)) == 2
    assert [f.type for f in wire.got["laptop"]].count(FrameType.ENTRY_CREATED) == 2


def test_a_resent_write_is_applied_twice_without_idempotency():
    profile = resolve("proposed", {"idempotency": "none"})
    wire, phone, _ = _in_flight_world(profile)
    wire.drop_next("phone", FrameType.ENTRY_CREATED, reached_server=True)
    entry_id = phone.create_entry(entry_fields(), T0 + 10)
    wire.settle(phone, T0 + 10)
    item = the_item(phone)
    wire.reconnect(phone, T0 + 11)
    wire.tick(phone, item.next_attempt)
    assert wire.store.get("alice", ENTRY, entry_id).version == 2
    assert wire.server_of(Deduplicated) == []
    assert phone.storage.outbox == {}


def test_a_persisted_outbox_without_acks_is_refused():
    # Items leave the persisted outbox only on an ACK naming their messageId; without ACKs
    # every write would be resent and applied once per attempt.
    with pytest.raises(UnknownProfile) as refused:
        resolve("legacy", {"outbox": "persisted"})
    assert refused.value.flag == "outbox"


def test_legacy_with_a_persisted_outbox_and_acks_applies_each_write_once():
    wire = Loopback(resolve("legacy", {"outbox": "persisted", "acks": True}))
    phone = wire.client("phone")
    wire.connect(phone, T0)
    entry_id = phone.create_entry(entry_fields(), T0 + 1)
    wire.settle(phone, T0 + 1)
    assert wire.store.get("alice", ENTRY, entry_id).version == 1
    assert phone.storage.outbox == {}
    assert phone.next_deadline() == T0 + 30  # only the keep-alive is left to do


def test_seq_writes_after_a_wipe_are_not_mistaken_for_duplicates():
    wire = Loopback(SEQ)
    phone = wire.client("phone")
    wire.connect(phone, T0)
    phone.create_entry(entry_fields(duration=1), T0 + 1)
    wire.settle(phone, T0 + 1)
    phone.wipe(T0 + 2)
    wire.settle(phone, T0 + 2)
    wire.connect(phone, T0 + 2, start=False)
    after = phone.create_entry(entry_fields(duration=2), T0 + 3)
    wire.settle(phone, T0 + 3)
    assert wire.server_of(Deduplicated) == []
    assert wire.store.get("alice", ENTRY, after) is not None


# == large dataset chunking =================================================================


def _large_store(rows_at: float) -> ServerStore:
    store = ServerStore(":memory:")
    for i in range(2000):
        score_id = normalize_score_id(f"Piece {i}", "Composer")
        data = clean_piece(piece(score_id, f"Piece {i}", "Composer", rows_at + i))
        store.write("alice", PIECE, score_id, data, "elsewhere", rows_at + i)
    for i in range(1200):
        entry_id = f"e{i:04d}"
        data = stored_entry(entry_id, rows_at + i, duration=i % 120, notes="n" * 50)
        store.write("alice", ENTRY, entry_id, data, "elsewhere", rows_at + i)
    return store


@pytest.mark.parametrize("backfill", ["off", "auto"])
def test_large_dataset_is_chunked_in_pages_of_at_most_500_under_proposed(backfill: str):
    store = _large_store(T0 - 2 * DAY)
    wire = Loopback(resolve("proposed", {"backfill": backfill}), store)
    phone = wire.client("phone")
    wire.connect(phone, T0)

    entry_frames = [f for f in wire.got["phone"] if f.type is FrameType.BULK_SYNC]
    piece_frames = [f for f in wire.got["phone"] if f.type is FrameType.REPERTOIRE_BULK_SYNC]
    assert [f.get("page") for f in entry_frames] == [0, 1, 2]
    assert [len(f.get("entries")) for f in entry_frames] == [500, 500, 200]
    assert [f.get("page") for f in piece_frames] == [0, 1, 2, 3]
    assert [len(f.get("pieces")) for f in piece_frames] == [500] * 4
    seqs = {r.entity_id: r.seq for r in store.rows("alice")}
    for frame, field, key in [(f, "entries", "id") for f in entry_frames] + [
        (f, "pieces", "scoreId") for f in piece_frames
    ]:
        assert frame.get("lastSeq") == max(seqs[item[key]] for item in frame.get(field))
        assert len(frame.encode().encode("utf-8")) < 1024 * 1024
    sent_ids = [e["id"] for f in entry_frames for e in f.get("entries")]
    assert sent_ids == sorted(sent_ids, key=seqs.__getitem__)  # seq order across pages
    assert wire.got["phone"][-1].get("lastSeq") == max(seqs.values())

    assert phone.entries == live(store, ENTRY) and len(phone.entries) == 1200
    assert phone.pieces == live(store, PIECE) and len(phone.pieces) == 2000


def test_large_dataset_goes_in_one_bulk_frame_and_no_repertoire_under_legacy():
    store = _large_store(T0 - 2 * DAY)
    wire = Loopback(LEGACY, store)
    phone = wire.client("phone")
    wire.connect(phone, T0)
    assert wire.types_got("phone") == ["WELCOME", "BULK_SYNC", "SYNC_RESPONSE"]
    (bulk,) = [f for f in wire.got["phone"] if f.type is FrameType.BULK_SYNC]
    assert "page" not in bulk.fields and "lastSeq" not in bulk.fields
    assert len(bulk.get("entries")) == 1200
    assert phone.entries == live(store, ENTRY)
    assert phone.pieces == {}


# == seq cursor =============================================================================


def test_seq_cursor_sync_request_carries_last_seq_and_gets_only_later_rows():
    wire = Loopback(SEQ)
    laptop, phone = wire.client("laptop"), wire.client("phone")
    wire.connect(laptop, T0)
    for n in range(3):
        laptop.create_entry(entry_fields(duration=n), T0 + n)
    wire.settle(laptop, T0 + 3)

    wire.connect(phone, T0 + 10)
    first_request = wire.sent["phone"][0]
    assert first_request.type is FrameType.SYNC_REQUEST
    assert "lastSeq" not in first_request.fields  # nothing seen yet
    top = max(r.seq for r in wire.store.rows("alice"))
    assert phone.storage.last_seq == top
    wire.disconnect(phone, T0 + 20)

    later = laptop.create_entry(entry_fields(duration=9), T0 + 30)
    wire.settle(laptop, T0 + 30)
    mark = wire.mark()
    wire.reconnect(phone, T0 + 120)
    request = wire.sent["phone"][-1]
    assert request.type is FrameType.SYNC_REQUEST
    assert request.fields == {"lastSeq": top}
    (bulk,) = [f for f in wire.got_since(mark, "phone") if f.type is FrameType.BULK_SYNC]
    assert [e["id"] for e in bulk.get("entries")] == [later]
    assert phone.storage.last_seq == wire.store.get("alice", ENTRY, later).seq
    assert phone.entries == live(wire.store, ENTRY)


def test_time_cursor_profiles_never_send_last_seq():
    wire = Loopback(PROPOSED)
    laptop, phone = wire.client("laptop"), wire.client("phone")
    wire.connect(laptop, T0)
    laptop.create_entry(entry_fields(), T0 + 1)
    wire.settle(laptop, T0 + 1)
    wire.connect(phone, T0 + 10)
    wire.disconnect(phone, T0 + 20)
    wire.reconnect(phone, T0 + 120)
    requests = [f for f in wire.sent["phone"] if f.type is FrameType.SYNC_REQUEST]
    assert len(requests) == 2
    assert all("lastSeq" not in r.fields for r in requests)
    assert requests[1].get("lastSyncTime") == iso_z(T0 + 10)
    assert phone.storage.last_seq == 0


def test_server_answers_by_last_seq_before_last_sync_time():
    store = ServerStore(":memory:")
    coord = Coordinator(store, SEQ)
    rows = [
        store.write("alice", ENTRY, f"e{n}", stored_entry(f"e{n}", T0 + n), "x", T0 + n)
        for n in range(4)
    ]
    coord.open("c", "alice", T0 + 10)

    def answer(**cursor: Any) -> list[str]:
        coord.drain()
        request = Frame.make(FrameType.SYNC_REQUEST, T0 + 10, **cursor)
        coord.receive("c", request.encode(), T0 + 10)
        frames = [o.frame for o in coord.drain() if isinstance(o, Outgoing)]
        return [e["id"] for f in frames if f.type is FrameType.BULK_SYNC for e in f.get("entries")]

    assert answer(lastSeq=rows[1].seq, lastSyncTime=iso_z(T0 - DAY)) == ["e2", "e3"]
    assert answer(lastSeq=rows[3].seq) == []
    assert answer(lastSeq=0, lastSyncTime=iso_z(T0 + 1)) == ["e2", "e3"]  # 0: by time


@pytest.mark.parametrize(("profile", "comes_back"), [(SEQ, False), (PROPOSED, True)])
def test_tombstones_stop_a_stale_update_from_bringing_a_deleted_entry_back(
    profile: Profile, comes_back: bool
):
    phone = make_client("phone", profile=profile)
    phone.entries["e1"] = stored_entry("e1", T0)
    phone.delete_entry("e1", T0 + 10)
    phone.entries["e2"] = stored_entry("e2", T0)
    phone.receive(Frame.make(FrameType.ENTRY_DELETED, T0 + 10, entryId="e2").encode(), T0 + 10)
    phone.drain()
    assert (profile.client_tombstones) == (not comes_back)

    for entry_id in ("e1", "e2"):
        stale = stored_entry(entry_id, T0 + 5, duration=99)
        merged = _receive(
            phone, Frame.make(FrameType.ENTRY_UPDATED, T0 + 20, entry=stale, version=5), T0 + 20
        )
        assert merged.accepted is comes_back
        assert merged.reason == ("new" if comes_back else "tombstoned")
        assert (entry_id in phone.entries) is comes_back

    # Under seq a change made after the delete is still taken.
    fresh = stored_entry("e1", T0 + 30, duration=1)
    merged = _receive(phone, Frame.make(FrameType.ENTRY_UPDATED, T0 + 40, entry=fresh), T0 + 40)
    assert merged.accepted
    if not comes_back:
        assert merged.reason == "newer than its tombstone"
        assert (ENTRY, "e1") not in phone.storage.tombstones


def test_seq_cursor_survives_a_connection_lost_in_the_middle_of_a_catch_up():
    wire = Loopback(SEQ)
    laptop, phone = wire.client("laptop"), wire.client("phone")
    wire.connect(laptop, T0)
    wire.connect(phone, T0)
    wire.disconnect(phone, T0 + 1)
    score_id = laptop.add_piece("Etude", "Chopin", "learning", T0 + 10)
    laptop.create_entry(entry_fields(), T0 + 11)
    wire.settle(laptop, T0 + 11)

    wire.cut_after("phone", FrameType.BULK_SYNC)
    wire.reconnect(phone, T0 + 100)
    assert FrameType.REPERTOIRE_BULK_SYNC in [f.type for f in wire.lost["phone"]]
    wire.reconnect(phone, T0 + 200)
    assert score_id in phone.pieces


# == backfill over REST =====================================================================


def _history_wire(profile: Profile) -> Loopback:
    wire = Loopback(profile)
    store = wire.store
    store.write(
        "alice", ENTRY, "ancient", stored_entry("ancient", T0 - 60 * DAY), "x", T0 - 60 * DAY
    )
    old_piece = piece("old-piece", "Old", "Piece", T0 - 90 * DAY)
    store.write("alice", PIECE, "old-piece", old_piece, "x", T0 - 90 * DAY)
    store.write("alice", ENTRY, "recent", stored_entry("recent", T0 - DAY), "x", T0 - DAY)
    store.write("bob", ENTRY, "bobs", stored_entry("bobs", T0 - DAY), "x", T0 - DAY)
    return wire


def test_backfill_without_a_cursor_pulls_the_full_history_over_rest():
    wire = _history_wire(PROPOSED)
    phone = wire.client("phone")
    wire.connect(phone, T0)

    assert wire.rest_pulls["phone"] == 1
    events = wire.of("phone", BackfillEvent)
    assert [(e.op, e.items) for e in events] == [("requested", 0), ("done", 3)]
    pulled = {m.entity_id for m in wire.of("phone", Merged) if m.via == "REST_PULL"}
    assert pulled == {"ancient", "old-piece", "recent"}
    assert set(phone.entries) == {"ancient", "recent"}  # 60 days old: only REST had it
    assert set(phone.pieces) == {"old-piece"}
    assert "REST_PULL" in [c.reason for c in wire.of("phone", CursorMoved)]
    bulk = next(f for f in wire.got["phone"] if f.type is FrameType.BULK_SYNC)
    assert [e["id"] for e in bulk.get("entries")] == ["recent"]  # the 30-day window


@pytest.mark.parametrize(("cursor_age_days", "pulls"), [(31, True), (30, False), (1, False)])
def test_backfill_runs_when_the_cursor_is_older_than_30_days(cursor_age_days, pulls):
    wire = _history_wire(PROPOSED)
    phone = wire.client("phone")
    phone.last_sync_time = iso_z(T0 - cursor_age_days * DAY)
    wire.connect(phone, T0)
    assert wire.rest_pulls["phone"] == int(pulls)
    assert bool(wire.of("phone", BackfillEvent)) is pulls
    assert ("ancient" in phone.entries) is pulls


def test_backfill_confirm_waits_for_the_user():
    wire = _history_wire(resolve("proposed", {"backfill": "confirm"}))
    phone = wire.client("phone")
    wire.connect(phone, T0)
    assert [e.op for e in wire.of("phone", BackfillEvent)] == ["prompted"]
    assert wire.rest_pulls["phone"] == 0
    assert "ancient" not in phone.entries

    phone.confirm_backfill(T0 + 5)
    wire.settle(phone, T0 + 5)
    assert [e.op for e in wire.of("phone", BackfillEvent)] == ["prompted", "requested", "done"]
    assert wire.rest_pulls["phone"] == 1
    assert "ancient" in phone.entries

    phone.confirm_backfill(T0 + 6)  # nothing is pending any more
    wire.settle(phone, T0 + 6)
    assert wire.rest_pulls["phone"] == 1


def test_a_failed_backfill_is_reported_and_merges_nothing():
    wire = _history_wire(PROPOSED)
    wire.rest_fails = True
    phone = wire.client("phone")
    wire.connect(phone, T0)
    assert [e.op for e in wire.of("phone", BackfillEvent)] == ["requested", "failed"]
    assert [m for m in wire.of("phone", Merged) if m.via == "REST_PULL"] == []
    assert "REST_PULL" not in [c.reason for c in wire.of("phone", CursorMoved)]
    assert set(phone.entries) == {"recent"}


def test_no_backfill_in_legacy():
    wire = _history_wire(LEGACY)
    phone = wire.client("phone")
    wire.connect(phone, T0)
    assert wire.rest_pulls["phone"] == 0 and wire.of("phone", RestPull) == []
    assert set(phone.entries) == {"recent"}


# == migrations =============================================================================

RAW_PIECE_ID = "Prelude  in C-J.S. Bach"


def _seeded_storage() -> LocalStorage:
    storage = LocalStorage()
    old = {**stored_entry("old", T0 - DAY), "type": "Practice", "mood": "Proud"}
    storage.entries["old"] = old
    storage.pieces[RAW_PIECE_ID] = piece(RAW_PIECE_ID, "Prelude  in C", "J.S. Bach", T0 - DAY)
    return storage


def test_guarded_migrations_run_once_and_send_their_changes():
    wire = Loopback(PROPOSED)
    phone = DeviceClient("phone", "alice", PROPOSED, random.Random(5), _seeded_storage())
    wire.connect(phone, T0)

    ran = [(m.name, m.changed) for m in wire.of("phone", MigrationRan)]
    assert ran == [("lowercase_enums", 1), ("normalize_score_ids", 1)]
    writes = [(w.op, w.entity_type, w.entity_id) for w in wire.of("phone", UserWrite)]
    assert writes == [
        ("update", ENTRY, "old"),
        ("delete", PIECE, RAW_PIECE_ID),
        ("create", PIECE, "prelude in c-js bach"),
    ]
    assert all(w.origin == "migration" and "#m" in w.write_id for w in wire.of("phone", UserWrite))
    assert (phone.entries["old"]["type"], phone.entries["old"]["mood"]) == ("practice", "proud")
    assert set(phone.pieces) == {"prelude in c-js bach"}
    assert phone.storage.migrations_done == {"lowercase_enums", "normalize_score_ids"}
    # The changes went to the server and were accepted.
    assert wire.server_of(Refused) == []
    assert live(wire.store, ENTRY) == phone.entries
    assert live(wire.store, PIECE) == phone.pieces
    assert wire.store.get("alice", PIECE, RAW_PIECE_ID).deleted
    assert phone.storage.outbox == {}

    first_conn = wire.conn_of["phone"]
    phone.reload(T0 + 60)
    wire.settle(phone, T0 + 60)
    assert wire.closed_by_client["phone"] == [first_conn]  # the reload closed the socket
    assert first_conn not in wire.coord.connections
    wire.connect(phone, T0 + 60, start=False)
    assert len(wire.of("phone", MigrationRan)) == 2  # nothing ran again
    assert len(wire.of("phone", UserWrite)) == 3
    again = DeviceClient("phone", "alice", PROPOSED, random.Random(6), phone.storage)
    again.start(T0 + 120)
    assert not any(isinstance(o, MigrationRan | UserWrite) for o in again.drain())


def test_unguarded_migrations_run_at_every_page_load_in_legacy():
    wire = Loopback(LEGACY)
    phone = DeviceClient("phone", "alice", LEGACY, random.Random(5), _seeded_storage())
    wire.connect(phone, T0)
    assert [(m.name, m.changed) for m in wire.of("phone", MigrationRan)] == [("lowercase_enums", 1)]
    assert phone.entries["old"]["type"] == "practice"
    assert live(wire.store, ENTRY) == phone.entries
    assert set(phone.pieces) == {RAW_PIECE_ID}  # legacy never re-keys pieces
    assert phone.storage.migrations_done == set()

    for n in (1, 2):
        phone.reload(T0 + 60 * n)
        wire.settle(phone, T0 + 60 * n)
        wire.connect(phone, T0 + 60 * n, start=False)
    ran = [(m.name, m.changed) for m in wire.of("phone", MigrationRan)]
    assert ran == [("lowercase_enums", 1), ("lowercase_enums", 0), ("lowercase_enums", 0)]
    assert len(wire.of("phone", UserWrite)) == 1


def test_score_id_migration_keeps_the_newest_of_two_spellings():
    storage = LocalStorage()
    older = piece("Prelude in C-J.S. Bach", "Prelude in C", "J.S. Bach", T0 - 10 * DAY)
    newer = piece("prelude in c-j.s. bach", "Prelude in C", "J.S. Bach", T0 - DAY)
    newer["status"] = "polished"
    storage.pieces = {older["scoreId"]: older, newer["scoreId"]: newer}
    phone = DeviceClient("phone", "alice", PROPOSED, random.Random(5), storage)
    phone.start(T0)
    assert list(phone.pieces) == ["prelude in c-js bach"]
    assert phone.pieces["prelude in c-js bach"]["status"] == "polished"


# == REST beside the socket =================================================================


def _changes(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"changes": [{"type": "ENTRY_CREATED", "entry": e} for e in entries]}


def test_rest_push_with_an_idempotency_key_applies_once():
    wire = Loopback(PROPOSED)
    laptop = wire.client("laptop")
    wire.connect(laptop, T0)
    body = _changes(stored_entry("r1", T0), stored_entry("r2", T0))
    body["changes"].append({"type": "PIECE_ADDED", "piece": piece("p-x", "P", "X", T0)})

    first = wire.coord.rest_push("alice", body, "key-1", T0 + 1)
    wire.pump(T0 + 1)
    assert first[0] == 200 and first[1]["applied"] == 3
    assert first[1]["lastSeq"] == max(r.seq for r in wire.store.rows("alice"))
    assert set(live(wire.store, ENTRY)) == {"r1", "r2"} and set(live(wire.store, PIECE)) == {"p-x"}
    assert wire.types_got("laptop")[-3:] == ["ENTRY_CREATED", "ENTRY_CREATED", "PIECE_ADDED"]
    assert laptop.entries == live(wire.store, ENTRY)
    before, got = snapshot(wire.store), len(wire.got["laptop"])

    second = wire.coord.rest_push("alice", body, "key-1", T0 + 2)
    wire.pump(T0 + 2)
    assert second == first
    assert snapshot(wire.store) == before
    assert len(wire.got["laptop"]) == got

    # The key is the user's: bob's same key is a different request.
    assert wire.coord.rest_push("bob", body, "key-1", T0 + 3)[0] == 200
    assert set(live(wire.store, ENTRY, "bob")) == {"r1", "r2"}
    # Without a key, a repeat is applied again.
    wire.coord.rest_push("alice", body, None, T0 + 4)
    assert wire.store.get("alice", ENTRY, "r1").version == 2


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            _changes(stored_entry("ok", T0), {**stored_entry("bad", T0), "duration": 1.5}),
            "duration",
        ),
        (_changes(stored_entry("ok", T0), {**stored_entry("bad", T0), "type": "Lesson"}), "type"),
        ({"changes": [{"type": "ENTRY_CREATED", "entry": stored_entry("ok", T0)}, {}]}, "type"),
        ({"changes": "all of them"}, "changes"),
        (["not", "an", "object"], "changes"),
    ],
    ids=["float-duration", "upper-case-type", "no-type", "changes-not-a-list", "body-not-object"],
)
def test_rest_push_refuses_an_invalid_change_and_applies_nothing(body: Any, error: str):
    wire = Loopback(PROPOSED)
    laptop = wire.client("laptop")
    wire.connect(laptop, T0)
    got = len(wire.got["laptop"])
    status, answer = wire.coord.rest_push("alice", body, "key-1", T0 + 1)
    wire.pump(T0 + 1)
    assert status == 400 and error in answer["error"]
    assert snapshot(wire.store) == []
    assert len(wire.got["laptop"]) == got
    assert wire.server_of(Applied) == []


@pytest.mark.parametrize("profile", [LEGACY, PROPOSED], ids=["legacy", "proposed"])
def test_rest_pull_returns_every_live_row_of_that_user_only(profile: Profile):
    wire = _history_wire(profile)
    store = wire.store
    store.write("alice", ENTRY, "gone", stored_entry("gone", T0), "x", T0)
    store.write("alice", ENTRY, "gone", {}, None, T0 + 1, deleted=True)
    store.write("alice", PIECE, "p-x", piece("p-x", "P", "X", T0), "x", T0)
    store.write("alice", PIECE, "p-x", piece("p-x", "P", "X", T0 + 2), "x", T0 + 2)

    body = wire.coord.rest_pull("alice", T0 + 10)
    rows = {(r.entity_type, r.entity_id): r for r in store.rows("alice") if not r.deleted}
    expected_entries = [r for (t, _), r in rows.items() if t == ENTRY]
    expected_pieces = [r for (t, _), r in rows.items() if t == PIECE]
    versioned = profile.version_in_broadcasts
    assert body["entries"] == [
        {**r.data, "version": r.version} if versioned else r.data for r in expected_entries
    ]
    assert body["pieces"] == [
        {**r.data, "version": r.version} if versioned else r.data for r in expected_pieces
    ]
    assert {e["id"] for e in body["entries"]} == {"ancient", "recent"}
    assert {p["scoreId"] for p in body["pieces"]} == {"old-piece", "p-x"}
    assert body["lastSeq"] == max(r.seq for r in store.rows("alice"))
    assert parse_iso_z(body["timestamp"]) == T0 + 10
    assert wire.coord.rest_pull("carol", T0)["entries"] == []


# == profiles and flag overrides ============================================================


def test_a_flag_override_changes_one_flag_and_the_client_follows_it():
    profile = resolve("legacy", {"outbox": "persisted", "acks": True})
    assert profile.outbox is OutboxKind.PERSISTED
    assert profile.name == "legacy"
    others = {k: v for k, v in profile.flags().items() if k not in ("outbox", "acks")}
    assert others == {k: v for k, v in LEGACY.flags().items() if k not in ("outbox", "acks")}
    assert PROFILES["legacy"].outbox is OutboxKind.MEMORY  # the named profile is untouched

    phone = make_client("phone", profile=profile)
    assert isinstance(phone.outbox, PersistedOutbox)
    offline(phone, T0)
    phone.create_entry(entry_fields(), T0 + 1)
    phone.reload(T0 + 2)
    assert queue_events(phone.drain(), "lost") == []
    assert len(phone.storage.outbox) == 1


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("queue_cap", 50.0, 50),
        ("window_days", 3, 3.0),
        ("lww", "version_first", LwwRule.VERSION_FIRST),
        ("cursor", "seq", Cursor.SEQ),
        ("acks", True, True),
        ("repertoire_bulk_event", "PIECE_BULK_SYNC", "PIECE_BULK_SYNC"),
    ],
)
def test_flag_overrides_are_coerced_to_the_flag_type(flag: str, value: Any, expected: Any):
    resolved = getattr(resolve("legacy", {flag: value}), flag)
    assert resolved == expected and type(resolved) is type(expected)


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("outbox", "disk"),
        ("queue_cap", "many"),
        ("queue_cap", 2.5),
        ("queue_cap", True),
        ("acks", 1),
        ("acks", "yes"),
        ("window_days", True),
        ("lww", "newest"),
        ("repertoire_bulk_event", "BULK_SYNC"),
        ("client_repertoire_event", "repertoire_bulk_sync"),
    ],
)
def test_a_bad_flag_value_raises_unknown_profile_naming_the_flag(flag: str, value: Any):
    with pytest.raises(UnknownProfile) as raised:
        resolve("legacy", {flag: value})
    assert raised.value.flag == flag
    assert flag in raised.value.message


def test_an_unknown_flag_or_profile_raises_unknown_profile():
    with pytest.raises(UnknownProfile) as raised:
        resolve("legacy", {"outbx": "persisted"})
    assert raised.value.flag == "outbx"
    assert "did you mean 'outbox'" in raised.value.message
    with pytest.raises(UnknownProfile) as raised:
        resolve("modern")
    assert raised.value.flag is None
    assert "legacy, proposed, seq" in raised.value.message


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_profile_round_trips_through_its_flags(name: str):
    profile = PROFILES[name]
    flags = {k: v for k, v in profile.flags().items() if k != "name"}
    assert resolve(name, flags) == profile
    rebuilt = resolve("legacy", flags)
    assert {k: v for k, v in rebuilt.flags().items() if k != "name"} == flags


# == every frame a client sends passes the server's validation ===============================


def _check_sent_frame(frame: Frame, text: str | None = None) -> None:
    assert parse_iso_z(frame.timestamp) is not None and frame.timestamp.endswith("Z")
    assert decode(frame.encode()) == frame
    if frame.type is FrameType.SYNC_REQUEST:
        if "lastSyncTime" in frame.fields:
            assert parse_iso_z(frame.get("lastSyncTime")) is not None
        if "lastSeq" in frame.fields:
            assert isinstance(frame.get("lastSeq"), int) and frame.get("lastSeq") >= 0
        return
    if frame.type is FrameType.PING:
        return
    assert frame.type in MUTATIONS, frame
    validate(frame)  # raises Invalid where the real server would refuse
    entry, item = frame.get("entry"), frame.get("piece")
    if entry is not None:
        assert isinstance(entry["duration"], int) and not isinstance(entry["duration"], bool)
        assert entry["type"] in ENTRY_TYPES and entry["type"] == entry["type"].lower()
        assert entry.get("mood") is None or entry["mood"] in MOODS
        assert isinstance(entry["instrument"], str) and entry["instrument"].strip()
        for key in ("createdAt", "updatedAt"):
            assert parse_iso_z(entry[key]) is not None and entry[key].endswith("Z")
    if item is not None:
        assert item["status"] in PIECE_STATUSES
        assert parse_iso_z(item["updated_at"]) is not None and item["updated_at"].endswith("Z")
        assert "updatedAt" not in item  # not in the real server's schema: it would be dropped
        assert isinstance(item["id"], str) and item["id"] == item["scoreId"]


@pytest.mark.parametrize("profile", ALL)
def test_every_frame_a_client_sends_passes_the_servers_validation(profile: Profile):
    wire = Loopback(profile)
    storage = _seeded_storage()  # a "Practice" entry: the migration must fix it before sending
    phone = DeviceClient("phone", "alice", profile, random.Random(11), storage)
    laptop = wire.client("laptop")
    wire.connect(phone, T0)
    wire.connect(laptop, T0)

    a = phone.create_entry(entry_fields(mood="satisfied", notes="scales", tags=["warm-up"]), T0 + 1)
    b = phone.create_entry(entry_fields(type="lesson", duration=0, pieces=[]), T0 + 2)
    p1 = phone.add_piece("Gymnopédie No. 1", "Satie", "planned", T0 + 3)
    p2 = phone.add_piece("Untitled sketch", None, "learning", T0 + 4)
    wire.settle(phone, T0 + 4)
    laptop.update_entry(a, {"duration": 45, "techniques": ["legato"]}, T0 + 5)
    laptop.update_piece(p1, {"status": "performance_ready"}, T0 + 6)
    wire.settle(laptop, T0 + 6)
    phone.delete_entry(b, T0 + 7)
    phone.remove_piece(p2, T0 + 8)
    wire.settle(phone, T0 + 8)

    wire.disconnect(phone, T0 + 10)
    phone.network_changed(False, T0 + 10)
    c = phone.create_entry(entry_fields(type="rehearsal", goalIds=["g1"]), T0 + 20)
    phone.update_entry(c, {"mood": "excited"}, T0 + 21)
    phone.update_piece(p1, {"status": "archived"}, T0 + 22)
    phone.network_changed(True, T0 + HOUR)
    wire.connect(phone, T0 + HOUR, start=False)
    phone.tick(T0 + HOUR + 30)  # a keep-alive too
    wire.settle(phone, T0 + HOUR + 30)

    for device in ("phone", "laptop"):
        assert wire.sent[device], device
        for frame in wire.sent[device]:
            _check_sent_frame(frame)
    kinds = {f.type for f in wire.sent["phone"]}
    assert {
        FrameType.ENTRY_CREATED,
        FrameType.ENTRY_UPDATED,
        FrameType.ENTRY_DELETED,
        FrameType.PIECE_ADDED,
        FrameType.PIECE_UPDATED,
        FrameType.PIECE_REMOVED,
        FrameType.SYNC_REQUEST,
        FrameType.PING,
    } <= kinds
    assert wire.server_of(Refused) == []
    assert [f for d in ("phone", "laptop") for f in wire.got[d] if f.type is FrameType.ERROR] == []
    assert live(wire.store, ENTRY) == phone.entries == laptop.entries
