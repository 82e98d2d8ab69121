"""History a user already has before the scenario starts, written straight into the server's
store with update times spread over the span before the start."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from simulator.history import Kind
from simulator.protocol.entities import normalize_score_id
from simulator.protocol.kinds import ENTRY, PIECE
from simulator.protocol.timefmt import iso_z
from simulator.scenario.model import Preload
from simulator.workload.catalogue import build_catalogue
from simulator.workload.entries import EntryWriter

if TYPE_CHECKING:
    from simulator.sim.driver import Simulation

PRELOAD_DEVICE = "preload"


def preload_all(sim: Simulation) -> None:
    for index, spec in enumerate(sim.loaded.scenario.preload):
        rng = random.Random(f"{sim.loaded.scenario.seed}:preload:{index}")
        _entries(sim, spec, rng, _times(sim, spec, rng, spec.entries))
        _pieces(sim, spec, rng, _times(sim, spec, rng, spec.pieces))
        sim.record(
            Kind.PRELOAD,
            None,
            user=spec.user,
            detail={"entries": spec.entries, "pieces": spec.pieces, "over": spec.over},
        )


def _times(sim: Simulation, spec: Preload, rng: random.Random, count: int) -> list[float]:
    """`count` update times spread uniformly over `spec.over` before the start, oldest first."""
    return sorted(sim.start_epoch - rng.uniform(0, spec.over) for _ in range(count))


def _entries(sim: Simulation, spec: Preload, rng: random.Random, times: list[float]) -> None:
    writer = EntryWriter(f"{sim.loaded.scenario.seed}:preload:{spec.user}", sim.catalogue)
    for at in times:
        entry_id = f"{rng.getrandbits(128):032x}"
        stamp = iso_z(at)
        entry = {"id": entry_id, **writer.new_entry(at), "createdAt": stamp, "updatedAt": stamp}
        entry["device_id"] = PRELOAD_DEVICE
        sim.store.write(spec.user, ENTRY, entry_id, entry, PRELOAD_DEVICE, at)


def _pieces(sim: Simulation, spec: Preload, rng: random.Random, times: list[float]) -> None:
    catalogue = build_catalogue(rng, size=len(times))
    statuses = ("planned", "learning", "working", "polished", "performance_ready")
    for at, piece in zip(times, catalogue, strict=True):
        score_id = normalize_score_id(piece.title, piece.composer)
        data = {
            "scoreId": score_id,
            "title": piece.title,
            "composer": piece.composer,
            "status": rng.choice(statuses),
            "updatedAt": iso_z(at),
        }
        sim.store.write(spec.user, PIECE, score_id, data, PRELOAD_DEVICE, at)
