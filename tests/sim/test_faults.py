"""Each fault and network effect, seen where it must show: in the history."""

from __future__ import annotations

from collections import Counter

from simulator.checker.check import check
from simulator.history import SERVER, History, Kind, Record
from simulator.protocol.kinds import MUTATIONS
from simulator.scenario.loader import load_text
from simulator.sim.driver import Simulation

BASE = """
seed: 5
duration: {duration}
settle: {settle}
profile: {profile}
devices:
{devices}
{extra}
"""


def simulate(
    devices: str,
    extra: str = "",
    duration: str = "1d",
    profile: str = "legacy",
    settle: str = "10m",
) -> History:
    text = BASE.format(
        duration=duration, profile=profile, devices=devices, extra=extra, settle=settle
    )
    return Simulation(load_text("fault.yaml", text)).run()


def rows(history: History, kind: Kind, **match: object) -> list[Record]:
    return [
        r for r in history if r.kind is kind and all(getattr(r, k) == v for k, v in match.items())
    ]


BUSY = "workload: {entries_per_day: 200, pieces_per_day: 0, active_hours: [0, 24]}"


def test_loss_drops_frames_on_the_way_up() -> None:
    history = simulate(f"  - {{name: a, link: {{up: {{loss: 0.3}}}}, {BUSY}}}\n  - {{name: b}}")
    lost = rows(history, Kind.FRAME_LOST, reason="dropped by the network")
    sent = [r for r in rows(history, Kind.FRAME_SENT, device="a") if r.write_id]
    assert len(sent) > 100 and 0.15 * len(sent) < len(lost) < 0.45 * len(sent)
    assert all(r.device == "a" for r in lost)


def test_duplication_delivers_a_frame_twice() -> None:
    history = simulate(
        f"  - {{name: a, link: {{up: {{duplicate: 0.2}}}}, {BUSY}}}\n  - {{name: b}}"
    )
    twice = [
        r
        for r in rows(history, Kind.FRAME_RECV, device=SERVER)
        if r.detail and r.detail.get("duplicate")
    ]
    assert twice
    first = {
        r.write_id
        for r in rows(history, Kind.FRAME_RECV, device=SERVER)
        if not (r.detail or {}).get("duplicate")
    }
    assert {r.write_id for r in twice} <= first


def test_reordering_lets_a_frame_overtake() -> None:
    # An offline stretch makes the queue drain in one burst, so frames can pass each other.
    link = "{latency: {dist: uniform, low: 10ms, high: 2s}, up: {reorder: 0.5}}"
    offline = "offline: [{from: 1h, to: 8h}]"
    history = simulate(f"  - {{name: a, link: {link}, {offline}, {BUSY}}}\n  - {{name: b}}")
    sent = [r.write_id for r in rows(history, Kind.FRAME_SENT, device="a") if r.write_id]
    got = [
        r.write_id
        for r in rows(history, Kind.FRAME_RECV, device=SERVER)
        if r.write_id and r.write_id.startswith("a#")
    ]
    assert sorted(sent) == sorted(got) and sent != got


def test_frames_keep_order_without_reordering_even_with_jitter() -> None:
    link = "{latency: {dist: lognormal, median: 100ms, p99: 2s}, jitter: 100ms}"
    history = simulate(f"  - {{name: a, link: {link}, {BUSY}}}\n  - {{name: b}}")
    sent = [r.write_id for r in rows(history, Kind.FRAME_SENT, device="a") if r.write_id]
    got = [
        r.write_id
        for r in rows(history, Kind.FRAME_RECV, device=SERVER)
        if r.write_id and r.write_id.startswith("a#")
    ]
    assert len(sent) > 100 and sent == got


