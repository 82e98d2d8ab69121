"""Links and connections between a device and the server.

A connection behaves like a WebSocket over TCP unless the scenario says otherwise: frames arrive
in the order sent (a frame never overtakes the one before it, whatever the jitter), a frame
waits for the link to be free when a bandwidth is set, and frames in flight when the connection
drops are lost. Loss, duplication and reordering, per direction, model what broken proxies and
middleboxes do to frames above TCP.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from simulator.scenario.model import Constant, Direction, Distribution, Link, LogNormal, Normal

Z99 = 2.3263478740408408  # the standard normal's 99th percentile


def sample(latency: float | Distribution, rng: random.Random) -> float:
    """One draw of a one-way delay, in seconds, never negative."""
    if isinstance(latency, float | int):
        return float(latency)
    if isinstance(latency, Constant):
        return latency.value
    if isinstance(latency, Normal):
        return max(0.0, rng.gauss(latency.mean, latency.std))
    if isinstance(latency, LogNormal):
        sigma = (math.log(latency.p99) - math.log(latency.median)) / Z99
        return rng.lognormvariate(math.log(latency.median), sigma)
    return rng.uniform(latency.low, latency.high)


@dataclass(frozen=True)
class Path:
    """One direction of a link, with the link's defaults filled in."""

    latency: float | Distribution
    jitter: float
    loss: float
    duplicate: float
    reorder: float
    bandwidth: int

    @classmethod
    def of(cls, link: Link, direction: Direction) -> Path:
        def pick(name: str) -> object:
            value = getattr(direction, name)
            return getattr(link, name) if value is None else value

        return cls(
            latency=pick("latency"),  # type: ignore[arg-type]
            jitter=float(pick("jitter")),  # type: ignore[arg-type]
            loss=float(pick("loss")),  # type: ignore[arg-type]
            duplicate=float(pick("duplicate")),  # type: ignore[arg-type]
            reorder=float(pick("reorder")),  # type: ignore[arg-type]
            bandwidth=int(pick("bandwidth")),  # type: ignore[call-overload]
        )

    def delay(self, rng: random.Random) -> float:
        base = sample(self.latency, rng)
        if self.jitter:
            base += rng.uniform(-self.jitter, self.jitter)
        return max(0.0, base)


class DeviceLink:
    """A device's link: a path each way, the message-size cap, and one seeded rng."""

    def __init__(self, spec: Link, rng: random.Random) -> None:
        self.spec = spec
        self.up = Path.of(spec, spec.up)
        self.down = Path.of(spec, spec.down)
        self.max_message = spec.max_message
        self.rng = rng

    def path(self, direction: str) -> Path:
        return self.up if direction == "up" else self.down

    def delay(self) -> float:
        """A one-way delay on the way up, for handshakes and REST requests."""
        return self.up.delay(self.rng)


@dataclass
class Connection:
    conn_id: str
    device: str
    user: str
    open: bool = True
    # Arrival time of the last frame scheduled in each direction, to keep TCP order.
    last_arrival: dict[str, float] = field(default_factory=lambda: {"up": 0.0, "down": 0.0})
    # When each direction's link is free again, when a bandwidth is set.
    free_at: dict[str, float] = field(default_factory=lambda: {"up": 0.0, "down": 0.0})
    # Keep-alive frames per type: [count, bytes].
    keepalive: dict[str, list[int]] = field(default_factory=dict)

    def count_keepalive(self, frame_type: str, size: int) -> None:
        tally = self.keepalive.setdefault(frame_type, [0, 0])
        tally[0] += 1
        tally[1] += size

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
