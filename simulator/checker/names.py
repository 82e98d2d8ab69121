"""The names an `expect:` block may bound: anomalies the checker finds and metrics it measures.

Only names the checker really computes are listed, so an expectation can never pass because
nothing looked. Each metric has a unit, which says how its bound is written in YAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Anomaly(StrEnum):
    LOST_WRITE = "lost_write"
    REFUSED_WRITE = "refused_write"
    LWW_VIOLATION = "lww_violation"
    LOST_UPDATE = "lost_update"
    DIVERGENCE = "divergence"
    MISSING_HISTORY = "missing_history"
    RESURRECTION = "resurrection"
    DUPLICATE = "duplicate"
    LEAK = "leak"
    PAYLOAD = "payload"
    PROTOCOL_VIOLATION = "protocol_violation"


class Unit(StrEnum):
    COUNT = "count"
    BYTES = "bytes"
    SECONDS = "seconds"


@dataclass(frozen=True)
class AnomalyInfo:
    """What the report says about an anomaly: its one-line meaning, the rule of a correct sync
    system it breaks (what a finding's story is read against), its colour in plots, and the
    unit its count is in (an expectation bounds the number of findings)."""

    meaning: str
    rule: str
    colour: str
    unit: Unit = Unit.COUNT


# The anomaly registry: checker, HTML and plots take meaning and colour from here, in this
# order. A new anomaly is an entry here and in `Anomaly`, plus the check that finds it.
ANOMALIES: dict[Anomaly, AnomalyInfo] = {
    Anomaly.LOST_WRITE: AnomalyInfo(
        "the last write of an item is not in the server's final state, "
        "and nothing later superseded it",
        "every write a user makes ends up on the server, unless a later write of the same item "
        "supersedes it",
        "#c0392b",
    ),
    Anomaly.REFUSED_WRITE: AnomalyInfo(
        "the server answered the last write of an item with ERROR and does not hold it",
        "the server stores every write that fits the protocol; a write it refuses is lost to its "
        "user",
        "#6d4c41",
    ),
    Anomaly.LWW_VIOLATION: AnomalyInfo(
        "the server ended with an older value, by the profile's own rule, "
        "although the newer write reached it",
        "the server ends with the newest write by the profile's own conflict rule (updatedAt, or "
        "version first)",
        "#8e44ad",
    ),
    Anomaly.LOST_UPDATE: AnomalyInfo(
        "a write made later in true time lost to an earlier one, because "
        "the earlier device's clock stamped a later updatedAt",
        "the edit made last in true time wins; a device clock's error must not decide which edit "
        "survives",
        "#d35400",
    ),
    Anomaly.DIVERGENCE: AnomalyInfo(
        "after settling, a device holds a different value than the server, "
        "or an item the server does not have live",
        "once every device has settled online, each holds what the server holds",
        "#2c3e50",
    ),
    Anomaly.MISSING_HISTORY: AnomalyInfo(
        "after settling, a device lacks an item the server has live",
        "once every device has settled online, each holds every live item the server has",
        "#16a085",
    ),
    Anomaly.RESURRECTION: AnomalyInfo(
        "an item whose last write was a delete is live at the end",
        "an item whose last write was a delete stays deleted, on the server and on every device",
        "#7f8c8d",
    ),
    Anomaly.DUPLICATE: AnomalyInfo(
        "two live items for one logical item, or one write applied twice",
        "one logical item is one live item, and one write is applied once",
        "#b7950b",
    ),
    Anomaly.LEAK: AnomalyInfo(
        "a device received an item that belongs to another user",
        "a device only ever receives its own user's data",
        "#1f618d",
    ),
    Anomaly.PROTOCOL_VIOLATION: AnomalyInfo(
        "the server broke one of its protocol's rules, seen from outside (the cause names the "
        "rule)",
        "the server does what its protocol says (README: The server's rules)",
        "#5d4037",
    ),
    Anomaly.PAYLOAD: AnomalyInfo(
        "a frame larger than limits.max_frame_bytes",
        "no frame is larger than limits.max_frame_bytes",
        "#e84393",
    ),
}
if set(ANOMALIES) != set(Anomaly):  # pragma: no cover - a registry out of step fails at import
    raise ImportError(f"anomaly registry and Anomaly differ: {set(ANOMALIES) ^ set(Anomaly)}")

UNKNOWN_COLOUR = "#555555"  # an anomaly this version does not know (a newer report compared)


def anomaly_info(name: str) -> AnomalyInfo:
    """The registry entry of an anomaly by name; a name this version does not know gets a
    neutral entry, so a report from another version still renders."""
    try:
        return ANOMALIES[Anomaly(name)]
    except ValueError:
        return AnomalyInfo("", "", UNKNOWN_COLOUR)


def anomaly_order(names: set[str] | frozenset[str]) -> list[str]:
    """Names in registry order, unknown ones after, alphabetically."""
    known = [a.value for a in ANOMALIES if a.value in names]
    return known + sorted(set(names) - set(known))


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
    "server_rewrites": (
        Unit.COUNT,
        "items the server holds as written (same updatedAt) in other content: normalized",
    ),
}

EXPECTABLE = frozenset(a.value for a in Anomaly) | frozenset(METRICS)
