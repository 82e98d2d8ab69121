"""What a DeviceClient hands its driver: actions to carry out and observations to record.

Actions (`Send`, `OpenConnection`, `CloseConnection`, `RestPull`) are what the device wants of
its transport; observations are what happened inside it, which the driver writes into the
history. All are frozen: a driver may keep them.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.protocol.codec import BadFrame, Frame

# -- outputs: actions for the driver ------------------------------------------------------


@dataclass(frozen=True)
class Send:
    frame: Frame | BadFrame
    text: str
    write_id: str | None = None
    step: str | None = None  # the scripted step that put it on the wire (not the client)


@dataclass(frozen=True)
class OpenConnection:
    """Start connect attempt `attempt`; answer with connection_opened/failed(attempt)."""

    attempt: int


@dataclass(frozen=True)
class CloseConnection:
    """Close attempt `attempt`'s connection (or abandon the handshake, if still pending).
    A client-side close is graceful: frames already sent still reach the server."""

    attempt: int


@dataclass(frozen=True)
class RestPull:
    """POST /api/sync/pull: every live row of the user, for a backfill."""


# -- outputs: observations for the history ------------------------------------------------


@dataclass(frozen=True)
class UserWrite:
    write_id: str
    op: str
    entity_type: str
    entity_id: str
    fingerprint: str | None
    updated_at: str | None
    origin: str = "user"  # or "migration"
    label: str | None = None  # what a person knows the item by (the kind's `describe`)


@dataclass(frozen=True)
class WriteFailed:
    """A local write refused by localStorage (quota): the change exists nowhere."""

    write_id: str
    op: str
    entity_type: str
    entity_id: str
    reason: str


@dataclass(frozen=True)
class Merged:
    entity_type: str
    entity_id: str
    accepted: bool
    reason: str
    via: str
    incoming_fingerprint: str | None
    local_fingerprint: str | None
    incoming_updated_at: str | None
    local_updated_at: str | None
    incoming_version: int | None = None
    local_version: int | None = None


@dataclass(frozen=True)
class QueueEvent:
    op: str  # enqueue, send, ack, drop, lost
    write_id: str
    entity_type: str
    entity_id: str
    depth: int
    reason: str = ""
    message_id: str = ""


@dataclass(frozen=True)
class CursorMoved:
    value: str | None
    reason: str
    seq: int | None = None


@dataclass(frozen=True)
class PeerError:
    reason: str
    text: str


@dataclass(frozen=True)
class MigrationRan:
    name: str
    changed: int


@dataclass(frozen=True)
class BackfillEvent:
    op: str  # prompted, requested, done, failed
    items: int = 0


ClientOutput = (
    Send
    | OpenConnection
    | CloseConnection
    | RestPull
    | UserWrite
    | WriteFailed
    | Merged
    | QueueEvent
    | CursorMoved
    | PeerError
    | MigrationRan
    | BackfillEvent
)
