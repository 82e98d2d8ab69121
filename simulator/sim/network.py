"""Links and connections between a device and the server.

A connection behaves like a WebSocket over TCP: frames arrive in the order sent (a frame never
overtakes the one before it, whatever the jitter), and frames still in flight when the
connection drops are lost.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Link:
    """One-way delay of a device's link: `latency` plus uniform jitter of +/- `jitter`."""

    latency: float
    jitter: float
    rng: random.Random

    def delay(self) -> float:
        if self.jitter == 0:
            return self.latency
        return max(0.0, self.latency + self.rng.uniform(-self.jitter, self.jitter))


@dataclass
class Connection:
    conn_id: str
    device: str
    user: str
    open: bool = True
    # Arrival time of the last frame scheduled in each direction, to keep TCP order.
    last_arrival: dict[str, float] = field(default_factory=lambda: {"up": 0.0, "down": 0.0})
    # Keep-alive frames per type: [count, bytes].
    keepalive: dict[str, list[int]] = field(default_factory=dict)

    def count_keepalive(self, frame_type: str, size: int) -> None:
        tally = self.keepalive.setdefault(frame_type, [0, 0])
        tally[0] += 1
        tally[1] += size

    def arrival(self, direction: str, now: float, delay: float) -> float:
        at = max(now + delay, self.last_arrival[direction])
        self.last_arrival[direction] = at
        return at
