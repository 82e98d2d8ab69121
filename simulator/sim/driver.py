"""Simulation: a scenario's plan executed in simpy time, recorded into one `History`.

The plan's steps and every device's behaviour are the shared lifecycle's; this module is the
transport only: how simulated time passes and how frames travel. Timers and frame deliveries
are plain simpy timeouts with callbacks, so no process is kept per frame.

Faults of the wire act here, between the protocol objects: a frame can be lost, duplicated,
reordered, slowed by bandwidth, refused for its size (close 1009) or cut by a partition;
connections drop; the server goes down and restarts.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any

import simpy

from simulator import auth
from simulator.history import NOT_SENT, History, Kind
from simulator.lifecycle.lifecycle import Lifecycle
from simulator.lifecycle.runtime import DeviceRuntime
from simulator.plan.compile import Plan, compile_plan
from simulator.protocol.breaks import Break
from simulator.protocol.codec import Frame, FrameType, read_json
from simulator.protocol.coordinator import Outgoing
from simulator.protocol.events import Send
from simulator.protocol.kinds import items_in
from simulator.recording import frame_fields, meta, rest_answer, rest_asked, with_duplicate
from simulator.scenario.loader import Loaded
from simulator.sim import keepalive
from simulator.sim.network import Connection, DeviceLink
from simulator.sim.server import SimServer

HANDSHAKE_RTTS = 1.5  # TCP + HTTP upgrade before the socket is open
CONNECT_TIMEOUT = 10.0  # a connect into a partition fails after this long
KEEPALIVE = frozenset({"PING", "PONG"})
TOO_BIG = "1009 message too big"
# The simulated server's JWT secret: a `connect` step's credentials are checked against it.
SIM_SECRET = "syncsim-simulated-server-secret-0123456789"


class Wire:
    """A device's side of the simulated network: its link and its connections by attempt."""

    def __init__(self, link: DeviceLink, keepalive_rng: random.Random) -> None:
        self.link = link
        self.keepalive_rng = keepalive_rng  # keep-alives draw apart from data frames
        self.conns: dict[int, Connection] = {}
        self.conn_count = 0
        self.timer_generation = 0
        self.armed_deadline: float | None = None


