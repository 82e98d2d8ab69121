"""Shared fixtures: small scenarios written as YAML text, loaded the way users load them."""

from __future__ import annotations

import pytest
from tests_support import SMALL_YAML

from simulator.scenario.loader import Loaded, load_text


@pytest.fixture(autouse=True)
def _no_ci_job_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under GitHub Actions every report written would append to the job's own summary: the
    tests that want one set GITHUB_STEP_SUMMARY to a file of theirs."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@pytest.fixture
def small() -> Loaded:
    return load_text("small.yaml", SMALL_YAML)
