"""Keep-alives of simulated connections, accounted for when a connection ends instead of being
simulated one PING at a time.

A connected client PINGs every `ping_interval_s` and the server answers each PING with a PONG;
neither changes any state (PONG moves no cursor), so nothing but their count and bytes (the
`keepalive` row) depends on them. In a week of three idle devices they were 99.7% of the
frames and most of the simulation's events. So the simulated client does not send them
(`DeviceClient(keepalive=False)`), and when a connection ends this module works out when each
PING would have left, whether it reached the server (a partition up, the link's loss, the
connection's end) and so whether a PONG came back.

Keep-alives travel apart from data frames: each takes the link's typical delay (`typical`:
the latency's median or mean, no jitter), draws only for the link's loss (from the link's
`keepalive` stream), takes no bandwidth and no place in TCP order, so the data frames of a run
are the same whether keep-alives are simulated (`lazy_keepalive=False`, which a test compares
against this) or accounted for here. For a clock that is only offset and a link that loses
nothing, the count is closed-form (O(1) per connection and partition); otherwise each PING is
walked with the client's own timer arithmetic.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from simulator.scenario.model import Constant, LogNormal, Normal, Uniform
from simulator.world.clock import DeviceClock
from simulator.world.link import Path

Changes = Sequence[tuple[float, frozenset[str]]]  # (from when, directions partitioned), in order


def typical(path: Path) -> float:
    """The one-way delay a keep-alive takes: the latency's median (or mean), no jitter."""
    latency = path.latency
    if isinstance(latency, float | int):
        return float(latency)
    if isinstance(latency, Constant):
        return latency.value
    if isinstance(latency, Normal):
        return max(0.0, latency.mean)
    if isinstance(latency, LogNormal):
        return latency.median
    assert isinstance(latency, Uniform)
    return (latency.low + latency.high) / 2


def blocked_at(changes: Changes, t: float) -> frozenset[str]:
    blocked: frozenset[str] = frozenset()
    for since, directions in changes:
        if since > t:
            break
        blocked = directions
    return blocked


def transit(
    path: Path, rng: random.Random, now: float, blocked: frozenset[str], way: str
) -> float | None:
    """When a keep-alive sent `now` arrives, or None when it is lost on the way: a partition in
    its direction, or the link's loss (the only draw, and only when the link has loss)."""
    if way in blocked:
        return None
    if path.loss and rng.random() < path.loss:
        return None
    return now + typical(path)


def ping_times(
    clock: DeviceClock, epoch: float, start: float, due: float, interval: float, end: float
) -> Iterator[float]:
    """True times the client's PINGs leave, from `start` (true) while before `end` (true):
    the first when its clock reads `due`, then every `interval` of its clock from the last.
    As the client and the simulation's timer do it, in the same arithmetic: readings as epoch
    seconds (`epoch` + the clock's reading), wake `due - reading` true seconds later, PING if
    the clock has got there, else wait the rest (a slow clock gets there in a few waits)."""
    t = start
    while t < end:
        reading = epoch + clock.read(t)
        if reading >= due:
            yield t
            due = reading + interval
        later = t + max(0.0, due - (epoch + clock.read(t)))
        t = later if later > t else math.nextafter(t, math.inf)


@dataclass(frozen=True)
class Connection:
    """What the account needs of one connection, in true seconds."""

    start: float  # when it opened
    first: float  # when its first PING is due, as the device's clock reads (epoch seconds)
    end: float  # when it ended for its device
    server_end: float  # when it ended for the server (later after the device closed it)


def account(
    conn: Connection,
    clock: DeviceClock,
    epoch: float,
    interval: float,
    answers: bool,
    up: Path,
    down: Path,
    rng: random.Random,
    changes: Changes,
) -> tuple[int, int]:
    """(PINGs sent, PONGs sent) on the connection. A PONG is counted when its PING reached
    the server before the device's end, as the simulated tally counts it; one sent after
    (before the server's end) still draws its way back, as a simulated one would. `answers`
    False: a server that answers no PING."""
    if clock.drift_ppm == 0 and not clock.steps and not up.loss and not down.loss:
        return _closed_form(conn, clock, epoch, interval, answers, typical(up), changes)
    pings = pongs = 0
    times = ping_times(clock, epoch, conn.start, conn.first, interval, conn.end)
    for sent in times:
        pings += 1
        arrived = transit(up, rng, sent, blocked_at(changes, sent), "up")
        if arrived is None or arrived >= conn.server_end or not answers:
            continue
        pongs += arrived < conn.end
        transit(down, rng, arrived, blocked_at(changes, arrived), "down")
    return pings, pongs


def _closed_form(
    conn: Connection,
    clock: DeviceClock,
    epoch: float,
    interval: float,
    answers: bool,
    delay: float,
    changes: Changes,
) -> tuple[int, int]:
    """A clock only offset reads true time plus a constant: the PINGs leave every `interval`
    from the first, so they are counted, not walked."""
    first = conn.first - epoch - clock.offset  # the true time of the first PING
    pings = _count(first, interval, conn.start, conn.end)
    if not answers:
        return pings, 0
    limit = min(conn.end, conn.server_end) - delay  # PINGs sent before it are answered in time
    reached = _count(first, interval, conn.start, limit)
    for since, until in _intervals_blocked(changes, "up"):
        reached -= _count(first, interval, max(conn.start, since), min(until, limit))
    return pings, reached


def _count(first: float, interval: float, low: float, high: float) -> int:
    """How many of first, first + interval, ... fall in [low, high)."""
    if high <= low or high <= first:
        return 0
    above = max(0, math.ceil((max(low, first) - first) / interval))
    below = math.ceil((high - first) / interval)  # k with first + k * interval < high
    return max(0, below - above)


def _intervals_blocked(changes: Changes, way: str) -> Iterator[tuple[float, float]]:
    """The [from, to) stretches during which `way` was partitioned."""
    start: float | None = None
    for since, directions in changes:
        if way in directions and start is None:
            start = since
        elif way not in directions and start is not None:
            yield start, since
            start = None
    if start is not None:
        yield start, math.inf
