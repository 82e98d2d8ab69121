"""The capability preflight against real `syncsim serve` processes: the same profile on both
sides matches everywhere; another profile on the server is named, capability by capability."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from conftest import SECRET, start_server, stop_server

from simulator import auth
from simulator.live.preflight import Capability, preflight
from simulator.protocol.profile import PROFILES


def probe(tmp_path: Path, server_profile: str, client: str) -> list[Capability]:
    served = start_server(tmp_path / f"{server_profile}.db", profile=server_profile)

    def url(user: str) -> str:
        token = auth.mint(SECRET, user, time.time())
        return f"{served.ws_url}?{urlencode({'userId': user, 'token': token})}"

    try:
        _, found, why = asyncio.run(preflight(url, 10.0, PROFILES[client]))
    finally:
        stop_server(served)
    assert why is None
    return found


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_a_server_with_the_clients_own_profile_matches_everywhere(
    tmp_path: Path, profile: str
) -> None:
    found = probe(tmp_path, profile, profile)
    assert [c.name for c in found if not c.matches] == []
    assert any(c.observed is not None for c in found)


def test_a_proposed_client_against_a_legacy_server_is_told_what_it_relies_on(
    tmp_path: Path,
) -> None:
    found = {c.flag: c for c in probe(tmp_path, "legacy", "proposed") if not c.matches}
    assert (found["acks"].expected, found["acks"].observed, found["acks"].relied_on) == (
        "yes",
        "no",
        True,
    )
    assert found["repertoire_bulk"].observed == "none"
    assert found["idempotency"].observed == "no"
    assert found["version_in_broadcasts"].observed == "no"


def test_a_legacy_client_against_a_proposed_server_sees_mismatches_it_does_not_rely_on(
    tmp_path: Path,
) -> None:
    differing = [c for c in probe(tmp_path, "proposed", "legacy") if not c.matches]
    assert {c.flag for c in differing} == {
        "acks",
        "version_in_broadcasts",
        "idempotency",
        "repertoire_bulk",
    }
    assert not any(c.relied_on for c in differing)
