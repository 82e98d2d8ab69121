"""One-line builders for literal checker histories.

Each function returns exactly one `Record`, shaped the way `simulator.sim.driver` and
`simulator.sim.timeline` write it, so a test can spell a history out row by row:

    rows = [
        meta(),                                                # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1"),                    # 2
        ...
    ]

Device rows carry `device_time`; it defaults to the true time `t` (a correct clock). A write's
`updatedAt` is the device clock reading as an ISO `Z` stamp, as the real client makes it.
"""

from __future__ import annotations

from typing import Any

from simulator.checker.check import CheckResult, check
from simulator.checker.findings import WriteRef
from simulator.history import SERVER, History, Kind, Record
from simulator.protocol.timefmt import iso_z, parse_iso_z

USER = "alice"
ENTRY = "logbook_entry"
PIECE = "repertoire_piece"
LIMIT = 1_048_576
START = parse_iso_z("2026-03-02T10:00:00.000Z") or 0.0
END = 1000.0  # when the final snapshots are taken


def at(device_time: float) -> str:
    """The `updatedAt` a device writes when its clock reads `device_time`."""
    return iso_z(START + device_time)


def meta(max_frame_bytes: int | None = LIMIT, *, lww: str = "updated_at") -> Record:
    """The meta row; `lww` is the profile's conflict rule (`updated_at` or `version_first`)."""
    detail: dict[str, Any] = {
        "scenario": "literal",
        "seed": 1,
        "profile": {"name": "legacy" if lww == "updated_at" else "proposed", "lww": lww},
        "mode": "sim",
    }
    if max_frame_bytes is not None:
        detail["max_frame_bytes"] = max_frame_bytes
    return Record(t=0.0, kind=Kind.META, detail=detail)


def write(
    t: float,
    device: str,
    write_id: str,
    op: str,
    entity_id: str,
    fingerprint: str | None = None,
    *,
    device_time: float | None = None,
    user: str = USER,
) -> Record:
    clock = t if device_time is None else device_time
    return Record(
        t=t,
        kind=Kind.WRITE,
        device=device,
        user=user,
        device_time=clock,
        write_id=write_id,
        op=op,
        entity_type=ENTRY,
        entity_id=entity_id,
        fingerprint=fingerprint,
        updated_at=None if op == "delete" else at(clock),
    )


def sent(
    t: float,
    device: str,
    write_id: str | None = None,
    entity_id: str | None = None,
    *,
    frame_type: str = "ENTRY_CREATED",
    nbytes: int = 400,
    device_time: float | None = None,
    user: str = USER,
    message_id: str | None = None,
    fingerprint: str | None = None,
) -> Record:
    """A FRAME_SENT row; `device` may be `server` (then there is no device clock)."""
    clock = None if device == SERVER else (t if device_time is None else device_time)
    return Record(
        t=t,
        kind=Kind.FRAME_SENT,
        device=device,
        user=user,
        device_time=clock,
        conn=None if device == SERVER else f"{device}:1",
        frame_type=frame_type,
        bytes=nbytes,
        write_id=write_id,
        message_id=message_id,
        entity_type=None if entity_id is None else ENTRY,
        entity_id=entity_id,
        fingerprint=fingerprint,
    )


def lost(
    t: float,
    device: str,
    write_id: str,
    entity_id: str,
    *,
    reason: str = "connection closed in flight",
    frame_type: str = "ENTRY_CREATED",
    device_time: float | None = None,
) -> Record:
    return Record(
        t=t,
        kind=Kind.FRAME_LOST,
        device=device,
        user=USER,
        device_time=t if device_time is None else device_time,
        conn=f"{device}:1",
        frame_type=frame_type,
        bytes=400,
        write_id=write_id,
        entity_type=ENTRY,
        entity_id=entity_id,
        reason=reason,
    )


