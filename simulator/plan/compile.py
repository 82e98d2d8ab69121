"""A scenario compiled once into its plan: every step, in time order.

The plan holds the device timelines (joining, offline windows, reloads, crashes, wipes, drops
at given times and at random), the user's acts, the faults (through their registry), the hot
items' bursts, the scripted `steps`, and the settle phase's online event. Every random choice
here comes from the scenario seed, each purpose with a stream of its own, and nothing here looks
at a device's state: the same scenario and seed give the same plan, whichever executor runs it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from simulator.plan.actions import (
    AcceptBackfill,
    Action,
    ArmCrash,
    Drop,
    Handshake,
    HotBurst,
    HotEdit,
    Reload,
    Replay,
    RestCall,
    ScriptedAct,
    SetOnline,
    Start,
    Step,
    Wipe,
    WireSend,
)
from simulator.plan.faults import compile_fault
from simulator.scenario.model import Device, HotItem, Scenario, ScriptStep
from simulator.scenario.references import template
from simulator.workload.user import UserPlan

DAY = 86_400.0


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    end: float  # when users stop acting and the settle phase begins
    settle: float

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)


def compile_plan(scenario: Scenario) -> Plan:
    end = scenario.duration
    steps: list[Step] = []
    for device in scenario.devices:
        steps += _device(scenario.seed, device, end)
    for fault in scenario.faults:
        steps += compile_fault(fault, end)
    for index, hot in enumerate(scenario.hot_items):
        steps += _hot_item(scenario.seed, index, hot, end)
    steps += _scripted(scenario.seed, scenario.steps, end)
    # Settle: every device is online and hears the browser's online event, so whatever can
    # converge does.
    steps += [Step(end, d.name, SetOnline(True, nudge=True)) for d in scenario.devices]
    # A stable sort: steps at one time keep the order written above.
    steps.sort(key=lambda step: step.t)
    return Plan(tuple(steps), end, scenario.settle)


def _device(seed: int, spec: Device, end: float) -> Iterator[Step]:
    name = spec.name
    yield Step(spec.joins, name, Start())
    for window in spec.offline:
        if window.start < end:
            yield Step(window.start, name, SetOnline(False))
            yield Step(min(window.end, end), name, SetOnline(True))
    timed: list[tuple[float, Action]] = [
        *((at, Reload()) for at in spec.reloads),
        *((at, ArmCrash()) for at in spec.crashes),
        *((at, Wipe()) for at in spec.wipes),
        *((at, Drop()) for at in spec.link.drops.at),
    ]
    for at, action in timed:
        if 0 <= at < end:
            yield Step(at, name, action)
    yield from _random_drops(seed, spec, end)
    user = UserPlan(spec.workload, f"{seed}:{name}:user")
    for t, act in user.acts(spec.joins, end):
        yield Step(t, name, act)


def _random_drops(seed: int, spec: Device, end: float) -> Iterator[Step]:
    if spec.link.drops.per_day <= 0:
        return
    rng = random.Random(f"{seed}:{spec.name}:drops")
    mean_gap = DAY / spec.link.drops.per_day
    t = 0.0
    while True:
        t += -mean_gap * math.log(1.0 - rng.random())
        if t >= end:
            return
        yield Step(t, spec.name, Drop())


def _hot_item(seed: int, index: int, hot: HotItem, end: float) -> Iterator[Step]:
    """Every `every`, each listed device edits one entry they all hold, within `within`."""
    rng = random.Random(f"{seed}:hot:{index}")
    number, t = 0, hot.every
    while t < end:
        yield Step(t, None, HotBurst(index, number, hot.devices, rng.getrandbits(64)))
        for name in hot.devices:
            offset = rng.uniform(0, hot.within)
            yield Step(t + offset, name, HotEdit(index, number, rng.getrandbits(64)))
        number += 1
        t += hot.every


# The scripted `do`s that are a timeline entry of their own.
_TIMELINE: dict[str, Action] = {
    "reload": Reload(),
    "wipe": Wipe(),
    "offline": SetOnline(False),
    "online": SetOnline(True),
    "disconnect": Drop(),
    "accept_backfill": AcceptBackfill(),
}


def _scripted(seed: int, script: tuple[ScriptStep, ...], end: float) -> Iterator[Step]:
    """The scenario's `steps`, each as written. A user act's seed is its own (from the seed and
    the step's index), never a draw from a shared stream: a step added or removed changes no
    random act."""
    for index, spec in enumerate(script):
        if 0 <= spec.at < end:
            yield Step(spec.at, spec.device, _scripted_action(seed, index, spec))


def _scripted_action(seed: int, index: int, spec: ScriptStep) -> Action:
    if spec.do in _TIMELINE:
        return _TIMELINE[spec.do]
    if spec.do == "crash":
        return ArmCrash(spec.when or "during")
    if spec.do == "send":
        assert spec.frame is not None  # the loader requires it
        return WireSend(spec.name, template(spec.frame))
    if spec.do == "request":
        request = {"type": "SYNC_REQUEST", "timestamp": "{{now}}", **(spec.cursor or {})}
        return WireSend(spec.name, template(request))
    if spec.do == "replay":
        assert spec.step is not None  # the loader requires it
        return Replay(spec.name, spec.step)
    if spec.do == "connect":
        return Handshake(spec.name, spec.token or "valid")
    if spec.do in ("push", "pull"):
        body = None if spec.changes is None else template({"changes": spec.changes})
        return RestCall(spec.name, spec.do, body, spec.key)
    return ScriptedAct(
        spec.do,
        spec.item,
        random.Random(f"{seed}:step:{index}").getrandbits(64),
        tuple(sorted((spec.fields or {}).items())),
        spec.title,
        spec.composer,
        spec.status,
        spec.name,
    )
