"""Seed lists as a person writes them: `1-200`, `7`, `1-5,9,20-22`."""

from __future__ import annotations

from simulator.errors import UsageError

MAX_SEEDS = 10_000_000


def parse_seeds(text: str) -> list[int]:
    """The seeds `text` names, in order, each once; UsageError naming the bad part."""
    seeds: dict[int, None] = {}
    for part in (p.strip() for p in text.split(",")):
        low, dash, high = part.partition("-")
        try:
            first = int(low)
            last = int(high) if dash else first
        except ValueError:
            raise UsageError(f"--seeds: {part!r} is not a seed or a range like 1-200") from None
        if not 0 <= first <= last < 2**63:
            raise UsageError(f"--seeds: {part!r}: seeds are 0 to 2^63-1, low to high")
        if len(seeds) + last - first + 1 > MAX_SEEDS:
            raise UsageError(f"--seeds: more than {MAX_SEEDS:,} seeds in one sweep")
        seeds.update(dict.fromkeys(range(first, last + 1)))
    return list(seeds)
