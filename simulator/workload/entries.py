"""Practice entries as a person would type them, drawn from faker and a seeded rng."""

from __future__ import annotations

import random
from typing import Any

from faker import Faker

from simulator.protocol.entities import ENTRY_TYPES, MOODS, PIECE_STATUSES
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

    def reseed(self, seed: int) -> None:
        """Draw what comes next from `seed` alone: each user act has a seed of its own."""
        self.rng.seed(seed)
        self.fake.seed_instance(seed)

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

    def piece(self, messy_ratio: float) -> tuple[str, str, str]:
        """(title, composer, status) of a catalogue piece, typed carelessly now and then."""
        rng = self.rng
        piece = rng.choice(self.catalogue)
        status = rng.choice(sorted(PIECE_STATUSES - {"archived"}))
        if rng.random() >= messy_ratio:
            return piece.title, piece.composer, status
        return messy(piece.title, rng, False), messy(piece.composer, rng, True), status

    def status(self) -> str:
        return self.rng.choice(sorted(PIECE_STATUSES))


def messy(text: str, rng: random.Random, composer: bool) -> str:
    """One careless way to type `text` that still normalizes to the same score id.

    Periods may be dropped only from a composer: normalization ignores them there alone.
    """
    way = rng.randrange(6 if composer else 5)
    if way == 0:
        return text.upper() if rng.random() < 0.5 else text.lower()
    if way == 1:
        return f"  {text.replace(' ', '  ')} "
    if way == 2:
        return text.replace("'", "\u2019")
    if way == 3:
        return text.replace("-", "\u2013")
    if way == 4:
        return text.replace("No. ", "No.  ")
    return text.replace(".", "")  # "J.S. Bach" -> "JS Bach"
