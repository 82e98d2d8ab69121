"""How a live run ends: quiescence, frozen devices, closes syncsim began, a clean stderr.

Against a real `syncsim serve` on loopback. Every assertion is about the history's structure
(which rows come after which, who closed, counts bounded by the history's own times), never
about how long something took on this machine.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import SECRET, start_server, stop_server

from simulator.history import SERVER, History, Kind, Record
from simulator.live.driver import LiveRun
from simulator.scenario.loader import load_text

ROOT = Path(__file__).resolve().parents[2]

ENDING = """
name: live_end
seed: 5
duration: 12h
settle: 10m
profile: proposed
server:
  kind: live
  url: "{ws}"
  rest_url: "{rest}"
  time_scale: 4000
  timeout: 5s
  keepalive: 1s
  quiet: 300ms
  quiesce_timeout: 30s
devices:
  - name: phone
    offline: [{{from: 2h, to: 4h}}]
    reloads: [5h]
    link:
      latency: {{dist: uniform, low: 20ms, high: 400ms}}
      jitter: 100ms
      up: {{loss: 0.05}}
    workload: {{entries_per_day: 40, pieces_per_day: 8, active_hours: [0, 24]}}
  - name: laptop
    link: {{drops: {{at: [6h]}}}}
    workload: {{entries_per_day: 20, active_hours: [0, 24]}}
faults:
  - {{kind: partition, devices: [laptop], from: 8h, to: 9h}}
"""

# What asyncio and the interpreter print when a run leaves something behind.
WARNINGS = (
    "Task was destroyed but it is pending",
    "Event loop is closed",
    "exception was never retrieved",
    "was never awaited",
    "ResourceWarning",
    "Unclosed",
    "Traceback",
)
DEVICE_KINDS = {Kind.FRAME_SENT, Kind.FRAME_RECV, Kind.CONNECT}


@dataclass
class Ended:
    done: subprocess.CompletedProcess[str]
    history: History
    scale: float


@pytest.fixture(scope="module")
def ended(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ended]:
    """One live run, in a subprocess with asyncio's debug mode and every warning shown."""
    tmp = tmp_path_factory.mktemp("live_end")
    server = start_server(tmp / "serve.db")
    try:
        scenario = tmp / "live_end.yaml"
        scenario.write_text(ENDING.format(ws=server.ws_url, rest=server.rest_url))
        env = {**os.environ, "SYNCSIM_JWT_SECRET": SECRET, "PYTHONWARNINGS": "default"}
        command = [sys.executable, "-X", "dev", "-m", "simulator.cli", "run", str(scenario)]
        done = subprocess.run(
            [*command, "--out", str(tmp / "out")],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            cwd=ROOT,
            check=False,
        )
    finally:
        stop_server(server)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    yield Ended(done, History.load(tmp / "out" / "history.jsonl"), 4000.0)


def of(history: History, kind: Kind) -> list[Record]:
    return [r for r in history if r.kind is kind]


def test_no_asyncio_or_resource_warning_after_a_live_run(ended: Ended) -> None:
    found = [w for w in WARNINGS if w in ended.done.stderr]
    assert not found, ended.done.stderr


def test_no_device_frame_or_connect_after_the_snapshot(ended: Ended) -> None:
    records = list(ended.history)
    first = next(i for i, r in enumerate(records) if r.kind is Kind.SNAPSHOT and r.device == SERVER)
    late = [r for r in records[first:] if r.kind in DEVICE_KINDS and r.device != SERVER]
    assert not late
    assert records[first:] and all(r.kind is Kind.SNAPSHOT for r in records[first:])


def test_the_run_waits_for_quiescence_before_the_snapshot(ended: Ended) -> None:
    records = list(ended.history)
    (quiet,) = of(ended.history, Kind.QUIESCENCE)
    assert quiet.detail is not None and quiet.detail["reached"] is True
    assert quiet.detail["pending"] == {} and quiet.detail["quiet_for"] >= 0.3
    index = records.index(quiet)
    assert not [r for r in records[:index] if r.kind is Kind.SNAPSHOT]


