"""How a device's link behaves, in the scenario's terms: delay draws per direction, loss,
duplication, reordering, bandwidth and the message-size cap. Pure: both drivers use it, each
with its own clock (simulated seconds, or wall seconds scaled from scenario seconds)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

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
