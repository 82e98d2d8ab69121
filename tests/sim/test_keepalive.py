"""Keep-alives accounted for when a connection ends (sim/keepalive.py) agree with keep-alives
simulated PING by PING: the same history, keep-alive rows included."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from pathlib import Path

import pytest

from simulator.history import History, Kind, Record
from simulator.scenario.loader import load
from simulator.sim import keepalive
from simulator.sim.driver import Simulation
from simulator.world.clock import DeviceClock
from simulator.world.link import Path as LinkPath

LIBRARY = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))
QUICK = ["clock_skew", "connection_drops", "network_interruption_recovery", "version_conflicts"]
EPOCH = 1_772_409_600.0


def _both(path: Path, profile: str) -> tuple[History, History]:
    loaded = load(path, profile)
    return Simulation(loaded, lazy_keepalive=False).run(), Simulation(loaded).run()


def _to_the_millisecond(record: Record) -> Record:
    clock = None if record.device_time is None else round(record.device_time, 3)
    return replace(record, t=round(record.t, 3), device_time=clock)


def _check_agree(path: Path, profile: str) -> None:
    """The same rows, keep-alive tallies included. Times are compared to the millisecond: a
    client a simulated PING woke arms its next timer from another moment, and `now +
    (deadline - now)` can round a microsecond apart (3 rows of version_conflicts under
    proposed)."""
    simulated, accounted = _both(path, profile)
    assert len(simulated.records) == len(accounted.records)
    for one, other in zip(simulated.records, accounted.records, strict=True):
        assert _to_the_millisecond(one) == _to_the_millisecond(other)
    assert any(r.kind is Kind.KEEPALIVE for r in accounted.records)


# Under proposed here; every profile over the whole library is the slow test below.
@pytest.mark.parametrize("name", QUICK)
@pytest.mark.parametrize("profile", ["proposed"])
def test_accounted_keepalives_agree_with_simulated_ones(name: str, profile: str) -> None:
    _check_agree(next(p for p in LIBRARY if p.stem == name), profile)


@pytest.mark.slow
@pytest.mark.parametrize("path", LIBRARY, ids=[p.stem for p in LIBRARY])
@pytest.mark.parametrize("profile", ["legacy", "proposed", "seq"])
def test_the_whole_library_agrees(path: Path, profile: str) -> None:
    _check_agree(path, profile)


def test_pings_every_interval_of_the_devices_clock() -> None:
    exact = list(keepalive.ping_times(DeviceClock(), EPOCH, 10.0, EPOCH + 40.0, 30.0, 131.0))
    assert exact == [40.0, 70.0, 100.0, 130.0]
    # A clock 3 h fast: due times are its readings, so the PINGs leave at the same true times.
    fast = DeviceClock(offset=3 * 3600.0)
    due = EPOCH + 3 * 3600.0 + 40.0
    assert list(keepalive.ping_times(fast, EPOCH, 10.0, due, 30.0, 131.0)) == exact


def test_a_slow_clock_gets_there_in_a_few_waits_and_never_hangs() -> None:
    slow = DeviceClock(offset=-2 * 86400.0, drift_ppm=-200.0)
    start = 5 * 86400.0
    due = EPOCH + slow.read(start) + 30.0
    times = list(keepalive.ping_times(slow, EPOCH, start, due, 30.0, start + 3600.0))
    assert len(times) == 119  # every 30 s of a clock 200 ppm slow, for an hour
    gaps = {round(b - a, 3) for a, b in itertools.pairwise(times)}
    assert gaps == {30.006}


def test_a_clock_stepped_back_pings_again_once_it_has_caught_up() -> None:
    stepped = DeviceClock(steps=((100.0, -60.0),))
    times = list(keepalive.ping_times(stepped, EPOCH, 0.0, EPOCH + 30.0, 30.0, 250.0))
    assert times == [30.0, 60.0, 90.0, 180.0, 210.0, 240.0]


def test_a_keepalive_is_lost_in_a_partition_or_to_loss_and_else_takes_the_typical_delay() -> None:
    path = LinkPath(latency=0.1, jitter=0.05, loss=0.5, duplicate=0.0, reorder=0.0, bandwidth=0)
    assert keepalive.transit(path, random.Random(1), 5.0, frozenset({"up"}), "up") is None
    rng, twin = random.Random(7), random.Random(7)
    arrived = keepalive.transit(path, rng, 5.0, frozenset(), "up")
    lost = twin.random() < 0.5
    assert (arrived is None) == lost and (lost or arrived == 5.1)
    assert rng.random() == twin.random()  # one draw, for the loss only


@pytest.mark.parametrize(
    ("changes", "expected", "late_pongs"),
    [
        ([], (4, 4), 3),  # PINGs at 40, 70, 100, 130; every PONG back before 131
        ([(60.0, frozenset({"up"})), (95.0, frozenset())], (4, 3), 2),  # the one at 70 lost
        ([(60.0, frozenset({"up", "down"}))], (4, 1), 1),  # from 60 on every PING lost
    ],
)
def test_the_closed_form_counts_as_the_walk_does(
    changes: list[tuple[float, frozenset[str]]], expected: tuple[int, int], late_pongs: int
) -> None:
    lossless = LinkPath(latency=0.2, jitter=0.0, loss=0.0, duplicate=0.0, reorder=0.0, bandwidth=0)
    conn = keepalive.Connection(10.0, EPOCH + 40.0, 131.0, 131.0)
    args = (EPOCH, 30.0, True, lossless, lossless, random.Random(1), changes)
    closed = keepalive.account(conn, DeviceClock(), *args)
    # A drift too small to matter takes the walk.
    walked = keepalive.account(conn, DeviceClock(drift_ppm=1e-9), *args)
    assert closed == walked == expected
    # The PING at 130 reaches the server after the end at 130.1: sent, not answered in time.
    late = keepalive.Connection(10.0, EPOCH + 40.0, 130.1, 130.1)
    assert keepalive.account(late, DeviceClock(), *args) == (4, late_pongs)
    assert keepalive.account(late, DeviceClock(drift_ppm=1e-9), *args) == (4, late_pongs)
