"""Practice entries as a person would type them, drawn from faker and a seeded rng."""

from __future__ import annotations

import random
from typing import Any

from faker import Faker

from simulator.protocol.entities import ENTRY_TYPES, MOODS
from simulator.protocol.timefmt import iso_z
from simulator.workload.catalogue import Piece

INSTRUMENTS = ("piano", "violin", "cello", "guitar", "flute", "voice")
TECHNIQUES = ("scales", "arpeggios", "sight-reading", "intonation", "rhythm", "dynamics")
# Weighted so practice dominates, as it does in a practice journal.
_TYPE_WEIGHTS = {t: (12 if t == "practice" else 1) for t in sorted(ENTRY_TYPES)}


class EntryWriter:
    """Makes new entries and edits for one user on one device."""

    def __init__(self, seed: str, catalogue: tuple[Piece, ...]) -> None:
        self.rng = random.Random(seed)
        self.fake = Faker()
        self.fake.seed_instance(self.rng.getrandbits(32))
        self.catalogue = catalogue
        self.instrument = self.rng.choice(INSTRUMENTS)

    def new_entry(self, now: float) -> dict[str, Any]:
        rng = self.rng
        pieces = rng.sample(self.catalogue, k=rng.randint(0, 2))
        entry: dict[str, Any] = {
            "timestamp": iso_z(now - rng.randint(0, 120) * 60),
            "duration": rng.choice((10, 15, 20, 25, 30, 45, 60, 90)),
            "type": rng.choices(list(_TYPE_WEIGHTS), weights=list(_TYPE_WEIGHTS.values()))[0],
            "instrument": self.instrument,
            "pieces": [{"title": p.title, "composer": p.composer} for p in pieces],
            "mood": rng.choice(sorted(MOODS)),
            "notes": self.fake.sentence(nb_words=rng.randint(4, 14)),
            "tags": sorted(set(self.fake.words(nb=rng.randint(0, 3)))),
            "techniques": sorted(rng.sample(TECHNIQUES, k=rng.randint(0, 2))),
        }
        return entry

    def edit(self) -> dict[str, Any]:
        """The fields a person changes when they go back to an entry."""
        rng = self.rng
        choice = rng.randrange(3)
        if choice == 0:
            return {"notes": self.fake.sentence(nb_words=rng.randint(4, 14))}
        if choice == 1:
            return {"duration": rng.choice((10, 20, 30, 40, 60))}
        return {"mood": rng.choice(sorted(MOODS))}
