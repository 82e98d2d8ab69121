"""The live proxy's delivery: absolute due times, one lane per connection and direction.

No server here: a device's connection is a stand-in socket that keeps what it is sent. What
these tests assert is structural (the order frames leave in, the rows a close writes), so it
holds however fast or loaded the machine is.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import SECRET
from websockets.protocol import State

from simulator.history import Kind
from simulator.live.driver import CLIENT_CLOSED, ENDPOINT, LiveRun, Socket
from simulator.live.proxy import FaultProxy, Lane
from simulator.protocol.codec import Frame, FrameType
from simulator.protocol.events import Send
from simulator.scenario.loader import load_text
from simulator.scenario.model import Link

FRAMES = 3000

SCENARIO = """
name: lanes
duration: 1h
profile: proposed
server: {{kind: live, url: "ws://127.0.0.1:9/sync/ws", time_scale: {scale}, keepalive: 5s}}
devices:
  - name: phone
    link: {{latency: {latency}, jitter: {jitter}}}
"""


class StandIn:
    """What LiveRun needs of a websockets connection: it keeps what it is sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed_with: int | None = None
        self.protocol = SimpleNamespace(
            close_rcvd=None,
            close_sent=None,
            state=State.OPEN,
            send_text=lambda data: self.sent.append(data.decode()),
        )
        self.transport = SimpleNamespace(
            write=lambda data: None, abort=lambda: None, is_closing=lambda: False
        )

    def send_data(self) -> None:
        pass

    async def send(self, text: str) -> None:
        self.sent.append(text)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed_with = code
        self.protocol.close_rcvd = SimpleNamespace(code=code, reason=reason)


def live_run(monkeypatch: pytest.MonkeyPatch, **fields: Any) -> LiveRun:
    monkeypatch.setenv("SYNCSIM_JWT_SECRET", SECRET)
    values = {
        "scale": 2000,
        "latency": "{dist: uniform, low: 10ms, high: 300ms}",
        "jitter": "100ms",
    }
    loaded = load_text("lanes", SCENARIO.format(**{**values, **fields}))
    server = loaded.scenario.server
    assert server.kind == "live"
    run = LiveRun(loaded, server)
    run._wall0 = time.monotonic()
    # The device never started: what the transport tells its client goes nowhere here.
    monkeypatch.setattr(run.life, "closed", lambda _device, _attempt: None)
    monkeypatch.setattr(run.life, "received", lambda _device, _text: None)
    return run


def numbered(i: int) -> Send:
    frame = Frame.make(FrameType.SYNC_REQUEST, 0.0, lastSyncTime=f"{i:06d}")
    return Send(frame, frame.encode())


def numbers(texts: list[str]) -> list[int]:
    return [int(json.loads(t)["lastSyncTime"]) for t in texts]


async def _burst(run: LiveRun, sock: Socket, count: int, down: bool = False) -> None:
    """`count` frames in irregular bursts, the loop running other work between them."""
    device = run.devices["phone"]
    rng = random.Random(7)
    for i in range(count):
        if down:
            run._incoming(device, sock, numbered(i).text)
        else:
            run.send(device, numbered(i))
        if rng.random() < 0.3:
            await asyncio.sleep(0)


async def _drained(*lanes: Lane[Any]) -> None:
    for lane in lanes:
        assert await lane.drained(60.0), "a lane did not drain within its deadline"


def test_frames_leave_in_order_with_latency_jitter_and_no_reorder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = live_run(monkeypatch)
    device = run.devices["phone"]
    received: list[str] = []
    monkeypatch.setattr(run.life, "received", lambda _device, text: received.append(text))

    async def scenario() -> list[str]:
        ws = StandIn()
        sock = run.attach(device, ws, "phone:1", device.client.attempt)  # type: ignore[arg-type]
        await _burst(run, sock, FRAMES)
        await _burst(run, sock, FRAMES, down=True)
        await _drained(sock.up, sock.down)
        return ws.sent

    sent = asyncio.run(scenario())
    assert numbers(sent) == list(range(FRAMES))
    assert numbers(received) == list(range(FRAMES))
    rows = [r for r in run.history if r.kind is Kind.FRAME_RECV]
    assert len(rows) == FRAMES


def test_a_lane_delivers_by_due_time_and_ties_in_put_order() -> None:
    async def scenario() -> list[int]:
        out: list[int] = []

        async def deliver(item: int) -> None:
            out.append(item)

        lane: Lane[int] = Lane(deliver, asyncio.ensure_future)
        now = time.monotonic()
        for item, due in enumerate([0.02, 0.01, 0.02, 0.0, 0.01]):
            lane.put(now + due, item)
        assert await lane.drained(10.0)
        return out

    assert asyncio.run(scenario()) == [3, 1, 4, 0, 2]


def test_the_proxy_never_dates_a_frame_before_the_previous_one() -> None:
    link = Link.model_validate({"latency": {"dist": "uniform", "low": 0.01, "high": 2.0}})
    proxy = FaultProxy(link, random.Random(3), 1.0)
    dues = [
        proxy.judge("up", 100, float(i) * 1e-4, None, frozenset()).hops[0].at for i in range(5000)
    ]
    assert dues == sorted(dues)


