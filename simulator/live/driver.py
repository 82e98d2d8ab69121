"""LiveRun: a scenario's plan executed in wall time against a real WebSocket endpoint.

The plan's steps and every device's behaviour are the shared lifecycle's; this module is the
transport only. Time is scenario time mapped to wall time by `time_scale` (scenario seconds
per wall second), and each device's client is given its own clock's reading, so what it
stamps stays skewed.

Every frame passes through the device's FaultProxy. Every wait on the endpoint has a deadline
(`server.timeout`): a refused connect, a hung handshake, an early close or garbage is recorded
and the run goes on. At the end an observer pulls the whole server state (REST pull, and a
catch-up from the epoch for deletes), so the checker judges the live history exactly as it
judges a simulated one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from simulator.errors import EndpointError, UsageError
from simulator.history import NOT_SENT, History, Kind
from simulator.lifecycle.lifecycle import Lifecycle
from simulator.lifecycle.runtime import DeviceRuntime
from simulator.live import auth
from simulator.live.proxy import FaultProxy, truncated_frame
from simulator.live.snapshot import observe_server
from simulator.plan.compile import compile_plan
from simulator.protocol.events import Send
from simulator.protocol.kinds import items_in
from simulator.recording import frame_fields, meta, record_device_snapshot
from simulator.scenario.loader import Loaded
from simulator.scenario.model import LiveServer

KEEPALIVE = frozenset({"PING", "PONG"})
TOO_BIG = "1009 message too big"
CLIENT_CLOSED = "client closed"


@dataclass(eq=False)
class Socket:
    """One open connection of a device: the socket, the attempt it answers, its keep-alive
    tally and the uplink deliveries still waiting in the proxy."""

    ws: ClientConnection
    conn_id: str
    attempt: int
    keepalive: dict[str, list[int]] = field(default_factory=dict)
    pending: set[asyncio.Task[Any]] = field(default_factory=set)


class Wire:
    """A device's side of the live network: its proxy, sockets by attempt and its timer."""

    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy
        self.sockets: dict[int, Socket] = {}
        self.conn_count = 0
        self.timer: asyncio.TimerHandle | None = None


