"""LiveRun: a scenario's plan executed in wall time against a real WebSocket endpoint.

The plan's steps and every device's behaviour are the shared lifecycle's; this module is the
transport only. Time is scenario time mapped to wall time by `time_scale` (scenario seconds
per wall second), and each device's client is given its own clock's reading, so what it
stamps stays skewed.

Every frame passes through the device's FaultProxy, which gives it an absolute due time; one
Lane per connection and direction delivers the frames in due order. Every wait on the endpoint
has a deadline (`server.timeout`): a refused connect, a hung handshake, an early close or
garbage is recorded and the run goes on. Every disconnect records who began it (`syncsim`, the
`endpoint`, or the `network`: the proxy's faults), the close code and reason and, for a close
syncsim began, how long the endpoint took to answer it or that it did not in time.

Keep-alives and the end of the run are wall-clock matters, since a real server sees wall time:
a device PINGs every `server.keepalive` wall seconds (by default the profile's interval, read
as wall seconds), and after the settle phase the run waits, up to `server.quiesce_timeout`,
until every device has settled and no frame has moved for `server.quiet`, and records whether
it did (a `quiescence` row). Then the devices are frozen (no timer, send, reconnect or ping
any more; their connections closed with 1000) and an observer pulls the whole server state
(REST pull, and a catch-up from the epoch for deletes), so the checker judges the live history
exactly as it judges a simulated one, and no device row can come after the snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidHandshake,
    InvalidState,
    InvalidStatus,
)
from websockets.protocol import State

from simulator import auth
from simulator.errors import EndpointError
from simulator.history import IN_FLIGHT, NOT_SENT, RUN_ENDED, History, Kind
from simulator.lifecycle.lifecycle import Lifecycle
from simulator.lifecycle.runtime import DeviceRuntime
from simulator.live.clockfile import ClockSetting, write_clock
from simulator.live.outage import run_command, until_listening
from simulator.live.preflight import preflight
from simulator.live.preload import push_preload
from simulator.live.proxy import FaultProxy, Lane, truncated_frame
from simulator.live.rest import PULL, PUSH, post, rest_default, rest_session
from simulator.live.snapshot import observe_server
from simulator.plan.compile import compile_plan
from simulator.protocol.connection import ConnState
from simulator.protocol.events import Send
from simulator.protocol.kinds import items_in
from simulator.recording import (
    frame_fields,
    meta,
    record_device_snapshot,
    rest_answer,
    rest_asked,
    with_duplicate,
)
from simulator.scenario.loader import Loaded
from simulator.scenario.model import LiveServer

KEEPALIVE = frozenset({"PING", "PONG"})
# Turns of the event loop a cut socket lives on: one to read what its buffer holds, one for
# the library to hand the reader what it parsed, one for the reader to record it.
DRAIN_TURNS = 4
TOO_BIG = "1009 message too big"
CLIENT_CLOSED = "client closed"
# Who began a disconnect (`detail.initiator` of a DISCONNECT row).
SYNCSIM = "syncsim"  # the device's client, or the end of the run
ENDPOINT = "endpoint"  # the server, or its TCP connection ending
NETWORK = "network"  # the fault proxy: a drop, going offline, a partition, the 1009 cap
POLL = 0.05  # wall seconds between looks while waiting for quiescence


@dataclass(frozen=True)
class Up:
    """A frame on its way from the device to the endpoint."""

    send: Send
    fields: dict[str, Any]


@dataclass(frozen=True)
class Down:
    """A frame on its way from the endpoint to the device."""

    text: str
    fields: dict[str, Any]
    duplicate: bool


@dataclass(eq=False)
class Socket:
    """One open connection of a device: the socket, the attempt it answers, its keep-alive
    tally, its two lanes, and why it ended (once it has)."""

    ws: ClientConnection
    conn_id: str
    attempt: int
    up: Lane[Up]
    down: Lane[Down]
    keepalive: dict[str, list[int]] = field(default_factory=dict)
    ended: str | None = None


class Wire:
    """A device's side of the live network: its proxy, sockets by attempt, its timer and what
    it has under way (connects, REST pulls, closing handshakes, readers)."""

    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy
        self.sockets: dict[int, Socket] = {}
        self.conn_count = 0
        self.timer: asyncio.TimerHandle | None = None
        self.connecting: set[asyncio.Task[Any]] = set()
        self.pulling: set[asyncio.Task[Any]] = set()
        self.closing: set[asyncio.Task[Any]] = set()
        self.readers: set[asyncio.Task[Any]] = set()

    def under_way(self) -> set[asyncio.Task[Any]]:
        return self.connecting | self.pulling | self.closing


class LiveRun:
    def __init__(self, loaded: Loaded, server: LiveServer) -> None:
        self.loaded = loaded
        self.server = server
        scenario = loaded.scenario
        self.scale = server.time_scale
        self.timeout = server.timeout
        self.end = scenario.duration
        self.secret = auth.secret_from(server.jwt_secret_env)
        self.history = History()
        self.plan = compile_plan(scenario)
        # The client's PING cadence is its profile's interval in its own (scenario) time; a
        # live endpoint sees wall time, so the live client's interval is the wall interval
        # scaled up, and never shorter than the profile's.
        profile = loaded.profile
        self.keepalive = profile.ping_interval_s if server.keepalive is None else server.keepalive
        ping = max(profile.ping_interval_s, self.keepalive * self.scale)
        live = replace(loaded, profile=replace(profile, ping_interval_s=ping))
        self.life = Lifecycle(live, self, self.history)
        self.devices = self.life.devices
        self.wires = {
            name: Wire(
                FaultProxy(d.spec.link, random.Random(f"{scenario.seed}:{name}:link"), self.scale)
            )
            for name, d in self.devices.items()
        }
        self.rest_url = server.rest_url or rest_default(server.url)
        self._wall0: float | None = None  # monotonic wall time of t=0; None before it
        self._tasks: set[asyncio.Task[Any]] = set()
        self._failures: list[BaseException] = []
        self._moved = 0.0  # monotonic wall time a frame last moved (or a connection changed)
        self._meant: float | None = None  # scenario time of the step being applied, if any
        self._held: float | None = None  # scenario time of the handling under way, if any
        self.frozen = False  # the lifecycle is told nothing any more
        self._switching: set[asyncio.Task[Any]] = set()  # stop/start commands under way
        self._switch_lock = asyncio.Lock()
        self._http: aiohttp.ClientSession | None = None  # the run's REST calls, while it runs

    @property
    def http(self) -> aiohttp.ClientSession:
        assert self._http is not None, "the run has started"
        return self._http

    # -- time and recording -----------------------------------------------------------

    def now(self) -> float:
        """Scenario time: 0 until the run starts (the preload happens before t=0); during one
        handling (a step, news for a client), the moment it began."""
        if self._held is not None:
            return self._held
        if self._wall0 is None:
            return 0.0
        return (time.monotonic() - self._wall0) * self.scale

    @contextlib.contextmanager
    def _instant(self) -> Iterator[None]:
        """Hold scenario time still while one handling runs, as the simulation does: the
        client is given `now` once, and every row it causes is dated then. Read afresh for
        each row, a row came microseconds of wall time after the client's `now`, which is
        seconds of scenario time at a high scale: a resend could look closer to the send
        before it than the client's backoff allows."""
        if self._held is not None:
            yield
            return
        self._held = self.now()
        try:
            yield
        finally:
            self._held = None

    def record(self, kind: Kind, device: DeviceRuntime | None = None, **fields: Any) -> int:
        return self.life.record(kind, device, **fields)

    def _amend(self, index: int, **detail: Any) -> None:
        """Add what was learnt later (a closing handshake's outcome) to row `index`."""
        record = self.history.records[index]
        self.history.records[index] = replace(record, detail={**(record.detail or {}), **detail})

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        """A task's exception is syncsim's own bug: kept, and raised when the run ends."""
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            self._failures.append(error)

    def _spawn_in(self, tasks: set[asyncio.Task[Any]], coroutine: Coroutine[Any, Any, Any]) -> None:
        task = self.spawn(coroutine)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def _tell(self, news: Callable[..., None], *args: Any) -> None:
        """Pass news from the transport to the lifecycle, unless the devices are frozen."""
        if not self.frozen:
            with self._instant():
                news(*args)

    def _wall_meant(self) -> float:
        """The wall moment the proxy dates a frame from: that of the step being applied, when
        the event loop ran it late (a millisecond is seconds of scenario time at a high time
        scale), so a frame sent by a step and a cut planned after its arrival keep the
        simulation's order; otherwise the wall clock now."""
        now = time.monotonic()
        if self._meant is None or self._wall0 is None:
            return now
        return min(now, self._wall0 + self._meant / self.scale)

    def _stir(self) -> None:
        self._moved = time.monotonic()

    def current(self, device: DeviceRuntime) -> Socket | None:
        return self.wires[device.name].sockets.get(device.client.attempt)

    def arm(self, device: DeviceRuntime, deadline: float | None) -> None:
        wire = self.wires[device.name]
        if wire.timer is not None:
            wire.timer.cancel()
        if deadline is None or self.frozen:
            wire.timer = None
            return
        wait = max(0.0, deadline - self.life.device_now(device)) / self.scale
        wire.timer = asyncio.get_running_loop().call_later(wait, self._tick, device)

    def _tick(self, device: DeviceRuntime) -> None:
        self.wires[device.name].timer = None
        self._tell(self.life.tick, device)

    # -- frames -----------------------------------------------------------------------

    def _keepalive(self, sock: Socket, fields: dict[str, Any]) -> bool:
        if fields["frame_type"] not in KEEPALIVE:
            return False
        tally = sock.keepalive.setdefault(fields["frame_type"], [0, 0])
        tally[0] += 1
        tally[1] += fields["bytes"]
        return True

    def _lost(
        self, device: DeviceRuntime, sock: Socket, fields: dict[str, Any], why: str, direction: str
    ) -> None:
        """A frame that never arrived; `op` says which way it was going (up: to the endpoint)."""
        if fields["frame_type"] not in KEEPALIVE:
            lost = {**fields, "reason": why, "op": direction}
            self.record(Kind.FRAME_LOST, device, conn=sock.conn_id, **lost)

    def _judge(self, device: DeviceRuntime, direction: str, size: int) -> Any:
        proxy = self.wires[device.name].proxy
        return proxy.judge(direction, size, self._wall_meant(), device.refusal(), device.blocked)

    def send(self, device: DeviceRuntime, send: Send) -> None:
        fields = frame_fields(send.text, send.write_id, send.frame, send.step)
        sock = self.current(device)
        if sock is None:
            self.record(Kind.FRAME_LOST, device, **{**fields, "reason": NOT_SENT, "op": "up"})
            return
        self._stir()
        if not self._keepalive(sock, fields):
            self.record(Kind.FRAME_SENT, device, conn=sock.conn_id, **fields)
        verdict = self._judge(device, "up", fields["bytes"])
        if verdict.lost is not None:
            self._lost(device, sock, fields, verdict.lost, "up")
            return
        for hop in verdict.hops:
            sock.up.put(hop.at, Up(send, fields))
        if message_id := fields.get("message_id"):
            self._await_answer(device, message_id, verdict.hops[0].at)

    def _await_answer(self, device: DeviceRuntime, message_id: str, arrives: float) -> None:
        """A change that will reach the endpoint at wall moment `arrives` is not sent again
        until `server.answer_wait` after that: at a week's 30,000x the backoff alone sent all
        8 within 22 ms of wall time, before a server busy with a catch-up had answered the
        first (33 to 65 ms), and a change it applied was dropped. A change the network
        swallows is never held: its resends keep the profile's pace, as simulated."""
        # Not before now: a step the event loop ran late dates its frame from when it was
        # meant, but the frame can reach the endpoint no sooner than it is sent.
        wall = time.monotonic()
        until = max(arrives, wall) + self.server.answer_wait
        device_until = self.life.device_now(device) + (until - wall) * self.scale
        device.client.hold_resend(message_id, device_until)

    def _too_big(
        self, device: DeviceRuntime, sock: Socket, fields: dict[str, Any], direction: str
    ) -> bool:
        """The proxy's message-size cap: a bigger frame closes the connection with 1009. It is
        judged when the frame reaches its end of the link, in due order, as the simulation
        does: judged on entry, a big frame would close the connection before the frames ahead
        of it (a WELCOME still in its latency) were delivered."""
        if fields["bytes"] <= device.spec.link.max_message:
            return False
        self._lost(device, sock, fields, TOO_BIG, direction)
        row = self._ended(device, sock, TOO_BIG, NETWORK, 1009, "message too big")
        if row is not None:
            self._close(device, sock, row, 1009, "message too big")
        return True

    def _intercepted(self, device: DeviceRuntime, sock: Socket, item: Up) -> bool:
        """A frame leaves the proxy: answered on the server's behalf (a fault such as
        error_every), or on its way to the endpoint (False)."""
        self._stir()
        answer = self.life.intercept(device, item.send.frame)
        if answer is not None:
            self._incoming(device, sock, answer.encode())
        return answer is not None

    async def _deliver_up(self, device: DeviceRuntime, sock: Socket, item: Up) -> None:
        if self._too_big(device, sock, item.fields, "up") or self._intercepted(device, sock, item):
            return
        try:
            await asyncio.wait_for(sock.ws.send(item.send.text), self.timeout)
        except ConnectionClosed:
            self._lost(device, sock, item.fields, "connection closed before the frame left", "up")
        except TimeoutError:
            why = f"send timed out after {self.timeout:g} s"
            self._lost(device, sock, item.fields, why, "up")

    async def _reader(self, device: DeviceRuntime, sock: Socket) -> None:
        """Read until the connection ends, even once it is closing: a closing handshake can
        only finish if what arrives before the endpoint's close frame is read."""
        error: Exception | None = None
        try:
            async for message in sock.ws:
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                self._incoming(device, sock, text)
        except ConnectionClosed:
            pass
        except (TimeoutError, OSError) as failure:
            error = failure
            self.record(Kind.PEER_ERROR, device, reason=f"connection error: {failure}")
        if self._registered(device, sock):
            initiator, code, close_reason, reason = _who_closed(sock.ws, error)
            self._ended(device, sock, reason, initiator, code, close_reason)

    def _incoming(self, device: DeviceRuntime, sock: Socket, text: str) -> None:
        """A frame from the server's end enters the proxy."""
        fields = frame_fields(text)
        self._stir()
        if not self._registered(device, sock):
            self._lost(device, sock, fields, _in_flight(sock), "down")
            return
        verdict = self._judge(device, "down", fields["bytes"])
        if verdict.lost is not None:
            self._lost(device, sock, fields, verdict.lost, "down")
            return
        for hop in verdict.hops:
            sock.down.put(hop.at, Down(text, fields, hop.duplicate))

    async def _deliver_down(self, device: DeviceRuntime, sock: Socket, item: Down) -> None:
        self._arrive(device, sock, item)

    def _arrive(self, device: DeviceRuntime, sock: Socket, item: Down) -> None:
        self._stir()
        if not self._registered(device, sock):  # a lane closes with its connection: never
            self._lost(device, sock, item.fields, _in_flight(sock), "down")
            return
        if self._too_big(device, sock, item.fields, "down"):
            return
        if not self._keepalive(sock, item.fields):
            received = with_duplicate(item.fields) if item.duplicate else item.fields
            self.record(Kind.FRAME_RECV, device, conn=sock.conn_id, **received)
        self._tell(self.life.received, device, item.text)

    # -- connections ------------------------------------------------------------------

    def _registered(self, device: DeviceRuntime, sock: Socket) -> bool:
        return self.wires[device.name].sockets.get(sock.attempt) is sock

    def _ws_url(self, user: str) -> str:
        token = auth.mint(self.secret, user, time.time())
        return f"{self.server.url}?{urlencode({'userId': user, 'token': token})}"

    def open(self, device: DeviceRuntime, attempt: int) -> None:
        self._spawn_in(self.wires[device.name].connecting, self._connect(device, attempt))

    async def _connect(self, device: DeviceRuntime, attempt: int) -> None:
        wire = self.wires[device.name]
        wire.conn_count += 1
        conn_id = f"{device.name}:{wire.conn_count}"
        refusal = device.refusal()
        if refusal is not None:
            await asyncio.sleep(min(self.timeout, 10.0 / self.scale))
            return self._connect_failed(device, attempt, conn_id, refusal)
        try:
            ws = await connect(
                self._ws_url(device.user),
                open_timeout=self.timeout,
                close_timeout=self.timeout,
                max_size=None,  # browsers take any size; the server's own cap still applies
                ping_interval=None,  # keep-alive is the protocol's PING, not the library's
            )
        except InvalidStatus as error:
            status = error.response.status_code
            return self._connect_failed(device, attempt, conn_id, f"refused: HTTP {status}")
        except (TimeoutError, OSError, InvalidHandshake) as error:
            reason = f"unreachable: {error!r}"[:200]
            return self._connect_failed(device, attempt, conn_id, reason)
        refusal = "the run ended" if self.frozen else device.refusal()
        if refusal is not None:  # went offline while connecting, or the run is ending
            await ws.close()
            return self._connect_failed(device, attempt, conn_id, refusal)
        sock = self.attach(device, ws, conn_id, attempt)
        self._spawn_in(wire.readers, self._reader(device, sock))
        self.life.opened(device, attempt)

    def attach(
        self, device: DeviceRuntime, ws: ClientConnection, conn_id: str, attempt: int
    ) -> Socket:
        """An open connection becomes the device's attempt `attempt`, with empty lanes."""
        sock = Socket(
            ws,
            conn_id,
            attempt,
            up=Lane(lambda item: self._deliver_up(device, sock, item), self.spawn),
            down=Lane(lambda item: self._deliver_down(device, sock, item), self.spawn),
        )
        wire = self.wires[device.name]
        wire.sockets[attempt] = sock
        wire.proxy.reset()
        self._stir()
        self.record(Kind.CONNECT, device, conn=conn_id)
        return sock

    def _connect_failed(
        self, device: DeviceRuntime, attempt: int, conn_id: str, reason: str
    ) -> None:
        self.record(Kind.CONNECT_FAILED, device, conn=conn_id, reason=reason)
        self._tell(self.life.failed, device, attempt)

    def _flush_keepalive(self, device: DeviceRuntime, sock: Socket) -> None:
        if sock.keepalive:
            self.record(Kind.KEEPALIVE, device, conn=sock.conn_id, detail=sock.keepalive)
            sock.keepalive = {}

    def _ended(
        self,
        device: DeviceRuntime,
        sock: Socket,
        reason: str,
        initiator: str,
        code: int | None = None,
        close_reason: str = "",
    ) -> int | None:
        """The socket is gone for the device: the DISCONNECT row (its index is returned, for
        the closing handshake's outcome), what waits in its lanes is lost (except what the
        device sent before closing it itself, which still leaves), and the client hears of
        it unless it closed it."""
        if not self._registered(device, sock):
            return None
        del self.wires[device.name].sockets[sock.attempt]
        sock.ended = reason
        self._stir()
        detail: dict[str, Any] = {"initiator": initiator, "code": code}
        if close_reason:
            detail["close_reason"] = close_reason
        row = self.record(Kind.DISCONNECT, device, conn=sock.conn_id, reason=reason, detail=detail)
        self._flush_keepalive(device, sock)
        why = _in_flight(sock)
        for down in sock.down.close():
            self._lost(device, sock, down.fields, why, "down")
        if initiator != SYNCSIM:
            for up in sock.up.close():
                self._lost(device, sock, up.fields, why, "up")
        if reason != CLIENT_CLOSED:
            self._tell(self.life.closed, device, sock.attempt)
        return row

    def close(self, device: DeviceRuntime, attempt: int) -> None:
        sock = self.wires[device.name].sockets.get(attempt)
        if sock is None:
            return  # a handshake still in flight is discarded by the client when it answers
        row = self._ended(device, sock, CLIENT_CLOSED, SYNCSIM, 1000)
        if row is not None:
            self._close(device, sock, row, 1000)

    def _close(
        self, device: DeviceRuntime, sock: Socket, row: int, code: int, reason: str = ""
    ) -> None:
        wire = self.wires[device.name]
        self._spawn_in(wire.closing, self._closing_handshake(device, sock, row, code, reason))

    async def _closing_handshake(
        self, device: DeviceRuntime, sock: Socket, row: int, code: int, reason: str
    ) -> None:
        """As TCP's close: what was sent before it still reaches the endpoint, then the close
        frame; how long the endpoint took to answer goes into the DISCONNECT row."""
        if not await sock.up.drained(self.timeout):
            for up in sock.up.close():
                self._lost(device, sock, up.fields, "still in flight at the close deadline", "up")
        started = time.monotonic()
        with contextlib.suppress(Exception):  # the library has its own deadline: close_timeout
            await asyncio.wait_for(sock.ws.close(code, reason), self.timeout + 1.0)
        waited = round(time.monotonic() - started, 6)
        answer = sock.ws.protocol.close_rcvd
        if answer is not None:
            self._amend(row, handshake="answered", reply_s=waited, reply_code=answer.code)
        elif waited >= self.timeout:
            self._amend(row, handshake="timed out", waited_s=waited)
        else:
            self._amend(row, handshake="connection lost", waited_s=waited)

    def _flush_due(self, device: DeviceRuntime, sock: Socket) -> None:
        """Before a cut, what was due by now gets there, as in the simulation, where an arrival
        scheduled before the cut happens before it: the event loop's own delay (a millisecond
        is seconds of scenario time at a high time scale) must not turn into frames lost in
        flight. Only what was still on its way is lost."""
        now = self._wall_meant()
        for up in sock.up.take_due(now):
            if self._intercepted(device, sock, up):
                continue
            try:  # one frame, written whole before the abort; the lane's sender is bypassed
                sock.ws.protocol.send_text(up.send.text.encode())
                sock.ws.send_data()
            except (InvalidState, ConnectionClosed, OSError, RuntimeError):  # closing: never left
                why = "connection closed before the frame left"
                self._lost(device, sock, up.fields, why, "up")
        for down in sock.down.take_due(now):
            self._arrive(device, sock, down)

    def cut(self, device: DeviceRuntime, reason: str) -> None:
        sock = self.current(device)
        if sock is None:
            return
        self._flush_due(device, sock)
        # Half a frame, then the socket dies: what a dropped TCP connection looks like. Once a
        # closing handshake has begun (the endpoint's close may be in, its record not yet
        # written by the reader) the socket may be half-closed: nothing more can be written.
        if sock.ws.protocol.state is State.OPEN and not sock.ws.transport.is_closing():
            with contextlib.suppress(RuntimeError):  # written EOF: the library half-closed it
                sock.ws.transport.write(
                    truncated_frame('{"type":"PING","timestamp":"1970-01-01T00:00:00.000Z"}')
                )
        row = self._ended(device, sock, reason, NETWORK)
        if row is not None:
            self._amend(row, handshake="aborted")
        self._spawn_in(self.wires[device.name].closing, self._abort_after_draining(sock))

    async def _abort_after_draining(self, sock: Socket) -> None:
        """The socket dies once the reader has taken what the endpoint sent before the cut
        and the event loop had not yet read (in the socket's buffer, or parsed and queued by
        the library): it was in flight, so it is recorded as lost, as the simulation loses a
        frame on its way at a drop. Aborted at once, it vanished without a row, and a device
        missed a broadcast for good with nothing in the history to say why."""
        for _ in range(DRAIN_TURNS):
            await asyncio.sleep(0)
        sock.ws.transport.abort()

    def connected(self, device: DeviceRuntime) -> bool:
        return self.current(device) is not None

    def switch_server(self, up: bool) -> None:
        self._spawn_in(self._switching, self._switch(up))

    async def _switch(self, up: bool) -> None:
        """Stop or start the endpoint with the user's command; one at a time, in plan order.
        The row is written when the command is done, with how long it took."""
        async with self._switch_lock:
            command = self.server.start_cmd if up else self.server.stop_cmd
            started = time.monotonic()
            deadline = started + self.server.command_timeout
            if command is None:  # the loader refuses this; a plan built otherwise is told
                why: str | None = "no command to stop or start a live endpoint"
            else:
                why = await run_command(command, self.server.command_timeout)
            if why is None and up and not await until_listening(self.server.url, deadline):
                why = f"not accepting connections {self.server.command_timeout:g} s after start"
            self._stir()
            self.record(
                Kind.SERVER_OUTAGE,
                None,
                op="up" if up else "down",
                reason=None if why is None else f"{'start' if up else 'stop'} command: {why}",
                detail={"command": command, "took_s": round(time.monotonic() - started, 6)},
            )

    def rest_pull(self, device: DeviceRuntime) -> None:
        self._spawn_in(self.wires[device.name].pulling, self._rest_pull(device))

    async def _rest_pull(self, device: DeviceRuntime) -> None:
        refusal = device.refusal()
        if refusal is not None:
            self.record(Kind.REST, device, op="pull", reason=refusal)
            self._tell(self.life.pulled, device, None)
            return
        body, error = await post(
            self.http, f"{self.rest_url}{PULL}", device.user, self.secret, self.timeout
        )
        self._stir()
        if body is None:
            self.record(Kind.REST, device, op="pull", reason=error)
        else:
            self.record(
                Kind.REST,
                device,
                op="pull",
                bytes=len(json.dumps(body)),
                detail={"items": items_in(body)},
            )
        self._tell(self.life.pulled, device, body)

    def handshake(self, device: DeviceRuntime, token: str, step: str | None) -> None:
        self._spawn_in(self.wires[device.name].pulling, self._handshake(device, token, step))

    async def _handshake(self, device: DeviceRuntime, token: str, step: str | None) -> None:
        """A `connect` step: a connection of its own with these credentials, closed at once."""
        refusal = device.refusal()
        if refusal is not None:
            detail: dict[str, Any] = {"status": None, "step": step}
            self.record(Kind.HANDSHAKE, device, op=token, reason=refusal, detail=detail)
            return
        user, presented = auth.credentials(token, self.secret, device.user, time.time())
        query = {k: v for k, v in (("userId", user), ("token", presented)) if v is not None}
        status: int | None = 101
        reason: str | None = None
        try:
            ws = await connect(
                f"{self.server.url}?{urlencode(query)}",
                open_timeout=self.timeout,
                close_timeout=self.timeout,
                ping_interval=None,
            )
        except InvalidStatus as error:
            status = error.response.status_code
            reason = f"refused: HTTP {status}"
        except (TimeoutError, OSError, InvalidHandshake) as error:
            status, reason = None, f"unreachable: {error!r}"[:200]
        else:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), self.timeout + 1.0)
        self._stir()
        detail = {"status": status, "step": step}
        self.record(Kind.HANDSHAKE, device, op=token, reason=reason, detail=detail)

    def rest_call(
        self, device: DeviceRuntime, op: str, body: str | None, key: str | None, step: str | None
    ) -> None:
        call = self._rest_call(device, op, body, key, step)
        self._spawn_in(self.wires[device.name].pulling, call)

    async def _rest_call(
        self, device: DeviceRuntime, op: str, body: str | None, key: str | None, step: str | None
    ) -> None:
        asked = rest_asked(step, key, body, self.now())
        refusal = device.refusal()
        if refusal is not None:
            self.record(Kind.REST, device, op=op, reason=refusal, detail=asked)
            return
        path = PULL if op == "pull" else PUSH
        data = (body or "{}").encode("utf-8")
        answer, error = await post(
            self.http, f"{self.rest_url}{path}", device.user, self.secret, self.timeout, data, key
        )
        self._stir()
        status = 200 if answer is not None else _http_status(error)
        detail = {**asked, "status": status}
        if answer is not None:
            detail.update(rest_answer(op, answer))
        self.record(Kind.REST, device, op=op, reason=error or None, detail=detail)

    # -- the whole run ----------------------------------------------------------------

    async def probe(self) -> None:
        """Fail fast, with exit code 3, when the endpoint cannot be reached at all."""
        user = self.loaded.scenario.devices[0].user
        try:
            ws = await connect(self._ws_url(user), open_timeout=self.timeout, ping_interval=None)
        except InvalidStatus as error:
            raise EndpointError(
                f"{self.server.url}: refused our token: HTTP {error.response.status_code}"
            ) from None
        except (TimeoutError, OSError, InvalidHandshake) as error:
            raise EndpointError(f"{self.server.url}: cannot be reached: {error!r}") from None
        await ws.close()

    def _set_server_clock(self, scale: float) -> None:
        """Tell `syncsim serve --clock-file` where scenario time stands (server.clock_file)."""
        if self.server.clock_file is not None:
            setting = ClockSetting(self.life.start_epoch, scale, time.time())
            write_clock(Path(self.server.clock_file), setting)

    async def _sleep_until(self, scenario_time: float) -> None:
        assert self._wall0 is not None, "the run has started"
        wait = self._wall0 + scenario_time / self.scale - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    async def _execute(self) -> None:
        for step in self.plan:
            await self._sleep_until(step.t)
            self._meant = step.t
            try:
                with self._instant():
                    self.life.apply(step)
            finally:
                self._meant = None

    def unsettled(self) -> dict[str, list[str]]:
        """Per device, what it still has under way; a device that has settled is not named."""
        pending: dict[str, list[str]] = {}
        for name, device in self.devices.items():
            wire, why = self.wires[name], []
            if queued := len(device.client.outbox):
                why.append(f"outbox holds {queued}")
            if wire.connecting or device.client.state is ConnState.CONNECTING:
                why.append("connecting")
            elif self.current(device) is None and device.client.reconnecting:
                # A client that gave up reconnecting (its tries spent) does nothing more.
                why.append("waiting to reconnect")
            if moving := sum(len(s.up) + len(s.down) for s in wire.sockets.values()):
                why.append(f"{moving} frames in flight")
            if wire.pulling:
                why.append("REST pull under way")
            if wire.closing:
                why.append("closing a connection")
            if why:
                pending[name] = why
        if self._switching:
            pending["server"] = ["stop or start command under way"]
        return pending

    async def _quiesce(self) -> None:
        """Wait, at most `quiesce_timeout`, until every device has settled and no frame has
        moved for `quiet`; record whether that happened."""
        quiet, started = self.server.quiet, time.monotonic()
        deadline = started + self.server.quiesce_timeout
        while True:
            now = time.monotonic()
            pending, still = self.unsettled(), now - self._moved
            reached = not pending and still >= quiet
            if reached or now >= deadline:
                break
            nap = POLL if pending else min(POLL, quiet - still)
            await asyncio.sleep(max(0.001, min(nap, deadline - now)))
        self.record(
            Kind.QUIESCENCE,
            None,
            reason=None if reached else f"not quiescent after {self.server.quiesce_timeout:g} s",
            detail={
                "reached": reached,
                "waited": round(now - started, 6),
                "pending": pending,
                "quiet_for": round(still, 6),
                "quiet": quiet,
            },
        )

    async def _freeze(self) -> None:
        """Stop the devices: no timer fires, no news reaches a client any more; what is under
        way ends (each within its deadline) and every connection closes with 1000, so nothing
        a device does can come after the snapshot."""
        self.frozen = True
        for wire in self.wires.values():
            if wire.timer is not None:
                wire.timer.cancel()
                wire.timer = None
        if self._switching:
            await asyncio.wait(set(self._switching), timeout=2 * self.server.command_timeout)
        await _wait({t for w in self.wires.values() for t in w.connecting | w.pulling}, self)
        for name, wire in self.wires.items():
            device = self.devices[name]
            for sock in list(wire.sockets.values()):
                row = self._ended(device, sock, RUN_ENDED, SYNCSIM, 1000)
                if row is not None:
                    self._close(device, sock, row, 1000)
        await _wait({t for w in self.wires.values() for t in w.under_way()}, self)
        await _wait({t for w in self.wires.values() for t in w.readers}, self)

    async def run(self) -> History:
        scenario = self.loaded.scenario
        await self.probe()
        user, found, why = await preflight(self._ws_url, self.timeout, self.loaded.profile)
        self.life.meta(
            meta(
                self.loaded,
                "live",
                endpoint=self.server.url,
                time_scale=self.scale,
                keepalive_s=self.keepalive,
            )
        )
        capabilities = [c.to_dict() for c in found]
        self.record(
            Kind.PREFLIGHT, None, user=user, reason=why, detail={"capabilities": capabilities}
        )
        self._http = rest_session()
        try:
            self._set_server_clock(0.0)  # the server's clock stands at the start until t=0
            await push_preload(self)
            self._wall0 = time.monotonic()
            self._set_server_clock(self.scale)
            await self._execute()
            await self._sleep_until(scenario.duration + scenario.settle)
            await self._quiesce()
            await self._freeze()
            await self._snapshot()
        finally:
            await self._shutdown()
            await self._http.close()
        if self._failures:
            raise RuntimeError("a task of the live run failed") from self._failures[0]
        return self.history

    async def _shutdown(self) -> None:
        """Nothing is left running when the loop closes: no task destroyed while pending."""
        self.frozen = True
        for wire in self.wires.values():
            if wire.timer is not None:
                wire.timer.cancel()
            for sock in list(wire.sockets.values()):
                sock.ws.transport.abort()
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _snapshot(self) -> None:
        for device in self.devices.values():
            record_device_snapshot(self, device, device.client)
        users = self.server.users or tuple(sorted({d.user for d in self.devices.values()}))
        for user in users:
            await observe_server(self, user)


