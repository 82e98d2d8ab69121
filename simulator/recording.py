"""Client observations, written into the history as the rows the checker reads.

Both drivers use this, so a history recorded live has the same rows as a simulated one.
"""

from __future__ import annotations

from typing import Any, Protocol

from simulator.history import NOT_A_FRAME, SERVER, Kind, Record
from simulator.protocol.client import (
    BackfillEvent,
    ClientOutput,
    CursorMoved,
    DeviceClient,
    Merged,
    MigrationRan,
    PeerError,
    QueueEvent,
    UserWrite,
    WriteFailed,
)
from simulator.protocol.codec import CONTROL_FRAMES, BadFrame, Frame, FrameType, decode
from simulator.protocol.entities import SERVER_FIELDS, fingerprint, stamp_text
from simulator.protocol.kinds import (
    KINDS,
    EntityKind,
    entity_key,
    kind,
    kind_of_bulk,
    kind_of_frame,
)
from simulator.scenario.loader import Loaded
from simulator.scenario.model import Link


class Recorder(Protocol):
    """A driver's way to add a history row for one device."""

    def record(self, kind: Kind, device: Any = None, **fields: Any) -> int: ...


def row(t: float, kind: Kind, device: Any, clock_reading: float | None, **fields: Any) -> Record:
    """One history row at true time `t`: a device's (name, user and its clock's reading,
    all rounded to the microsecond) or, with `device` None, the server's."""
    if device is None:
        fields.setdefault("device", SERVER)
        return Record(t=round(t, 6), kind=kind, **fields)
    assert clock_reading is not None
    return Record(
        t=round(t, 6),
        kind=kind,
        device=device.name,
        user=device.user,
        device_time=round(clock_reading, 6),
        **fields,
    )


def observe(
    sim: Recorder, device: Any, output: ClientOutput, tag: dict[str, str] | None = None
) -> None:
    """Record what the client observed; `tag` names the scripted step and item a write was
    made by, so expectations about them are judged from the history alone."""
    if isinstance(output, UserWrite):
        detail = {**({} if output.label is None else {"label": output.label}), **(tag or {})}
        sim.record(
            Kind.WRITE,
            device,
            write_id=output.write_id,
            op=output.op,
            entity_type=output.entity_type,
            entity_id=output.entity_id,
            fingerprint=output.fingerprint,
            updated_at=output.updated_at,
            reason=None if output.origin == "user" else output.origin,
            detail=detail or None,
        )
    elif isinstance(output, WriteFailed):
        sim.record(
            Kind.WRITE_FAILED,
            device,
            write_id=output.write_id,
            op=output.op,
            entity_type=output.entity_type,
            entity_id=output.entity_id,
            reason=output.reason,
        )
    elif isinstance(output, Merged):
        _merged(sim, device, output)
    elif isinstance(output, QueueEvent):
        sim.record(
            Kind.QUEUE,
            device,
            op=output.op,
            write_id=output.write_id,
            entity_type=output.entity_type,
            entity_id=output.entity_id,
            reason=output.reason or None,
            detail={"depth": output.depth, "message_id": output.message_id or None},
        )
    elif isinstance(output, CursorMoved):
        seq = None if output.seq is None else {"seq": output.seq}
        sim.record(Kind.CURSOR, device, updated_at=output.value, reason=output.reason, detail=seq)
    elif isinstance(output, PeerError):
        sim.record(Kind.PEER_ERROR, device, reason=output.reason, detail={"text": output.text})
    elif isinstance(output, MigrationRan):
        sim.record(Kind.MIGRATION, device, op=output.name, detail={"changed": output.changed})
    elif isinstance(output, BackfillEvent):
        sim.record(Kind.BACKFILL, device, op=output.op, detail={"items": output.items})


def _merged(sim: Recorder, device: Any, output: Merged) -> None:
    sim.record(
        Kind.MERGE,
        device,
        entity_type=output.entity_type,
        entity_id=output.entity_id,
        accepted=output.accepted,
        reason=output.reason,
        frame_type=output.via,
        fingerprint=output.incoming_fingerprint,
        updated_at=output.incoming_updated_at,
        detail={
            "local_fingerprint": output.local_fingerprint,
            "local_updated_at": output.local_updated_at,
            "version": output.incoming_version,
            "local_version": output.local_version,
        },
    )


