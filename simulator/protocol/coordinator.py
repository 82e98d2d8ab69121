"""Coordinator: the reference sync server's per-user logic, sans I/O.

How it works: a driver reports connections opening and closing and hands over every text
message with the server's `now`. The coordinator validates the frame, stores mutations in its
`ServerStore`, and queues what it wants sent as `Outgoing` items (connection id plus text),
which the driver drains and delivers. A mutation is acknowledged to its sender with
`SYNC_RESPONSE` and broadcast to the same user's other connections, never to another user's.
A refused frame gets an `ERROR` frame and changes nothing else. All in-memory state (who is
connected) is lost when the server restarts; the store is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulator.protocol.entities import Invalid, clean_entry
from simulator.protocol.frames import (
    ENTRY,
    ENTRY_WRITES,
    BadFrame,
    Frame,
    FrameType,
    decode,
)
from simulator.protocol.profile import DAY, Profile
from simulator.protocol.store import Row, ServerStore
from simulator.protocol.timefmt import parse_iso_z


@dataclass(frozen=True)
class Outgoing:
    """A frame the server wants sent on one connection."""

    conn_id: str
    frame: Frame
    text: str


@dataclass(frozen=True)
class Applied:
    """Server-internal evidence: a mutation was stored."""

    conn_id: str
    user_id: str
    entity_type: str
    entity_id: str
    version: int
    seq: int
    checksum: str
    deleted: bool


@dataclass(frozen=True)
class Refused:
    """Server-internal evidence: a frame was refused with an ERROR frame."""

    conn_id: str
    reason: str


ServerOutput = Outgoing | Applied | Refused


class Coordinator:
    def __init__(self, store: ServerStore, profile: Profile) -> None:
        self.store = store
        self.profile = profile
        self._users: dict[str, str] = {}
        self._out: list[ServerOutput] = []

    # -- inputs -------------------------------------------------------------------------

    def open(self, conn_id: str, user_id: str, now: float) -> None:
        self._users[conn_id] = user_id
        self._send(conn_id, Frame.make(FrameType.WELCOME, now, message="Connected"))

    def close(self, conn_id: str) -> None:
        self._users.pop(conn_id, None)

    def receive(self, conn_id: str, text: str | bytes, now: float) -> None:
        if conn_id not in self._users:
            return
        frame = decode(text)
        if isinstance(frame, BadFrame):
            self._refuse(conn_id, frame.reason, now)
        elif frame.type is FrameType.PING:
            self._send(conn_id, Frame.make(FrameType.PONG, now))
        elif frame.type is FrameType.SYNC_REQUEST:
            self._catch_up(conn_id, frame, now)
        elif frame.type in ENTRY_WRITES or frame.type is FrameType.ENTRY_DELETED:
            self._mutate_entry(conn_id, frame, now)
        else:
            self._refuse(conn_id, f"unsupported event {frame.type.value}", now)

    def drain(self) -> list[ServerOutput]:
        out, self._out = self._out, []
        return out

    @property
    def connections(self) -> dict[str, str]:
        return dict(self._users)

    # -- handlers -----------------------------------------------------------------------

    def _send(self, conn_id: str, frame: Frame) -> None:
        self._out.append(Outgoing(conn_id, frame, frame.encode()))

    def _refuse(self, conn_id: str, reason: str, now: float) -> None:
        self._out.append(Refused(conn_id, reason))
        self._send(conn_id, Frame.make(FrameType.ERROR, now, error=reason))

    def _cursor(self, frame: Frame, now: float) -> float:
        since = parse_iso_z(frame.get("lastSyncTime"))
        if since is None or since > now:
            return now - self.profile.window_days * DAY
        return since

    def _catch_up(self, conn_id: str, frame: Frame, now: float) -> None:
        user = self._users[conn_id]
        rows = [r for r in self.store.changed_since(user, self._cursor(frame, now))]
        entries = [r for r in rows if r.entity_type == ENTRY]
        live = [r.data for r in entries if not r.deleted]
        self._send(conn_id, Frame.make(FrameType.BULK_SYNC, now, entries=live))
        for row in entries:
            if row.deleted:
                self._send(conn_id, Frame.make(FrameType.ENTRY_DELETED, now, entryId=row.entity_id))
        last_seq = max((r.seq for r in entries), default=0)
        self._send(
            conn_id,
            Frame.make(FrameType.SYNC_RESPONSE, now, message="Sync complete", lastSeq=last_seq),
        )

    def _mutate_entry(self, conn_id: str, frame: Frame, now: float) -> None:
        user = self._users[conn_id]
        if frame.type is FrameType.ENTRY_DELETED:
            entry_id = frame.get("entryId")
            if not isinstance(entry_id, str) or not entry_id:
                self._refuse(conn_id, "entryId: required non-empty string", now)
                return
            row = self.store.write(user, ENTRY, entry_id, {}, None, now, deleted=True)
            self._applied(conn_id, row, now, {"entryId": entry_id})
            return
        try:
            entry = clean_entry(frame.get("entry"))
        except Invalid as error:
            self._refuse(conn_id, f"invalid entry: {error}", now)
            return
        row = self.store.write(user, ENTRY, entry["id"], entry, entry.get("device_id"), now)
        self._applied(conn_id, row, now, {"entry": entry}, frame.type)

    def _applied(
        self,
        conn_id: str,
        row: Row,
        now: float,
        body: dict[str, Any],
        type_: FrameType = FrameType.ENTRY_DELETED,
    ) -> None:
        self._out.append(
            Applied(
                conn_id,
                row.user_id,
                row.entity_type,
                row.entity_id,
                row.version,
                row.seq,
                row.checksum,
                row.deleted,
            )
        )
        ack = Frame.make(FrameType.SYNC_RESPONSE, now, message="Mutation applied", lastSeq=row.seq)
        self._send(conn_id, ack)
        broadcast = Frame.make(type_, now, **body)
        for other, user in self._users.items():
            if other != conn_id and user == row.user_id:
                self._send(other, broadcast)