def _in_flight(sock: Socket) -> str:
    return f"{IN_FLIGHT} ({sock.ended})"


def _who_closed(ws: ClientConnection, error: Exception | None) -> tuple[str, int, str, str]:
    """Who ended a connection syncsim had not closed: initiator, code, close reason and the
    DISCONNECT row's reason."""
    sent, answer = ws.protocol.close_sent, ws.protocol.close_rcvd
    if sent is not None and (answer is None or not ws.protocol.close_rcvd_then_sent):
        # The websockets library failed the connection itself (a protocol error).
        return SYNCSIM, sent.code, sent.reason, f"failed by syncsim (code {sent.code})"
    if answer is not None:
        return ENDPOINT, answer.code, answer.reason, f"closed by the endpoint (code {answer.code})"
    if error is not None:
        return NETWORK, 1006, "", f"connection lost: {error}"[:200]
    return ENDPOINT, 1006, "", "connection lost: no close frame (code 1006)"


async def _wait(tasks: set[asyncio.Task[Any]], run: LiveRun) -> None:
    """Wait for `tasks`, at most twice the endpoint deadline (each has its own deadline)."""
    if tasks:
        await asyncio.wait(tasks, timeout=2 * run.timeout + 1.0)


def _http_status(reason: str) -> int | None:
    """The status of an answer the REST client turned into a reason (`HTTP 400: ...`)."""
    found = re.match(r"HTTP (\d{3})", reason)
    return int(found.group(1)) if found else None