ERROR_TEXT = 200  # what a row keeps of a peer's free text: enough to read, never a flood


def frame_fields(
    text: str,
    write_id: str | None = None,
    frame: Frame | BadFrame | None = None,
    step: str | None = None,
) -> dict[str, Any]:
    """The history fields of one frame: type, size, what it is about and, for an ACK or the
    end of a catch-up, its message; in `detail` what the protocol rules read (seq, lastSeq,
    version, page, how many items a batch holds, what breaks the frame rules) and, for a frame
    a scripted step sent, the step and the text. `frame` spares decoding `text` again."""
    if frame is None:
        frame = decode(text)
    fields: dict[str, Any] = {"bytes": len(text.encode("utf-8"))}
    if write_id is not None:
        fields["write_id"] = write_id
    detail: dict[str, Any] = {}
    if step is not None:
        detail = {"step": step, "text": text[:STEP_TEXT]}
    if isinstance(frame, BadFrame):
        fields["frame_type"] = NOT_A_FRAME
        fields["reason"] = frame.reason
        return {**fields, "detail": detail} if detail else fields
    fields["frame_type"] = frame.type.value
    if frame.type is FrameType.SYNC_RESPONSE and isinstance(frame.get("message"), str):
        fields["reason"] = frame.get("message")
    elif frame.type is FrameType.ERROR:
        error = frame.get("error")
        fields["reason"] = (error if isinstance(error, str) else repr(error))[:ERROR_TEXT]
    message_id = frame.get("messageId")
    if isinstance(message_id, str):
        fields["message_id"] = message_id[:ERROR_TEXT]
    key = entity_key(frame)
    if key is not None:
        fields["entity_type"], fields["entity_id"] = key
        body = frame.get(kind(key[0]).body)
        if isinstance(body, dict):
            fields["fingerprint"] = fingerprint({k: v for k, v in body.items() if k != "version"})
    detail.update(_facts(frame))
    if detail:
        fields["detail"] = detail
    return fields


def with_duplicate(fields: dict[str, Any]) -> dict[str, Any]:
    """A received frame's fields, marked as the second delivery of one frame."""
    return {**fields, "detail": {**fields.get("detail", {}), "duplicate": True}}


STEP_TEXT = 4000  # what a row keeps of a frame a step sent: enough to read, never a flood
_NUMBERS = (("seq", "seq"), ("lastSeq", "last_seq"), ("version", "version"), ("page", "page"))


def _facts(frame: Frame) -> dict[str, Any]:
    """What of a frame the protocol rules judge, besides its type: its numbers, how many items
    a batch holds, and fields no server should send (data in a WELCOME or PONG, fields an item
    has that the schema does not know)."""
    facts: dict[str, Any] = {}
    for name, key in _NUMBERS:
        value = frame.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            facts[key] = value
    if frame.type is FrameType.SYNC_REQUEST:
        cursor = frame.get("lastSyncTime")
        if cursor is not None:
            facts["last_sync_time"] = str(cursor)[:ERROR_TEXT]
        return facts
    if frame.type not in CONTROL_FRAMES:
        facts["at"] = frame.timestamp  # the sender's clock: the server's, on what it sends
    if frame.type in CONTROL_FRAMES:
        data = sorted(k for k in frame.fields if k != "message")
        if data:
            facts["data_in_control"] = data
        return facts
    owner = kind_of_bulk(frame.type)
    if owner is not None:
        items = frame.get(owner.bulk)
        if isinstance(items, list):
            facts["items"] = len(items)
            facts["ids"] = [owner.key(i) if isinstance(i, dict) else None for i in items]
            unknown = _unknown_fields(owner, items)
            if unknown:
                facts["unknown_fields"] = unknown
        return facts
    owner = kind_of_frame(frame.type)
    body = None if owner is None else frame.get(owner.body)
    if owner is not None and isinstance(body, dict):
        unknown = _unknown_fields(owner, [body])
        if unknown:
            facts["unknown_fields"] = unknown
    return facts