def queue(
    t: float,
    device: str,
    op: str,
    write_id: str,
    entity_id: str,
    *,
    reason: str | None = None,
    device_time: float | None = None,
    depth: int = 0,
) -> Record:
    """A QUEUE row; `depth` is how many items the outbox holds after the change."""
    return Record(
        t=t,
        kind=Kind.QUEUE,
        device=device,
        user=USER,
        device_time=t if device_time is None else device_time,
        op=op,
        write_id=write_id,
        entity_type=ENTRY,
        entity_id=entity_id,
        reason=reason,
        detail={"depth": depth},
    )


def applied(
    t: float,
    entity_id: str,
    fingerprint: str,
    *,
    op: str = "write",
    user: str = USER,
    write_id: str | None = None,
) -> Record:
    """Server evidence: the server stored a write (or, with op="delete", a tombstone);
    `write_id` names the device write whose frame it was handling, as the driver records it."""
    return Record(
        t=t,
        kind=Kind.SERVER_APPLIED,
        device=SERVER,
        user=user,
        write_id=write_id,
        entity_type=ENTRY,
        entity_id=entity_id,
        fingerprint=fingerprint,
        op=op,
    )


def merge(t: float, device: str, entity_id: str, *, accepted: bool, fingerprint: str) -> Record:
    return Record(
        t=t,
        kind=Kind.MERGE,
        device=device,
        user=USER,
        device_time=t,
        entity_type=ENTRY,
        entity_id=entity_id,
        accepted=accepted,
        fingerprint=fingerprint,
        frame_type="ENTRY_UPDATED",
    )


def reload(t: float, device: str) -> Record:
    return Record(
        t=t, kind=Kind.RELOAD, device=device, user=USER, device_time=t, detail={"queue_depth": 0}
    )


def keepalive(t: float, device: str, ping: tuple[int, int], pong: tuple[int, int]) -> Record:
    """One connection's PING/PONG totals: [count, bytes] each."""
    return Record(
        t=t,
        kind=Kind.KEEPALIVE,
        device=device,
        user=USER,
        device_time=t,
        conn=f"{device}:1",
        detail={"PING": list(ping), "PONG": list(pong)},
    )


def device_snapshot(device: str, *, user: str = USER, queue_depth: int = 0) -> Record:
    return Record(
        t=END,
        kind=Kind.SNAPSHOT,
        device=device,
        user=user,
        device_time=END,
        op="device",
        detail={"queue_depth": queue_depth, "state": "open"},
    )


def holds(
    device: str,
    entity_id: str,
    fingerprint: str,
    updated_at: str | None = None,
    *,
    user: str = USER,
) -> Record:
    """A device's final snapshot holds `entity_id` live with this fingerprint."""
    return Record(
        t=END,
        kind=Kind.SNAPSHOT,
        device=device,
        user=user,
        device_time=END,
        op="live",
        entity_type=ENTRY,
        entity_id=entity_id,
        fingerprint=fingerprint,
        updated_at=updated_at,
    )


def server_holds(
    entity_id: str,
    fingerprint: str,
    updated_at: str | None = None,
    *,
    deleted: bool = False,
    user: str = USER,
) -> Record:
    """The server's final snapshot row for `entity_id`: live, or a tombstone."""
    return Record(
        t=END,
        kind=Kind.SNAPSHOT,
        device=SERVER,
        user=user,
        op="deleted" if deleted else "live",
        entity_type=ENTRY,
        entity_id=entity_id,
        fingerprint=fingerprint,
        updated_at=updated_at,
    )


def merged(
    t: float,
    device: str,
    entity_id: str,
    *,
    fingerprint: str,
    updated_at: str | None,
    local_fingerprint: str | None,
    local_updated_at: str | None,
    version: int | None = None,
    local_version: int | None = None,
    accepted: bool = True,
    frame_type: str = "ENTRY_UPDATED",
    user: str = USER,
    entity_type: str = ENTRY,
) -> Record:
    """A MERGE row in full, as the driver writes it: the incoming item (fingerprint,
    `updatedAt`, server version) against what the device held (`local_*`; None if nothing)."""
    return Record(
        t=t,
        kind=Kind.MERGE,
        device=device,
        user=user,
        device_time=t,
        entity_type=entity_type,
        entity_id=entity_id,
        accepted=accepted,
        reason="newer" if accepted else "older",
        frame_type=frame_type,
        fingerprint=fingerprint,
        updated_at=updated_at,
        detail={
            "local_fingerprint": local_fingerprint,
            "local_updated_at": local_updated_at,
            "version": version,
            "local_version": local_version,
        },
    )


