"""Client observations, written into the history as the rows the checker reads.

Both drivers use this, so a history recorded live has the same rows as a simulated one.
"""

from __future__ import annotations

from typing import Any, Protocol

from simulator.history import SERVER, Kind, Record
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
from simulator.protocol.codec import BadFrame, Frame, FrameType, decode
from simulator.protocol.entities import fingerprint, stamp_text
from simulator.protocol.kinds import KINDS, entity_key, kind
from simulator.scenario.loader import Loaded


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


def observe(sim: Recorder, device: Any, output: ClientOutput) -> None:
    if isinstance(output, UserWrite):
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
            detail=None if output.label is None else {"label": output.label},
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
    text: str, write_id: str | None = None, frame: Frame | BadFrame | None = None
) -> dict[str, Any]:
    """The history fields of one frame: type, size, what it is about and, for an ACK or the
    end of a catch-up, its message. `frame` spares decoding `text` again when it is known."""
    if frame is None:
        frame = decode(text)
    fields: dict[str, Any] = {"bytes": len(text.encode("utf-8"))}
    if write_id is not None:
        fields["write_id"] = write_id
    if isinstance(frame, BadFrame):
        fields["frame_type"] = "(not a frame)"
        return fields
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
    return fields


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
            d.name: {"user": d.user, "clock_offset": d.clock.offset} for d in scenario.devices
        },
        **extra,
    }
