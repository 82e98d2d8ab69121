"""Device clocks: what a device believes the time is, given the true simulated time."""

from __future__ import annotations

from dataclasses import dataclass

from simulator.scenario.model import Clock


@dataclass(frozen=True)
class DeviceClock:
    """`offset` seconds off at the start, running `drift_ppm` fast (negative: slow), and
    jumping by each step's amount once true time passes its `at`."""

    offset: float = 0.0
    drift_ppm: float = 0.0
    steps: tuple[tuple[float, float], ...] = ()

    @classmethod
    def from_spec(cls, spec: Clock) -> DeviceClock:
        return cls(spec.offset, spec.drift_ppm, tuple(sorted((s.at, s.by) for s in spec.steps)))

    def read(self, t: float) -> float:
        """The device's reading, in seconds since the scenario start, at true time `t`."""
        jumps = sum(by for at, by in self.steps if at <= t)
        return t + self.offset + self.drift_ppm * 1e-6 * t + jumps
