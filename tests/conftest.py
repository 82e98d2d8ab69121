"""Shared fixtures: small scenarios written as YAML text, loaded the way users load them."""

from __future__ import annotations

import pytest
from tests_support import SMALL_YAML

from simulator.scenario.loader import Loaded, load_text


@pytest.fixture
def small() -> Loaded:
    return load_text("small.yaml", SMALL_YAML)