class LiveRun:
    def __init__(self, loaded: Loaded, server: LiveServer) -> None:
        self.loaded = loaded
        self.server = server
        scenario = loaded.scenario
        self.scale = server.time_scale
        self.timeout = server.timeout
        self.end = scenario.duration
        secret = os.environ.get(server.jwt_secret_env)
        if not secret:
            raise UsageError(
                f"environment variable {server.jwt_secret_env} (the JWT secret) is not set"
            )
        self.secret = secret
        self.history = History()
        self.plan = compile_plan(scenario)
        self.life = Lifecycle(loaded, self, self.history)
        self.devices = self.life.devices
        self.wires = {
            name: Wire(
                FaultProxy(d.spec.link, random.Random(f"{scenario.seed}:{name}:link"), self.scale)
            )
            for name, d in self.devices.items()
        }
        self.rest_url = server.rest_url or _rest_default(server.url)
        self._wall0 = 0.0
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- time and recording -----------------------------------------------------------

    def now(self) -> float:
        return (time.monotonic() - self._wall0) * self.scale

    def record(self, kind: Kind, device: DeviceRuntime | None = None, **fields: Any) -> int:
        return self.life.record(kind, device, **fields)

    def spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def current(self, device: DeviceRuntime) -> Socket | None:
        return self.wires[device.name].sockets.get(device.client.attempt)

    def arm(self, device: DeviceRuntime, deadline: float | None) -> None:
        wire = self.wires[device.name]
        if wire.timer is not None:
            wire.timer.cancel()
        if deadline is None:
            wire.timer = None
            return
        wait = max(0.0, deadline - self.life.device_now(device)) / self.scale
        wire.timer = asyncio.get_running_loop().call_later(wait, self._tick, device)

    def _tick(self, device: DeviceRuntime) -> None:
        self.wires[device.name].timer = None
        self.life.tick(device)

    # -- frames -----------------------------------------------------------------------

    def _keepalive(self, sock: Socket, fields: dict[str, Any]) -> bool:
        if fields["frame_type"] not in KEEPALIVE:
            return False
        tally = sock.keepalive.setdefault(fields["frame_type"], [0, 0])
        tally[0] += 1
        tally[1] += fields["bytes"]
        return True

    def _lost(self, device: DeviceRuntime, sock: Socket, fields: dict[str, Any], why: str) -> None:
        if fields["frame_type"] not in KEEPALIVE:
            self.record(Kind.FRAME_LOST, device, conn=sock.conn_id, **{**fields, "reason": why})

    def _judge(self, device: DeviceRuntime, direction: str, size: int) -> Any:
        proxy = self.wires[device.name].proxy
        return proxy.judge(direction, size, time.monotonic(), device.refusal(), device.blocked)

    def send(self, device: DeviceRuntime, send: Send) -> None:
        fields = frame_fields(send.text, send.write_id, send.frame)
        sock = self.current(device)
        if sock is None:
            self.record(Kind.FRAME_LOST, device, **{**fields, "reason": NOT_SENT})
            return
        if not self._keepalive(sock, fields):
            self.record(Kind.FRAME_SENT, device, conn=sock.conn_id, **fields)
        if self._too_big(device, sock, fields):
            return
        verdict = self._judge(device, "up", fields["bytes"])
        if verdict.lost is not None:
            self._lost(device, sock, fields, verdict.lost)
            return
        for hop in verdict.hops:
            task = self.spawn(self._deliver_up(device, sock, send, hop.delay))
            sock.pending.add(task)
            task.add_done_callback(sock.pending.discard)

    def _too_big(self, device: DeviceRuntime, sock: Socket, fields: dict[str, Any]) -> bool:
        """The proxy's message-size cap: a bigger frame closes the connection with 1009."""
        if fields["bytes"] <= device.spec.link.max_message:
            return False
        self._lost(device, sock, fields, TOO_BIG)
        self.spawn(sock.ws.close(code=1009, reason="message too big"))
        self._ended(device, sock, TOO_BIG)
        return True

    async def _deliver_up(
        self, device: DeviceRuntime, sock: Socket, send: Send, delay: float
    ) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        answer = self.life.intercept(device, send.frame)
        if answer is not None:
            self._incoming(device, sock, answer.encode())
            return
        with contextlib.suppress(ConnectionClosed):
            await asyncio.wait_for(sock.ws.send(send.text), self.timeout)

    async def _reader(self, device: DeviceRuntime, sock: Socket) -> None:
        try:
            async for message in sock.ws:
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                if not self._incoming(device, sock, text):
                    break
        except ConnectionClosed:
            pass
        except (TimeoutError, OSError) as error:
            self.record(Kind.PEER_ERROR, device, reason=f"connection error: {error}")
        if self._registered(device, sock):
            code = sock.ws.close_code
            reason = f"closed by the endpoint (code {code})" if code else "connection lost"
            self._ended(device, sock, reason)

    def _incoming(self, device: DeviceRuntime, sock: Socket, text: str) -> bool:
        """A frame from the server's end enters the proxy; False when it closed the socket."""
        fields = frame_fields(text)
        if self._too_big(device, sock, fields):
            return False
        verdict = self._judge(device, "down", fields["bytes"])
        if verdict.lost is not None:
            self._lost(device, sock, fields, verdict.lost)
            return True
        for hop in verdict.hops:
            self.spawn(self._deliver_down(device, sock, text, fields, hop.delay, hop.duplicate))
        return True

    async def _deliver_down(
        self,
        device: DeviceRuntime,
        sock: Socket,
        text: str,
        fields: dict[str, Any],
        delay: float,
        duplicate: bool,
    ) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        if not self._registered(device, sock):
            self._lost(device, sock, fields, "connection closed in flight")
            return
        if not self._keepalive(sock, fields):
            detail = {"duplicate": True} if duplicate else None
            self.record(Kind.FRAME_RECV, device, conn=sock.conn_id, **fields, detail=detail)
        self.life.received(device, text)

    # -- connections ------------------------------------------------------------------

    def _registered(self, device: DeviceRuntime, sock: Socket) -> bool:
        return self.wires[device.name].sockets.get(sock.attempt) is sock

    def _ws_url(self, user: str) -> str:
        token = auth.mint(self.secret, user, time.time())
        return f"{self.server.url}?{urlencode({'userId': user, 'token': token})}"

    def open(self, device: DeviceRuntime, attempt: int) -> None:
        self.spawn(self._connect(device, attempt))

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
                close_timeout=min(self.timeout, 2.0),
                max_size=None,  # browsers take any size; the server's own cap still applies
                ping_interval=None,  # keep-alive is the protocol's PING, not the library's
            )
        except InvalidStatus as error:
            status = error.response.status_code
            return self._connect_failed(device, attempt, conn_id, f"refused: HTTP {status}")
        except (TimeoutError, OSError, InvalidHandshake) as error:
            reason = f"unreachable: {error!r}"[:200]
            return self._connect_failed(device, attempt, conn_id, reason)
        refusal = device.refusal()
        if refusal is not None:  # went offline while connecting
            await ws.close()
            return self._connect_failed(device, attempt, conn_id, refusal)
        sock = Socket(ws, conn_id, attempt)
        wire.sockets[attempt] = sock
        wire.proxy.reset()
        self.record(Kind.CONNECT, device, conn=conn_id)
        self.spawn(self._reader(device, sock))
        self.life.opened(device, attempt)

    def _connect_failed(
        self, device: DeviceRuntime, attempt: int, conn_id: str, reason: str
    ) -> None:
        self.record(Kind.CONNECT_FAILED, device, conn=conn_id, reason=reason)
        self.life.failed(device, attempt)

    def _flush_keepalive(self, device: DeviceRuntime, sock: Socket) -> None:
        if sock.keepalive:
            self.record(Kind.KEEPALIVE, device, conn=sock.conn_id, detail=sock.keepalive)
            sock.keepalive = {}

    def _ended(self, device: DeviceRuntime, sock: Socket, reason: str) -> None:
        """The socket is gone for the device; the client hears of it unless it closed it."""
        if not self._registered(device, sock):
            return
        del self.wires[device.name].sockets[sock.attempt]
        self.record(Kind.DISCONNECT, device, conn=sock.conn_id, reason=reason)
        self._flush_keepalive(device, sock)
        if reason != CLIENT_CLOSED:
            self.life.closed(device, sock.attempt)

    def close(self, device: DeviceRuntime, attempt: int) -> None:
        sock = self.wires[device.name].sockets.get(attempt)
        if sock is None:
            return  # a handshake still in flight is discarded by the client when it answers
        self._ended(device, sock, CLIENT_CLOSED)
        self.spawn(self._close_gracefully(sock))

    async def _close_gracefully(self, sock: Socket) -> None:
        """As TCP's close: what was sent before it still reaches the endpoint, then the close."""
        if sock.pending:
            await asyncio.wait(set(sock.pending), timeout=self.timeout)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sock.ws.close(code=1000), self.timeout)

    def cut(self, device: DeviceRuntime, reason: str) -> None:
        sock = self.current(device)
        if sock is None:
            return
        # Half a frame, then the socket dies: what a dropped TCP connection looks like.
        sock.ws.transport.write(
            truncated_frame('{"type":"PING","timestamp":"1970-01-01T00:00:00.000Z"}')
        )
        sock.ws.transport.abort()
        self._ended(device, sock, reason)

    def connected(self, device: DeviceRuntime) -> bool:
        return self.current(device) is not None

    def switch_server(self, up: bool) -> None:
        # The loader refuses server outages in live mode; should a plan hold one anyway, the
        # history says it could not be carried out.
        op = "up" if up else "down"
        self.record(Kind.SERVER_OUTAGE, None, op=op, reason="a live endpoint is not ours to stop")

    def rest_pull(self, device: DeviceRuntime) -> None:
        self.spawn(self._rest_pull(device))

    async def _rest_pull(self, device: DeviceRuntime) -> None:
        refusal = device.refusal()
        if refusal is not None:
            self.record(Kind.REST, device, op="pull", reason=refusal)
            self.life.pulled(device, None)
            return
        token = auth.mint(self.secret, device.user, time.time())
        body, error = await asyncio.to_thread(
            _post, f"{self.rest_url}/api/sync/pull", device.user, token, self.timeout
        )
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
        self.life.pulled(device, body)

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

    async def _sleep_until(self, scenario_time: float) -> None:
        wait = self._wall0 + scenario_time / self.scale - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    async def _execute(self) -> None:
        for step in self.plan:
            await self._sleep_until(step.t)
            self.life.apply(step)

    async def run(self) -> History:
        scenario = self.loaded.scenario
        await self.probe()
        self._wall0 = time.monotonic()
        self.life.meta(meta(self.loaded, "live", endpoint=self.server.url, time_scale=self.scale))
        await self._execute()
        await self._sleep_until(scenario.duration + scenario.settle)
        for device in self.devices.values():
            sock = self.current(device)
            if sock is not None:
                self._flush_keepalive(device, sock)
        await self._snapshot()
        for wire in self.wires.values():
            if wire.timer is not None:
                wire.timer.cancel()
            for sock in list(wire.sockets.values()):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(sock.ws.close(), self.timeout)
        for task in list(self._tasks):
            task.cancel()
        return self.history

    async def _snapshot(self) -> None:
        for device in self.devices.values():
            record_device_snapshot(self, device, device.client)
        users = self.server.users or tuple(sorted({d.user for d in self.devices.values()}))
        for user in users:
            await observe_server(self, user)


def _rest_default(ws_url: str) -> str:
    parts = urlsplit(ws_url)
    scheme = "https" if parts.scheme == "wss" else "http"
    return f"{scheme}://{parts.netloc}"


def _post(
    url: str, user: str, token: str, timeout: float, body: bytes = b"{}"
) -> tuple[dict[str, Any] | None, str]:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "X-User-Id": user,
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            parsed = json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return None, f"HTTP {error.code}"
    except (OSError, ValueError) as error:
        return None, f"unreachable: {error!r}"[:200]
    return (parsed, "") if isinstance(parsed, dict) else (None, "answer is not a JSON object")
