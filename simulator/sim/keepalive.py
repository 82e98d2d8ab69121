"""Keep-alives of simulated connections, accounted for when a connection ends instead of being
simulated one PING at a time.

A connected client PINGs every `ping_interval_s` and the server answers each PING with a PONG;
neither changes any state (PONG moves no cursor), so nothing but their count and bytes (the
`keepalive` row) depends on them. In a week of three idle devices they were 99.7% of the
frames and most of the simulation's events. So the simulated client does not send them
(`DeviceClient(keepalive=False)`), and when a connection ends this module works out, with
the same arithmetic the client's timer would have followed, when each PING would have left,
whether it reached the server (a partition up, the link's loss, the connection's end) and so
whether a PONG came back.

Keep-alives travel apart from data frames: with random draws of their own (the link's
`keepalive` stream), taking no bandwidth and no place in TCP order, so the data frames of a
run are the same whether keep-alives are simulated (`lazy_keepalive=False`, which a test
compares against this) or accounted for here.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator

from simulator.world.clock import DeviceClock
from simulator.world.link import Path

Blocked = Callable[[float], frozenset[str]]  # the partitioned directions at a true time


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


def transit(
    path: Path, rng: random.Random, now: float, blocked: frozenset[str], way: str
) -> float | None:
    """When a keep-alive sent `now` arrives, or None when it is lost on the way: a partition in
    its direction, or the link's loss. Draws, in this order: loss (when the link has any), the
    delay."""
    if way in blocked:
        return None
    if path.loss and rng.random() < path.loss:
        return None
    return now + path.delay(rng)


def account(
    times: Iterator[float],
    end: float,
    server_end: float,
    pong: object | None,
    up: Path,
    down: Path,
    rng: random.Random,
    blocked: Blocked,
) -> tuple[int, int]:
    """(PINGs sent, PONGs sent) on a connection whose PINGs leave at `times`, which ends for
    its device at `end` and for the server at `server_end` (later, when the device closed it
    and its close is still on the way). A PONG is counted when its PING reached the server
    before `end`, as the simulated tally counts it; one sent between `end` and `server_end`
    still draws its way back, as a simulated one would. `pong` None: a server that answers
    no PING (else the PONG it answers with)."""
    pings = pongs = 0
    for sent in times:
        pings += 1
        arrived = transit(up, rng, sent, blocked(sent), "up")
        if arrived is None or arrived >= server_end or pong is None:
            continue
        pongs += arrived < end
        transit(down, rng, arrived, blocked(arrived), "down")
    return pings, pongs