def test_bandwidth_makes_big_frames_slow() -> None:
    extra = "preload: [{user: alice, entries: 400, over: 3d}]"
    slow = simulate(
        "  - {name: a, link: {latency: 10ms, down: {bandwidth: 20KB}}}", extra, profile="proposed"
    )
    fast = simulate("  - {name: a, link: {latency: 10ms}}", extra, profile="proposed")

    def bulk_time(history: History) -> float:
        bulk = rows(history, Kind.FRAME_RECV, device="a", frame_type="BULK_SYNC")[0]
        return bulk.t

    assert bulk_time(slow) - bulk_time(fast) > 5.0  # ~200 KB at 20 KB/s


def test_oversized_frame_closes_the_connection_with_1009() -> None:
    # The client reconnects a second after each close and gets the same bulk again: keep the
    # scenario short, the reconnect storm is real but need not run for a day.
    extra = "preload: [{user: alice, entries: 600, over: 3d}]"
    history = simulate(
        "  - {name: a, link: {max_message: 64KiB}}", extra, duration="2m", settle="1m"
    )
    closed = rows(history, Kind.DISCONNECT, device="a", reason="1009 message too big")
    assert closed
    assert rows(history, Kind.FRAME_LOST, frame_type="BULK_SYNC", reason="1009 message too big")


def test_drops_at_given_times_and_at_random() -> None:
    history = simulate("  - {name: a, link: {drops: {at: [2h, 5h], per_day: 6}}}")
    drops = [r.t for r in rows(history, Kind.DISCONNECT, device="a", reason="connection dropped")]
    assert 7200.0 in drops and 18000.0 in drops and len(drops) > 3
    assert len(rows(history, Kind.CONNECT, device="a")) == len(drops) + 1  # reconnected each time


def test_partition_of_a_group_breaks_connections_and_refuses_connects() -> None:
    devices = f"  - {{name: a, {BUSY}}}\n  - {{name: b}}\n  - {{name: c, {BUSY}}}"
    extra = "faults:\n  - {kind: partition, devices: [a, b], from: 2h, to: 3h}"
    history = simulate(devices, extra)
    for name in ("a", "b"):
        assert rows(history, Kind.DISCONNECT, device=name, reason="partition")
        assert rows(history, Kind.CONNECT_FAILED, device=name, reason="partition")
    assert not rows(history, Kind.DISCONNECT, device="c")
    # Nothing crosses the partition: no frame reaches a, and none of a's reaches the server.
    inside = [r for r in rows(history, Kind.FRAME_RECV) if 7200 <= r.t < 10800]
    assert inside and not [r for r in inside if r.device == "a" or (r.conn or "").startswith("a:")]


def test_one_way_partition_loses_frames_silently() -> None:
    extra = "faults:\n  - {kind: partition, devices: [a], direction: up, from: 2h, to: 4h}"
    history = simulate(f"  - {{name: a, {BUSY}}}\n  - {{name: b}}", extra)
    lost = rows(history, Kind.FRAME_LOST, device="a", reason="partition")
    assert lost and all(7200 <= r.t < 14400 for r in lost)
    assert not rows(history, Kind.DISCONNECT, device="a", reason="partition")  # half-open


def test_server_outage_drops_everyone_and_restart_keeps_the_store() -> None:
    extra = "faults:\n  - {kind: server_outage, from: 3h, to: 4h}"
    history = simulate(f"  - {{name: a, {BUSY}}}\n  - {{name: b}}", extra)
    assert [r.op for r in rows(history, Kind.SERVER_OUTAGE)] == ["down", "up"]
    assert {r.device for r in rows(history, Kind.DISCONNECT, reason="server down")} == {"a", "b"}
    assert rows(history, Kind.CONNECT_FAILED, reason="server down")
    before = {r.entity_id for r in rows(history, Kind.SERVER_APPLIED) if r.t < 3 * 3600}
    final = {r.entity_id for r in rows(history, Kind.SNAPSHOT, device=SERVER)}
    assert before and before <= final


