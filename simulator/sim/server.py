"""The reference server inside the simulation: a Coordinator over the SQLite store, which can
go down and come back. A restart loses the coordinator's memory (who is connected) and keeps
the store, as a process restart keeps its database file."""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.history import Kind
from simulator.protocol.breaks import Break
from simulator.protocol.coordinator import Applied, Coordinator, Deduplicated, Outgoing, Refused
from simulator.protocol.profile import Profile
from simulator.protocol.store import ServerStore

if TYPE_CHECKING:
    from simulator.sim.driver import Simulation


class SimServer:
    def __init__(
        self, sim: Simulation, profile: Profile, breaks: frozenset[Break] = frozenset()
    ) -> None:
        self.sim = sim
        self.profile = profile
        self.breaks = breaks  # rules broken on purpose (protocol/breaks.py)
        self.store = ServerStore(":memory:")
        self.coordinator = Coordinator(self.store, profile, breaks)
        self.up = True

    def go_down(self) -> None:
        self.up = False
        self.sim.record(Kind.SERVER_OUTAGE, None, op="down")

    def come_back(self) -> None:
        self.up = True
        self.coordinator = Coordinator(self.store, self.profile, self.breaks)
        self.sim.record(Kind.SERVER_OUTAGE, None, op="up")

    def pump(self, write_id: str | None = None) -> list[Outgoing]:
        """Record the coordinator's evidence and return the frames it wants sent; `write_id`
        names the write whose frame it just handled, so stored changes trace back to it."""
        frames = []
        for output in self.coordinator.drain():
            if isinstance(output, Outgoing):
                frames.append(output)
            elif isinstance(output, Applied):
                self.sim.record(
                    Kind.SERVER_APPLIED,
                    None,
                    conn=output.conn_id,
                    user=output.user_id,
                    entity_type=output.entity_type,
                    entity_id=output.entity_id,
                    fingerprint=output.checksum,
                    write_id=write_id,
                    op="delete" if output.deleted else "write",
                    detail={"version": output.version, "seq": output.seq},
                )
            elif isinstance(output, Refused):
                self.sim.record(
                    Kind.SERVER_REFUSED, None, conn=output.conn_id, reason=output.reason
                )
            elif isinstance(output, Deduplicated):
                self.sim.record(
                    Kind.SERVER_DEDUPLICATED,
                    None,
                    conn=output.conn_id,
                    user=output.user_id,
                    reason=output.key,
                    detail={"seq": output.seq},
                )
        return frames
