"""Device clocks: what a device believes the time is, given the true simulated time."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceClock:
    """A clock `offset` seconds ahead of true time (negative: behind)."""

    offset: float = 0.0

    def read(self, t: float) -> float:
        """The device's reading, in seconds since the scenario start, at true time `t`."""
        return t + self.offset