def test_a_frame_waiting_in_the_delay_when_its_connection_closes_is_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An hour of latency at time scale 1: every frame is still waiting when the close comes.
    run = live_run(monkeypatch, scale=1, latency="1h", jitter="0s")
    device = run.devices["phone"]

    async def scenario() -> tuple[StandIn, StandIn]:
        first = StandIn()
        sock = run.attach(device, first, "phone:1", device.client.attempt)  # type: ignore[arg-type]
        await _burst(run, sock, 5)
        await _burst(run, sock, 4, down=True)
        run.cut(device, "connection dropped")
        second = StandIn()
        sock = run.attach(device, second, "phone:2", device.client.attempt)  # type: ignore[arg-type]
        await _burst(run, sock, 3)
        run._ended(device, sock, "closed by the endpoint (code 1001)", ENDPOINT, 1001)
        return first, second

    first, second = asyncio.run(scenario())
    assert first.sent == second.sent == []
    lost = [r for r in run.history if r.kind is Kind.FRAME_LOST]
    assert [(r.conn, r.reason) for r in lost] == [
        *[("phone:1", "in flight when the connection closed (connection dropped)")] * 9,
        *[("phone:2", "in flight when the connection closed (closed by the endpoint (code 1001))")]
        * 3,
    ]


def test_frames_due_before_a_cut_get_there_and_only_those_still_on_their_way_are_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No latency: every frame is due at once, but the lanes' senders have not run yet when the
    # cut comes (the event loop's own delay). As in the simulation, they arrive before it.
    run = live_run(monkeypatch, scale=1, latency="0s", jitter="0s")
    device = run.devices["phone"]
    received: list[str] = []
    monkeypatch.setattr(run.life, "received", lambda _device, text: received.append(text))

    async def scenario() -> StandIn:
        ws = StandIn()
        sock = run.attach(device, ws, "phone:1", device.client.attempt)  # type: ignore[arg-type]
        for i in range(5):
            run.send(device, numbered(i))
            run._incoming(device, sock, numbered(100 + i).text)
        run.cut(device, "connection dropped")
        return ws

    ws = asyncio.run(scenario())
    assert numbers(ws.sent) == list(range(5))
    assert numbers(received) == list(range(100, 105))
    assert [r for r in run.history if r.kind is Kind.FRAME_LOST] == []


def test_a_cut_once_the_closing_handshake_has_begun_writes_nothing_and_still_ends_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The endpoint's close is in and the library has half-closed the socket, but the reader
    # has not yet written its row when a drop comes: the cut must not write (it would raise
    # "Cannot call write() after write_eof()") and still ends the connection.
    run = live_run(monkeypatch)
    device = run.devices["phone"]

    def refuse(_data: bytes) -> None:
        raise RuntimeError("Cannot call write() after write_eof()")

    async def scenario() -> StandIn:
        ws = StandIn()
        ws.protocol.state = State.CLOSING
        ws.transport.write = refuse
        run.attach(device, ws, "phone:1", device.client.attempt)  # type: ignore[arg-type]
        run.cut(device, "connection dropped")
        return ws

    asyncio.run(scenario())
    (ended,) = [r for r in run.history if r.kind is Kind.DISCONNECT]
    assert ended.reason == "connection dropped" and ended.detail["handshake"] == "aborted"  # type: ignore[index]


def test_what_the_device_sent_before_closing_still_leaves_then_the_close(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The way down takes 1000 h (36 wall seconds at this scale): however slowly the machine
    # runs the close, the two frames coming down are still on their way when it ends.
    down = "1s, down: {latency: 1000h, jitter: 0s}"
    run = live_run(monkeypatch, scale=100000, latency="10s", jitter=down)
    device = run.devices["phone"]

    async def scenario() -> StandIn:
        ws = StandIn()
        sock = run.attach(device, ws, "phone:1", device.client.attempt)  # type: ignore[arg-type]
        await _burst(run, sock, 50)
        await _burst(run, sock, 2, down=True)
        run.close(device, sock.attempt)
        tasks = set(run.wires["phone"].closing)
        await asyncio.wait(tasks, timeout=60.0)
        return ws

    ws = asyncio.run(scenario())
    assert numbers(ws.sent) == list(range(50)) and ws.closed_with == 1000
    (closed,) = [r for r in run.history if r.kind is Kind.DISCONNECT]
    assert closed.reason == CLIENT_CLOSED
    assert closed.detail is not None
    assert closed.detail["initiator"] == "syncsim" and closed.detail["code"] == 1000
    assert closed.detail["handshake"] == "answered" and closed.detail["reply_s"] >= 0
    lost = [r for r in run.history if r.kind is Kind.FRAME_LOST]
    assert len(lost) == 2  # the two frames on their way down had nowhere to go


def test_live_keepalives_are_spaced_in_wall_time(monkeypatch: pytest.MonkeyPatch) -> None:
    run = live_run(monkeypatch, scale=3000)
    client = run.devices["phone"].client
    assert run.keepalive == 5.0
    assert client.profile.ping_interval_s == 5.0 * 3000  # scenario seconds: 5 s of wall time
    assert run.loaded.profile.ping_interval_s == 30.0  # what the scenario's profile says