def write_failed(
    t: float,
    device: str,
    write_id: str,
    op: str,
    entity_id: str,
    *,
    reason: str = "quota exceeded",
    user: str = USER,
) -> Record:
    """localStorage refused a write (quota): no WRITE row, the change exists nowhere."""
    return Record(
        t=t,
        kind=Kind.WRITE_FAILED,
        device=device,
        user=user,
        device_time=t,
        write_id=write_id,
        op=op,
        entity_type=ENTRY,
        entity_id=entity_id,
        reason=reason,
    )


def connect(t: float, device: str, *, number: int = 1, user: str = USER) -> Record:
    return Record(
        t=t,
        kind=Kind.CONNECT,
        device=device,
        user=user,
        device_time=t,
        conn=f"{device}:{number}",
    )


def disconnect(
    t: float, device: str, *, number: int = 1, reason: str = "network offline", user: str = USER
) -> Record:
    return Record(
        t=t,
        kind=Kind.DISCONNECT,
        device=device,
        user=user,
        device_time=t,
        conn=f"{device}:{number}",
        reason=reason,
    )


def received(
    t: float,
    device: str,
    frame_type: str,
    nbytes: int,
    *,
    reason: str | None = None,
    number: int = 1,
    user: str = USER,
    message_id: str | None = None,
) -> Record:
    """A FRAME_RECV row; `reason` is a SYNC_RESPONSE's message (`Sync complete` ends a
    catch-up) or an ERROR's text. `device` may be `server` (then there is no device clock)."""
    return Record(
        t=t,
        kind=Kind.FRAME_RECV,
        device=device,
        user=user,
        device_time=None if device == SERVER else t,
        conn=f"{device}:{number}",
        frame_type=frame_type,
        bytes=nbytes,
        reason=reason,
        message_id=message_id,
    )


def piece_held(
    holder: str,
    score_id: str,
    title: str,
    composer: str | None,
    *,
    deleted: bool = False,
    fingerprint: str | None = None,
    user: str = USER,
) -> Record:
    """A final snapshot row for a repertoire piece, with the identity the duplicate check
    reads; `holder` is a device or `server`."""
    return Record(
        t=END,
        kind=Kind.SNAPSHOT,
        device=holder,
        user=user,
        device_time=None if holder == SERVER else END,
        op="deleted" if deleted else "live",
        entity_type=PIECE,
        entity_id=score_id,
        fingerprint=fingerprint or f"fp:{score_id}",
        updated_at=at(1),
        detail={"title": title, "composer": composer},
    )


def entry_held(
    holder: str,
    entity_id: str,
    content: str,
    *,
    deleted: bool = False,
    fingerprint: str | None = None,
    user: str = USER,
) -> Record:
    """A final snapshot row for a logbook entry with its content fingerprint."""
    return Record(
        t=END,
        kind=Kind.SNAPSHOT,
        device=holder,
        user=user,
        device_time=None if holder == SERVER else END,
        op="deleted" if deleted else "live",
        entity_type=ENTRY,
        entity_id=entity_id,
        fingerprint=fingerprint or f"fp:{entity_id}",
        updated_at=at(1),
        detail={"content": content},
    )


def run(rows: list[Record]) -> CheckResult:
    return check(History(rows))


def found(result: CheckResult) -> dict[str, int]:
    """The non-zero anomaly counts: what a test expects to see, and nothing else."""
    return {name: count for name, count in result.counts.items() if count}


def ref(row: int, rec: Record) -> WriteRef:
    """The WriteRef a finding should carry for the write at `row`."""
    assert rec.kind is Kind.WRITE
    return WriteRef(
        row=row,
        write_id=rec.write_id or "",
        device=rec.device or "",
        op=rec.op or "",
        t=rec.t,
        device_time=rec.device_time or 0.0,
        updated_at=rec.updated_at,
    )
