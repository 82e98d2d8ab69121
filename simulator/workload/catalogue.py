"""A shared catalogue of pieces that users practise, built once per scenario seed."""

from __future__ import annotations

import random
from dataclasses import dataclass

COMPOSERS = (
    "J.S. Bach",
    "Ludwig van Beethoven",
    "Frédéric Chopin",
    "Claude Debussy",
    "W.A. Mozart",
    "Robert Schumann",
    "Clara Schumann",
    "Johannes Brahms",
    "Franz Liszt",
    "Maurice Ravel",
    "Erik Satie",
    "Fanny Mendelssohn",
    "Sergei Rachmaninoff",
    "Béla Bartók",
)
FORMS = (
    "Sonata",
    "Étude",
    "Nocturne",
    "Prelude",
    "Partita",
    "Suite",
    "Waltz",
    "Mazurka",
    "Ballade",
    "Impromptu",
    "Invention",
    "Fugue",
)
KEYS = ("C major", "A minor", "G major", "E minor", "D major", "B-flat major", "F-sharp minor")


@dataclass(frozen=True)
class Piece:
    title: str
    composer: str


def build_catalogue(rng: random.Random, size: int = 40) -> tuple[Piece, ...]:
    """`size` distinct pieces; the same rng state gives the same catalogue."""
    pieces: dict[str, Piece] = {}
    while len(pieces) < size:
        title = f"{rng.choice(FORMS)} No. {rng.randint(1, 24)} in {rng.choice(KEYS)}"
        piece = Piece(title, rng.choice(COMPOSERS))
        pieces.setdefault(f"{piece.title}|{piece.composer}", piece)
    return tuple(pieces.values())
