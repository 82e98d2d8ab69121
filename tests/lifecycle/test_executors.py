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

from simulator.history import Kind
from simulator.lifecycle.lifecycle import Lifecycle
from simulator.live.driver import LiveRun
from simulator.plan.actions import Reload, ScriptedAct, SetOnline, Start, Step
from simulator.plan.compile import compile_plan
from simulator.scenario.loader import Loaded, load, load_text
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
    # Past the loader's bound on time_scale, so the plan plays at once: only its order counts.
    server = LiveServer.model_construct(kind="live", url=url, time_scale=1e12, timeout=5.0)
    run = LiveRun(loaded, server)
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
        scripted = [s for s in scenario.steps if s.device == spec.name and s.do == "reload"]
        timeline = [t for t in spec.reloads if t < scenario.duration]
        assert len(reloads) == len(timeline) + len(scripted)
        settle = Step(scenario.duration, spec.name, SetOnline(True, nudge=True))
        assert settle in mine


SCRIPTED = """\
duration: 3h
profile: proposed
flags: {backfill: confirm}
devices:
  - {name: phone, workload: {entries_per_day: 20, delete_ratio: 0, active_hours: [0, 24]}}
  - {name: laptop, clock: {offset: 5m}, workload: {entries_per_day: 0, pieces_per_day: 0}}
steps:
  - {at: 10m, device: phone, do: create, item: E1, fields: {notes: scripted}}
  - {at: 12m, device: phone, do: add_piece, item: P1, title: Clair de lune, composer: Debussy}
  - {at: 20m, device: phone, do: accept_backfill}
  - {at: 59m, device: laptop, do: offline}
  - {at: 1h, device: laptop, do: update, item: E1}
  - {at: 1h2s, device: phone, do: update, item: E1}
  - {at: 1h1m, device: laptop, do: online}
  - {at: 1h10m, device: phone, do: crash, when: before}
  - {at: 1h20m, device: phone, do: disconnect}
  - {at: 1h30m, device: laptop, do: update_piece, item: P1}
  - {at: 1h40m, device: laptop, do: remove_piece, item: P1}
  - {at: 2h, device: phone, do: delete, item: E1}
  - {at: 2h10m, device: laptop, do: reload}
  - {at: 2h20m, device: laptop, do: wipe}
"""


def test_both_executors_apply_a_scripted_scenario_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scripted steps mixed with the random workload: one plan, applied step for step by both
    executors. What each step then finds differs (the live run's server is down, so the laptop
    never holds E1 and its steps on it are skipped); what they apply does not."""
    loaded = load_text("scripted.yaml", SCRIPTED)
    plan = signature(list(compile_plan(loaded.scenario)))
    assert any(isinstance(action, ScriptedAct) for _, _, action in plan)
    simulation = simulated(loaded)
    assert signature(simulation.applied) == signature(live(loaded, monkeypatch).applied) == plan
    assert not [r for r in simulation.history if r.kind is Kind.STEP_SKIPPED]
