"""A scripted scenario gives the same verdicts simulated and live against syncsim serve: the
same steps, the same findings, the same precise claims."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SECRET

from simulator.live.commands import play
from simulator.live.managed import ManagedServer
from simulator.runner import run
from simulator.scenario.loader import load

LIBRARY = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.mark.parametrize("profile", ["legacy", "proposed"])
def test_stale_replay_live_gives_the_simulated_verdicts(
    profile: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCSIM_JWT_SECRET", SECRET)
    loaded = load(LIBRARY / "stale_replay.yaml", profile)
    simulated = run(loaded)
    server = ManagedServer.create(tmp_path / "serve", profile)
    server.start()
    try:
        live = play(loaded, server.target(1000.0))
    finally:
        server.stop()
    assert live.verdict is simulated.verdict, live.result.doubts
    assert live.result.counts == simulated.result.counts
    claims = [(o.expectation.text, o.passed) for o in simulated.outcomes]
    assert [(o.expectation.text, o.passed) for o in live.outcomes] == claims
