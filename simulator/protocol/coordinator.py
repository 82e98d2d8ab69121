"""Coordinator: the reference sync server's logic, sans I/O.

How it works: a driver reports connections opening and closing and hands over every text
message with the server's `now`. The coordinator validates the frame, stores mutations in its
`ServerStore`, and queues what it wants sent as `Outgoing` items (connection id plus text),
which the driver drains and delivers. A mutation is acknowledged to its sender with
`SYNC_RESPONSE` and broadcast to the same user's other connections, never to another user's.
A refused frame gets an `ERROR` frame and changes nothing else. The REST endpoints
(`rest_pull`, `rest_push`) work on the same store and broadcast the same way.

Every frame, whatever it is, gets an answer: a PING its PONG, a SYNC_REQUEST its bulk frames and
one SYNC_RESPONSE, a mutation one SYNC_RESPONSE or one ERROR, anything else one ERROR. No peer
data makes `receive` raise: a frame is held to the limits of `entities.check_frame_fields`
(UTF-8, lengths, 64-bit integers, depth) before anything reads it.

The server stores whatever valid change arrives last: it applies no conflict rule of its own,
as the modelled server does not. Which behaviours are on (repertoire bulk, chunking, versions
in broadcasts, ACKs naming the messageId, idempotency) is the profile's business.

All in-memory state (who is connected) is lost when the server restarts; the store is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from simulator.protocol.breaks import Break
from simulator.protocol.changes import Change, validate
from simulator.protocol.codec import BadFrame, Frame, FrameType, decode, error_frame
from simulator.protocol.entities import (
    MAX_ID_LENGTH,
    Invalid,
    check_frame_fields,
    check_json,
    fits_id,
)
from simulator.protocol.kinds import (
    ENTRY_KIND,
    KINDS,
    MUTATIONS,
    PIECE_KIND,
    EntityKind,
    kind,
)
from simulator.protocol.profile import DAY, Idempotency, Profile
from simulator.protocol.store import Processed, Row, ServerStore
from simulator.protocol.timefmt import parse_iso_z


@dataclass(frozen=True)
class Outgoing:
    """A frame the server wants sent on one connection. `text` is `frame` encoded, unless a
    rule is broken on purpose (`faithful` False): then only the text says what is sent."""

    conn_id: str
    frame: Frame
    text: str
    faithful: bool = True


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


@dataclass(frozen=True)
class Deduplicated:
    """Server-internal evidence: a mutation already applied was acknowledged, not re-applied."""

    conn_id: str
    user_id: str
    key: str
    seq: int


ServerOutput = Outgoing | Applied | Refused | Deduplicated

REST = "rest"  # the connection id of changes that came over REST


class Coordinator:
    def __init__(
        self, store: ServerStore, profile: Profile, breaks: frozenset[Break] = frozenset()
    ) -> None:
        self.store = store
        self.profile = profile
        self.breaks = breaks  # rules broken on purpose, to test the probes (breaks.py)
        self._users: dict[str, str] = {}
        # Each user's connections, in their order in `_users`: a broadcast looks at these
        # only, not at every connection of every user.
        self._by_user: dict[str, dict[str, None]] = {}
        self._out: list[ServerOutput] = []

    # -- inputs -------------------------------------------------------------------------

    def open(self, conn_id: str, user_id: str, now: float) -> None:
        before = self._users.get(conn_id)
        self._users[conn_id] = user_id
        if before is None:
            self._by_user.setdefault(user_id, {})[conn_id] = None
        elif before != user_id:
            # The id keeps its place in `_users` under its new user: index that order afresh.
            self._by_user = {}
            for conn, user in self._users.items():
                self._by_user.setdefault(user, {})[conn] = None
        if Break.WELCOME not in self.breaks:
            self._send(conn_id, Frame.make(FrameType.WELCOME, now, message="Connected"))

    def close(self, conn_id: str) -> None:
        user = self._users.pop(conn_id, None)
        if user is not None:
            conns = self._by_user[user]
            del conns[conn_id]
            if not conns:
                del self._by_user[user]

    def _others(self, conn_id: str, user: str) -> list[str]:
        """The user's connections but `conn_id`, in the order they opened."""
        return [other for other in self._by_user.get(user, ()) if other != conn_id]

    def receive(self, conn_id: str, text: str | bytes, now: float) -> None:
        if conn_id not in self._users:
            return
        frame = decode(text)
        if isinstance(frame, BadFrame):
            self._refuse(conn_id, frame.reason, now)
            return
        try:
            check_frame_fields(frame.fields)
        except Invalid as error:
            self._refuse(conn_id, f"invalid {frame.type.value}: {error}", now, frame)
            return
        if frame.type is FrameType.PING:
            pong = self.pong(now)
            if pong is not None:
                self._send(conn_id, pong)
        elif frame.type is FrameType.SYNC_REQUEST:
            self._catch_up(conn_id, frame, now)
        elif frame.type in MUTATIONS:
            self._mutate(conn_id, frame, now)
        else:
            self._refuse(conn_id, f"unsupported event {frame.type.value}", now, frame)

    def drain(self) -> list[ServerOutput]:
        out, self._out = self._out, []
        return out

    @property
    def connections(self) -> dict[str, str]:
        return dict(self._users)

    # -- output helpers -----------------------------------------------------------------

    def _send(self, conn_id: str, frame: Frame) -> None:
        text = self.text_of(frame)
        self._out.append(
            Outgoing(conn_id, frame, text, faithful=Break.FRAME_SHAPE not in self.breaks)
        )

    def text_of(self, frame: Frame) -> str:
        """What the server puts on the wire for `frame` (its encoding, unless a rule is
        broken on purpose)."""
        text = frame.encode()
        if Break.FRAME_SHAPE in self.breaks:
            text = text.replace(f'"{frame.timestamp}"', f'"{frame.timestamp[:-1]}+00:00"', 1)
        return text

    def pong(self, now: float) -> Frame | None:
        """The answer to a PING (None: a server breaking the rule answers none)."""
        return None if Break.PONG in self.breaks else Frame.make(FrameType.PONG, now)

    def _refuse(self, conn_id: str, reason: str, now: float, frame: Frame | None = None) -> None:
        self._out.append(Refused(conn_id, reason))
        if frame is not None and not fits_id(frame.get("messageId")):
            frame = None  # only a messageId fit to send back is echoed
        self._send(conn_id, error_frame(reason, now, frame))

    # -- catch-up -----------------------------------------------------------------------

    def _rows_since(self, user: str, frame: Frame, now: float) -> list[Row]:
        last_seq = frame.get("lastSeq")
        if isinstance(last_seq, int) and not isinstance(last_seq, bool) and last_seq > 0:
            rows = self.store.changed_since_seq(user, last_seq)
            return rows[1:] if Break.CATCH_UP in self.breaks else rows
        since = parse_iso_z(frame.get("lastSyncTime"))
        if since is None or since > now:
            since = now - self.profile.window_days * DAY
        return self.store.changed_since(user, since)

    def _item(self, row: Row) -> dict[str, Any]:
        data = {**row.data, "id": row.entity_id} if row.deleted else row.data
        if self.profile.version_in_broadcasts:
            return {**data, "version": self._version_told(row.version)}
        return data

    def _seq_told(self, seq: int) -> int:
        """The seq a client is told: the row's own, or counting down (Break.SEQ_ORDER)."""
        return max(1, 1_000_000 - seq) if Break.SEQ_ORDER in self.breaks else seq

    def _version_told(self, version: int) -> int:
        return 1 if Break.VERSION_ORDER in self.breaks else version

    def _chunks(self, rows: list[Row]) -> list[list[Row]]:
        size = self.profile.bulk_chunk_size
        if size <= 0:
            return [rows]
        return [rows[i : i + size] for i in range(0, len(rows), size)] or [[]]

    def _bulk(
        self, conn_id: str, type_: FrameType, field: str, rows: list[Row], now: float
    ) -> None:
        chunked = self.profile.bulk_chunk_size > 0
        for page, chunk in enumerate(self._chunks(rows)):
            fields: dict[str, Any] = {field: [self._item(r) for r in chunk]}
            if chunked:
                fields["page"] = page
            if self.profile.version_in_broadcasts and chunk:
                fields["lastSeq"] = self._seq_told(max(r.seq for r in chunk))
            self._send(conn_id, Frame.make(type_, now, **fields))

    def _bulk_events(self) -> list[tuple[EntityKind, FrameType]]:
        """Each kind a catch-up carries, with the bulk frame it goes in: logbook rows in
        BULK_SYNC, repertoire rows (when the profile sends them) under the profile's name."""
        events = [(ENTRY_KIND, FrameType.BULK_SYNC)]
        if self.profile.repertoire_bulk:
            events.append((PIECE_KIND, FrameType(self.profile.repertoire_bulk_event)))
        return events

    def _catch_up(self, conn_id: str, frame: Frame, now: float) -> None:
        rows = self._rows_since(self._users[conn_id], frame, now)
        sent: list[Row] = []
        live_only = Break.CATCH_UP_FRAMES not in self.breaks
        for owner, event in self._bulk_events():
            of_kind = [r for r in rows if r.entity_type == owner.name]
            batch = [r for r in of_kind if not (r.deleted and live_only)]
            self._bulk(conn_id, event, owner.bulk, batch, now)
            sent += of_kind
        for row in sent:
            if row.deleted:
                change = Change(
                    kind(row.entity_type).deleted, row.entity_type, row.entity_id, {}, True
                )
                self._send(conn_id, Frame.make(change.type, now, **change.body()))
        last_seq = self._seq_told(max((r.seq for r in sent), default=0)) if sent else 0
        if Break.CATCH_UP_END in self.breaks:
            last_seq = 0
        done = Frame.make(FrameType.SYNC_RESPONSE, now, message="Sync complete", lastSeq=last_seq)
        self._send(conn_id, done)

    # -- mutations ----------------------------------------------------------------------

    def _idempotency_key(self, frame: Frame) -> str | None:
        if Break.IDEMPOTENT in self.breaks:
            return None
        mode = self.profile.idempotency
        if mode is Idempotency.MESSAGE_ID and isinstance(frame.get("messageId"), str):
            return f"msg:{frame.get('messageId')}"
        if mode is Idempotency.CLIENT_CHANGE:
            device, change = frame.get("deviceId"), frame.get("clientChangeId")
            if isinstance(device, str) and isinstance(change, int):
                return f"change:{device}:{change}"
        return None

    def _mutate(self, conn_id: str, frame: Frame, now: float) -> None:
        user = self._users[conn_id]
        try:
            change = validate(frame)
        except Invalid as error:
            self._refused_mutation(
                conn_id, user, frame, f"invalid {frame.type.value}: {error}", now
            )
            return
        if Break.STORED_FORM in self.breaks and not change.deleted:
            sent = frame.get(kind(change.entity_type).body)
            change = replace(change, data={**sent, **change.data})
        key = self._idempotency_key(frame)
        seen = None if key is None else self.store.processed(user, key)
        if seen is not None:
            assert key is not None
            self._out.append(Deduplicated(conn_id, user, key, seen.seq))
            self._ack(conn_id, frame, seen, now)
            return
        row = self._store(
            conn_id, user, change, now, change.data.get("device_id") or frame.get("deviceId")
        )
        if key is not None:
            self.store.remember(user, key, row)
        self._ack(conn_id, frame, row, now)

    def _refused_mutation(
        self, conn_id: str, user: str, frame: Frame, reason: str, now: float
    ) -> None:
        """A mutation the data rules refuse: an ERROR, and nothing else (unless broken)."""
        if Break.VALIDATION in self.breaks:
            last = max((r.seq for r in self.store.rows(user)), default=0)
            done = Frame.make(
                FrameType.SYNC_RESPONSE, now, message="Mutation applied", lastSeq=last
            )
            self._send(conn_id, done)
            return
        self._refuse(conn_id, reason, now, frame)
        if Break.REFUSED_UNCHANGED in self.breaks:
            for other in self._others(conn_id, user):
                self._send(other, frame)

    def _store(self, conn_id: str, user: str, change: Change, now: float, device: Any) -> Row:
        device_id = device if isinstance(device, str) else None
        before = None  # the row as it was: only Break.DURABLE puts it back
        if Break.DURABLE in self.breaks:
            before = self.store.get(user, change.entity_type, change.entity_id)
        row = self.store.write(
            user,
            change.entity_type,
            change.entity_id,
            change.data,
            device_id,
            now,
            deleted=change.deleted,
        )
        self._out.append(
            Applied(
                conn_id,
                user,
                row.entity_type,
                row.entity_id,
                row.version,
                row.seq,
                row.checksum,
                row.deleted,
            )
        )
        self._broadcast(conn_id, user, change, row, now)
        if before is not None and not change.deleted:
            # The item is quietly put back as it was, after the update was acknowledged.
            self.store.write(user, row.entity_type, row.entity_id, before.data, device_id, now)
        return row

    def _broadcast(self, sender: str, user: str, change: Change, row: Row, now: float) -> None:
        others = self._others(sender, user)
        if Break.BROADCAST in self.breaks or not others:
            return
        extra: dict[str, Any] = {}
        if self.profile.version_in_broadcasts:
            extra = {"version": self._version_told(row.version), "seq": self._seq_told(row.seq)}
        frame = Frame.make(change.type, now, **change.body(), **extra)
        for other in others:
            self._send(other, frame)

    def _ack(self, conn_id: str, frame: Frame, row: Row | Processed, now: float) -> None:
        if Break.ANSWERED in self.breaks:
            return
        fields: dict[str, Any] = {"message": "Mutation applied", "lastSeq": self._seq_told(row.seq)}
        if self.profile.acks:
            if isinstance(frame.get("messageId"), str):
                fields["messageId"] = frame.get("messageId")
            fields.update(entityType=row.entity_type, entityId=row.entity_id)
            if self.profile.version_in_broadcasts:
                fields["version"] = self._version_told(row.version)
        self._send(conn_id, Frame.make(FrameType.SYNC_RESPONSE, now, **fields))

    # -- REST beside the socket ---------------------------------------------------------

    def rest_pull(self, user: str, now: float) -> dict[str, Any]:
        """POST /api/sync/pull: every live row of the user."""
        rows = [r for r in self.store.rows(user) if not r.deleted]
        if Break.REST_PULL in self.breaks:
            rows = rows[:-1]  # rows come in seq order: the newest is left out
        return {
            **{
                owner.bulk: [self._item(r) for r in rows if r.entity_type == owner.name]
                for owner in KINDS
            },
            "lastSeq": max((r.seq for r in self.store.rows(user)), default=0),
            "timestamp": Frame.make(FrameType.PONG, now).timestamp,
        }

    def rest_push(
        self, user: str, body: object, idempotency_key: str | None, now: float
    ) -> tuple[int, dict[str, Any]]:
        """POST /api/sync/push: all changes or none; a repeated key gets the first answer.

        A body that breaks the frame limits or holds an invalid change is answered 400 with an
        `error` naming the field (`changes[2].entry.duration: ...`)."""
        if Break.REST_PUSH in self.breaks:
            idempotency_key = None
        if idempotency_key and not fits_id(idempotency_key):
            return 400, {"error": f"X-Idempotency-Key: longer than {MAX_ID_LENGTH} characters"}
        if idempotency_key:
            earlier = self.store.rest_response(user, idempotency_key)
            if earlier is not None:
                return earlier
        try:
            check_json(body)
        except Invalid as error:
            return 400, {"error": str(error)}
        changes = body.get("changes") if isinstance(body, Mapping) else None
        if not isinstance(changes, list):
            return 400, {"error": "changes: required list"}
        validated = []
        for index, change in enumerate(changes):
            try:
                validated.append(validate(_as_frame(change, now)))
            except Invalid as error:
                return 400, {"error": f"changes[{index}]: {error}"}
        rows = [self._store(REST, user, change, now, None) for change in validated]
        answer = (200, {"applied": len(rows), "lastSeq": max((r.seq for r in rows), default=0)})
        if idempotency_key:
            self.store.remember_rest(user, idempotency_key, answer)
        return answer


_MUTATION_NAMES = frozenset(t.value for t in MUTATIONS)


def _as_frame(change: object, now: float) -> Frame:
    type_ = change.get("type") if isinstance(change, Mapping) else None
    if not isinstance(type_, str) or type_ not in _MUTATION_NAMES:
        raise Invalid("type: each change needs a mutation type such as ENTRY_CREATED")
    assert isinstance(change, Mapping)
    fields = {k: v for k, v in change.items() if k not in ("type", "timestamp")}
    return Frame.make(FrameType(type_), now, **fields)
