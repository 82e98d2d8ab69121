"""Same scenario and seed, same history, byte for byte; another seed, another history."""

from __future__ import annotations

from pathlib import Path

from simulator.runner import with_seed
from simulator.scenario.loader import Loaded, load
from simulator.sim.driver import Simulation

ROOT = Path(__file__).resolve().parents[2]


def test_same_seed_gives_identical_history(small: Loaded) -> None:
    first = Simulation(small).run()
    second = Simulation(small).run()
    assert list(first.lines()) == list(second.lines())
    assert first.digest() == second.digest()


def test_other_seed_gives_other_history(small: Loaded) -> None:
    assert Simulation(small).run().digest() != Simulation(with_seed(small, 4)).run().digest()


def test_offline_week_is_deterministic() -> None:
    loaded = load(ROOT / "scenarios" / "offline_week.yaml")
    assert Simulation(loaded).run().digest() == Simulation(loaded).run().digest()


def test_history_records_true_and_device_time(small: Loaded) -> None:
    history = Simulation(small).run()
    laptop = [r for r in history if r.device == "laptop" and r.device_time is not None]
    assert laptop
    assert all(abs(r.device_time - r.t - 25 * 60) < 1e-6 for r in laptop)  # type: ignore[operator]
