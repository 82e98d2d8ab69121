"""Client observations, written into the history as the rows the checker reads."""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.history import Kind
from simulator.protocol.client import (
    BackfillEvent,
    ClientOutput,
    CursorMoved,
    Merged,
    MigrationRan,
    PeerError,
    QueueEvent,
    UserWrite,
    WriteFailed,
)

if TYPE_CHECKING:
    from simulator.sim.driver import SimDevice, Simulation


def observe(sim: Simulation, device: SimDevice, output: ClientOutput) -> None:
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


def _merged(sim: Simulation, device: SimDevice, output: Merged) -> None:
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
