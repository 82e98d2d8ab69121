"""What the simpy driver must show in the history: offline windows, reloads, settling."""

from __future__ import annotations

from simulator.history import SERVER, Kind
from simulator.scenario.loader import Loaded, load_text
from simulator.sim.driver import Simulation


def test_offline_window_disconnects_and_queues(small: Loaded) -> None:
    history = Simulation(small).run()
    phone = [r for r in history if r.device == "phone"]
    offline = [r for r in phone if r.kind is Kind.NETWORK and r.op == "offline"]
    assert [r.t for r in offline] == [6 * 3600]
    assert any(r.kind is Kind.DISCONNECT and r.t == 6 * 3600 for r in phone)
    queued = [r for r in phone if r.kind is Kind.QUEUE and r.op == "enqueue"]
    assert queued and all(6 * 3600 <= r.t < 36 * 3600 for r in queued)


def test_reload_while_offline_loses_the_memory_queue(small: Loaded) -> None:
    history = Simulation(small).run()
    reload = next(r for r in history if r.kind is Kind.RELOAD)
    lost = [r for r in history if r.kind is Kind.QUEUE and r.op == "lost"]
    assert reload.detail and reload.detail["queue_depth"] == len(lost) > 0
    assert all(r.reason == "reload" and r.t == reload.t for r in lost)


def test_every_device_and_the_server_are_snapshotted(small: Loaded) -> None:
    history = Simulation(small).run()
    snapshots = [r for r in history if r.kind is Kind.SNAPSHOT]
    assert {r.device for r in snapshots if r.op == "device"} == {"phone", "laptop"}
    assert any(r.device == SERVER for r in snapshots)
    end = small.scenario.duration + small.scenario.settle
    assert all(r.t == end for r in snapshots)


def test_frames_keep_tcp_order_under_jitter() -> None:
    loaded = load_text(
        "jitter.yaml",
        """
duration: 1d
devices:
  - {name: a, link: {latency: 50ms, jitter: 50ms}, workload: {entries_per_day: 200}}
  - {name: b, link: {latency: 50ms, jitter: 50ms}}
""",
    )
    history = Simulation(loaded).run()
    ups = [r for r in history if r.fingerprint and r.conn and r.conn.startswith("a:")]
    sent = [r.fingerprint for r in ups if r.kind is Kind.FRAME_SENT and r.device == "a"]
    arrived = [r.fingerprint for r in ups if r.kind is Kind.FRAME_RECV and r.device == SERVER]
    assert len(sent) > 50
    assert sent == arrived
