"""LiveRun: one scenario played in wall time against a real WebSocket endpoint.

The loop is the simulation's, on asyncio: feed an input to a DeviceClient (a frame, a connect,
a disconnect, a timer, a user write), drain what it wants done, re-arm its next deadline. Time
is scenario time mapped to wall time by `time_scale` (scenario seconds per wall second), and
each device's client is given its own clock's reading, so what it stamps stays skewed.

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
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from simulator.errors import EndpointError, UsageError
from simulator.history import NOT_SENT, History, Kind, Record
from simulator.live import auth
from simulator.live.proxy import FaultProxy, truncated_frame
from simulator.live.snapshot import observe_server
from simulator.protocol.client import (
    ClientOutput,
    CloseConnection,
    DeviceClient,
    OpenConnection,
    RestPull,
    Send,
)
from simulator.protocol.storage import LocalStorage
from simulator.recording import frame_fields, meta, observe, record_device_snapshot, row
from simulator.scenario.loader import Loaded
from simulator.scenario.model import Device, LiveServer
from simulator.workload.catalogue import build_catalogue
from simulator.workload.entries import EntryWriter
from simulator.workload.user import UserPlan
from simulator.world.clock import DeviceClock

KEEPALIVE = frozenset({"PING", "PONG"})
TOO_BIG = "1009 message too big"


class LiveDevice:
    def __init__(self, spec: Device, run: LiveRun) -> None:
        seed = run.loaded.scenario.seed
        self.spec, self.name, self.user = spec, spec.name, spec.user
        self.clock = DeviceClock.from_spec(spec.clock)
        rng = random.Random(f"{seed}:{spec.name}:client")
        storage = LocalStorage(quota=spec.quota)
        self.client = DeviceClient(spec.name, spec.user, run.loaded.profile, rng, storage)
        self.writer = EntryWriter(f"{seed}:{spec.name}:workload", run.catalogue)
        self.plan = UserPlan(spec.workload, f"{seed}:{spec.name}:user")
        self.proxy = FaultProxy(spec.link, random.Random(f"{seed}:{spec.name}:link"), run.scale)
        self.ws: ClientConnection | None = None
        self.conn_id: str | None = None
        self.conn_count = 0
        self.timer: asyncio.TimerHandle | None = None
        self.joined = False
        self.keepalive: dict[str, list[int]] = {}


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
        self.catalogue = build_catalogue(random.Random(f"{scenario.seed}:catalogue"))
        self.devices = {spec.name: LiveDevice(spec, self) for spec in scenario.devices}
        self.rest_url = server.rest_url or _rest_default(server.url)
        self._wall0 = 0.0
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- time and recording -----------------------------------------------------------

    def scenario_t(self) -> float:
        return (time.monotonic() - self._wall0) * self.scale

    def device_now(self, device: LiveDevice) -> float:
        return self.loaded.scenario.start + device.clock.read(self.scenario_t())

    def record(self, kind: Kind, device: LiveDevice | None = None, **fields: Any) -> int:
        t = round(self.scenario_t(), 6)
        reading = None if device is None else device.clock.read(t)
        return self.history.add(row(t, kind, device, reading, **fields))

    def spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def at(self, scenario_time: float, action: Callable[[], None]) -> None:
        """Run `action` when the scenario clock reaches `scenario_time`."""
        loop = asyncio.get_running_loop()
        loop.call_at(self._wall0 + scenario_time / self.scale, action)

    # -- the device loop --------------------------------------------------------------

    def pump(self, device: LiveDevice) -> None:
        for output in device.client.drain():
            self._apply(device, output)
        self._rearm(device)

    def _apply(self, device: LiveDevice, output: ClientOutput) -> None:
        if isinstance(output, Send):
            self._send(device, output)
        elif isinstance(output, OpenConnection):
            self.spawn(self._connect(device))
        elif isinstance(output, CloseConnection):
            self._close(device, "client closed")
        elif isinstance(output, RestPull):
            self.spawn(self._rest_pull(device))
        else:
            observe(self, device, output)

    def _rearm(self, device: LiveDevice) -> None:
        if device.timer is not None:
            device.timer.cancel()
        deadline = device.client.next_deadline()
        if deadline is None:
            device.timer = None
            return
        wait = max(0.0, deadline - self.device_now(device)) / self.scale
        device.timer = asyncio.get_running_loop().call_later(wait, self._tick, device)

    def _tick(self, device: LiveDevice) -> None:
        device.timer = None
        device.client.tick(self.device_now(device))
        self.pump(device)

    # -- frames -----------------------------------------------------------------------

    def _count_keepalive(self, device: LiveDevice, fields: dict[str, Any]) -> bool:
        if fields["frame_type"] not in KEEPALIVE:
            return False
        tally = device.keepalive.setdefault(fields["frame_type"], [0, 0])
        tally[0] += 1
        tally[1] += fields["bytes"]
        return True

    def _send(self, device: LiveDevice, send: Send) -> None:
        fields = frame_fields(send.text, send.write_id)
        ws = device.ws
        if ws is None:
            self.record(Kind.FRAME_LOST, device, **{**fields, "reason": NOT_SENT})
            return
        if not self._count_keepalive(device, fields):
            self.record(Kind.FRAME_SENT, device, conn=device.conn_id, **fields)
        if self._too_big(device, fields):
            return
        verdict = device.proxy.judge("up", fields["bytes"], time.monotonic())
        if verdict.lost is not None:
            if fields["frame_type"] not in KEEPALIVE:
                self.record(
                    Kind.FRAME_LOST,
                    device,
                    conn=device.conn_id,
                    **{**fields, "reason": verdict.lost},
                )
            return
        for hop in verdict.hops:
            self.spawn(self._deliver_up(ws, send.text, hop.delay))

    def _too_big(self, device: LiveDevice, fields: dict[str, Any]) -> bool:
        """The proxy's message-size cap: a bigger frame closes the connection with 1009."""
        if fields["bytes"] <= device.spec.link.max_message or device.ws is None:
            return False
        self.record(Kind.FRAME_LOST, device, conn=device.conn_id, **{**fields, "reason": TOO_BIG})
        ws = device.ws
        self.spawn(ws.close(code=1009, reason="message too big"))
        self._closed(device, TOO_BIG)
        return True

    async def _deliver_up(self, ws: ClientConnection, text: str, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        with contextlib.suppress(ConnectionClosed):
            await asyncio.wait_for(ws.send(text), self.timeout)

    async def _reader(self, device: LiveDevice, ws: ClientConnection, conn_id: str) -> None:
        try:
            async for message in ws:
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                fields = frame_fields(text)
                if self._too_big(device, fields):
                    break
                verdict = device.proxy.judge("down", fields["bytes"], time.monotonic())
                if verdict.lost is not None:
                    if fields["frame_type"] not in KEEPALIVE:
                        self.record(
                            Kind.FRAME_LOST,
                            device,
                            conn=conn_id,
                            **{**fields, "reason": verdict.lost},
                        )
                    continue
                for hop in verdict.hops:
                    self.spawn(
                        self._deliver_down(device, conn_id, text, fields, hop.delay, hop.duplicate)
                    )
        except ConnectionClosed:
            pass
        except (TimeoutError, OSError) as error:
            self.record(Kind.PEER_ERROR, device, reason=f"connection error: {error}")
        if device.ws is ws:
            code = ws.close_code
            self._closed(
                device, f"closed by the endpoint (code {code})" if code else "connection lost"
            )

    async def _deliver_down(
        self,
        device: LiveDevice,
        conn_id: str,
        text: str,
        fields: dict[str, Any],
        delay: float,
        duplicate: bool,
    ) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        if device.conn_id != conn_id:
            if fields["frame_type"] not in KEEPALIVE:
                self.record(
                    Kind.FRAME_LOST,
                    device,
                    conn=conn_id,
                    **{**fields, "reason": "connection closed in flight"},
                )
            return
        if not self._count_keepalive(device, fields):
            detail = {"duplicate": True} if duplicate else None
            self.record(Kind.FRAME_RECV, device, conn=conn_id, **fields, detail=detail)
        device.client.receive(text, self.device_now(device))
        self.pump(device)

    # -- connections ------------------------------------------------------------------

    def _ws_url(self, user: str) -> str:
        token = auth.mint(self.secret, user, time.time())
        return f"{self.server.url}?{urlencode({'userId': user, 'token': token})}"

    async def _connect(self, device: LiveDevice) -> None:
        device.conn_count += 1
        conn_id = f"{device.name}:{device.conn_count}"
        refusal = device.proxy.refusal()
        if refusal is not None:
            await asyncio.sleep(min(self.timeout, 10.0 / self.scale))
            return self._connect_failed(device, conn_id, refusal)
        try:
            ws = await connect(
                self._ws_url(device.user),
                open_timeout=self.timeout,
                close_timeout=min(self.timeout, 2.0),
                max_size=None,  # browsers take any size; the server's own cap still applies
                ping_interval=None,  # keep-alive is the protocol's PING, not the library's
            )
        except InvalidStatus as error:
            return self._connect_failed(
                device, conn_id, f"refused: HTTP {error.response.status_code}"
            )
        except (TimeoutError, OSError, InvalidHandshake) as error:
            return self._connect_failed(device, conn_id, f"unreachable: {error!r}"[:200])
        if device.proxy.refusal() is not None:  # went offline while connecting
            await ws.close()
            return self._connect_failed(device, conn_id, str(device.proxy.refusal()))
        device.ws, device.conn_id = ws, conn_id
        device.proxy.reset()
        self.record(Kind.CONNECT, device, conn=conn_id)
        self.spawn(self._reader(device, ws, conn_id))
        device.client.connection_opened(self.device_now(device))
        self.pump(device)

    def _connect_failed(self, device: LiveDevice, conn_id: str, reason: str) -> None:
        self.record(Kind.CONNECT_FAILED, device, conn=conn_id, reason=reason)
        device.client.connection_failed(self.device_now(device))
        self.pump(device)

    def _flush_keepalive(self, device: LiveDevice, conn_id: str | None) -> None:
        if device.keepalive:
            self.record(Kind.KEEPALIVE, device, conn=conn_id, detail=device.keepalive)
            device.keepalive = {}

    def _closed(self, device: LiveDevice, reason: str) -> None:
        """The device's connection is gone; the client hears of it unless it closed it."""
        conn_id = device.conn_id
        device.ws, device.conn_id = None, None
        self.record(Kind.DISCONNECT, device, conn=conn_id, reason=reason)
        self._flush_keepalive(device, conn_id)
        if reason != "client closed":
            device.client.connection_closed(self.device_now(device))
            self.pump(device)

    def _close(self, device: LiveDevice, reason: str, *, cut: bool = False) -> None:
        ws = device.ws
        if ws is None:
            return
        if cut:
            # Half a frame, then the socket dies: what a dropped TCP connection looks like.
            ws.transport.write(
                truncated_frame('{"type":"PING","timestamp":"1970-01-01T00:00:00.000Z"}')
            )
            ws.transport.abort()
        else:
            self.spawn(ws.close(code=1000 if reason == "client closed" else 1001))
        self._closed(device, reason)

    async def _rest_pull(self, device: LiveDevice) -> None:
        if device.proxy.refusal() is not None:
            self.record(Kind.REST, device, op="pull", reason=str(device.proxy.refusal()))
            device.client.rest_pull_done(None, self.device_now(device))
            self.pump(device)
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
                detail={"items": len(body.get("entries", [])) + len(body.get("pieces", []))},
            )
        device.client.rest_pull_done(body, self.device_now(device))
        self.pump(device)

    # -- the scenario's timeline acts through these -----------------------------------

    def start(self, device: LiveDevice) -> None:
        device.joined = True
        device.client.online = not device.proxy.offline
        device.client.start(self.device_now(device))
        self.pump(device)

    def set_online(self, device: LiveDevice, online: bool, nudge: bool = False) -> None:
        if device.proxy.offline == (not online) and not nudge:
            return
        if device.proxy.offline == online:
            device.proxy.offline = not online
            self.record(Kind.NETWORK, device, op="online" if online else "offline")
        if not device.joined:
            return
        if not online:
            self._close(device, "network offline", cut=True)
        device.client.network_changed(online, self.device_now(device))
        self.pump(device)

    def partition(self, device: LiveDevice, directions: set[str], on: bool) -> None:
        self.record(
            Kind.PARTITION, device, op="start" if on else "end", reason=",".join(sorted(directions))
        )
        blocked = device.proxy.blocked
        device.proxy.blocked = blocked | directions if on else blocked - directions
        if on and directions == {"up", "down"} and device.ws is not None:
            ws = device.ws
            self.at(self.scenario_t() + 30.0, lambda: self._break(device, ws))

    def _break(self, device: LiveDevice, ws: ClientConnection) -> None:
        if device.ws is ws and device.proxy.blocked == {"up", "down"}:
            self._close(device, "partition", cut=True)

    def drop_connection(self, device: LiveDevice) -> None:
        self._close(device, "connection dropped", cut=True)

    def reload(self, device: LiveDevice, crash: bool = False) -> None:
        if device.joined:
            self.record(
                Kind.RELOAD,
                device,
                reason="crash" if crash else None,
                detail={"queue_depth": len(device.client.queue)},
            )
            device.client.reload(self.device_now(device))
            self.pump(device)

    def wipe(self, device: LiveDevice) -> None:
        if device.joined:
            self.record(
                Kind.WIPE,
                device,
                detail={"entries": len(device.client.entries), "pieces": len(device.client.pieces)},
            )
            device.client.wipe(self.device_now(device))
            self.pump(device)

    def act(self, device: LiveDevice) -> None:
        if device.joined:
            device.plan.act(device.client, device.writer, self.device_now(device))
            self.pump(device)

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

    async def run(self) -> History:
        from simulator.live.timeline import schedule_all

        scenario = self.loaded.scenario
        await self.probe()
        self._wall0 = time.monotonic()
        self.history.add(
            Record(
                t=0.0,
                kind=Kind.META,
                detail=meta(self.loaded, "live", endpoint=self.server.url, time_scale=self.scale),
            )
        )
        schedule_all(self)
        await asyncio.sleep((scenario.duration + scenario.settle) / self.scale)
        for device in self.devices.values():
            self._flush_keepalive(device, device.conn_id)
        await self._snapshot()
        for device in self.devices.values():
            if device.timer is not None:
                device.timer.cancel()
            if device.ws is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(device.ws.close(), self.timeout)
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
