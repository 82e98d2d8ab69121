"""Variants of a scenario, with the scenario as their centre: what `syncsim explore` runs.

Variant k is a function of the scenario's seed and k alone (its own random stream), so the
same exploration runs the same variants. Each takes a new seed and one to three changes from
`CHANGES`: more or less work, a device offline or reloaded, a dropped connection, a partition,
a server outage, a wrong clock, a slower link. Every change stays within the scenario's
duration and the loader's bounds; a variant is whatever the loader accepts.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from simulator.explore.document import Document, copied

MINUTE, HOUR = 60.0, 3600.0


def _device(document: Document, rng: random.Random) -> Document:
    devices: list[Document] = document["devices"]
    return devices[rng.randrange(len(devices))]


def _window(document: Document, rng: random.Random, longest: float) -> tuple[float, float]:
    duration = float(document["duration"])
    start = rng.uniform(0, duration * 0.8)
    return start, min(duration, start + rng.uniform(10 * MINUTE, max(11 * MINUTE, longest)))


def _more_work(document: Document, rng: random.Random) -> str:
    device = _device(document, rng)
    workload = device.setdefault("workload", {})
    factor = rng.choice((0.5, 2.0, 3.0))
    workload["entries_per_day"] = round(float(workload.get("entries_per_day", 4.0)) * factor, 3)
    return f"{device['name']} writes {factor:g}x as often"


def _offline(document: Document, rng: random.Random) -> str:
    device = _device(document, rng)
    start, end = _window(document, rng, float(document["duration"]) * 0.3)
    device.setdefault("offline", []).append({"from": round(start, 3), "to": round(end, 3)})
    return f"{device['name']} offline from {start:.0f} s to {end:.0f} s"


def _reload(document: Document, rng: random.Random) -> str:
    device = _device(document, rng)
    at = round(rng.uniform(0, float(document["duration"])), 3)
    device.setdefault("reloads", []).append(at)
    return f"{device['name']} reloads at {at:.0f} s"


def _drops(document: Document, rng: random.Random) -> str:
    device = _device(document, rng)
    drops = device.setdefault("link", {}).setdefault("drops", {})
    drops["per_day"] = float(rng.choice((2, 10, 40)))
    return f"{device['name']}'s connection drops {drops['per_day']:g} times a day"


def _partition(document: Document, rng: random.Random) -> str:
    device = _device(document, rng)
    start, end = _window(document, rng, 6 * HOUR)
    fault = {"kind": "partition", "devices": [device["name"]], "from": start, "to": end}
    document.setdefault("faults", []).append(fault)
    return f"{device['name']} partitioned from {start:.0f} s to {end:.0f} s"


def _outage(document: Document, rng: random.Random) -> str:
    start, end = _window(document, rng, HOUR)
    document.setdefault("faults", []).append({"kind": "server_outage", "from": start, "to": end})
    return f"server down from {start:.0f} s to {end:.0f} s"


def _clock(document: Document, rng: random.Random) -> str:
    device = _device(document, rng)
    offset = rng.choice((-1, 1)) * rng.uniform(MINUTE, 3 * HOUR)
    device.setdefault("clock", {})["offset"] = round(offset, 3)
    return f"{device['name']}'s clock off by {offset:.0f} s"


def _slow_link(document: Document, rng: random.Random) -> str:
    device = _device(document, rng)
    latency = rng.choice((0.5, 2.0, 5.0))
    device.setdefault("link", {})["latency"] = latency
    return f"{device['name']}'s latency {latency:g} s"


CHANGES: tuple[Callable[[Document, random.Random], str], ...] = (
    _more_work,
    _offline,
    _reload,
    _drops,
    _partition,
    _outage,
    _clock,
    _slow_link,
)


def variant(centre: Document, index: int) -> tuple[Document, list[str]]:
    """Variant `index` of the scenario, and what was changed, in words."""
    rng = random.Random(f"{centre.get('seed', 0)}:explore:{index}")
    document = copied(centre)
    document["seed"] = rng.getrandbits(32)
    said = [f"seed {document['seed']}"]
    for _ in range(rng.randint(1, 3)):
        said.append(rng.choice(CHANGES)(document, rng))
    return document, said
