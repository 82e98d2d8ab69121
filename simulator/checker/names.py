"""The names an `expect:` block may bound: anomalies the checker finds and metrics it measures.

Only names the checker really computes are listed, so an expectation can never pass because
nothing looked. Each metric has a unit, which says how its bound is written in YAML.
"""

from __future__ import annotations

from enum import StrEnum


class Anomaly(StrEnum):
    LOST_WRITE = "lost_write"
    LWW_VIOLATION = "lww_violation"
    LOST_UPDATE = "lost_update"
    DIVERGENCE = "divergence"
    MISSING_HISTORY = "missing_history"
    RESURRECTION = "resurrection"
    DUPLICATE = "duplicate"
    LEAK = "leak"
    PAYLOAD = "payload"


class Unit(StrEnum):
    COUNT = "count"
    BYTES = "bytes"
    SECONDS = "seconds"


METRICS: dict[str, tuple[Unit, str]] = {
    "writes": (Unit.COUNT, "user writes (creates, updates, deletes)"),
    "frames_sent": (Unit.COUNT, "frames sent by devices and the server, keep-alives included"),
    "frames_lost": (Unit.COUNT, "frames lost in flight when a connection dropped"),
    "bytes_sent": (Unit.BYTES, "bytes of all frames sent, keep-alives included"),
    "max_frame_bytes": (Unit.BYTES, "size of the largest frame"),
    "bytes_per_change": (Unit.BYTES, "bytes of all frames but keep-alives, per user write"),
    "sync_requests": (Unit.COUNT, "SYNC_REQUEST frames sent"),
    "sync_requests_per_connection": (Unit.COUNT, "SYNC_REQUEST frames per connection opened"),
    "connections": (Unit.COUNT, "connections opened"),
    "queue_drops": (
        Unit.COUNT,
        "outbox items dropped (expired, cap, retries) or lost (reload, wipe); not superseded ones",
    ),
    "max_outbox_depth": (Unit.COUNT, "the most items any device's outbox held"),
    "reloads": (Unit.COUNT, "device page reloads"),
    "p50_convergence_lag": (Unit.SECONDS, "median time until every other device holds a write"),
    "p95_convergence_lag": (Unit.SECONDS, "95th percentile of that time"),
    "max_convergence_lag": (Unit.SECONDS, "the longest of that time"),
    "unconverged_writes": (Unit.COUNT, "writes some device never held, not superseded"),
    "max_catch_up_bytes": (Unit.BYTES, "most bytes received in one catch-up after connecting"),
    "mean_catch_up_bytes": (Unit.BYTES, "mean bytes received per catch-up"),
}

EXPECTABLE = frozenset(a.value for a in Anomaly) | frozenset(METRICS)
