"""Hypothesis throws arbitrary JSON-ish frames at a Coordinator: random types and nesting,
unicode with lone surrogates and NUL, integers far past 64 bits, NaN and infinity, text that is
no JSON at all. Whatever arrives:

- `receive` never raises;
- the sender gets exactly one answer, last: a SYNC_RESPONSE, an ERROR or a PONG (a catch-up's
  bulk and delete frames come before its SYNC_RESPONSE; a mutation gets nothing else);
- every frame the server sends is valid UTF-8 and strict JSON;
- another user's store and connection are untouched.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from loopback import T0

from simulator.protocol.codec import Frame, FrameType, decode
from simulator.protocol.coordinator import Applied, Coordinator, Outgoing, Refused
from simulator.protocol.kinds import MUTATIONS
from simulator.protocol.profile import PROFILES
from simulator.protocol.store import Row, ServerStore
from simulator.protocol.timefmt import iso_z

ANSWERS = {FrameType.SYNC_RESPONSE, FrameType.ERROR, FrameType.PONG}
CATCH_UP = {
    FrameType.BULK_SYNC,
    FrameType.REPERTOIRE_BULK_SYNC,
    FrameType.PIECE_BULK_SYNC,
    FrameType.ENTRY_DELETED,
    FrameType.PIECE_REMOVED,
}
EDGE_INTS = [0, -1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 10**30, 10**400]
EDGE_TEXTS = ["", " ", "\x00", "a\x00b", "\ud800", "x\udfffy", "\U0001f3bb", "e" * 201]

# Every code point, lone surrogates (category Cs) included.
any_char = st.characters(exclude_categories=())
texts = st.text(any_char, max_size=12) | st.sampled_from(EDGE_TEXTS)
ints = st.integers() | st.sampled_from(EDGE_INTS)
scalars = st.none() | st.booleans() | ints | st.floats() | texts
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=24,
)


def _nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


# Deep nesting, past the frame limit (json.dumps itself recurses, so no deeper than 500 here;
# `deep_frames` below goes past the recursion limit as text).
deep = st.integers(1, 500).map(_nested)

ENTRY = {
    "id": "e1",
    "timestamp": int(T0 * 1000),
    "duration": 30,
    "type": "practice",
    "instrument": "piano",
    "pieces": [{"title": "Prelude", "composer": "Bach", "id": "p1"}],
    "notes": "n",
    "tags": ["t"],
    "updatedAt": iso_z(T0),
    "device_id": "phone",
}
PIECE = {"scoreId": "s1", "title": "Prelude", "composer": "Bach", "status": "learning"}
FRAME_KEYS = ["entry", "piece", "entryId", "scoreId", "lastSeq", "lastSyncTime", "messageId"]
FRAME_KEYS += ["deviceId", "clientChangeId"]


def _bent(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """`base` with some fields replaced by anything, some dropped, some added."""
    keys = st.sampled_from(sorted(base)) | texts
    return st.tuples(
        st.dictionaries(keys, json_values | deep, max_size=3),
        st.sets(st.sampled_from(sorted(base)), max_size=2),
    ).map(lambda t: {**{k: v for k, v in base.items() if k not in t[1]}, **t[0]})


entries = st.integers(0, 4).flatmap(lambda i: _bent({**ENTRY, "id": f"e{i}"}))
pieces = st.integers(0, 4).flatmap(lambda i: _bent({**PIECE, "scoreId": f"s{i}"}))
frame_types = st.sampled_from([t.value for t in FrameType]) | texts | json_values
frame_fields = st.fixed_dictionaries(
    {},
    optional={
        "entry": entries | json_values,
        "piece": pieces | json_values,
        "entryId": st.sampled_from(["e0", "e1"]) | texts | json_values,
        "scoreId": st.sampled_from(["s0", "s1"]) | texts | json_values,
        "lastSeq": ints | json_values,
        "lastSyncTime": st.just(iso_z(T0 - 60)) | texts,
        "messageId": texts | json_values,
        "deviceId": texts | json_values,
        "clientChangeId": ints | json_values,
    },
)
frames = st.tuples(
    frame_types,
    st.just(iso_z(T0)) | texts | json_values,
    frame_fields,
    st.dictionaries(texts, json_values | deep, max_size=2),
).map(lambda t: json.dumps({**t[3], **t[2], "type": t[0], "timestamp": t[1]}))
# Frames close to valid: a mutation of the right kind with a few fields bent, a catch-up with
# any cursor, a PING. Most are taken, so the store fills and broadcasts flow.
near_valid = st.one_of(
    st.tuples(st.sampled_from(["ENTRY_CREATED", "ENTRY_UPDATED"]), entries).map(
        lambda t: {"type": t[0], "entry": t[1]}
    ),
    st.tuples(st.sampled_from(["PIECE_ADDED", "PIECE_UPDATED"]), pieces).map(
        lambda t: {"type": t[0], "piece": t[1]}
    ),
    st.builds(
        lambda i: {"type": "ENTRY_DELETED", "entryId": i}, st.sampled_from(["e0", "e1"]) | texts
    ),
    st.builds(
        lambda i: {"type": "PIECE_REMOVED", "scoreId": i}, st.sampled_from(["s0", "s1"]) | texts
    ),
    st.builds(lambda n: {"type": "SYNC_REQUEST", "lastSeq": n}, ints | json_values),
    st.just({"type": "PING"}),
).flatmap(
    lambda body: st.fixed_dictionaries(
        {},
        optional={
            "messageId": st.sampled_from(["m1", "m2"]) | texts,
            "deviceId": st.just("phone") | texts,
            "clientChangeId": st.integers(0, 3) | ints,
        },
    ).map(lambda extra: json.dumps({**extra, **body, "timestamp": iso_z(T0)}))
)
deep_frames = st.tuples(
    st.sampled_from(["ENTRY_CREATED", "SYNC_REQUEST"]), st.integers(1, 5000)
).map(lambda t: f'{{"type":"{t[0]}","timestamp":"{iso_z(T0)}","entry":{"[" * t[1]}{"]" * t[1]}}}')
# Text as it may come off a socket: a frame, any text, any bytes, or nesting of any depth.
messages = (
    near_valid
    | near_valid
    | frames
    | deep_frames
    | st.text(any_char, max_size=40)
    | st.binary(max_size=40)
    | st.integers(1, 100_000).map(lambda n: "[" * n)
)


def _bobs_rows(store: ServerStore) -> list[Row]:
    return list(store.rows("bob"))


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    profile=st.sampled_from(sorted(PROFILES)),
    sent=st.lists(st.tuples(st.sampled_from(["a1", "a2"]), messages), min_size=1, max_size=8),
)
def test_no_frame_makes_the_coordinator_raise_or_leave_it_unanswered(
    profile: str, sent: list[tuple[str, str | bytes]]
) -> None:
    store = ServerStore()
    coord = Coordinator(store, PROFILES[profile])
    for conn, user in (("a1", "alice"), ("a2", "alice"), ("b", "bob")):
        coord.open(conn, user, T0)
    bob_entry = {**ENTRY, "id": "bob-1"}
    coord.receive("b", Frame.make(FrameType.ENTRY_CREATED, T0, entry=bob_entry).encode(), T0)
    coord.drain()
    bobs = _bobs_rows(store)
    assert len(bobs) == 1

    for conn, text in sent:
        coord.receive(conn, text, T0 + 1)  # must not raise
        outputs = coord.drain()
        out = [o for o in outputs if isinstance(o, Outgoing)]
        assert all(o.conn_id != "b" for o in out), "bob got a frame alice sent"
        for o in out:
            decoded = decode(o.text.encode("utf-8"))  # valid UTF-8, strict JSON, a frame
            assert isinstance(decoded, Frame), (o.text, decoded)
        mine = [o.frame.type for o in out if o.conn_id == conn]
        answers = [t for t in mine if t in ANSWERS]
        assert len(answers) == 1 and mine[-1] in ANSWERS, (text, mine)
        stored = any(isinstance(o, Applied) for o in outputs)
        event(f"answer: {mine[-1].value}{' (stored)' if stored else ''}")  # see the mix
        if mine[-1] is FrameType.ERROR:
            assert mine == [FrameType.ERROR]
            assert any(isinstance(o, Refused) for o in outputs)
        if mine[-1] is FrameType.SYNC_RESPONSE:
            assert set(mine[:-1]) <= CATCH_UP
        received = decode(text)
        if isinstance(received, Frame) and received.type in MUTATIONS:
            assert len(mine) == 1 and mine[0] in {FrameType.SYNC_RESPONSE, FrameType.ERROR}

    assert _bobs_rows(store) == bobs
    for row in store.rows():
        json.dumps(row.data, ensure_ascii=False).encode("utf-8")  # what is stored can be sent
