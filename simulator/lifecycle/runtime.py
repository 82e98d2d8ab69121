"""One device as both executors hold it: its spec, clock, client, what its user types with,
and the world's state around it (network up or down, partitioned directions, a pending crash,
an interceptor on its link). The executor keeps its own transport state beside it."""

from __future__ import annotations

import random

from simulator.plan.actions import ArmCrash, Interceptor
from simulator.protocol.client import DeviceClient
from simulator.protocol.profile import Profile
from simulator.protocol.storage import LocalStorage
from simulator.scenario.model import Device
from simulator.workload.catalogue import Piece
from simulator.workload.entries import EntryWriter
from simulator.world.clock import DeviceClock


class DeviceRuntime:
    def __init__(
        self,
        spec: Device,
        seed: int,
        profile: Profile,
        catalogue: tuple[Piece, ...],
        keepalive: bool = True,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.user = spec.user
        self.clock = DeviceClock.from_spec(spec.clock)
        rng = random.Random(f"{seed}:{spec.name}:client")
        storage = LocalStorage(quota=spec.quota)
        self.client = DeviceClient(spec.name, spec.user, profile, rng, storage, keepalive)
        self.writer = EntryWriter(f"{seed}:{spec.name}:workload", catalogue)
        self.joined = False
        self.online = True
        self.blocked: frozenset[str] = frozenset()  # directions cut by a partition: up, down
        # When `blocked` changed, and to what, in order: a transport that accounts for
        # keep-alives after the fact asks what was blocked when each would have left.
        self.blocked_changes: list[tuple[float, frozenset[str]]] = []
        self.crash_pending: ArmCrash | None = None  # the armed crash, until it happens
        self.interceptor: Interceptor | None = None
        self.intercepted = 0  # frames the interceptor has counted

    def set_blocked(self, now: float, blocked: frozenset[str]) -> None:
        self.blocked = blocked
        self.blocked_changes.append((now, blocked))

    def refusal(self) -> str | None:
        """Why a connect (or a REST request) from this device cannot get through now."""
        if not self.online:
            return "network offline"
        if self.blocked:
            return "partition"
        return None
