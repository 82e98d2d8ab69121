"""A 30-day scenario with 10 devices and 2 users runs under every profile, deterministically."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.history import Kind
from simulator.protocol.profile import PROFILES
from simulator.runner import run
from simulator.scenario.loader import load

SCENARIO = Path(__file__).with_name("month_ten_devices.yaml")


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_month_runs_under_every_profile(profile: str) -> None:
    result = run(load(SCENARIO, profile))
    history = result.history
    assert history.meta["profile"]["name"] == profile
    snapshots = {r.device for r in history if r.kind is Kind.SNAPSHOT and r.op == "device"}
    assert len(snapshots) == 10
    users = {r.user for r in history if r.kind is Kind.WRITE}
    assert users == {"alice", "bob"}
    assert result.result.counts["leak"] == 0
    assert result.result.metrics["writes"] > 1000


def test_month_is_deterministic() -> None:
    first = run(load(SCENARIO, "proposed")).history.digest()
    assert run(load(SCENARIO, "proposed")).history.digest() == first
