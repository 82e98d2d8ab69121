"""localStorage's quota on a client's own changes: it never holds more than the quota.

With the persisted outbox a change is two things in localStorage, the item in its store and
its `ws_outbox_v1` item; one user action writes both, and a full localStorage refuses it
whole (a `WriteFailed`, nothing kept). The outbox item once went in unchecked, so an offline
phone near its quota ended holding more than the quota allows (quota_exhaustion, seed 23).
"""

from __future__ import annotations

import random

import pytest
from loopback import T0, entry_fields

from simulator.protocol.client import DeviceClient, UserWrite, WriteFailed
from simulator.protocol.profile import Profile, resolve
from simulator.protocol.storage import LocalStorage

QUOTA = 6000


def _offline_client(profile: Profile, quota: int = QUOTA) -> DeviceClient:
    client = DeviceClient("phone", "alice", profile, random.Random(1), LocalStorage(quota=quota))
    client.network_changed(False, T0)
    client.start(T0)
    client.drain()
    return client


@pytest.mark.parametrize("name", ["legacy", "proposed", "seq"])
@pytest.mark.parametrize("quota", range(QUOTA, QUOTA + 500, 50))
def test_an_offline_client_never_holds_more_than_its_quota(name: str, quota: int) -> None:
    """Wherever the quota falls between two writes, the write that crosses it is refused."""
    client = _offline_client(resolve(name), quota)
    made: list[str] = []
    failed = 0
    for i in range(40):
        client.create_entry(entry_fields(notes=f"note {i}"), T0 + 10 + i)
        outputs = client.drain()
        assert client.storage.used <= quota
        made += [o.entity_id for o in outputs if isinstance(o, UserWrite)]
        refused = [o for o in outputs if isinstance(o, WriteFailed)]
        failed += len(refused)
        for out in refused:
            # Refused whole: neither the item nor an outbox item for it is kept.
            assert out.entity_id not in client.entries
            assert all(item.entity_id != out.entity_id for item in client.outbox.items())
    assert failed > 0
    assert sorted(client.entries) == sorted(made)
    assert sorted(item.entity_id for item in client.outbox.items()) == sorted(made)


def test_a_full_client_can_still_delete_it_frees_more_than_its_outbox_item_takes() -> None:
    client = _offline_client(resolve("proposed"))
    for i in range(40):
        client.create_entry(entry_fields(notes=f"note {i}"), T0 + 10 + i)
    assert any(isinstance(o, WriteFailed) for o in client.drain())
    gone = sorted(client.entries)[0]
    client.delete_entry(gone, T0 + 100)
    outputs = client.drain()
    assert [o.op for o in outputs if isinstance(o, UserWrite)] == ["delete"]
    assert not any(isinstance(o, WriteFailed) for o in outputs)
    assert gone not in client.entries
    assert client.storage.used <= QUOTA
