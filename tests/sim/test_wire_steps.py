"""Wire-level steps in simulation: literal frames, replays, catch-ups with a given cursor,
handshakes with given credentials and REST calls, each recorded like any other frame or call."""

from __future__ import annotations

import json

from simulator.history import Kind, Record
from simulator.runner import run
from simulator.scenario.loader import load_text

WIRE = """\
name: wire
seed: 1
duration: 1h
settle: 1m
profile: proposed
devices:
  - {name: phone, workload: {entries_per_day: 0, pieces_per_day: 0}}
  - {name: laptop, workload: {entries_per_day: 0, pieces_per_day: 0}}
steps:
  - {at: 1m, device: phone, do: create, item: E1, name: c1}
  - at: 2m
    device: phone
    do: send
    name: s1
    frame:
      type: ENTRY_UPDATED
      timestamp: "{{now}}"
      entry: {id: "{{item.E1.id}}", timestamp: 1700000000000, duration: 5, type: practice,
              instrument: piano, pieces: [], extra: 1}
  - {at: 3m, device: phone, do: replay, step: c1, name: r1}
  - {at: 4m, device: phone, do: send, frame: "not json {{now}}"}
  - {at: 5m, device: laptop, do: request, cursor: {lastSeq: 1}, name: q1}
  - {at: 6m, device: laptop, do: connect, token: expired}
  - {at: 6m, device: laptop, do: connect, token: other_user}
  - {at: 6m, device: laptop, do: connect, token: no_token}
  - {at: 6m, device: laptop, do: connect}
  - {at: 7m, device: laptop, do: push, key: k1, changes: &gone [{type: ENTRY_DELETED,
                                                                   entryId: "{{item.E1.id}}"}]}
  - {at: 8m, device: laptop, do: push, key: k1, changes: *gone}
  - {at: 9m, device: laptop, do: pull}
"""


def _rows() -> list[Record]:
    return run(load_text("wire.yaml", WIRE)).history.records


def _sent_by(rows: list[Record], step: str) -> list[Record]:
    return [
        r
        for r in rows
        if r.kind is Kind.FRAME_SENT
        and r.device != "server"
        and (r.detail or {}).get("step") == step
    ]


def test_a_literal_frame_goes_out_with_its_references_filled_in() -> None:
    rows = _rows()
    (sent,) = _sent_by(rows, "s1")
    entry_id = next(r.entity_id for r in rows if r.kind is Kind.WRITE)
    frame = json.loads(sent.detail["text"])  # type: ignore[index]
    assert frame["entry"]["id"] == entry_id and frame["timestamp"] == "2026-03-02T00:02:00.000Z"
    assert (sent.frame_type, sent.entity_id) == ("ENTRY_UPDATED", entry_id)
    # The server drops the field the schema does not know: the broadcast to the laptop lacks it.
    assert sent.detail["unknown_fields"] == ["extra"]  # type: ignore[index]
    broadcast = next(
        r for r in rows if r.kind is Kind.FRAME_RECV and r.device == "laptop" and r.t > 120
    )
    assert "unknown_fields" not in (broadcast.detail or {})


def test_a_replay_sends_the_named_steps_frame_again_and_the_server_applies_it_once() -> None:
    rows = _rows()
    created = next(r for r in rows if r.kind is Kind.FRAME_SENT and r.write_id == "phone#1")
    (replayed,) = _sent_by(rows, "r1")
    assert replayed.message_id == created.message_id and replayed.bytes == created.bytes
    acks = [
        r
        for r in rows
        if r.kind is Kind.FRAME_RECV and r.device == "phone" and r.message_id == created.message_id
    ]
    assert [a.detail["last_seq"] for a in acks] == [1, 1]  # type: ignore[index]


def test_text_that_is_no_frame_is_sent_as_it_is_and_answered_with_an_error() -> None:
    rows = _rows()
    (garbage,) = _sent_by(rows, "send")
    assert garbage.frame_type == "(not a frame)" and garbage.reason == "invalid JSON"
    answer = next(
        r for r in rows if r.kind is Kind.FRAME_RECV and r.device == "phone" and r.t > garbage.t
    )
    assert (answer.frame_type, answer.reason) == ("ERROR", "invalid JSON")


def test_a_request_step_asks_with_its_cursor_and_the_catch_up_is_recorded() -> None:
    rows = _rows()
    (request,) = _sent_by(rows, "q1")
    assert request.frame_type == "SYNC_REQUEST" and request.detail["last_seq"] == 1  # type: ignore[index]
    after = [
        r for r in rows if r.kind is Kind.FRAME_RECV and r.device == "laptop" and r.t > request.t
    ]
    assert [r.frame_type for r in after[:3]] == [
        "BULK_SYNC",
        "REPERTOIRE_BULK_SYNC",
        "SYNC_RESPONSE",
    ]
    assert after[0].detail["items"] == 1 and after[2].reason == "Sync complete"  # type: ignore[index]


def test_handshakes_get_the_status_the_credentials_deserve() -> None:
    statuses = {r.op: r.detail["status"] for r in _rows() if r.kind is Kind.HANDSHAKE}  # type: ignore[index]
    assert statuses == {"expired": 401, "other_user": 403, "no_token": 400, "valid": 101}


def test_rest_calls_are_recorded_and_a_repeated_key_gets_the_first_answer() -> None:
    rest = [r for r in _rows() if r.kind is Kind.REST and "step" in (r.detail or {})]
    first, second, pull = rest
    said = [{k: r.detail[k] for k in ("status", "answer", "key")} for r in (first, second)]  # type: ignore[index]
    assert said[0] == said[1]
    assert first.detail["answer"] == {"applied": 1, "lastSeq": 3}  # type: ignore[index]
    assert pull.op == "pull" and pull.detail["ids"] == {"entries": [], "pieces": []}  # type: ignore[index]


def test_a_step_on_an_item_never_made_or_without_a_connection_is_skipped() -> None:
    script = WIRE.split("steps:")[0] + (
        "steps:\n"
        "  - {at: 1m, device: phone, do: offline}\n"
        "  - {at: 2m, device: phone, do: send, frame: {type: PING, timestamp: '{{now}}'}}\n"
    )
    rows = run(load_text("w.yaml", script)).history.records
    (skipped,) = [r for r in rows if r.kind is Kind.STEP_SKIPPED]
    assert (skipped.op, skipped.reason) == ("send", "no open connection")


def test_the_history_is_the_same_twice() -> None:
    loaded = load_text("wire.yaml", WIRE)
    assert run(loaded).history.digest() == run(loaded).history.digest()
