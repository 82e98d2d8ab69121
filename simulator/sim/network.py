"""Links and connections between a device and the server.

A connection behaves like a WebSocket over TCP unless the scenario says otherwise: frames arrive
in the order sent (a frame never overtakes the one before it, whatever the jitter), a frame
waits for the link to be free when a bandwidth is set, and frames in flight when the connection
drops are lost. A close by the device is graceful, as TCP's is: the close travels behind the
frames already sent, so they still reach the server. Loss, duplication and reordering, per
direction, model what broken proxies and middleboxes do to frames above TCP.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from simulator.world.link import DeviceLink, Path, sample

__all__ = ["Connection", "DeviceLink", "Path", "sample"]


@dataclass
class Connection:
    conn_id: str
    device: str
    user: str
    attempt: int = 0  # the client's connect attempt this connection answers
    open: bool = True  # the device's end: frames arriving at a closed end are lost
    server_open: bool = True  # the server's end, closed after the device's close arrives
    # Arrival time of the last frame scheduled in each direction, to keep TCP order.
    last_arrival: dict[str, float] = field(default_factory=lambda: {"up": 0.0, "down": 0.0})
    # When each direction's link is free again, when a bandwidth is set.
    free_at: dict[str, float] = field(default_factory=lambda: {"up": 0.0, "down": 0.0})
    # Keep-alive frames per type: [count, bytes].
    keepalive: dict[str, list[int]] = field(default_factory=dict)
    opened_at: float = 0.0  # true time the client heard it was open
    ping_due: float = 0.0  # the device's clock (epoch seconds) when its first PING is due
    # Per direction, what arrives in order, oldest first (see Simulation._in_order).
    arriving: dict[str, deque[Callable[[], None]]] = field(
        default_factory=lambda: {"up": deque(), "down": deque()}
    )

    def count_keepalive(self, frame_type: str, size: int, count: int = 1) -> None:
        if count <= 0:
            return
        tally = self.keepalive.setdefault(frame_type, [0, 0])
        tally[0] += count
        tally[1] += size * count

    def schedule(
        self, direction: str, now: float, size: int, path: Path, rng: random.Random
    ) -> float:
        """Arrival time of a frame of `size` bytes sent now (reordering decided by the caller)."""
        depart = now
        if path.bandwidth:
            depart = max(now, self.free_at[direction])
            self.free_at[direction] = depart + size / path.bandwidth
            depart = self.free_at[direction]
        return depart + path.delay(rng)

    def in_order(self, direction: str, at: float) -> float:
        at = max(at, self.last_arrival[direction])
        self.last_arrival[direction] = at
        return at
