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
    PAYLOAD = "payload"


class Unit(StrEnum):
    COUNT = "count"
    BYTES = "bytes"
    SECONDS = "seconds"


METRICS: dict[str, tuple[Unit, str]] = {
    "writes": (Unit.COUNT, "user writes (creates, updates, deletes)"),
    "frames_sent": (Unit.COUNT, "frames sent by devices and the server"),
    "frames_lost": (Unit.COUNT, "frames lost in flight when a connection dropped"),
    "bytes_sent": (Unit.BYTES, "bytes of all frames sent"),
    "max_frame_bytes": (Unit.BYTES, "size of the largest frame"),
    "sync_requests": (Unit.COUNT, "SYNC_REQUEST frames sent"),
    "queue_drops": (Unit.COUNT, "offline-queue items dropped (expired, cap) or lost on reload"),
    "reloads": (Unit.COUNT, "device page reloads"),
}

EXPECTABLE = frozenset(a.value for a in Anomaly) | frozenset(METRICS)