class Simulation:
    def __init__(
        self,
        loaded: Loaded,
        breaks: frozenset[Break] = frozenset(),
        lazy_keepalive: bool = True,
    ) -> None:
        """`breaks`: server rules broken on purpose, to test the conformance probes.
        `lazy_keepalive`: keep-alives accounted for when a connection ends (keepalive.py),
        not simulated PING by PING; False simulates them (the two agree, a test shows)."""
        self.loaded = loaded
        scenario = loaded.scenario
        self.env = simpy.Environment()
        self.history = History()
        self.start_epoch = scenario.start
        self.end = scenario.duration
        self.plan: Plan = compile_plan(scenario)
        self.server = SimServer(self, loaded.profile, breaks)
        self.store = self.server.store
        self.lazy_keepalive = lazy_keepalive
        self.life = Lifecycle(loaded, self, self.history, keepalive=not lazy_keepalive)
        self.catalogue = self.life.catalogue
        self.devices = self.life.devices
        self.wires = {
            name: Wire(
                DeviceLink(d.spec.link, random.Random(f"{scenario.seed}:{name}:link")),
                random.Random(f"{scenario.seed}:{name}:keepalive"),
            )
            for name, d in self.devices.items()
        }
        self.connections: dict[str, tuple[DeviceRuntime, Connection]] = {}

    # -- time and recording -----------------------------------------------------------

    def now(self) -> float:
        return float(self.env.now)

    def record(self, kind: Kind, device: DeviceRuntime | None = None, **fields: Any) -> int:
        return self.life.record(kind, device, **fields)

    def server_now(self) -> float:
        return self.start_epoch + self.env.now

    def later(self, delay: float, action: Callable[[], None]) -> None:
        self.env.timeout(max(0.0, delay)).callbacks.append(lambda _event: action())

    def current(self, device: DeviceRuntime) -> Connection | None:
        """The open connection of the attempt the client is on, if any."""
        conn = self.wires[device.name].conns.get(device.client.attempt)
        return conn if conn is not None and conn.open else None

    # -- timers -----------------------------------------------------------------------

    def arm(self, device: DeviceRuntime, deadline: float | None) -> None:
        wire = self.wires[device.name]
        if deadline == wire.armed_deadline:
            return  # the pending timer already fires then
        wire.armed_deadline = deadline
        wire.timer_generation += 1
        if deadline is None:
            return
        generation = wire.timer_generation

        def fire() -> None:
            if wire.timer_generation == generation:
                wire.armed_deadline = None
                self.life.tick(device)

        self.later(deadline - self.life.device_now(device), fire)

    # -- the wire ---------------------------------------------------------------------

    def _transmit(
        self,
        device: DeviceRuntime,
        conn: Connection,
        direction: str,
        fields: dict[str, Any],
        arrive: Callable[[bool], None],
    ) -> None:
        """Put one frame on the wire; `arrive(duplicate)` runs when (and if) it gets there."""
        if fields["frame_type"] in KEEPALIVE:
            self._keepalive_transit(device, direction, arrive)
            return
        link = self.wires[device.name].link
        path, rng = link.path(direction), link.rng
        if direction in device.blocked:
            self._lost(device, conn, fields, "partition", direction)
            return
        if path.loss and rng.random() < path.loss:
            self._lost(device, conn, fields, "dropped by the network", direction)
            return
        now = self.env.now
        at = conn.schedule(direction, now, fields["bytes"], path, rng)
        if path.reorder and rng.random() < path.reorder:
            self.later(at - now, lambda: arrive(False))  # may overtake: its own arrival
        else:
            self._in_order(conn, direction, conn.in_order(direction, at), lambda: arrive(False))
        if path.duplicate and rng.random() < path.duplicate:
            again = conn.in_order(direction, at + path.delay(rng))
            self._in_order(conn, direction, again, lambda: arrive(True))

    def _keepalive_transit(
        self, device: DeviceRuntime, direction: str, arrive: Callable[[bool], None]
    ) -> None:
        """A PING or PONG on its way: its own draws, no bandwidth, no place in TCP order
        (keepalive.py), so data frames travel the same whether keep-alives are simulated."""
        wire = self.wires[device.name]
        now = self.env.now
        arrival = keepalive.transit(
            wire.link.path(direction), wire.keepalive_rng, now, device.blocked, direction
        )
        if arrival is not None:
            self.later(arrival - now, lambda: arrive(False))

    def _in_order(
        self, conn: Connection, direction: str, at: float, arrive: Callable[[], None]
    ) -> None:
        """An arrival in TCP order. Frames due at the same moment are scheduled from different
        `now`s, and `now + (at - now)` rounds either way, so an arrival event may fire before
        the one due first: each event delivers the oldest frame still on its way instead."""
        waiting = conn.arriving[direction]
        waiting.append(arrive)
        self.later(at - self.env.now, lambda: waiting.popleft()())

    def _lost(
        self,
        device: DeviceRuntime,
        conn: Connection,
        fields: dict[str, Any],
        reason: str,
        direction: str,
    ) -> None:
        """A frame that never arrived; `op` says which way it was going (up: to the server)."""
        if fields["frame_type"] not in KEEPALIVE:
            lost = {**fields, "reason": reason, "op": direction}
            self.record(Kind.FRAME_LOST, device, conn=conn.conn_id, **lost)

    def _sent(
        self, device: DeviceRuntime | None, conn: Connection, fields: dict[str, Any], **extra: Any
    ) -> int:
        if fields["frame_type"] in KEEPALIVE:
            conn.count_keepalive(fields["frame_type"], fields["bytes"])
            return -1
        return self.record(Kind.FRAME_SENT, device, conn=conn.conn_id, **fields, **extra)

    def _arrived(
        self,
        device: DeviceRuntime,
        conn: Connection,
        fields: dict[str, Any],
        duplicate: bool,
        at_server: bool,
    ) -> bool:
        """Whether a frame arriving now is delivered: its end is open and it fits."""
        direction = "up" if at_server else "down"
        if not (conn.server_open if at_server else conn.open):
            self._lost(device, conn, fields, "connection closed in flight", direction)
            return False
        if fields["bytes"] > self.wires[device.name].link.max_message:
            self._lost(device, conn, fields, TOO_BIG, direction)
            self._end(device, conn, TOO_BIG)
            return False
        if fields["frame_type"] not in KEEPALIVE:
            received = with_duplicate(fields) if duplicate else fields
            if at_server:
                self.record(Kind.FRAME_RECV, None, user=conn.user, conn=conn.conn_id, **received)
            else:
                self.record(Kind.FRAME_RECV, device, conn=conn.conn_id, **received)
        return True

    def send(self, device: DeviceRuntime, send: Send) -> None:
        conn = self.current(device)
        fields = frame_fields(send.text, send.write_id, send.frame, send.step)
        if conn is None:
            self.record(Kind.FRAME_LOST, device, **{**fields, "reason": NOT_SENT, "op": "up"})
            return
        self._sent(device, conn, fields)

        def arrive(duplicate: bool) -> None:
            if not (self._arrived(device, conn, fields, duplicate, True) and self.server.up):
                return
            answer = self.life.intercept(device, send.frame)
            if answer is not None:
                self._server_frames([Outgoing(conn.conn_id, answer, answer.encode())])
                return
            self.server.coordinator.receive(conn.conn_id, send.text, self.server_now())
            self._server_frames(self.server.pump(send.write_id))

        self._transmit(device, conn, "up", fields, arrive)

    def _server_frames(self, frames: list[Outgoing]) -> None:
        for out in frames:
            known = self.connections.get(out.conn_id)
            if known is None or not known[1].server_open:
                continue
            device, conn = known
            # The decoded frame spares decoding the text again, where it is the same.
            fields = frame_fields(out.text, None, out.frame if out.faithful else None)
            self._sent(None, conn, fields, user=conn.user)

            def arrive(
                duplicate: bool,
                device: DeviceRuntime = device,
                conn: Connection = conn,
                out: Outgoing = out,
                fields: dict[str, Any] = fields,
            ) -> None:
                if self._arrived(device, conn, fields, duplicate, False):
                    self.life.received(device, out.text)

            self._transmit(device, conn, "down", fields, arrive)

    # -- connections ------------------------------------------------------------------

    def _refusal(self, device: DeviceRuntime) -> str | None:
        refusal = device.refusal()
        if refusal is None and not self.server.up:
            return "server down"
        return refusal

    def open(self, device: DeviceRuntime, attempt: int) -> None:
        wire = self.wires[device.name]
        wire.conn_count += 1
        conn_id = f"{device.name}:{wire.conn_count}"
        handshake = HANDSHAKE_RTTS * 2 * wire.link.delay()
        wait = CONNECT_TIMEOUT if device.blocked else handshake

        def settle() -> None:
            refusal = self._refusal(device)
            if refusal is not None:
                self.record(Kind.CONNECT_FAILED, device, conn=conn_id, reason=refusal)
                self.life.failed(device, attempt)
                return
            conn = Connection(conn_id, device.name, device.user, attempt)
            conn.opened_at = self.env.now
            conn.ping_due = self.life.device_now(device) + self.loaded.profile.ping_interval_s
            wire.conns[attempt] = conn
            self.connections[conn_id] = (device, conn)
            self.record(Kind.CONNECT, device, conn=conn_id)
            self.server.coordinator.open(conn_id, device.user, self.server_now())
            self._server_frames(self.server.pump())
            self.life.opened(device, attempt)

        self.later(wait, settle)

    def close(self, device: DeviceRuntime, attempt: int) -> None:
        conn = self.wires[device.name].conns.get(attempt)
        if conn is not None and conn.open:
            self._end(device, conn, "client closed")
        # A handshake still in flight is discarded by the client when it answers.

    def cut(self, device: DeviceRuntime, reason: str) -> None:
        conn = self.current(device)
        if conn is not None:
            self._end(device, conn, reason)

    def connected(self, device: DeviceRuntime) -> bool:
        return self.current(device) is not None

    def _end(self, device: DeviceRuntime, conn: Connection, reason: str) -> None:
        """End a connection. A close by the client is graceful: the server hears of it once
        what was sent before it has arrived. Any other end is abrupt at both ends; the client
        hears of it."""
        if not conn.open:
            return
        conn.open = False
        self.wires[device.name].conns.pop(conn.attempt, None)
        self.record(Kind.DISCONNECT, device, conn=conn.conn_id, reason=reason)
        if reason == "client closed":
            link = self.wires[device.name].link
            arrives = conn.in_order("up", self.env.now + link.path("up").delay(link.rng))
            self.close_keepalive(device, conn, server_end=arrives)
            self.later(arrives - self.env.now, lambda: self._server_close(conn))
            return
        self.close_keepalive(device, conn)
        self._server_close(conn)
        self.life.closed(device, conn.attempt)

    def _server_close(self, conn: Connection) -> None:
        if conn.server_open:
            conn.server_open = False
            self.server.coordinator.close(conn.conn_id)

    def close_keepalive(
        self, device: DeviceRuntime, conn: Connection, server_end: float | None = None
    ) -> None:
        """One row summing the connection's keep-alive frames (sent by either side), those
        the clients did not send themselves accounted for now. `server_end`: when the server
        hears the connection ended (later than now after the device closed it)."""
        if self.lazy_keepalive:
            self._account_keepalive(device, conn, server_end or self.env.now)
        if conn.keepalive:
            self.record(Kind.KEEPALIVE, device, conn=conn.conn_id, detail=conn.keepalive)
            conn.keepalive = {}

    def _account_keepalive(
        self, device: DeviceRuntime, conn: Connection, server_end: float
    ) -> None:
        """The keep-alives the client did not send itself, added to the tally (keepalive.py)."""
        wire = self.wires[device.name]
        server = self.server.coordinator
        pong = server.pong(self.server_now())
        pings, pongs = keepalive.account(
            keepalive.Connection(conn.opened_at, conn.ping_due, self.env.now, server_end),
            device.clock,
            self.start_epoch,
            self.loaded.profile.ping_interval_s,
            pong is not None,
            wire.link.up,
            wire.link.down,
            wire.keepalive_rng,
            device.blocked_changes,
        )
        ping_bytes = len(Frame.make(FrameType.PING, self.life.device_now(device)).encode())
        pong_bytes = 0 if pong is None else len(server.text_of(pong).encode())
        conn.count_keepalive("PING", ping_bytes, pings)
        conn.count_keepalive("PONG", pong_bytes, pongs)

    def switch_server(self, up: bool) -> None:
        if up:
            self.server.come_back()
            return
        self.server.go_down()
        for device, conn in list(self.connections.values()):
            if conn.open:
                self._end(device, conn, "server down")
            self._server_close(conn)

    def rest_pull(self, device: DeviceRuntime) -> None:
        """POST /api/sync/pull over the device's link: a request, then the answer."""
        link = self.wires[device.name].link
        there, back = link.delay(), link.delay()

        def answer() -> None:
            refusal = self._refusal(device)
            if refusal is not None:
                self.record(Kind.REST, device, op="pull", reason=refusal)
                self.life.pulled(device, None)
                return
            body = self.server.coordinator.rest_pull(device.user, self.server_now())
            size = len(json.dumps(body, separators=(",", ":")).encode("utf-8"))
            self.record(Kind.REST, None, user=device.user, op="pull", bytes=size)
            self.later(back, lambda: self._rest_answered(device, body, size))

        self.later(there, answer)

    def handshake(self, device: DeviceRuntime, token: str, step: str | None) -> None:
        """A `connect` step: the simulated server checks the credentials as syncsim serve
        does (tokens live on the wall clock, so they are minted and checked on it; only the
        status is recorded, so the history does not depend on when it ran)."""
        link = self.wires[device.name].link
        wait = HANDSHAKE_RTTS * 2 * link.delay()

        def answer() -> None:
            refusal = self._refusal(device)
            if refusal is not None:
                detail = {"status": None, "step": step}
                self.record(Kind.HANDSHAKE, device, op=token, reason=refusal, detail=detail)
                return
            user, presented = auth.credentials(token, SIM_SECRET, device.user, time.time())
            loose = Break.AUTH in self.server.breaks
            refused = auth.check(SIM_SECRET, user, presented, any_subject=loose)
            self.record(
                Kind.HANDSHAKE,
                device,
                op=token,
                reason=None if refused is None else refused.reason,
                detail={"status": auth.status(refused), "step": step},
            )

        self.later(wait, answer)

    def rest_call(
        self, device: DeviceRuntime, op: str, body: str | None, key: str | None, step: str | None
    ) -> None:
        link = self.wires[device.name].link
        there, back = link.delay(), link.delay()
        asked = rest_asked(step, key, body, self.now())

        def answer() -> None:
            refusal = self._refusal(device)
            if refusal is not None:
                self.record(Kind.REST, device, op=op, reason=refusal, detail=asked)
                return
            status, answered = self._rest_answer(device.user, op, body, key)
            self._server_frames(self.server.pump())
            reason = None if status == 200 else f"HTTP {status}: {answered.get('error')}"
            detail = {**asked, "status": status, **rest_answer(op, answered)}

            def answered_back() -> None:
                self.record(Kind.REST, device, op=op, reason=reason, detail=detail)

            self.later(back, answered_back)

        self.later(there, answer)

    def _rest_answer(
        self, user: str, op: str, body: str | None, key: str | None
    ) -> tuple[int, dict[str, Any]]:
        coordinator, now = self.server.coordinator, self.server_now()
        if op == "pull":
            return 200, coordinator.rest_pull(user, now)
        try:
            payload = read_json(body or "{}")
        except ValueError as error:
            return 400, {"error": str(error)}
        return coordinator.rest_push(user, payload, key, now)

    def _rest_answered(self, device: DeviceRuntime, body: dict[str, Any], size: int) -> None:
        self.record(Kind.REST, device, op="pull", bytes=size, detail={"items": items_in(body)})
        self.life.pulled(device, body)

    # -- the whole run ----------------------------------------------------------------

    def _execute(self) -> Any:
        for step in self.plan:
            if step.t > self.env.now:
                yield self.env.timeout(step.t - self.env.now)
            self.life.apply(step)

    def run(self) -> History:
        from simulator.sim.preload import preload_all
        from simulator.sim.snapshot import snapshot_all

        scenario = self.loaded.scenario
        self.life.meta(meta(self.loaded, "sim"))
        preload_all(self)
        self.env.process(self._execute())
        self.env.run(until=scenario.duration + scenario.settle)
        snapshot_all(self)
        return self.history