def test_the_end_of_run_closes_are_syncsims_with_1000_and_a_reply_time(ended: Ended) -> None:
    closes = of(ended.history, Kind.DISCONNECT)
    last = {r.device: r for r in closes}
    assert set(last) == {"phone", "laptop"}
    for row in last.values():
        assert row.reason == "run ended" and row.detail is not None
        assert row.detail["initiator"] == "syncsim" and row.detail["code"] == 1000
        assert row.detail["handshake"] == "answered" and row.detail["reply_code"] == 1000
        assert row.detail["reply_s"] >= 0
    for row in closes:
        assert row.detail is not None and row.detail["initiator"] in {
            "syncsim",
            "endpoint",
            "network",
        }
        if row.reason in {"connection dropped", "network offline", "partition"}:
            assert row.detail["initiator"] == "network"
        if row.detail["initiator"] == "syncsim":
            assert "endpoint" not in str(row.reason)


def test_keepalives_are_spaced_in_wall_time(ended: Ended) -> None:
    """A device PINGs at most once per `keepalive` wall second of each connection: the count
    is bounded by the connection's own span in the history, not by this machine's speed."""
    opened = {r.conn: r.t for r in of(ended.history, Kind.CONNECT)}
    closed = {r.conn: r.t for r in of(ended.history, Kind.DISCONNECT)}
    tallies = {r.conn: r.detail or {} for r in of(ended.history, Kind.KEEPALIVE)}
    assert any(t.get("PING") for t in tallies.values())
    for conn, tally in tallies.items():
        wall = (closed[conn] - opened[conn]) / ended.scale
        pings = tally.get("PING", [0, 0])[0]
        assert pings <= wall / 1.0 + 1, (conn, pings, wall)


KILLED = """
name: live_killed
seed: 8
duration: 2h
settle: 10m
profile: proposed
server:
  kind: live
  url: "{ws}"
  rest_url: "{rest}"
  time_scale: 2000
  timeout: 2s
  quiet: 200ms
  quiesce_timeout: 1s
devices:
  - name: phone
    workload: {{entries_per_day: 40, active_hours: [0, 24]}}
  - name: laptop
    workload: {{entries_per_day: 0, pieces_per_day: 0}}
"""


def test_killing_the_server_is_a_close_by_the_endpoint_and_no_quiescence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCSIM_JWT_SECRET", SECRET)
    server = start_server(tmp_path / "serve.db")
    loaded = load_text("killed", KILLED.format(ws=server.ws_url, rest=server.rest_url))
    assert loaded.scenario.server.kind == "live"
    run = LiveRun(loaded, loaded.scenario.server)
    killed = asyncio.Event()
    quiesce = run._quiesce

    async def quiesce_after_the_kill() -> None:
        await asyncio.wait_for(killed.wait(), 60.0)  # the run cannot end before the kill
        await quiesce()

    async def kill_once_both_are_connected() -> None:
        async def until(condition: object) -> None:
            async with asyncio.timeout(60.0):
                while not condition():  # type: ignore[operator]
                    await asyncio.sleep(0.01)

        await until(lambda: all(w.sockets for w in run.wires.values()))
        server.process.kill()
        await asyncio.to_thread(server.process.wait, 20.0)
        await until(lambda: not any(w.sockets for w in run.wires.values()))
        killed.set()

    async def play() -> History:
        killer = asyncio.ensure_future(kill_once_both_are_connected())
        try:
            return await run.run()
        finally:
            await killer

    monkeypatch.setattr(run, "_quiesce", quiesce_after_the_kill)
    try:
        history = asyncio.run(play())
    finally:
        if server.process.poll() is None:
            stop_server(server)
    closes = of(history, Kind.DISCONNECT)
    assert {r.device for r in closes} == {"phone", "laptop"}
    for row in closes:
        assert row.detail is not None and row.detail["initiator"] in {"endpoint", "network"}
        assert row.detail["code"] == 1006 and "endpoint (code" not in str(row.reason)
    (quiet,) = of(history, Kind.QUIESCENCE)
    assert quiet.detail is not None and quiet.detail["reached"] is False
    # The phone still holds unacknowledged writes; the laptop has spent its reconnect tries
    # and does nothing more, so it counts as settled.
    assert set(quiet.detail["pending"]) == {"phone"}
    assert any("outbox holds" in why for why in quiet.detail["pending"]["phone"])
    records = list(history)
    first = next(i for i, r in enumerate(records) if r.kind is Kind.SNAPSHOT)
    assert records.index(quiet) < first
    assert not [r for r in records[first:] if r.kind in DEVICE_KINDS | {Kind.CONNECT_FAILED}]
