"""A person using one device: when they act (a Poisson process within active hours) and what
they mean to do (log, edit or delete an entry; add, change or remove a piece).

The plan is data, as Maelstrom's generators emit operations: `UserPlan.acts` yields
`(time, UserAct)` pairs drawn from the scenario's seed alone, never from what a device holds.
Each act carries a seed of its own; `perform` resolves it against the device when it happens
(which entry to edit, what the new notes say), drawing only from that seed. So two profiles see
the same user acting at the same moments with the same intent, and dropping one act (a
shrinker's edit) changes no other act.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from simulator.protocol.client import DeviceClient
from simulator.protocol.kinds import ENTRY, PIECE
from simulator.scenario.model import Workload
from simulator.workload.entries import EntryWriter

DAY = 86_400.0
_STEP = 600.0  # active hours are checked in steps of this many seconds


def active(t: float, hours: tuple[int, int]) -> bool:
    hour = (t % DAY) / 3600.0
    return hours[0] <= hour < hours[1]


@dataclass(frozen=True)
class UserAct:
    """What the user means to do: `op` (create, update, delete) on an item of `target`
    (an entity type). An update or delete on a device that holds nothing creates instead."""

    target: str
    op: str
    seed: int


class UserPlan:
    def __init__(self, spec: Workload, seed: str) -> None:
        self.spec = spec
        self.when = random.Random(f"{seed}:when")
        self.what = random.Random(f"{seed}:what")
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

    def acts(self, after: float, end: float) -> Iterator[tuple[float, UserAct]]:
        """Every act from `after` until `end`, in order."""
        t = self.next_time(after)
        while t < end:
            yield t, self.intent()
            t = self.next_time(t)

    def intent(self) -> UserAct:
        spec, rng = self.spec, self.what
        total = spec.entries_per_day + spec.pieces_per_day
        on_entry = rng.random() * total < spec.entries_per_day
        draw = rng.random()
        if on_entry:
            op = _op(draw, spec.delete_ratio, spec.update_ratio)
        else:
            op = _op(draw, spec.piece_remove_ratio, spec.piece_update_ratio)
        return UserAct(ENTRY if on_entry else PIECE, op, rng.getrandbits(64))


def _op(draw: float, delete_ratio: float, update_ratio: float) -> str:
    if draw < delete_ratio:
        return "delete"
    return "update" if draw < delete_ratio + update_ratio else "create"


def perform(
    act: UserAct, client: DeviceClient, writer: EntryWriter, now: float, messy_ratio: float
) -> None:
    """Carry out one act on the device, `now` being the device's clock reading."""
    rng = random.Random(act.seed)
    writer.reseed(act.seed)
    if act.target == ENTRY:
        existing = client.storage.ids(ENTRY)
        if existing and act.op == "delete":
            client.delete_entry(rng.choice(existing), now)
        elif existing and act.op == "update":
            client.update_entry(rng.choice(existing), writer.edit(), now)
        else:
            client.create_entry(writer.new_entry(now), now)
        return
    existing = client.storage.ids(PIECE)
    if existing and act.op == "delete":
        client.remove_piece(rng.choice(existing), now)
    elif existing and act.op == "update":
        client.update_piece(rng.choice(existing), {"status": writer.status()}, now)
    else:
        title, composer, status = writer.piece(messy_ratio)
        client.add_piece(title, composer, status, now)
