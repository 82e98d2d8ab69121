"""Frames no client should send, straight into the Coordinator: every one gets an answer (an
ERROR naming what was wrong), none raises, none changes anything.

The first tests are the fuzzer's measured reproducers (lone surrogates, lastSeq = 2**63, a
401-digit timestamp), each as a literal frame; then the limits README.md "Security" documents,
at their edges.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from loopback import T0

from simulator.protocol.codec import Frame, decode
from simulator.protocol.coordinator import Coordinator, Outgoing, Refused
from simulator.protocol.entities import (
    INT64_MAX,
    MAX_DEPTH,
    MAX_ID_LENGTH,
    MAX_STRING_LENGTH,
    Invalid,
    check_json,
)
from simulator.protocol.profile import PROFILES
from simulator.protocol.store import ServerStore
from simulator.protocol.timefmt import MAX_EPOCH_MS, MIN_EPOCH_MS, iso_z

STAMP = iso_z(T0)


def entry(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": "e1",
        "timestamp": int(T0 * 1000),
        "duration": 30,
        "type": "practice",
        "instrument": "piano",
        "pieces": [],
    }
    fields.update(overrides)
    return fields


class Server:
    """A coordinator with two connections of alice ("a", "b") and one of bob ("x")."""

    def __init__(self, profile: str = "proposed") -> None:
        self.others: list[Outgoing] = []
        self.store = ServerStore()
        self.coord = Coordinator(self.store, PROFILES[profile])
        for conn, user in (("a", "alice"), ("b", "alice"), ("x", "bob")):
            self.coord.open(conn, user, T0)
        self.coord.drain()

    def send(self, frame: dict[str, Any] | str, conn: str = "a") -> list[dict[str, Any]]:
        """The frames the sender gets back (others' broadcasts are kept in `self.others`)."""
        text = frame if isinstance(frame, str) else json.dumps(frame)
        self.coord.receive(conn, text, T0 + 1)
        out = [o for o in self.coord.drain() if isinstance(o, Outgoing)]
        for o in out:
            o.text.encode("utf-8")  # every answer can be sent: valid UTF-8
        assert "x" not in {o.conn_id for o in out} or conn == "x", "bob got alice's frame"
        self.others = [o for o in out if o.conn_id != conn]
        return [json.loads(o.text) for o in out if o.conn_id == conn]

    def refused(self, frame: dict[str, Any] | str, conn: str = "a") -> str:
        """The one ERROR the sender gets; asserts nothing was stored or broadcast."""
        answers = self.send(frame, conn)
        assert [a["type"] for a in answers] == ["ERROR"], answers
        assert self.others == [] and list(self.store.rows()) == []
        return str(answers[0]["error"])


def created(item: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"type": "ENTRY_CREATED", "timestamp": STAMP, "entry": item, **fields}


# -- the measured reproducers ---------------------------------------------------------------


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_a_lone_surrogate_in_an_entry_id_is_refused_naming_the_field(profile: str) -> None:
    server = Server(profile)
    error = server.refused(created(entry(id="e\ud800")))
    assert "entry.id" in error and "UTF-8" in error


def test_lone_surrogates_anywhere_are_refused_where_they_are() -> None:
    server = Server()
    assert "entry.notes" in server.refused(created(entry(notes="\udfff")))
    assert "entry.pieces[0].title" in server.refused(created(entry(pieces=[{"title": "\ud83d"}])))
    delete = {"type": "ENTRY_DELETED", "timestamp": STAMP, "entryId": "\ud800"}
    assert "entryId" in server.refused(delete)
    assert "deviceId" in server.refused(created(entry(), deviceId="\ud800", clientChangeId=1))
    # A key, not a value: named escaped, so the ERROR itself is valid UTF-8.
    assert "\\ud800" in server.refused(created({**entry(), "\ud800": 1}))


def test_a_bad_message_id_is_refused_and_not_echoed() -> None:
    server = Server()
    answers = server.send(created(entry(), messageId="m\ud800"))
    assert [a["type"] for a in answers] == ["ERROR"] and "messageId" not in answers[0]
    assert "messageId" in answers[0]["error"]
    # A good messageId is still echoed on a refusal, so the sender can link it.
    answers = server.send(created(entry(duration=-1), messageId="m1"))
    assert answers[0]["messageId"] == "m1"


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_last_seq_of_2_to_the_63_is_refused(profile: str) -> None:
    server = Server(profile)
    error = server.refused({"type": "SYNC_REQUEST", "timestamp": STAMP, "lastSeq": 2**63})
    assert "lastSeq" in error and "64-bit" in error
    answers = server.send({"type": "SYNC_REQUEST", "timestamp": STAMP, "lastSeq": INT64_MAX})
    assert answers[-1]["type"] == "SYNC_RESPONSE"


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_a_401_digit_timestamp_is_refused(profile: str) -> None:
    server = Server(profile)
    frame = json.dumps(created(entry(timestamp=int("9" * 401))))
    assert '"timestamp": ' + "9" * 401 + "," in frame
    assert "entry.timestamp" in server.refused(frame)


# -- the limits, at their edges -------------------------------------------------------------


@pytest.mark.parametrize(
    "stamp", [MIN_EPOCH_MS - 1, MAX_EPOCH_MS + 1, 1e300, -1e300], ids=["y0", "y10000", "big", "neg"]
)
def test_a_timestamp_that_is_no_time_is_refused(stamp: float) -> None:
    assert "timestamp" in Server().refused(created(entry(timestamp=stamp)))


@pytest.mark.parametrize("stamp", [MIN_EPOCH_MS, MAX_EPOCH_MS, 0, -1])
def test_timestamps_at_the_ends_of_time_are_taken(stamp: int) -> None:
    assert Server().send(created(entry(timestamp=stamp)))[0]["type"] == "SYNC_RESPONSE"


def test_numbers_outside_64_bits_or_not_finite_are_refused_anywhere() -> None:
    server = Server()
    assert "entry.duration" in server.refused(created(entry(duration=2**63)))
    assert "clientChangeId" in server.refused(
        created(entry(), deviceId="d", clientChangeId=-(2**63) - 1)
    )
    assert "unknown" in server.refused(created(entry(), unknown=[2**64]))
    # 1e400 parses as infinity: no JSON, no SQLite REAL a peer could read back.
    text = json.dumps(created(entry())).replace('"pieces": []', '"pieces": [], "x": 1e400')
    assert "entry.x" in server.refused(text)


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (entry(id="e" * (MAX_ID_LENGTH + 1)), "id"),
        (entry(device_id="d" * (MAX_ID_LENGTH + 1)), "device_id"),
        (entry(pieces=[{"title": "t", "id": "p" * (MAX_ID_LENGTH + 1)}]), "pieces[0].id"),
        (entry(notes="n" * (MAX_STRING_LENGTH + 1)), "entry.notes"),
        (entry(tags=["t" * (MAX_STRING_LENGTH + 1)]), "entry.tags[0]"),
    ],
    ids=["id", "device_id", "piece-id", "notes", "tag"],
)
def test_strings_over_their_limit_are_refused(item: dict[str, Any], field: str) -> None:
    assert field in Server().refused(created(item))