def _unknown_fields(owner: EntityKind, items: list[Any]) -> list[str]:
    known = owner.fields | SERVER_FIELDS
    found: set[str] = set()
    for item in items:
        if isinstance(item, dict):
            found.update(k for k in item if k not in known)
    return sorted(found)[:20]


def rest_asked(step: str | None, key: str | None, body: str | None, asked: float) -> dict[str, Any]:
    """What a REST row says of a step's call: the step, when it was asked (true time), and
    for a push its idempotency key and body text (the protocol rules read them)."""
    detail: dict[str, Any] = {"step": step, "asked": round(asked, 6)}
    if key is not None:
        detail["key"] = key
    if body is not None:
        detail["text"] = body[:STEP_TEXT]
    return detail


def rest_answer(op: str, answer: Any) -> dict[str, Any]:
    """What a REST row keeps of an answer to a step's call: a pull's item ids per kind and its
    lastSeq (what the protocol rules compare), a push's answer as it came (small)."""
    if not isinstance(answer, dict):
        return {"answer": repr(answer)[:ERROR_TEXT]}
    if op != "pull":
        return {"answer": {k: v for k, v in list(answer.items())[:20]}}
    ids = {
        k.bulk: sorted(str(entity_key_of(k, item)) for item in answer.get(k.bulk, []))
        for k in KINDS
        if isinstance(answer.get(k.bulk), list)
    }
    last_seq = answer.get("lastSeq")
    return {"ids": ids, **({"last_seq": last_seq} if isinstance(last_seq, int) else {})}


def entity_key_of(owner: EntityKind, item: Any) -> str | None:
    return owner.key(item) if isinstance(item, dict) else None


def identity(entity_type: str, item: dict[str, Any]) -> dict[str, Any]:
    """What a snapshot row keeps of an item: what the checker needs to spot one logical item
    under two ids, and the label a report shows beside the id (an item no device wrote in
    this run, a preloaded one, has no write row to take it from)."""
    owner = kind(entity_type)
    return {**owner.identity(item), "label": owner.describe(item)}


def record_device_snapshot(sim: Recorder, device: Any, client: DeviceClient) -> None:
    """A device's final state: one summary row, then one row per item it holds."""
    sim.record(
        Kind.SNAPSHOT,
        device,
        op="device",
        updated_at=client.last_sync_time,
        detail={
            "queue_depth": len(client.queue),
            "state": client.state.value,
            **{k.bulk: len(client.storage.store_of(k.name)) for k in KINDS},
            "storage_bytes": client.storage.used,
        },
    )
    for entity_type, store in client.storage.stores.items():
        for entity_id in sorted(store):
            item = store[entity_id]
            sim.record(
                Kind.SNAPSHOT,
                device,
                op="live",
                entity_type=entity_type,
                entity_id=entity_id,
                fingerprint=fingerprint(item),
                updated_at=stamp_text(item),
                detail=identity(entity_type, item),
            )


def faithful(link: Link) -> bool:
    """A link that neither loses, duplicates nor reorders frames, in either direction."""
    paths = (link, link.up, link.down)
    return not any(
        getattr(path, fault) for path in paths for fault in ("loss", "duplicate", "reorder")
    )


def meta(loaded: Loaded, mode: str, **extra: Any) -> dict[str, Any]:
    """The history's first row: what ran, with which seed and profile, and how."""
    scenario = loaded.scenario
    return {
        "scenario": scenario.name,
        "seed": scenario.seed,
        "start_epoch": scenario.start,
        "duration": scenario.duration,
        "settle": scenario.settle,
        "profile": loaded.profile.flags(),
        "max_frame_bytes": scenario.limits.max_frame_bytes,
        "mode": mode,
        "devices": {
            d.name: {
                "user": d.user,
                "clock_offset": d.clock.offset,
                # Whether the link may lose, duplicate or reorder frames: where it may not,
                # every frame the device sent reached the server once, in order.
                "faithful_link": faithful(d.link),
            }
            for d in scenario.devices
        },
        **extra,
    }
