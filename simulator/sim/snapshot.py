"""The end of a simulated run: the final state of every device and of the server."""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.history import Kind
from simulator.protocol.entities import stamp_text
from simulator.recording import identity, record_device_snapshot

if TYPE_CHECKING:
    from simulator.sim.driver import Simulation


def snapshot_all(sim: Simulation) -> None:
    """Final state of every device and of the server, as SNAPSHOT rows."""
    for device in sim.devices.values():
        conn = sim.current(device)
        if conn is not None:
            sim.close_keepalive(device, conn)
        record_device_snapshot(sim, device, device.client)
    for row in sim.store.rows():
        sim.record(
            Kind.SNAPSHOT,
            None,
            user=row.user_id,
            op="deleted" if row.deleted else "live",
            entity_type=row.entity_type,
            entity_id=row.entity_id,
            fingerprint=row.checksum,
            updated_at=stamp_text(row.data),
            detail={
                "version": row.version,
                "seq": row.seq,
                **(identity(row.entity_type, row.data) or {}),
            },
        )
