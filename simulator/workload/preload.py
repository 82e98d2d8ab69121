"""The history a user already has before the scenario starts: the same items, from the same
seed, whether the simulation writes them straight into its store or a live run pushes them to
an endpoint over REST."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from simulator.protocol.entities import Entity, normalize_score_id
from simulator.protocol.kinds import ENTRY_KIND, PIECE_KIND, EntityKind
from simulator.protocol.timefmt import iso_z
from simulator.scenario.model import Preload, Scenario
from simulator.workload.catalogue import Piece, build_catalogue
from simulator.workload.entries import EntryWriter

PRELOAD_DEVICE = "preload"
_STATUSES = ("planned", "learning", "working", "polished", "performance_ready")


@dataclass(frozen=True)
class PreloadItem:
    user: str
    kind: EntityKind
    entity_id: str
    data: Entity
    at: float  # epoch seconds of the item's last write, before the scenario's start


def preload_items(
    scenario: Scenario, catalogue: tuple[Piece, ...]
) -> Iterator[tuple[Preload, list[PreloadItem]]]:
    """Each preload spec with its items: entries first, then pieces, oldest first in each."""
    for index, spec in enumerate(scenario.preload):
        rng = random.Random(f"{scenario.seed}:preload:{index}")
        entry_times = _times(scenario.start, spec, rng, spec.entries)
        entries = list(_entries(scenario, spec, rng, entry_times, catalogue))
        piece_times = _times(scenario.start, spec, rng, spec.pieces)
        yield spec, entries + list(_pieces(spec, rng, piece_times))


def _times(start: float, spec: Preload, rng: random.Random, count: int) -> list[float]:
    """`count` update times spread uniformly over `spec.over` before the start, oldest first."""
    return sorted(start - rng.uniform(0, spec.over) for _ in range(count))


def _entries(
    scenario: Scenario,
    spec: Preload,
    rng: random.Random,
    times: list[float],
    catalogue: tuple[Piece, ...],
) -> Iterator[PreloadItem]:
    writer = EntryWriter(f"{scenario.seed}:preload:{spec.user}", catalogue)
    for at in times:
        entry_id = f"{rng.getrandbits(128):032x}"
        stamp = iso_z(at)
        entry = {"id": entry_id, **writer.new_entry(at), "createdAt": stamp, "updatedAt": stamp}
        entry["device_id"] = PRELOAD_DEVICE
        yield PreloadItem(spec.user, ENTRY_KIND, entry_id, entry, at)


def _pieces(spec: Preload, rng: random.Random, times: list[float]) -> Iterator[PreloadItem]:
    catalogue = build_catalogue(rng, size=len(times))
    for at, piece in zip(times, catalogue, strict=True):
        score_id = normalize_score_id(piece.title, piece.composer)
        data: Entity = {"id": score_id, "scoreId": score_id, "title": piece.title}
        data.update(composer=piece.composer, status=rng.choice(_STATUSES))
        data[PIECE_KIND.stamp_field] = iso_z(at)
        yield PreloadItem(spec.user, PIECE_KIND, score_id, data, at)