def test_strings_at_their_limit_are_taken() -> None:
    item = entry(id="e" * MAX_ID_LENGTH, notes="n" * MAX_STRING_LENGTH)
    server = Server()
    assert server.send(created(item, messageId="m" * MAX_ID_LENGTH))[0]["type"] == "SYNC_RESPONSE"
    piece = {"type": "PIECE_ADDED", "timestamp": STAMP, "piece": {"id": "s" * 201}}
    assert "id: longer than" in server.send(piece)[0]["error"]
    assert "messageId" in server.send(created(entry(id="e2"), messageId="m" * 201))[0]["error"]


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    deep: Any = "leaf"
    for _ in range(MAX_DEPTH):
        deep = [deep]
    assert "nested deeper" in Server().refused(created(entry(), extra=deep))
    deep = "leaf"
    for _ in range(MAX_DEPTH - 2):  # the frame's own fields and "extra" are two levels
        deep = [deep]
    assert Server().send(created(entry(), extra=deep))[0]["type"] == "SYNC_RESPONSE"


def test_check_json_walks_any_depth_without_recursion() -> None:
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(Invalid, match="nested deeper"):
        check_json(deep)


def test_json_nested_past_the_recursion_limit_is_refused_as_invalid_json() -> None:
    assert "nested too deep" in Server().refused("[" * 100_000)


