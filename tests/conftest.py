"""Shared fixtures: small scenarios written as YAML text, loaded the way users load them.

Every hypothesis test runs under one profile that never judges by the clock: no deadline per
example and no `too_slow` health check, so a slow or loaded machine cannot fail a test
(`Input generation is slow` once did). A test's own `@settings` still sets its example count.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from tests_support import SMALL_YAML

from simulator.scenario.loader import Loaded, load_text

settings.register_profile("syncsim", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("syncsim")


@pytest.fixture(autouse=True)
def _no_ci_job_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under GitHub Actions every report written would append to the job's own summary: the
    tests that want one set GITHUB_STEP_SUMMARY to a file of theirs."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@pytest.fixture
def small() -> Loaded:
    return load_text("small.yaml", SMALL_YAML)
