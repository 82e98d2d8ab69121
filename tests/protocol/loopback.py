"""A hand-written driver wiring DeviceClient instances to a Coordinator, with no simpy between.

`Loopback` is the smallest possible driver: it opens connections when a client asks for one,
carries every `Send.text` to `Coordinator.receive` and every `Outgoing.text` to the addressed
client's `receive`, answers a client's `RestPull` at once from `Coordinator.rest_pull`, honours
a client's `CloseConnection`, and keeps a record of what each side said and observed, so a test
can ask "which frames did device B get" or "which queue events did device A report".

It can also misbehave the way a network does, one frame at a time:
- `duplicate_next(device)`: the next frame the device sends reaches the server twice;
- `drop_next(device)`: the next frame the device sends is lost and the connection dies with it
  (the client sees the close; whatever else it sent in the same breath is lost too);
  `drop_next(device, reached_server=True)` lets the frame reach the server but kills the
  connection before any answer gets back;
- `cut_after(device, frame_type)`: the connection dies right after the device receives a frame
  of that type; the rest of what the server had for it is lost;
- `rest_fails = True`: every REST pull fails (`rest_pull_done(None, now)`).

Pumped from tests/protocol (pytest puts the directory on sys.path, there is no __init__.py):
`from loopback import Loopback, ...`.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from simulator.protocol.client import (
    CloseConnection,
    DeviceClient,
    MigrationRan,
    OpenConnection,
    RestPull,
    Send,
)
from simulator.protocol.codec import Frame, FrameType
from simulator.protocol.coordinator import Coordinator, Outgoing
from simulator.protocol.entities import clean_entry
from simulator.protocol.profile import Profile, resolve
from simulator.protocol.store import Row, ServerStore
from simulator.protocol.timefmt import iso_z

T0 = 1772409600.0  # 2026-03-02T00:00:00Z
HOUR = 3600.0
DAY = 86400.0
LEGACY = resolve("legacy")


def entry_fields(**overrides: Any) -> dict[str, Any]:
    """What a user types for one logbook entry (the client adds id and the times)."""
    fields: dict[str, Any] = {
        "timestamp": int(T0 * 1000),
        "duration": 30,
        "type": "practice",
        "instrument": "piano",
        "pieces": [{"title": "Prelude in C", "composer": "J.S. Bach"}],
    }
    fields.update(overrides)
    return fields


def stored_entry(entry_id: str, updated_at: float, **overrides: Any) -> dict[str, Any]:
    """A server-clean entry as another device would have written it."""
    stamp = iso_z(updated_at)
    return clean_entry(
        {
            "id": entry_id,
            **entry_fields(**overrides),
            "createdAt": stamp,
            "updatedAt": stamp,
            "device_id": "elsewhere",
        }
    )


def make_client(
    device: str, user: str = "alice", seed: int = 1, profile: Profile = LEGACY
) -> DeviceClient:
    return DeviceClient(device, user, profile, random.Random(seed))


@dataclass
class _Drop:
    type_: FrameType | None
    reached_server: bool


class Loopback:
    """One coordinator and any number of clients, wired directly."""

    def __init__(self, profile: Profile = LEGACY, store: ServerStore | None = None) -> None:
        self.profile = profile
        self.store = store if store is not None else ServerStore(":memory:")
        self.coord = Coordinator(self.store, profile)
        self.conn_of: dict[str, str] = {}  # device id -> open connection id
        self.client_of: dict[str, DeviceClient] = {}  # connection id -> client
        self.sent: dict[str, list[Frame]] = defaultdict(list)  # frames each device sent
        self.got: dict[str, list[Frame]] = defaultdict(list)  # frames each device received
        self.seen: dict[str, list[Any]] = defaultdict(list)  # each device's other outputs
        self.server: list[Any] = []  # Applied, Refused, Deduplicated
        self.wants_open: set[str] = set()
        # Network misbehaviour, and its record.
        self.rest_fails = False
        self.rest_pulls: dict[str, int] = defaultdict(int)
        self.closed_by_client: dict[str, list[str]] = defaultdict(list)  # device -> conn ids
        self.lost: dict[str, list[Frame]] = defaultdict(list)  # frames the network ate
        self.duplicated: dict[str, list[Frame]] = defaultdict(list)
        self._duplicate: dict[str, list[FrameType | None]] = defaultdict(list)
        self._drop: dict[str, list[_Drop]] = defaultdict(list)
        self._cut_after: dict[str, FrameType] = {}
        self._dying: set[str] = set()  # connections whose death is being played out
        self._conns = 0

    def client(self, device: str, user: str = "alice", seed: int | None = None) -> DeviceClient:
        """A new client speaking this loopback's profile."""
        seed = seed if seed is not None else sum(map(ord, device + user))
        return make_client(device, user, seed, self.profile)

    # -- transport --------------------------------------------------------------------

    def connect(self, client: DeviceClient, now: float, *, start: bool = True) -> str:
        if start:
            client.start(now)
        self._drain_client(client, now)
        assert client.device_id in self.wants_open, "the client did not ask for a connection"
        self.wants_open.discard(client.device_id)
        self._conns += 1
        conn_id = f"{client.device_id}/{self._conns}"
        self.conn_of[client.device_id] = conn_id
        self.client_of[conn_id] = client
        self.coord.open(conn_id, client.user_id, now)
        client.connection_opened(now)
        self.pump(now)
        return conn_id

    def disconnect(self, client: DeviceClient, now: float) -> None:
        """The connection ends (the network, or the server): both sides see the close."""
        conn_id = self.conn_of.pop(client.device_id)
        del self.client_of[conn_id]
        self.coord.close(conn_id)
        client.connection_closed(now)
        self._drain_client(client, now)

    def reconnect(self, client: DeviceClient, now: float) -> str:
        """Let the client's reconnect timer fire at `now` (or later) and connect it."""
        client.tick(now)
        return self.connect(client, now, start=False)

    def tick(self, client: DeviceClient, now: float) -> None:
        client.tick(now)
        self.settle(client, now)

    # -- misbehaviour -------------------------------------------------------------------

    def duplicate_next(self, device: str, type_: FrameType | None = None) -> None:
        """The next frame the device sends (of `type_`, if given) reaches the server twice."""
        self._duplicate[device].append(type_)

    def drop_next(
        self, device: str, type_: FrameType | None = None, *, reached_server: bool = False
    ) -> None:
        """The connection dies with the device's next frame (of `type_`) in flight."""
        self._drop[device].append(_Drop(type_, reached_server))

    def cut_after(self, device: str, type_: FrameType) -> None:
        """The connection dies right after the device receives a frame of `type_`."""
        self._cut_after[device] = type_

    @staticmethod
    def _matches(wanted: FrameType | None, frame: Frame) -> bool:
        return wanted is None or wanted is frame.type

    def _kill(self, device: str, now: float) -> None:
        """The connection of `device` dies: the server forgets it, the client sees the close.

        Anything the server still had for the connection is lost with it."""
        conn_id = self.conn_of.pop(device)
        client = self.client_of.pop(conn_id)
        self.coord.close(conn_id)
        for out in self.coord.drain():
            if isinstance(out, Outgoing) and out.conn_id == conn_id:
                self.lost[device].append(out.frame)
            elif isinstance(out, Outgoing):
                self._deliver(out, now)
            else:
                self.server.append(out)
        client.connection_closed(now)

    # -- shuttling --------------------------------------------------------------------

    def _send(self, client: DeviceClient, out: Send, now: float) -> None:
        device = client.device_id
        if device in self._dying:  # sent after the frame that killed the connection
            self.lost[device].append(out.frame)
            return
        conn_id = self.conn_of.get(device)
        assert conn_id is not None, f"{device} sent {out.text} while closed"
        assert json.loads(out.text)["type"] == out.frame.type.value
        self.sent[device].append(out.frame)
        drops = self._drop[device]
        if drops and self._matches(drops[0].type_, out.frame):
            drop = drops.pop(0)
            if drop.reached_server:
                self.coord.receive(conn_id, out.text, now)
            else:
                self.lost[device].append(out.frame)
            self._dying.add(device)
            return
        self.coord.receive(conn_id, out.text, now)
        dups = self._duplicate[device]
        if dups and self._matches(dups[0], out.frame):
            dups.pop(0)
            self.duplicated[device].append(out.frame)
            self.coord.receive(conn_id, out.text, now)

    def _close_by_client(self, client: DeviceClient) -> None:
        conn_id = self.conn_of.pop(client.device_id, None)
        if conn_id is None:
            return
        del self.client_of[conn_id]
        self.coord.close(conn_id)
        self.closed_by_client[client.device_id].append(conn_id)

    def _drain_client(self, client: DeviceClient, now: float) -> bool:
        moved = False
        while True:
            outputs = client.drain()
            if not outputs:
                break
            moved = True
            for out in outputs:
                if isinstance(out, Send):
                    self._send(client, out, now)
                    continue
                self.seen[client.device_id].append(out)
                if isinstance(out, OpenConnection):
                    self.wants_open.add(client.device_id)
                elif isinstance(out, CloseConnection):
                    self._close_by_client(client)
                elif isinstance(out, RestPull):
                    self.rest_pulls[client.device_id] += 1
                    body = None if self.rest_fails else self.coord.rest_pull(client.user_id, now)
                    client.rest_pull_done(body, now)
            if client.device_id in self._dying:
                self._dying.discard(client.device_id)
                self._kill(client.device_id, now)
        return moved

    def _deliver(self, out: Outgoing, now: float) -> None:
        client = self.client_of.get(out.conn_id)
        assert client is not None, f"server wrote to unknown connection {out.conn_id}"
        device = client.device_id
        self.got[device].append(out.frame)
        client.receive(out.text, now)
        cut = self._cut_after.get(device)
        if cut is not None and out.frame.type is cut:
            del self._cut_after[device]
            self._drain_client(client, now)
            self._kill(device, now)

    def _drain_server(self, now: float) -> bool:
        moved = False
        for out in self.coord.drain():
            moved = True
            if isinstance(out, Outgoing):
                if out.conn_id not in self.client_of:
                    # The connection died while this frame was on its way.
                    owner = out.conn_id.split("/")[0]
                    self.lost[owner].append(out.frame)
                    continue
                self._deliver(out, now)
            else:
                self.server.append(out)
        return moved

    def pump(self, now: float) -> None:
        for _ in range(10_000):
            moved = self._drain_server(now)
            for client in list(self.client_of.values()):
                moved = self._drain_client(client, now) or moved
            if not moved:
                return
        raise AssertionError("loopback never went quiet")

    def settle(self, client: DeviceClient, now: float) -> None:
        """Deliver what a client produced after a direct call (a write, a tick)."""
        self._drain_client(client, now)
        self.pump(now)

    # -- views ------------------------------------------------------------------------

    def types_got(self, device: str) -> list[str]:
        return [f.type.value for f in self.got[device]]

    def types_sent(self, device: str) -> list[str]:
        return [f.type.value for f in self.sent[device]]

    def of(self, device: str, kind: type) -> list[Any]:
        return [o for o in self.seen[device] if isinstance(o, kind)]

    def server_of(self, kind: type) -> list[Any]:
        return [o for o in self.server if isinstance(o, kind)]

    def mark(self) -> dict[str, int]:
        """How many frames each device has received so far, to look only at what follows."""
        return {d: len(frames) for d, frames in self.got.items()}

    def got_since(self, mark: dict[str, int], device: str) -> list[Frame]:
        return self.got[device][mark.get(device, 0) :]


def actions(client: DeviceClient) -> list[Any]:
    """What the client asks of its driver, without the migration reports (legacy runs its
    migrations at every page load)."""
    return [o for o in client.drain() if not isinstance(o, MigrationRan)]


def live_rows(store: ServerStore, user: str) -> dict[str, Row]:
    return {r.entity_id: r for r in store.rows(user) if not r.deleted}


def snapshot(store: ServerStore) -> list[Row]:
    return list(store.rows())
