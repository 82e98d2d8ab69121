"""Both executors carry out one plan through one lifecycle: every library scenario, run by the
simpy executor and by the asyncio executor's lifecycle layer, applies the same steps in the
same order, and that order is the compiled plan's.

The asyncio executor is pointed at a closed loopback port with the largest time scale: its
connects are refused at once and its sleeps are nothing, so its lifecycle layer runs the
whole plan in a moment, as it would against a server that is down.
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest

from simulator.lifecycle.lifecycle import Lifecycle
from simulator.live.driver import LiveRun
from simulator.plan.actions import Reload, SetOnline, Start, Step
from simulator.plan.compile import compile_plan
from simulator.scenario.loader import Loaded, load
from simulator.scenario.model import LiveServer
from simulator.sim.driver import Simulation

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = sorted((ROOT / "scenarios").glob("*.yaml"))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def simulated(loaded: Loaded) -> Lifecycle:
    simulation = Simulation(loaded)
    simulation.run()
    return simulation.life


async def _live(loaded: Loaded) -> Lifecycle:
    url = f"ws://127.0.0.1:{closed_port()}/sync/ws"
    run = LiveRun(loaded, LiveServer(kind="live", url=url, time_scale=1_000_000, timeout=5.0))
    run._wall0 = time.monotonic()
    await run._execute()
    for task in list(run._tasks):
        task.cancel()
    await asyncio.gather(*run._tasks, return_exceptions=True)
    for wire in run.wires.values():
        if wire.timer is not None:
            wire.timer.cancel()
    return run.life


def live(loaded: Loaded, monkeypatch: pytest.MonkeyPatch) -> Lifecycle:
    monkeypatch.setenv("SYNCSIM_JWT_SECRET", "a-test-secret-long-enough-for-hs256-keys!")
    return asyncio.run(_live(loaded))


def signature(steps: list[Step]) -> list[tuple[float, str | None, object]]:
    return [(s.t, s.device, s.action) for s in steps]


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_both_executors_apply_the_same_plan(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load(path)
    plan = list(compile_plan(loaded.scenario))
    sim_steps = signature(simulated(loaded).applied)
    live_steps = signature(live(loaded, monkeypatch).applied)
    assert sim_steps == live_steps == signature(plan)


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_the_plan_holds_every_timeline_entry(path: Path) -> None:
    scenario = load(path).scenario
    plan = compile_plan(scenario)
    assert [s.t for s in plan] == sorted(s.t for s in plan)
    for spec in scenario.devices:
        mine = [s for s in plan if s.device == spec.name]
        assert mine[0] == Step(spec.joins, spec.name, Start()) or spec.joins > 0
        reloads = [s for s in mine if isinstance(s.action, Reload)]
        assert len(reloads) == len([t for t in spec.reloads if t < scenario.duration])
        settle = Step(scenario.duration, spec.name, SetOnline(True, nudge=True))
        assert settle in mine
