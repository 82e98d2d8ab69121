"""What an executor provides the lifecycle: how time passes and how frames travel.

The simpy executor implements it with simulated links; the asyncio executor with real sockets
behind a fault proxy. Everything else (what a step does to a device, what its client wants,
what the history records) is the lifecycle's, written once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from simulator.protocol.events import Send

if TYPE_CHECKING:
    from simulator.lifecycle.runtime import DeviceRuntime


class Transport(Protocol):
    def now(self) -> float:
        """True scenario time, seconds since the start."""
        ...

    def send(self, device: DeviceRuntime, send: Send) -> None:
        """Put a frame on the device's open connection (or record it as not sent)."""
        ...

    def open(self, device: DeviceRuntime, attempt: int) -> None:
        """Start connect attempt `attempt`; answer the client with its outcome later."""
        ...

    def close(self, device: DeviceRuntime, attempt: int) -> None:
        """The client closes attempt `attempt`: gracefully, what it sent still arrives."""
        ...

    def cut(self, device: DeviceRuntime, reason: str) -> None:
        """The network cuts the device's open connection: what is in flight is lost."""
        ...

    def connected(self, device: DeviceRuntime) -> bool:
        """Whether the device has an open connection now."""
        ...

    def rest_pull(self, device: DeviceRuntime) -> None:
        """POST /api/sync/pull for the device; answer the client later."""
        ...

    def arm(self, device: DeviceRuntime, deadline: float | None) -> None:
        """Call the lifecycle's `tick` at device-clock time `deadline` (None: never)."""
        ...

    def switch_server(self, up: bool) -> None:
        """The server stops or starts again."""
        ...

    def handshake(self, device: DeviceRuntime, token: str, step: str | None) -> None:
        """Open a connection as the device's user with the credentials `token` names, record
        the answer to the upgrade (a HANDSHAKE row) and close it again."""
        ...

    def rest_call(
        self, device: DeviceRuntime, op: str, body: str | None, key: str | None, step: str | None
    ) -> None:
        """POST /api/sync/`op` (push or pull) as the device's user, `body` as its text and
        `key` as X-Idempotency-Key; record the answer (a REST row). No client hears of it."""
        ...
