"""Ten devices and two users with every kind of fault run under every profile, deterministically.

The realism acceptance scenario is a month (`month_ten_devices.yaml`, about a minute of CPU per
profile and per determinism check), so it is a slow test (`make slow`). The default suite plays
the same scenario with every time divided by ten (`ten_devices_three_days.yaml`: each device,
fault and hot item at the same point of a three-day run) through the same checks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.history import Kind
from simulator.protocol.profile import PROFILES
from simulator.runner import run
from simulator.scenario.loader import load

HERE = Path(__file__).parent
THREE_DAYS = HERE / "ten_devices_three_days.yaml"
MONTH = HERE / "month_ten_devices.yaml"
SLOW = pytest.mark.slow
# (scenario file, the fewest writes its run must hold)
SCENARIOS = [
    pytest.param(THREE_DAYS, 100, id="three_days"),
    pytest.param(MONTH, 1000, id="month", marks=SLOW),
]


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize(("scenario", "writes"), SCENARIOS)
def test_ten_devices_run_under_every_profile(scenario: Path, writes: int, profile: str) -> None:
    result = run(load(scenario, profile))
    history = result.history
    assert history.meta["profile"]["name"] == profile
    snapshots = {r.device for r in history if r.kind is Kind.SNAPSHOT and r.op == "device"}
    assert len(snapshots) == 10
    users = {r.user for r in history if r.kind is Kind.WRITE}
    assert users == {"alice", "bob"}
    happened = {r.kind for r in history}
    assert {Kind.CRASH, Kind.RELOAD, Kind.PARTITION, Kind.SERVER_OUTAGE} <= happened
    assert result.result.counts["leak"] == 0
    assert result.result.metrics["writes"] > writes


@pytest.mark.parametrize(
    "scenario",
    [pytest.param(THREE_DAYS, id="three_days"), pytest.param(MONTH, id="month", marks=SLOW)],
)
def test_ten_devices_are_deterministic(scenario: Path) -> None:
    first = run(load(scenario, "proposed")).history.digest()
    assert run(load(scenario, "proposed")).history.digest() == first
