"""Metrics against literal histories: convergence lag, catch-up bytes, sync requests per
connection, outbox depth and bytes per frame type.

Every expected number is worked out by hand in a comment next to it. Row indexes are in the
comments after each row, as in `test_anomalies.py`.
"""

from __future__ import annotations

import pytest
from histories import (
    applied,
    connect,
    device_snapshot,
    disconnect,
    keepalive,
    merge,
    meta,
    queue,
    received,
    run,
    sent,
    write,
)

from simulator.checker import metrics
from simulator.checker.view import View
from simulator.history import CATCH_UP_DONE, SERVER, History, Record

# -- convergence lag --------------------------------------------------------------------------


def lag_rows() -> list[Record]:
    """Three devices of alice, all connected at t=0; the laptop is away from 200 to 400 and
    again from 850 on."""
    return [
        meta(),  # 0
        connect(0, "phone"),  # 1
        connect(0, "tablet"),  # 2
        connect(0, "laptop"),  # 3
        # e1 reaches the tablet after 1.5 s and the laptop after 2 s: lag max(1.5, 2) = 2.
        write(100, "phone", "phone#1", "create", "e1", "fpA"),  # 4
        merge(101.5, "tablet", "e1", accepted=True, fingerprint="fpA"),  # 5
        merge(102, "laptop", "e1", accepted=True, fingerprint="fpA"),  # 6
        merge(
            103, "laptop", "e1", accepted=True, fingerprint="fpA"
        ),  # 7 a second copy: the first counts
        disconnect(200, "laptop"),  # 8
        # e2 is written while the laptop is away. Phone: 300.5 - 300 = 0.5. Laptop: counted
        # from its next connect, 410 - 400 = 10 (not 110). Lag 10.
        write(300, "tablet", "tablet#1", "create", "e2", "fpX"),  # 9
        merge(300.5, "phone", "e2", accepted=True, fingerprint="fpX"),  # 10
        connect(400, "laptop", number=2),  # 11
        merge(410, "laptop", "e2", accepted=True, fingerprint="fpX"),  # 12
        # fpB is superseded by fpC before anyone holds it: left out of the figures.
        write(500, "phone", "phone#2", "update", "e1", "fpB"),  # 13
        # fpC: tablet 604 - 600 = 4; the laptop refuses it first (not held), then holds it at
        # 606: 606 - 600 = 6. Lag 6.
        write(600, "phone", "phone#3", "update", "e1", "fpC"),  # 14
        merge(604, "tablet", "e1", accepted=True, fingerprint="fpC"),  # 15
        merge(605, "laptop", "e1", accepted=False, fingerprint="fpC"),  # 16
        merge(606, "laptop", "e1", accepted=True, fingerprint="fpC"),  # 17
        # e3: the phone holds it, the tablet only refused it: unconverged (1).
        write(700, "laptop", "laptop#1", "create", "e3", "fpQ"),  # 18
        merge(701, "phone", "e3", accepted=True, fingerprint="fpQ"),  # 19
        merge(701.5, "tablet", "e3", accepted=False, fingerprint="fpQ"),  # 20
        # A delete carries no fingerprint: not a write anyone can be seen to hold.
        write(800, "phone", "phone#4", "delete", "e2"),  # 21
        disconnect(850, "laptop", number=2),  # 22
        # e4: the tablet holds it, the laptop never connects again: unconverged (2).
        write(900, "phone", "phone#5", "create", "e4", "fpR"),  # 23
        merge(901, "tablet", "e4", accepted=True, fingerprint="fpR"),  # 24
        device_snapshot("phone"),  # 25
        device_snapshot("tablet"),  # 26
        device_snapshot("laptop"),  # 27
    ]


def test_convergence_lag_and_unconverged_writes() -> None:
    result = run(lag_rows())
    # Lags, sorted: [2, 6, 10].
    # p50: the middle one, 6.
    # p95 (numpy's linear interpolation): position 0.95 * (3 - 1) = 1.9, between 6 and 10:
    #   6 + 0.9 * (10 - 6) = 9.6.
    assert result.metrics["p50_convergence_lag"] == pytest.approx(6.0)
    assert result.metrics["p95_convergence_lag"] == pytest.approx(9.6)
    assert result.metrics["max_convergence_lag"] == pytest.approx(10.0)
    # e3 (fpQ, the tablet only refused it) and e4 (fpR, the laptop never came back).
    assert result.metrics["unconverged_writes"] == 2


def test_a_superseded_write_nobody_held_is_not_unconverged() -> None:
    rows = [
        meta(),  # 0
        connect(0, "phone"),  # 1
        connect(0, "tablet"),  # 2
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 3 never reaches the tablet
        write(20, "phone", "phone#2", "update", "e1", "fpB"),  # 4
        merge(23, "tablet", "e1", accepted=True, fingerprint="fpB"),  # 5 lag 23 - 20 = 3
        device_snapshot("phone"),  # 6
        device_snapshot("tablet"),  # 7
    ]
    result = run(rows)
    assert result.metrics["unconverged_writes"] == 0  # fpA was superseded by fpB
    # Only fpB's lag: [3].
    assert result.metrics["max_convergence_lag"] == pytest.approx(3.0)
    assert result.metrics["p50_convergence_lag"] == pytest.approx(3.0)


