"""A person using one device: when they act (a Poisson process within active hours) and what
they do (log, edit or delete an entry; add, change or remove a piece).

Both drivers use this, drawing from the same seeded stream in the same order, so a scenario
run live and simulated has the same user doing the same things at the same scenario times.
"""

from __future__ import annotations

import math
import random

from simulator.protocol.client import DeviceClient
from simulator.scenario.model import Workload
from simulator.workload.entries import EntryWriter

DAY = 86_400.0
_STEP = 600.0  # active hours are checked in steps of this many seconds


def active(t: float, hours: tuple[int, int]) -> bool:
    hour = (t % DAY) / 3600.0
    return hours[0] <= hour < hours[1]


class UserPlan:
    def __init__(self, spec: Workload, seed: str) -> None:
        self.spec = spec
        # Separate streams: when the user acts must not depend on what the device holds
        # (which differs by profile), so the same seed gives the same moments everywhere.
        self.when = random.Random(f"{seed}:when")
        self.rng = random.Random(f"{seed}:what")
        rate = spec.entries_per_day + spec.pieces_per_day
        fraction = (spec.active_hours[1] - spec.active_hours[0]) / 24.0
        self.mean_gap = DAY * fraction / rate if rate > 0 else math.inf

    def next_time(self, after: float) -> float:
        """When the user acts next, in scenario seconds; time outside active hours is skipped."""
        if math.isinf(self.mean_gap):
            return math.inf
        gap = -self.mean_gap * math.log(1.0 - self.when.random())
        t = after
        while gap > 0:
            step = min(gap, _STEP)
            if active(t, self.spec.active_hours):
                gap -= step
            t += step
        return t

    def act(self, client: DeviceClient, writer: EntryWriter, now: float) -> None:
        """One action on the device, `now` being the device's clock reading."""
        spec = self.spec
        total = spec.entries_per_day + spec.pieces_per_day
        if self.rng.random() * total < spec.entries_per_day:
            self._on_entry(client, writer, now)
        else:
            self._on_piece(client, writer, now)

    def _on_entry(self, client: DeviceClient, writer: EntryWriter, now: float) -> None:
        spec, rng = self.spec, self.rng
        draw = rng.random()
        existing = sorted(client.entries)
        if existing and draw < spec.delete_ratio:
            client.delete_entry(rng.choice(existing), now)
        elif existing and draw < spec.delete_ratio + spec.update_ratio:
            client.update_entry(rng.choice(existing), writer.edit(), now)
        else:
            client.create_entry(writer.new_entry(now), now)

    def _on_piece(self, client: DeviceClient, writer: EntryWriter, now: float) -> None:
        spec, rng = self.spec, self.rng
        draw = rng.random()
        existing = sorted(client.pieces)
        if existing and draw < spec.piece_remove_ratio:
            client.remove_piece(rng.choice(existing), now)
        elif existing and draw < spec.piece_remove_ratio + spec.piece_update_ratio:
            client.update_piece(rng.choice(existing), {"status": writer.status()}, now)
        else:
            title, composer, status = writer.piece(spec.messy_spelling_ratio)
            client.add_piece(title, composer, status, now)