def test_flapping_link_goes_down_every_period() -> None:
    extra = "faults:\n  - {kind: flap, devices: [a], from: 1h, to: 2h, period: 10m, down: 2m}"
    history = simulate("  - {name: a}", extra)
    offline = [r.t for r in rows(history, Kind.NETWORK, device="a", op="offline")]
    assert offline == [3600.0 + 600 * k for k in range(6)]


def test_reload_empties_the_memory_outbox() -> None:
    history = simulate(f"  - {{name: a, offline: [{{from: 1h, to: 6h}}], reloads: [5h], {BUSY}}}")
    reload = rows(history, Kind.RELOAD, device="a")[0]
    lost = rows(history, Kind.QUEUE, op="lost", reason="reload")
    assert reload.detail and reload.detail["queue_depth"] == len(lost) > 0


def test_crash_while_the_outbox_drains_loses_unsent_frames_under_legacy() -> None:
    device = f"  - {{name: a, offline: [{{from: 1h, to: 6h}}], crashes: [5h], {BUSY}}}"
    legacy = simulate(device)
    crash = rows(legacy, Kind.CRASH, device="a")[0]
    assert crash.t == 6 * 3600 or crash.t > 6 * 3600  # at the drain after reconnecting
    unsent = {r.write_id for r in rows(legacy, Kind.FRAME_LOST, device="a", reason="crash")}
    from simulator.checker.check import check

    crashed = [
        f for f in check(legacy).findings if f.anomaly == "lost_write" and "crash" in str(f.cause)
    ]
    # Every write the crash lost was one it never sent (a later edit may still supersede one).
    assert crashed and {w.write_id for f in crashed for w in f.writes} <= unsent
    proposed = simulate(device, profile="proposed")
    assert check(proposed).counts["lost_write"] == 0


def test_what_was_sent_before_a_crash_reaches_the_server() -> None:
    """Regression: the crash closed the socket abruptly, so frames already handed to it were
    lost in flight too (9 lost writes where 5 were unsent)."""
    device = (
        f"  - {{name: a, offline: [{{from: 1h, to: 6h}}], crashes: [5h], "
        f"link: {{latency: 400ms}}, {BUSY}}}"
    )
    history = simulate(device)
    crash = rows(history, Kind.CRASH, device="a")[0]
    sent = [r for r in rows(history, Kind.FRAME_SENT, device="a") if r.t == crash.t]
    assert crash.detail is not None and len(sent) == crash.detail["sent"] > 1
    at_server = {r.write_id for r in rows(history, Kind.FRAME_RECV, device=SERVER)}
    writes = {r.write_id for r in sent if r.write_id}
    assert writes and writes <= at_server
    in_flight = [r for r in rows(history, Kind.FRAME_LOST, device="a") if r.t >= crash.t]
    assert not [r for r in in_flight if r.reason == "connection closed in flight" and r.write_id]


def test_a_reload_during_the_handshake_leaves_one_connection() -> None:
    """Regression: a 200 ms link and `reloads: [0s]` left two open connections, never closed,
    and every broadcast arrived twice."""
    devices = "  - {name: phone, link: {latency: 200ms}, reloads: [0s]}\n  - {name: laptop}"
    history = simulate(devices)
    opened = rows(history, Kind.CONNECT, device="phone")
    closed = {r.conn for r in rows(history, Kind.DISCONNECT, device="phone")}
    still_open = [r.conn for r in opened if r.conn not in closed]
    assert len(still_open) == 1
    received = rows(history, Kind.FRAME_RECV, device="phone")
    per_write = Counter((r.frame_type, r.write_id, r.entity_id, r.t) for r in received)
    assert max(per_write.values()) == 1
    broadcasts = [r for r in received if r.frame_type == "ENTRY_CREATED"]
    laptop_creates = [r for r in rows(history, Kind.WRITE, device="laptop") if r.op == "create"]
    assert len(broadcasts) <= len(laptop_creates)