def test_a_last_write_never_held_counts_as_unconverged() -> None:
    rows = [
        meta(),  # 0
        connect(0, "phone"),  # 1
        connect(0, "tablet"),  # 2
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 3 the tablet never gets it
        device_snapshot("phone"),  # 4
        device_snapshot("tablet"),  # 5
    ]
    result = run(rows)
    assert result.metrics["unconverged_writes"] == 1
    # No lag at all: the figures are 0, not undefined.
    assert result.metrics["p50_convergence_lag"] == 0
    assert result.metrics["max_convergence_lag"] == 0


def test_a_device_that_held_the_write_before_it_connected_counts_zero() -> None:
    # The tablet is offline when e1 is written and gets it over REST (a merge row) at 50,
    # before its socket opens at 60: its share is max(0, 50 - 60) = 0, not negative.
    rows = [
        meta(),  # 0
        connect(0, "phone"),  # 1
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 2
        merge(50, "tablet", "e1", accepted=True, fingerprint="fpA"),  # 3
        connect(60, "tablet"),  # 4
        device_snapshot("phone"),  # 5
        device_snapshot("tablet"),  # 6
    ]
    result = run(rows)
    assert result.metrics["max_convergence_lag"] == 0
    assert result.metrics["unconverged_writes"] == 0


# -- catch-up bytes ---------------------------------------------------------------------------


def catch_up_rows() -> list[Record]:
    return [
        meta(),  # 0
        connect(0, "phone"),  # 1
        connect(0, "tablet"),  # 2
        received(0.1, SERVER, "SYNC_REQUEST", 999),  # 3 server side: never counted
        received(0.2, "tablet", "SYNC_RESPONSE", 150, reason=CATCH_UP_DONE),  # 4 tablet: 150
        received(0.2, "phone", "BULK_SYNC", 5000),  # 5
        received(0.3, "phone", "SYNC_RESPONSE", 200, reason=CATCH_UP_DONE),  # 6 phone: 5200
        received(50, "phone", "ENTRY_CREATED", 400),  # 7 after the catch-up: not counted
        disconnect(100, "phone"),  # 8
        connect(200, "phone", number=2),  # 9
        received(200.1, "phone", "ENTRY_UPDATED", 400, number=2),  # 10
        # A SYNC_RESPONSE that does not say "Sync complete" does not end the catch-up.
        received(200.2, "phone", "SYNC_RESPONSE", 50, reason="page 1 of 2", number=2),  # 11
        received(200.3, "phone", "SYNC_RESPONSE", 250, reason=CATCH_UP_DONE, number=2),  # 12
        # phone's second catch-up: 400 + 50 + 250 = 700
        disconnect(290, "tablet"),  # 13
        connect(300, "tablet", number=2),  # 14
        received(300.1, "tablet", "BULK_SYNC", 1000, number=2),  # 15 ...
        disconnect(300.2, "tablet", number=2),  # 16 ... cut off before it completed
        connect(400, "tablet", number=3),  # 17 starts again from zero
        received(400.1, "tablet", "SYNC_RESPONSE", 100, reason=CATCH_UP_DONE, number=3),  # 18
        # tablet's last catch-up: 100 (the 1000 of the cut-off one is not counted anywhere)
        connect(500, "laptop"),  # 19 never completes: no figure
        received(500.1, "laptop", "BULK_SYNC", 7000),  # 20
    ]


def test_catch_up_bytes() -> None:
    rows = catch_up_rows()
    # In row order of completion: tablet 150 (row 4), phone 5200 (row 6), phone 700 (row 12),
    # tablet 100 (row 18).
    assert metrics.catch_up_bytes(View(History(rows))) == [150, 5200, 700, 100]
    result = run(rows)
    assert result.metrics["max_catch_up_bytes"] == 5200
    # (150 + 5200 + 700 + 100) / 4 = 6150 / 4 = 1537.5
    assert result.metrics["mean_catch_up_bytes"] == pytest.approx(1537.5)


def test_catch_up_bytes_without_any_completed_catch_up() -> None:
    rows = [
        meta(),  # 0
        connect(0, "phone"),  # 1
        received(0.2, "phone", "BULK_SYNC", 5000),  # 2
    ]
    result = run(rows)
    assert result.metrics["max_catch_up_bytes"] == 0
    assert result.metrics["mean_catch_up_bytes"] == 0


# -- sync requests per connection, outbox depth -----------------------------------------------


