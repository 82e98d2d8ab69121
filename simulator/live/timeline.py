"""The scenario's timeline in wall time: the same events the simulation schedules, through
the live driver (user actions at the user plan's times, offline windows, reloads, crashes,
wipes, drops, partitions, flapping, hot items, and the settle phase)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from simulator.scenario.model import Flap, HotItem, Partition

if TYPE_CHECKING:
    from simulator.live.driver import LiveDevice, LiveRun


def schedule_all(run: LiveRun) -> None:
    scenario = run.loaded.scenario
    for device in run.devices.values():
        _device_timeline(run, device)
    for fault in scenario.faults:
        if isinstance(fault, Partition):
            directions: set[str] = (
                {"up", "down"} if fault.direction == "both" else {fault.direction}
            )
            for name in fault.devices:
                device = run.devices[name]
                run.at(fault.start, partial(run.partition, device, directions, True))
                run.at(min(fault.end, run.end), partial(run.partition, device, directions, False))
        elif isinstance(fault, Flap):
            _flap(run, fault)
    for index, hot in enumerate(scenario.hot_items):
        _hot(run, hot, index, hot.every)
    for device in run.devices.values():
        run.at(run.end, partial(run.set_online, device, True, True))


def _device_timeline(run: LiveRun, device: LiveDevice) -> None:
    spec = device.spec
    run.at(spec.joins, partial(run.start, device))
    for window in spec.offline:
        if window.start < run.end:
            run.at(window.start, partial(run.set_online, device, False))
            run.at(min(window.end, run.end), partial(run.set_online, device, True))
    actions: list[tuple[float, Callable[[], None]]] = [
        *((at, partial(run.reload, device)) for at in spec.reloads),
        *((at, partial(run.reload, device, crash=True)) for at in spec.crashes),
        *((at, partial(run.wipe, device)) for at in spec.wipes),
        *((at, partial(run.drop_connection, device)) for at in spec.link.drops.at),
    ]
    for at, action in actions:
        if at < run.end:
            run.at(at, action)
    if spec.link.drops.per_day > 0:
        rng = random.Random(f"{run.loaded.scenario.seed}:{device.name}:drops")
        t = 0.0
        while True:
            t += -86_400.0 / spec.link.drops.per_day * math.log(1.0 - rng.random())
            if t >= run.end:
                break
            run.at(t, partial(run.drop_connection, device))
    _next_act(run, device, spec.joins)


def _next_act(run: LiveRun, device: LiveDevice, after: float) -> None:
    """Chain the user's actions at the plan's times, each drawn after the one before, as the
    simulation draws them."""
    t = device.plan.next_time(after)
    if t < run.end:

        def act() -> None:
            run.act(device)
            _next_act(run, device, t)

        run.at(t, act)


def _flap(run: LiveRun, fault: Flap) -> None:
    at, end = fault.start, min(fault.end, run.end)
    while at < end:
        for name in fault.devices:
            device = run.devices[name]
            run.at(at, partial(run.set_online, device, False))
            run.at(min(at + fault.down, end), partial(run.set_online, device, True))
        at += fault.period


def _hot(run: LiveRun, hot: HotItem, index: int, at: float) -> None:
    rng = random.Random(f"{run.loaded.scenario.seed}:hot:{index}")

    def burst(t: float) -> None:
        devices = [run.devices[n] for n in hot.devices if run.devices[n].joined]
        if len(devices) >= 2:
            shared = set.intersection(*(set(d.client.entries) for d in devices))
            if not shared:
                first = devices[0]
                now = run.device_now(first)
                first.client.create_entry(first.writer.new_entry(now), now)
                run.pump(first)
            else:
                entry_id = rng.choice(sorted(shared))
                for device in devices:
                    run.at(t + rng.uniform(0, hot.within), partial(_edit, run, device, entry_id))
        if t + hot.every < run.end:
            run.at(t + hot.every, partial(burst, t + hot.every))

    if at < run.end:
        run.at(at, partial(burst, at))


def _edit(run: LiveRun, device: LiveDevice, entry_id: str) -> None:
    if entry_id in device.client.entries:
        now = run.device_now(device)
        device.client.update_entry(entry_id, device.writer.edit(), now)
        run.pump(device)
