"""History a user already has before the scenario starts, written straight into the server's
store at the items' own update times, spread over the span before the start."""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.history import Kind
from simulator.workload.preload import PRELOAD_DEVICE, preload_items

if TYPE_CHECKING:
    from simulator.sim.driver import Simulation


def preload_all(sim: Simulation) -> None:
    for spec, items in preload_items(sim.loaded.scenario, sim.catalogue):
        for item in items:
            sim.store.write(
                item.user, item.kind.name, item.entity_id, item.data, PRELOAD_DEVICE, item.at
            )
        sim.record(
            Kind.PRELOAD,
            None,
            user=spec.user,
            detail={"entries": spec.entries, "pieces": spec.pieces, "over": spec.over},
        )