def test_sync_requests_per_connection() -> None:
    rows = [
        meta(),  # 0
        connect(0, "phone"),  # 1
        sent(0.1, "phone", frame_type="SYNC_REQUEST", nbytes=100),  # 2
        connect(0, "tablet"),  # 3
        sent(0.1, "tablet", frame_type="SYNC_REQUEST", nbytes=100),  # 4
        sent(30, "tablet", frame_type="SYNC_REQUEST", nbytes=100),  # 5 asked again
        disconnect(60, "phone"),  # 6
        connect(90, "phone", number=2),  # 7
        sent(90.1, "phone", frame_type="SYNC_REQUEST", nbytes=100),  # 8
        connect(120, "laptop"),  # 9 never asks
        sent(0.2, SERVER, frame_type="SYNC_RESPONSE", nbytes=200),  # 10 not a request
    ]
    result = run(rows)
    assert result.metrics["sync_requests"] == 4  # rows 2, 4, 5, 8
    assert result.metrics["connections"] == 4  # rows 1, 3, 7, 9
    assert result.metrics["sync_requests_per_connection"] == pytest.approx(1.0)  # 4 / 4
    rows.append(connect(150, "laptop", number=2))  # 11
    # 4 / 5 = 0.8
    assert run(rows).metrics["sync_requests_per_connection"] == pytest.approx(0.8)


def test_max_outbox_depth() -> None:
    rows = [
        meta(),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        queue(10, "phone", "enqueue", "phone#1", "e1", depth=1),  # 2
        write(20, "phone", "phone#2", "create", "e2", "fpB"),  # 3
        queue(20, "phone", "enqueue", "phone#2", "e2", depth=2),  # 4
        write(25, "tablet", "tablet#1", "create", "e3", "fpX"),  # 5
        queue(25, "tablet", "enqueue", "tablet#1", "e3", depth=1),  # 6
        write(30, "phone", "phone#3", "create", "e4", "fpC"),  # 7
        queue(30, "phone", "enqueue", "phone#3", "e4", depth=3),  # 8 the most: 3
        queue(40, "phone", "send", "phone#1", "e1", depth=3),  # 9
        queue(40.1, "phone", "ack", "phone#1", "e1", depth=2),  # 10
        queue(41, "phone", "send", "phone#2", "e2", depth=2),  # 11
        queue(41.1, "phone", "ack", "phone#2", "e2", depth=1),  # 12
    ]
    # max(1, 2, 1, 3, 3, 2, 2, 1) = 3, over both devices
    assert run(rows).metrics["max_outbox_depth"] == 3
    assert run([meta()]).metrics["max_outbox_depth"] == 0


# -- bytes by frame type ----------------------------------------------------------------------


def test_frame_bytes_by_type() -> None:
    rows = [
        meta(),  # 0
        sent(1, "phone", frame_type="SYNC_REQUEST", nbytes=100),  # 1
        sent(2, "tablet", frame_type="SYNC_REQUEST", nbytes=120),  # 2
        sent(2.1, SERVER, frame_type="SYNC_RESPONSE", nbytes=2000),  # 3
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 4
        sent(10, "phone", "phone#1", "e1", nbytes=400),  # 5
        applied(10.05, "e1", "fpA", write_id="phone#1"),  # 6
        sent(10.05, SERVER, "phone#1", "e1", nbytes=500),  # 7 the broadcast to the tablet
        received(10.1, "tablet", "ENTRY_CREATED", 500),  # 8 received frames are not counted
        keepalive(80, "phone", ping=(4, 40), pong=(4, 44)),  # 9
        keepalive(90, "tablet", ping=(1, 10), pong=(0, 0)),  # 10
    ]
    table = metrics.frame_bytes_by_type(View(History(rows)))
    assert table == {
        # row 7 and row 5
        "ENTRY_CREATED": {"count": 2.0, "bytes": 900.0, "max": 500.0},
        # keep-alive sums: 4 + 1 frames, 40 + 10 bytes; largest per-frame mean: 40/4 = 10/1 = 10
        "PING": {"count": 5.0, "bytes": 50.0, "max": 10.0},
        # 4 + 0 frames, 44 + 0 bytes; 44/4 = 11 (the empty tablet row counts as 0)
        "PONG": {"count": 4.0, "bytes": 44.0, "max": 11.0},
        # rows 1 and 2: 100 + 120
        "SYNC_REQUEST": {"count": 2.0, "bytes": 220.0, "max": 120.0},
        # row 3
        "SYNC_RESPONSE": {"count": 1.0, "bytes": 2000.0, "max": 2000.0},
    }
    assert list(table) == sorted(table)
    # The table agrees with the totals: 220 + 2000 + 900 frame bytes, 50 + 44 keep-alive bytes.
    result = run(rows)
    assert result.metrics["bytes_sent"] == sum(entry["bytes"] for entry in table.values())
    assert result.metrics["bytes_sent"] == 220 + 2000 + 900 + 50 + 44
    assert result.metrics["frames_sent"] == sum(entry["count"] for entry in table.values())


def test_frame_bytes_by_type_of_an_empty_history() -> None:
    assert metrics.frame_bytes_by_type(View(History([meta()]))) == {}