def test_a_nul_in_an_id_is_taken_and_keyed_apart() -> None:
    """SQLite keys on NUL (Python binds the whole string), so a NUL is no reason to refuse."""
    server = Server()
    for item_id in ("a\x00b", "a\x00c"):
        assert server.send(created(entry(id=item_id)))[0]["type"] == "SYNC_RESPONSE"
    assert sorted(r.entity_id for r in server.store.rows("alice")) == ["a\x00b", "a\x00c"]


def test_a_refused_value_is_quoted_short() -> None:
    error = Server().refused(created(entry(type="x" * 5000)))
    assert error.startswith("invalid ENTRY_CREATED: type: 'xxx") and len(error) < 300


def test_every_refusal_is_recorded_as_refused() -> None:
    server = Server()
    server.coord.receive("a", json.dumps(created(entry(id="\ud800"))), T0)
    assert [type(o) for o in server.coord.drain()] == [Refused, Outgoing]


# -- REST push, through the same limits -----------------------------------------------------


def push(server: Server, body: object, key: str | None = None) -> tuple[int, dict[str, Any]]:
    answer = server.coord.rest_push("alice", body, key, T0)
    broadcast = [o for o in server.coord.drain() if isinstance(o, Outgoing)]
    assert answer[0] == 200 or broadcast == []  # a refused push reaches no connection
    return answer


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"changes": [{"type": "ENTRY_CREATED", "entry": entry(timestamp=10**400)}]}, "timestamp"),
        ({"changes": [{"type": "ENTRY_CREATED", "entry": entry(id="\ud800")}]}, "entry.id"),
        ({"changes": [{"type": ["ENTRY_CREATED"]}]}, "changes[0]: type"),
        (
            {"changes": [{"type": "ENTRY_CREATED", "entry": entry()}, {"type": "ENTRY_DELETED"}]},
            "changes[1]: entryId",
        ),
        ({"changes": [{"type": "ENTRY_CREATED", "entry": entry(duration=2.5)}]}, "duration"),
    ],
    ids=["401-digit-timestamp", "surrogate", "unhashable-type", "second-change", "float-duration"],
)
def test_rest_push_refuses_with_400_naming_the_field(body: object, field: str) -> None:
    server = Server()
    status, answer = push(server, body)
    assert status == 400 and field in answer["error"], answer
    assert list(server.store.rows()) == []


def test_rest_push_refuses_a_body_nested_100_000_deep() -> None:
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    status, answer = push(Server(), {"changes": deep})
    assert status == 400 and "nested deeper" in answer["error"]


def test_rest_push_refuses_an_idempotency_key_over_the_id_limit() -> None:
    body = {"changes": [{"type": "ENTRY_CREATED", "entry": entry()}]}
    status, answer = push(Server(), body, key="k" * (MAX_ID_LENGTH + 1))
    assert status == 400 and "X-Idempotency-Key" in answer["error"]
    assert push(Server(), body, key="k" * MAX_ID_LENGTH)[0] == 200


def test_decode_still_reads_a_good_frame() -> None:
    text = json.dumps(created(entry(notes="caf\u00e9 \U0001f3bb")))
    frame = decode(text)
    assert isinstance(frame, Frame) and frame.get("entry")["notes"] == "caf\u00e9 \U0001f3bb"