def test_wipe_loses_local_data_and_the_persisted_outbox() -> None:
    device = f"  - {{name: a, offline: [{{from: 1h, to: 6h}}], wipes: [5h], {BUSY}}}"
    history = simulate(device, profile="proposed")
    wipe = rows(history, Kind.WIPE, device="a")[0]
    assert wipe.detail and wipe.detail["entries"] > 0
    assert rows(history, Kind.QUEUE, device="a", op="lost", reason="wipe")


def test_quota_exhaustion_refuses_writes_and_records_them() -> None:
    history = simulate(f"  - {{name: a, quota: 20KB, {BUSY}}}")
    failed = rows(history, Kind.WRITE_FAILED, device="a")
    assert failed and all(r.reason == "quota exceeded" for r in failed)


def test_new_device_joining_later_backfills_everything_under_proposed() -> None:
    idle = "workload: {entries_per_day: 0, pieces_per_day: 0}"
    devices = f"  - {{name: a, {BUSY}}}\n  - {{name: late, joins: 20h, {idle}}}"
    extra = "preload: [{user: alice, entries: 50, over: 60d}]"
    history = simulate(devices, extra, profile="proposed")
    assert rows(history, Kind.CONNECT, device="late")[0].t >= 20 * 3600
    assert rows(history, Kind.BACKFILL, device="late", op="done")
    from simulator.checker.check import check

    assert check(history).counts["missing_history"] == 0


def test_clock_drift_and_backward_step_show_in_device_time() -> None:
    clock = "{offset: 10s, drift_ppm: 1000, steps: [{at: 12h, by: -1h}]}"
    history = simulate(f"  - {{name: a, clock: {clock}, {BUSY}}}")
    for row in rows(history, Kind.WRITE, device="a"):
        expected = row.t + 10 + 0.001 * row.t - (3600 if row.t >= 43200 else 0)
        assert row.device_time is not None and abs(row.device_time - expected) < 1e-3


def test_hot_items_are_edited_on_several_devices_within_seconds() -> None:
    devices = "  - {name: a}\n  - {name: b}\n  - {name: c}"
    extra = "hot_items:\n  - {devices: [a, b, c], every: 1h, within: 3s}"
    history = simulate(devices, extra)
    updates = rows(history, Kind.WRITE, op="update")
    by_entity: dict[str, list[Record]] = {}
    for row in updates:
        by_entity.setdefault(str(row.entity_id), []).append(row)
    bursts = [group for group in by_entity.values() if len({r.device for r in group}) == 3]
    assert bursts
    times = sorted(r.t for r in bursts[0])[:3]
    assert times[-1] - times[0] <= 3.0


MUTATION_TYPES = {t.value for t in MUTATIONS}


def test_error_every_refuses_every_nth_mutation_in_the_servers_place() -> None:
    history = simulate(
        f"  - {{name: a, {BUSY}}}\n  - {{name: b}}",
        extra="faults:\n  - {kind: error_every, devices: [a], every: 3, from: 0s, to: 12h}",
    )
    conns_of_a = {r.conn for r in history if r.device == "a" and r.conn}
    arrived = [
        r
        for r in rows(history, Kind.FRAME_RECV, device=SERVER)
        if r.frame_type in MUTATION_TYPES and r.t < 12 * 3600 and r.conn in conns_of_a
    ]
    errors = [r for r in rows(history, Kind.FRAME_RECV, device="a") if r.frame_type == "ERROR"]
    assert len(arrived) > 30
    assert len(errors) == len(arrived) // 3
    assert all(r.t < 12 * 3600 + 60 for r in errors)  # the fault ends at `to`
    assert not rows(history, Kind.FRAME_RECV, device="b", frame_type="ERROR")
    # The legacy client drops a refused write: each is a refused_write, none a lost_write.
    counts = check(history).counts
    assert counts["lost_write"] == 0 and 0 < counts["refused_write"] <= len(errors)
