"""What happens when in a scenario: user activity, offline windows, reloads, the settle phase,
and the final snapshots."""

from __future__ import annotations

import math
import random
from collections.abc import Generator
from functools import partial
from typing import TYPE_CHECKING, Any

from simulator.history import Kind
from simulator.recording import identity, record_device_snapshot
from simulator.scenario.model import Fault, HotItem, Partition, ServerOutage
from simulator.workload.user import UserPlan

if TYPE_CHECKING:
    from simulator.sim.driver import SimDevice, Simulation

DAY = 86_400.0


def schedule_all(sim: Simulation) -> None:
    for device in sim.devices.values():
        _device_timeline(sim, device)
    for fault in sim.loaded.scenario.faults:
        _fault(sim, fault)
    for index, hot in enumerate(sim.loaded.scenario.hot_items):
        sim.env.process(_hot_item(sim, hot, index))
    # Settle: after the scenario every device is online and hears the browser's online event,
    # so whatever can converge does.
    for device in sim.devices.values():
        sim.later(sim.end, partial(sim.set_online, device, True, nudge=True))


def _within(sim: Simulation, at: float) -> bool:
    return 0 <= at < sim.end


def _device_timeline(sim: Simulation, device: SimDevice) -> None:
    spec = device.spec
    sim.later(spec.joins, partial(sim.start, device))
    for window in spec.offline:
        if _within(sim, window.start):
            sim.later(window.start, partial(sim.set_online, device, False))
            sim.later(min(window.end, sim.end), partial(sim.set_online, device, True))
    for at, action in [
        *((at, sim.reload) for at in spec.reloads),
        *((at, sim.arm_crash) for at in spec.crashes),
        *((at, sim.wipe) for at in spec.wipes),
        *((at, sim.drop_connection) for at in spec.link.drops.at),
    ]:
        if _within(sim, at):
            sim.later(at, partial(action, device))
    if spec.link.drops.per_day > 0:
        sim.env.process(_random_drops(sim, device))
    sim.env.process(_user(sim, device))


def _random_drops(sim: Simulation, device: SimDevice) -> Generator[Any, Any, None]:
    rng = random.Random(f"{sim.loaded.scenario.seed}:{device.name}:drops")
    mean_gap = DAY / device.spec.link.drops.per_day
    while True:
        yield sim.env.timeout(-mean_gap * math.log(1.0 - rng.random()))
        if sim.env.now >= sim.end:
            return
        sim.drop_connection(device)


def _fault(sim: Simulation, fault: Fault) -> None:
    end = min(fault.end, sim.end)
    if not _within(sim, fault.start):
        return
    if isinstance(fault, ServerOutage):
        sim.later(fault.start, sim.server.go_down)
        sim.later(end, sim.server.come_back)
        return
    devices = [sim.devices[name] for name in fault.devices]
    if isinstance(fault, Partition):
        directions: set[str] = {"up", "down"} if fault.direction == "both" else {fault.direction}
        for device in devices:
            sim.later(fault.start, partial(sim.partition, device, directions, True))
            sim.later(end, partial(sim.partition, device, directions, False))
        return
    at = fault.start
    while at < end:  # flapping: down for `down` at the start of every `period`
        for device in devices:
            sim.later(at, partial(sim.set_online, device, False))
            sim.later(min(at + fault.down, end), partial(sim.set_online, device, True))
        at += fault.period


def _hot_item(sim: Simulation, hot: HotItem, index: int) -> Generator[Any, Any, None]:
    """Every `every`, each listed device edits one entry they all hold, within seconds."""
    rng = random.Random(f"{sim.loaded.scenario.seed}:hot:{index}")
    devices = [sim.devices[name] for name in hot.devices]
    while True:
        yield sim.env.timeout(hot.every)
        if sim.env.now >= sim.end:
            return
        joined = [d for d in devices if d.joined]
        if len(joined) < 2:
            continue
        shared = set.intersection(*(set(d.client.entries) for d in joined))
        if not shared:
            first = joined[0]
            first.client.create_entry(
                first.writer.new_entry(sim.device_now(first)), sim.device_now(first)
            )
            sim.pump(first)
            continue
        entry_id = rng.choice(sorted(shared))
        for device in joined:
            sim.later(rng.uniform(0, hot.within), partial(_edit, sim, device, entry_id))


def _edit(sim: Simulation, device: SimDevice, entry_id: str) -> None:
    if entry_id in device.client.entries:
        now = sim.device_now(device)
        device.client.update_entry(entry_id, device.writer.edit(), now)
        sim.pump(device)


def _user(sim: Simulation, device: SimDevice) -> Generator[Any, Any, None]:
    """A person using one device, acting at the plan's times until the end."""
    plan = UserPlan(device.spec.workload, f"{sim.loaded.scenario.seed}:{device.name}:user")
    if device.spec.joins > 0:
        yield sim.env.timeout(device.spec.joins)
    while True:
        t = plan.next_time(sim.env.now)
        if t >= sim.end:
            return
        yield sim.env.timeout(t - sim.env.now)
        plan.act(device.client, device.writer, sim.device_now(device))
        sim.pump(device)


def snapshot_all(sim: Simulation) -> None:
    """Final state of every device and of the server, as SNAPSHOT rows."""
    for device in sim.devices.values():
        if device.conn is not None:
            sim.close_keepalive(device.conn)
        record_device_snapshot(sim, device, device.client)
    for row in sim.store.rows():
        sim.record(
            Kind.SNAPSHOT,
            None,
            user=row.user_id,
            op="deleted" if row.deleted else "live",
            entity_type=row.entity_type,
            entity_id=row.entity_id,
            fingerprint=row.checksum,
            updated_at=row.data.get("updatedAt"),
            detail={
                "version": row.version,
                "seq": row.seq,
                **(identity(row.entity_type, row.data) or {}),
            },
        )
