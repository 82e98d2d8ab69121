"""Simulation: one scenario played in simpy time, recorded into one `History`.

The loop is the sans-I/O loop: feed an input to a protocol object (a frame, a connect, a
disconnect, a timer, a user write), drain what it wants done, re-arm its next deadline. simpy
only orders the events; all sync behaviour lives in `simulator.protocol`. Timers and frame
deliveries are plain simpy timeouts with callbacks, so no process is kept per frame.

Faults act here, between the protocol objects: a frame can be lost, duplicated, reordered,
slowed by bandwidth, refused for its size (close 1009) or cut by a partition; connections drop;
the server goes down and restarts; pages reload, crash while draining, or lose their storage.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import simpy

from simulator.history import NOT_SENT, History, Kind, Record
from simulator.protocol.client import (
    ClientOutput,
    CloseConnection,
    DeviceClient,
    OpenConnection,
    QueueEvent,
    RestPull,
    Send,
)
from simulator.protocol.coordinator import Outgoing
from simulator.protocol.frames import Frame
from simulator.protocol.storage import LocalStorage
from simulator.recording import frame_fields, meta, observe, row
from simulator.scenario.loader import Loaded
from simulator.scenario.model import Device
from simulator.sim.network import Connection, DeviceLink
from simulator.sim.server import SimServer
from simulator.workload.catalogue import build_catalogue
from simulator.workload.entries import EntryWriter
from simulator.world.clock import DeviceClock

HANDSHAKE_RTTS = 1.5  # TCP + HTTP upgrade before the socket is open
CONNECT_TIMEOUT = 10.0  # a connect into a partition fails after this long
PARTITION_DETECT = 30.0  # an open connection into a partition breaks after this long
KEEPALIVE = frozenset({"PING", "PONG"})
TOO_BIG = "1009 message too big"


class SimDevice:
    def __init__(self, spec: Device, sim: Simulation) -> None:
        seed = sim.loaded.scenario.seed
        self.spec = spec
        self.name = spec.name
        self.user = spec.user
        self.clock = DeviceClock.from_spec(spec.clock)
        self.link = DeviceLink(spec.link, random.Random(f"{seed}:{spec.name}:link"))
        rng = random.Random(f"{seed}:{spec.name}:client")
        storage = LocalStorage(quota=spec.quota)
        self.client = DeviceClient(spec.name, spec.user, sim.loaded.profile, rng, storage)
        self.writer = EntryWriter(f"{seed}:{spec.name}:workload", sim.catalogue)
        self.conn: Connection | None = None
        self.conn_count = 0
        self.online = True
        self.blocked: set[str] = set()  # directions cut by a partition: up, down
        self.crash_pending = False
        self.timer_generation = 0
        self.armed_deadline: float | None = None
        self.joined = False


class Simulation:
    def __init__(self, loaded: Loaded) -> None:
        self.loaded = loaded
        scenario = loaded.scenario
        self.env = simpy.Environment()
        self.history = History()
        self.start_epoch = scenario.start
        self.end = scenario.duration
        self.catalogue = build_catalogue(random.Random(f"{scenario.seed}:catalogue"))
        self.server = SimServer(self, loaded.profile)
        self.store = self.server.store
        self.devices = {spec.name: SimDevice(spec, self) for spec in scenario.devices}
        self.connections: dict[str, Connection] = {}

    # -- recording and time -----------------------------------------------------------

    def record(self, kind: Kind, device: SimDevice | None = None, **fields: Any) -> int:
        now = self.env.now
        reading = None if device is None else device.clock.read(now)
        return self.history.add(row(now, kind, device, reading, **fields))

    def device_now(self, device: SimDevice) -> float:
        """The device's clock reading as epoch seconds: the `now` its client is given."""
        return self.start_epoch + device.clock.read(self.env.now)

    def server_now(self) -> float:
        return self.start_epoch + self.env.now

    def later(self, delay: float, action: Callable[[], None]) -> None:
        self.env.timeout(max(0.0, delay)).callbacks.append(lambda _event: action())

    # -- device side ------------------------------------------------------------------

    def pump(self, device: SimDevice) -> None:
        outputs = device.client.drain()
        if device.crash_pending and any(
            isinstance(o, QueueEvent) and o.op == "send" for o in outputs
        ):
            self._crash(device, outputs)
            return
        for output in outputs:
            self._apply(device, output)
        self._rearm(device)

    def _apply(self, device: SimDevice, output: ClientOutput) -> None:
        if isinstance(output, Send):
            self._device_send(device, output)
        elif isinstance(output, OpenConnection):
            self._open(device)
        elif isinstance(output, CloseConnection):
            self.drop(device, "client closed")
        elif isinstance(output, RestPull):
            self._rest_pull(device)
        else:
            observe(self, device, output)

    def _crash(self, device: SimDevice, outputs: list[ClientOutput]) -> None:
        """The page dies halfway through draining its outbox: later frames never leave."""
        device.crash_pending = False
        sends = [i for i, o in enumerate(outputs) if isinstance(o, Send)]
        cut = sends[len(sends) // 2] if sends else len(outputs)
        for index, output in enumerate(outputs):
            if index >= cut and isinstance(output, Send):
                fields = self._frame_fields(output.frame, output.text, output.write_id)
                self.record(Kind.FRAME_LOST, device, **{**fields, "reason": "crash"})
            else:
                self._apply(device, output)
        self.record(
            Kind.CRASH,
            device,
            detail={"sent": len(sends) // 2, "unsent": len(sends) - len(sends) // 2},
        )
        self.reload(device, crash=True)

    def _rearm(self, device: SimDevice) -> None:
        deadline = device.client.next_deadline()
        if deadline == device.armed_deadline:
            return  # the pending timer already fires then
        device.armed_deadline = deadline
        device.timer_generation += 1
        if deadline is None:
            return
        generation = device.timer_generation

        def fire() -> None:
            if device.timer_generation == generation:
                device.armed_deadline = None
                device.client.tick(self.device_now(device))
                self.pump(device)

        self.later(deadline - self.device_now(device), fire)

    def _frame_fields(self, frame: Frame, text: str, write_id: str | None = None) -> dict[str, Any]:
        return frame_fields(text, write_id, frame)

    # -- the wire ---------------------------------------------------------------------

    def _transmit(
        self,
        device: SimDevice,
        conn: Connection,
        direction: str,
        fields: dict[str, Any],
        arrive: Callable[[bool], None],
    ) -> None:
        """Put one frame on the wire; `arrive(duplicate)` runs when (and if) it gets there."""
        path, rng = device.link.path(direction), device.link.rng
        if direction in device.blocked:
            self._lost(device, conn, fields, "partition")
            return
        if path.loss and rng.random() < path.loss:
            self._lost(device, conn, fields, "dropped by the network")
            return
        now = self.env.now
        at = conn.schedule(direction, now, fields["bytes"], path, rng)
        if not (path.reorder and rng.random() < path.reorder):
            at = conn.in_order(direction, at)
        self.later(at - now, lambda: arrive(False))
        if path.duplicate and rng.random() < path.duplicate:
            again = conn.in_order(direction, at + path.delay(rng))
            self.later(again - now, lambda: arrive(True))

    def _lost(
        self, device: SimDevice, conn: Connection, fields: dict[str, Any], reason: str
    ) -> None:
        if fields["frame_type"] not in KEEPALIVE:
            self.record(Kind.FRAME_LOST, device, conn=conn.conn_id, **{**fields, "reason": reason})

    def _sent(
        self, device: SimDevice | None, conn: Connection, fields: dict[str, Any], **extra: Any
    ) -> int:
        if fields["frame_type"] in KEEPALIVE:
            conn.count_keepalive(fields["frame_type"], fields["bytes"])
            return -1
        return self.record(Kind.FRAME_SENT, device, conn=conn.conn_id, **fields, **extra)

    def _arrived(
        self,
        device: SimDevice,
        conn: Connection,
        fields: dict[str, Any],
        duplicate: bool,
        at_server: bool,
    ) -> bool:
        """Whether a frame arriving now is delivered: the connection is open and it fits."""
        if not conn.open:
            self._lost(device, conn, fields, "connection closed in flight")
            return False
        if fields["bytes"] > device.link.max_message:
            self._lost(device, conn, fields, TOO_BIG)
            self.drop(device, TOO_BIG)
            return False
        if fields["frame_type"] not in KEEPALIVE:
            detail = {"duplicate": True} if duplicate else None
            if at_server:
                self.record(
                    Kind.FRAME_RECV,
                    None,
                    user=conn.user,
                    conn=conn.conn_id,
                    **fields,
                    detail=detail,
                )
            else:
                self.record(Kind.FRAME_RECV, device, conn=conn.conn_id, **fields, detail=detail)
        return True

    def _device_send(self, device: SimDevice, send: Send) -> None:
        conn = device.conn
        fields = self._frame_fields(send.frame, send.text, send.write_id)
        if conn is None or not conn.open:
            self.record(Kind.FRAME_LOST, device, **{**fields, "reason": NOT_SENT})
            return
        self._sent(device, conn, fields)

        def arrive(duplicate: bool) -> None:
            if self._arrived(device, conn, fields, duplicate, True) and self.server.up:
                self.server.coordinator.receive(conn.conn_id, send.text, self.server_now())
                self._server_frames(self.server.pump(send.write_id))

        self._transmit(device, conn, "up", fields, arrive)

    def _server_frames(self, frames: list[Outgoing]) -> None:
        for out in frames:
            conn = self.connections.get(out.conn_id)
            if conn is None or not conn.open:
                continue
            device = self.devices[conn.device]
            fields = self._frame_fields(out.frame, out.text)
            self._sent(None, conn, fields, user=conn.user)

            def arrive(
                duplicate: bool,
                device: SimDevice = device,
                conn: Connection = conn,
                out: Outgoing = out,
                fields: dict[str, Any] = fields,
            ) -> None:
                if self._arrived(device, conn, fields, duplicate, False):
                    device.client.receive(out.text, self.device_now(device))
                    self.pump(device)

            self._transmit(device, conn, "down", fields, arrive)

    # -- connections ------------------------------------------------------------------

    def _refusal(self, device: SimDevice) -> str | None:
        if not device.online:
            return "network offline"
        if device.blocked:
            return "partition"
        if not self.server.up:
            return "server down"
        return None

    def _open(self, device: SimDevice) -> None:
        device.conn_count += 1
        conn_id = f"{device.name}:{device.conn_count}"
        handshake = HANDSHAKE_RTTS * 2 * device.link.delay()
        wait = CONNECT_TIMEOUT if device.blocked else handshake

        def settle() -> None:
            refusal = self._refusal(device)
            if refusal is not None:
                self.record(Kind.CONNECT_FAILED, device, conn=conn_id, reason=refusal)
                device.client.connection_failed(self.device_now(device))
            else:
                conn = Connection(conn_id, device.name, device.user)
                device.conn = conn
                self.connections[conn_id] = conn
                self.record(Kind.CONNECT, device, conn=conn_id)
                self.server.coordinator.open(conn_id, device.user, self.server_now())
                self._server_frames(self.server.pump())
                device.client.connection_opened(self.device_now(device))
            self.pump(device)

        self.later(wait, settle)

    def drop(self, device: SimDevice, reason: str) -> None:
        """End the device's connection; the client hears of it unless it closed it itself."""
        conn = device.conn
        if conn is None or not conn.open:
            return
        conn.open = False
        device.conn = None
        self.record(Kind.DISCONNECT, device, conn=conn.conn_id, reason=reason)
        self.close_keepalive(conn)
        self.server.coordinator.close(conn.conn_id)
        if reason != "client closed":
            device.client.connection_closed(self.device_now(device))
            self.pump(device)

    def close_keepalive(self, conn: Connection) -> None:
        """One row summing the connection's keep-alive frames (sent by either side)."""
        if conn.keepalive:
            self.record(
                Kind.KEEPALIVE, self.devices[conn.device], conn=conn.conn_id, detail=conn.keepalive
            )
            conn.keepalive = {}

    def _rest_pull(self, device: SimDevice) -> None:
        """POST /api/sync/pull over the device's link: a request, then the answer."""
        there, back = device.link.delay(), device.link.delay()

        def answer() -> None:
            refusal = self._refusal(device)
            if refusal is not None:
                self.record(Kind.REST, device, op="pull", reason=refusal)
                device.client.rest_pull_done(None, self.device_now(device))
                self.pump(device)
                return
            body = self.server.coordinator.rest_pull(device.user, self.server_now())
            size = len(json.dumps(body, separators=(",", ":")).encode("utf-8"))
            self.record(Kind.REST, None, user=device.user, op="pull", bytes=size)
            self.later(back, lambda: self._rest_answered(device, body, size))

        self.later(there, answer)

    def _rest_answered(self, device: SimDevice, body: dict[str, Any], size: int) -> None:
        items = len(body["entries"]) + len(body["pieces"])
        self.record(Kind.REST, device, op="pull", bytes=size, detail={"items": items})
        device.client.rest_pull_done(body, self.device_now(device))
        self.pump(device)

    # -- the scenario's timeline acts through these -----------------------------------

    def start(self, device: SimDevice) -> None:
        device.joined = True
        device.client.online = device.online
        device.client.start(self.device_now(device))
        self.pump(device)

    def set_online(self, device: SimDevice, online: bool, *, nudge: bool = False) -> None:
        """The device's network goes down or comes back (the browser's offline/online event);
        `nudge` fires the online event even when it already was online."""
        if device.online == online and not nudge:
            return
        if device.online != online:
            device.online = online
            self.record(Kind.NETWORK, device, op="online" if online else "offline")
        if not device.joined:
            return
        if not online:
            self.drop(device, "network offline")
        device.client.network_changed(online, self.device_now(device))
        self.pump(device)

    def partition(self, device: SimDevice, directions: set[str], on: bool) -> None:
        self.record(
            Kind.PARTITION, device, op="start" if on else "end", reason=",".join(sorted(directions))
        )
        device.blocked = device.blocked | directions if on else device.blocked - directions
        conn = device.conn
        if on and directions == {"up", "down"} and conn is not None:
            # Nothing gets through: the connection breaks once keep-alives go unanswered.
            self.later(PARTITION_DETECT, lambda: self._break(device, conn))

    def _break(self, device: SimDevice, conn: Connection) -> None:
        if device.conn is conn and conn.open and device.blocked == {"up", "down"}:
            self.drop(device, "partition")

    def drop_connection(self, device: SimDevice) -> None:
        self.drop(device, "connection dropped")

    def reload(self, device: SimDevice, *, crash: bool = False) -> None:
        if not device.joined:
            return
        self.record(
            Kind.RELOAD,
            device,
            reason="crash" if crash else None,
            detail={"queue_depth": len(device.client.queue)},
        )
        device.client.reload(self.device_now(device))
        self.pump(device)

    def arm_crash(self, device: SimDevice) -> None:
        device.crash_pending = True

    def wipe(self, device: SimDevice) -> None:
        if not device.joined:
            return
        self.record(
            Kind.WIPE,
            device,
            detail={"entries": len(device.client.entries), "pieces": len(device.client.pieces)},
        )
        device.client.wipe(self.device_now(device))
        self.pump(device)

    def run(self) -> History:
        from simulator.sim.preload import preload_all
        from simulator.sim.timeline import schedule_all, snapshot_all

        scenario = self.loaded.scenario
        self.history.add(Record(t=0.0, kind=Kind.META, detail=meta(self.loaded, "sim")))
        preload_all(self)
        schedule_all(self)
        self.env.run(until=scenario.duration + scenario.settle)
        snapshot_all(self)
        return self.history
