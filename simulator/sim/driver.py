"""Simulation: one scenario played in simpy time, recorded into one `History`.

The loop is the sans-I/O loop: feed an input to a protocol object (a frame, a connect, a
disconnect, a timer, a user write), drain what it wants done, re-arm its next deadline. simpy
only orders the events; all sync behaviour lives in `simulator.protocol`. Timers and frame
deliveries are plain simpy timeouts with callbacks, so no process is kept per frame.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import simpy

from simulator.history import NOT_SENT, SERVER, History, Kind, Record
from simulator.protocol.client import (
    BackfillEvent,
    ClientOutput,
    CloseConnection,
    CursorMoved,
    DeviceClient,
    Merged,
    MigrationRan,
    OpenConnection,
    PeerError,
    QueueEvent,
    RestPull,
    Send,
    UserWrite,
    WriteFailed,
)
from simulator.protocol.coordinator import Applied, Coordinator, Deduplicated, Outgoing, Refused
from simulator.protocol.entities import fingerprint
from simulator.protocol.frames import Frame, FrameType, entity_key
from simulator.protocol.store import ServerStore
from simulator.scenario.loader import Loaded
from simulator.scenario.model import Device
from simulator.sim.clock import DeviceClock
from simulator.sim.network import Connection, Link
from simulator.workload.catalogue import build_catalogue
from simulator.workload.entries import EntryWriter

HANDSHAKE_RTTS = 1.5  # TCP + HTTP upgrade before the socket is open
KEEPALIVE = frozenset({"PING", "PONG"})


class SimDevice:
    def __init__(self, spec: Device, sim: Simulation) -> None:
        seed = sim.loaded.scenario.seed
        self.spec = spec
        self.name = spec.name
        self.user = spec.user
        self.clock = DeviceClock(spec.clock.offset)
        self.link = Link(
            spec.link.latency, spec.link.jitter, random.Random(f"{seed}:{spec.name}:link")
        )
        rng = random.Random(f"{seed}:{spec.name}:client")
        self.client = DeviceClient(spec.name, spec.user, sim.loaded.profile, rng)
        self.writer = EntryWriter(f"{seed}:{spec.name}:workload", sim.catalogue)
        self.conn: Connection | None = None
        self.conn_count = 0
        self.online = True
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
        self.store = ServerStore(":memory:")
        self.server = Coordinator(self.store, loaded.profile)
        self.devices = {spec.name: SimDevice(spec, self) for spec in scenario.devices}
        self.connections: dict[str, Connection] = {}

    # -- recording --------------------------------------------------------------------

    def record(self, kind: Kind, device: SimDevice | None = None, **fields: Any) -> int:
        t = round(self.env.now, 6)
        if device is None:
            return self.history.add(Record(t=t, kind=kind, device=SERVER, **fields))
        device_time = round(device.clock.read(self.env.now), 6)
        return self.history.add(
            Record(
                t=t,
                kind=kind,
                device=device.name,
                user=device.user,
                device_time=device_time,
                **fields,
            )
        )

    def device_now(self, device: SimDevice) -> float:
        """The device's clock reading as epoch seconds: the `now` its client is given."""
        return self.start_epoch + device.clock.read(self.env.now)

    def server_now(self) -> float:
        return self.start_epoch + self.env.now

    def later(self, delay: float, action: Callable[[], None]) -> None:
        self.env.timeout(delay).callbacks.append(lambda _event: action())

    # -- device side ------------------------------------------------------------------

    def pump(self, device: SimDevice) -> None:
        for output in device.client.drain():
            self._apply(device, output)
        self._rearm(device)

    def _apply(self, device: SimDevice, output: ClientOutput) -> None:
        if isinstance(output, Send):
            self._device_send(device, output)
        elif isinstance(output, OpenConnection):
            self._open(device)
        elif isinstance(output, CloseConnection):
            self._drop(device, "client closed")
        elif isinstance(output, RestPull):
            self._rest_pull(device)
        else:
            self._observe(device, output)

    def _observe(self, device: SimDevice, output: ClientOutput) -> None:
        if isinstance(output, UserWrite):
            self.record(
                Kind.WRITE,
                device,
                write_id=output.write_id,
                op=output.op,
                entity_type=output.entity_type,
                entity_id=output.entity_id,
                fingerprint=output.fingerprint,
                updated_at=output.updated_at,
                reason=None if output.origin == "user" else output.origin,
            )
        elif isinstance(output, WriteFailed):
            self.record(
                Kind.WRITE_FAILED,
                device,
                write_id=output.write_id,
                op=output.op,
                entity_type=output.entity_type,
                entity_id=output.entity_id,
                reason=output.reason,
            )
        elif isinstance(output, MigrationRan):
            self.record(Kind.MIGRATION, device, op=output.name, detail={"changed": output.changed})
        elif isinstance(output, BackfillEvent):
            self.record(Kind.BACKFILL, device, op=output.op, detail={"items": output.items})
        elif isinstance(output, Merged):
            self.record(
                Kind.MERGE,
                device,
                entity_type=output.entity_type,
                entity_id=output.entity_id,
                accepted=output.accepted,
                reason=output.reason,
                frame_type=output.via,
                fingerprint=output.incoming_fingerprint,
                updated_at=output.incoming_updated_at,
                detail={
                    "local_fingerprint": output.local_fingerprint,
                    "local_updated_at": output.local_updated_at,
                    "version": output.incoming_version,
                    "local_version": output.local_version,
                },
            )
        elif isinstance(output, QueueEvent):
            self.record(
                Kind.QUEUE,
                device,
                op=output.op,
                write_id=output.write_id,
                entity_type=output.entity_type,
                entity_id=output.entity_id,
                reason=output.reason or None,
                detail={"depth": output.depth, "message_id": output.message_id or None},
            )
        elif isinstance(output, CursorMoved):
            seq = None if output.seq is None else {"seq": output.seq}
            self.record(
                Kind.CURSOR, device, updated_at=output.value, reason=output.reason, detail=seq
            )
        elif isinstance(output, PeerError):
            self.record(Kind.PEER_ERROR, device, reason=output.reason, detail={"text": output.text})

    def _rearm(self, device: SimDevice) -> None:
        deadline = device.client.next_deadline()
        if deadline == device.armed_deadline:
            return  # the pending timer already fires then
        device.armed_deadline = deadline
        device.timer_generation += 1
        if deadline is None:
            return
        generation = device.timer_generation
        delay = max(0.0, deadline - self.device_now(device))

        def fire() -> None:
            if device.timer_generation == generation:
                device.armed_deadline = None
                device.client.tick(self.device_now(device))
                self.pump(device)

        self.later(delay, fire)

    def _frame_fields(self, frame: Frame, text: str) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "frame_type": frame.type.value,
            "bytes": len(text.encode("utf-8")),
        }
        if frame.type is FrameType.SYNC_RESPONSE and isinstance(frame.get("message"), str):
            fields["reason"] = frame.get("message")
        key = entity_key(frame)
        if key is not None:
            fields["entity_type"], fields["entity_id"] = key
            body = frame.get("entry", frame.get("piece"))
            if isinstance(body, dict):
                fields["fingerprint"] = fingerprint(
                    {k: v for k, v in body.items() if k != "version"}
                )
        return fields

    def _device_send(self, device: SimDevice, send: Send) -> None:
        conn = device.conn
        fields = self._frame_fields(send.frame, send.text)
        if send.write_id is not None:
            fields["write_id"] = send.write_id
        if conn is None or not conn.open:
            self.record(Kind.FRAME_LOST, device, reason=NOT_SENT, **fields)
            return
        row = self._sent(device, conn, fields)
        at = conn.arrival("up", self.env.now, device.link.delay())
        self.later(at - self.env.now, lambda: self._server_receive(conn, send.text, row, fields))

    def _sent(
        self, device: SimDevice | None, conn: Connection, fields: dict[str, Any], **extra: Any
    ) -> int:
        if fields["frame_type"] in KEEPALIVE:
            conn.count_keepalive(fields["frame_type"], fields["bytes"])
            return -1
        return self.record(Kind.FRAME_SENT, device, conn=conn.conn_id, **fields, **extra)

    def _received(
        self, device: SimDevice | None, conn: Connection, fields: dict[str, Any], **extra: Any
    ) -> None:
        if fields["frame_type"] not in KEEPALIVE:
            self.record(Kind.FRAME_RECV, device, conn=conn.conn_id, **fields, **extra)

    def close_keepalive(self, conn: Connection) -> None:
        """One row summing the connection's keep-alive frames (sent by either side)."""
        if conn.keepalive:
            self.record(
                Kind.KEEPALIVE, self.devices[conn.device], conn=conn.conn_id, detail=conn.keepalive
            )
            conn.keepalive = {}

    def _open(self, device: SimDevice) -> None:
        device.conn_count += 1
        conn_id = f"{device.name}:{device.conn_count}"
        handshake = HANDSHAKE_RTTS * 2 * device.link.delay()

        def settle() -> None:
            if not device.online:
                self.record(Kind.CONNECT_FAILED, device, conn=conn_id, reason="network offline")
                device.client.connection_failed(self.device_now(device))
            else:
                conn = Connection(conn_id, device.name, device.user)
                device.conn = conn
                self.connections[conn_id] = conn
                self.record(Kind.CONNECT, device, conn=conn_id)
                self.server.open(conn_id, device.user, self.server_now())
                self._pump_server()
                device.client.connection_opened(self.device_now(device))
            self.pump(device)

        self.later(handshake, settle)

    def _rest_pull(self, device: SimDevice) -> None:
        """POST /api/sync/pull over the device's link: a request, then the answer."""
        there, back = device.link.delay(), device.link.delay()

        def answer() -> None:
            if not device.online:
                self.record(Kind.REST, device, op="pull", reason="network offline")
                device.client.rest_pull_done(None, self.device_now(device))
                self.pump(device)
                return
            body = self.server.rest_pull(device.user, self.server_now())
            size = len(json.dumps(body, separators=(",", ":")).encode("utf-8"))
            self.record(Kind.REST, None, user=device.user, op="pull", bytes=size)
            self._pump_server()
            self.later(back, lambda: self._rest_answered(device, body, size))

        self.later(there, answer)

    def _rest_answered(self, device: SimDevice, body: dict[str, Any], size: int) -> None:
        self.record(
            Kind.REST,
            device,
            op="pull",
            bytes=size,
            detail={"items": len(body["entries"]) + len(body["pieces"])},
        )
        device.client.rest_pull_done(body, self.device_now(device))
        self.pump(device)

    def _drop(self, device: SimDevice, reason: str) -> None:
        conn = device.conn
        if conn is None or not conn.open:
            return
        conn.open = False
        device.conn = None
        self.record(Kind.DISCONNECT, device, conn=conn.conn_id, reason=reason)
        self.close_keepalive(conn)
        self.server.close(conn.conn_id)
        if reason != "client closed":
            device.client.connection_closed(self.device_now(device))

    def _device_receive(
        self, device: SimDevice, conn: Connection, text: str, fields: dict[str, Any]
    ) -> None:
        if not conn.open:
            self.record(
                Kind.FRAME_LOST,
                device,
                conn=conn.conn_id,
                reason="connection closed in flight",
                **fields,
            )
            return
        self._received(device, conn, fields)
        device.client.receive(text, self.device_now(device))
        self.pump(device)

    # -- server side ------------------------------------------------------------------

    def _server_receive(
        self, conn: Connection, text: str, sent_row: int, fields: dict[str, Any]
    ) -> None:
        if not conn.open:
            device = self.devices[conn.device]
            self.record(
                Kind.FRAME_LOST,
                device,
                conn=conn.conn_id,
                reason="connection closed in flight",
                detail={"sent_row": sent_row},
                **fields,
            )
            return
        self._received(None, conn, fields, user=conn.user, detail={"sent_row": sent_row})
        self.server.receive(conn.conn_id, text, self.server_now())
        self._pump_server(fields.get("write_id"))

    def _pump_server(self, write_id: str | None = None) -> None:
        """Deliver what the server wants sent; `write_id` names the write whose frame it
        just handled, so stored changes can be traced to it."""
        for output in self.server.drain():
            if isinstance(output, Outgoing):
                self._server_send(output)
            elif isinstance(output, Applied):
                self.record(
                    Kind.SERVER_APPLIED,
                    None,
                    conn=output.conn_id,
                    user=output.user_id,
                    entity_type=output.entity_type,
                    entity_id=output.entity_id,
                    fingerprint=output.checksum,
                    write_id=write_id,
                    op="delete" if output.deleted else "write",
                    detail={"version": output.version, "seq": output.seq},
                )
            elif isinstance(output, Refused):
                self.record(Kind.SERVER_REFUSED, None, conn=output.conn_id, reason=output.reason)
            elif isinstance(output, Deduplicated):
                self.record(
                    Kind.SERVER_DEDUPLICATED,
                    None,
                    conn=output.conn_id,
                    user=output.user_id,
                    reason=output.key,
                    detail={"seq": output.seq},
                )

    def _server_send(self, out: Outgoing) -> None:
        conn = self.connections.get(out.conn_id)
        if conn is None or not conn.open:
            return
        device = self.devices[conn.device]
        fields = self._frame_fields(out.frame, out.text)
        self._sent(None, conn, fields, user=conn.user)
        at = conn.arrival("down", self.env.now, device.link.delay())
        self.later(at - self.env.now, lambda: self._device_receive(device, conn, out.text, fields))

    # -- scenario timeline ------------------------------------------------------------

    def set_online(self, device: SimDevice, online: bool) -> None:
        if device.online == online:
            return
        device.online = online
        self.record(Kind.NETWORK, device, op="online" if online else "offline")
        if not device.joined:
            return
        if not online:
            self._drop(device, "network offline")
        device.client.network_changed(online, self.device_now(device))
        self.pump(device)

    def reload(self, device: SimDevice) -> None:
        if not device.joined:
            return
        self.record(Kind.RELOAD, device, detail={"queue_depth": len(device.client.queue)})
        device.client.reload(self.device_now(device))
        self.pump(device)

    def start(self, device: SimDevice) -> None:
        device.joined = True
        device.client.online = device.online
        device.client.start(self.device_now(device))
        self.pump(device)

    def run(self) -> History:
        from simulator.sim.preload import preload_all
        from simulator.sim.timeline import schedule_all, snapshot_all

        scenario = self.loaded.scenario
        self.history.add(Record(t=0.0, kind=Kind.META, detail=self._meta()))
        preload_all(self)
        schedule_all(self)
        self.env.run(until=scenario.duration + scenario.settle)
        snapshot_all(self)
        return self.history

    def _meta(self) -> dict[str, Any]:
        scenario = self.loaded.scenario
        return {
            "scenario": scenario.name,
            "seed": scenario.seed,
            "start_epoch": scenario.start,
            "duration": scenario.duration,
            "settle": scenario.settle,
            "profile": self.loaded.profile.flags(),
            "max_frame_bytes": scenario.limits.max_frame_bytes,
            "mode": "sim",
            "devices": {
                d.name: {"user": d.user, "clock_offset": d.clock.offset} for d in scenario.devices
            },
        }
