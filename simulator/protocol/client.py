"""DeviceClient: one device's sync client (stores, outbox, cursors), sans I/O.

How it works: the driver calls an input method with the device's own clock reading as `now`
(so everything the device stamps carries its clock error), then drains `drain()` for outputs:
`Send` (a frame to put on the socket), `OpenConnection` / `CloseConnection` / `RestPull` (what
the device wants of its transport) and observations (`UserWrite`, `Merged`, `QueueEvent`, ...)
that the driver writes into the history. After each input the driver re-arms
`next_deadline()`, a device-clock time at which it must call `tick`.

Connection states (the table in `connection.py`): CLOSED -> CONNECTING (asked the driver for
connect attempt N) -> OPEN. An answer about an attempt given up since is discarded. On open the
client starts a REST backfill if its profile says so and its cursor is missing or too old,
sends SYNC_REQUEST when its cursor is missing, invalid or stale or its outbox holds changes,
then drains the outbox. With the in-memory queue a change made while OPEN is sent at once and
forgotten; with the persisted outbox every change goes through the outbox and stays there
until its ACK. A lost connection is retried with doubling delays, a limited number of times,
and again as soon as the network comes back.

Everything in `self.storage` survives a reload; everything else is memory.

Randomness comes from the injected rng, split at once into one stream per purpose (entity ids,
message ids, retry jitter), so an extra retry never renames a later item.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from simulator.protocol.codec import BULKS, BadFrame, Frame, FrameType, decode
from simulator.protocol.connection import (
    BackfillInput,
    BackfillState,
    ConnInput,
    ConnState,
    backfill_machine,
    connection_machine,
)
from simulator.protocol.entities import (
    Entity,
    fingerprint,
    legacy_score_id,
    normalize_score_id,
    stamp_text,
)
from simulator.protocol.events import (
    BackfillEvent,
    ClientOutput,
    CloseConnection,
    CursorMoved,
    Merged,
    MigrationRan,
    OpenConnection,
    PeerError,
    QueueEvent,
    RestPull,
    Send,
    UserWrite,
    WriteFailed,
)
from simulator.protocol.kinds import (
    DATA_FRAMES,
    ENTRY,
    ENTRY_KIND,
    KINDS,
    PIECE,
    PIECE_KIND,
    EntityKind,
    kind,
    kind_of_frame,
)
from simulator.protocol.merge import bulk_merge_pieces, decide, split_version, stamp
from simulator.protocol.outbox import Dropped, MemoryQueue, Outbox, OutboxItem, PersistedOutbox
from simulator.protocol.profile import DAY, Backfill, Cursor, Idempotency, Migrations, Profile
from simulator.protocol.storage import LocalStorage
from simulator.protocol.timefmt import iso_z, parse_iso_z

__all__ = [
    "BackfillEvent",
    "ClientOutput",
    "CloseConnection",
    "ConnState",
    "CursorMoved",
    "DeviceClient",
    "Merged",
    "MigrationRan",
    "OpenConnection",
    "PeerError",
    "QueueEvent",
    "RestPull",
    "Send",
    "UserWrite",
    "WriteFailed",
]


def _version_of(frame: Frame) -> int | None:
    value = frame.get("version")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class DeviceClient:
    def __init__(
        self,
        device_id: str,
        user_id: str,
        profile: Profile,
        rng: random.Random,
        storage: LocalStorage | None = None,
        keepalive: bool = True,
    ) -> None:
        self.device_id = device_id
        # Whether this client sends its own keep-alive PINGs: the simulation accounts for
        # them itself instead (sim/keepalive.py), as they change no state.
        self.keepalive = keepalive
        self.user_id = user_id
        self.profile = profile
        # One stream per purpose, drawn from the injected rng once, in a fixed order.
        self._ids = random.Random(rng.getrandbits(64))
        self._message_ids = random.Random(rng.getrandbits(64))
        self._jitter = random.Random(rng.getrandbits(64))
        self._attempt = 0  # connect attempts of this device, never reused across reloads
        self.storage = storage if storage is not None else LocalStorage()
        self.online = True
        self._out: list[ClientOutput] = []
        self._write_serial = 0  # history labels only: unique for this simulated device's life
        self.last_write_id: str | None = None  # the newest write, for the steps that name it
        self._reset_memory()

    def _reset_memory(self) -> None:
        profile = self.profile
        self._conn = connection_machine()
        self._backfill = backfill_machine()
        self._tries = 0
        self._reconnect_at: float | None = None
        self._ping_at: float | None = None
        self.outbox: Outbox
        if profile.outbox.value == "persisted":
            self.outbox = PersistedOutbox(
                self.storage,
                profile.queue_cap,
                profile.queue_max_age_s,
                profile.outbox_max_retries,
                profile.outbox_backoff_first_s,
                profile.outbox_backoff_max_s,
                self._jitter,
            )
        else:
            self.outbox = MemoryQueue(profile.queue_cap, profile.queue_max_age_s)

    # -- what localStorage holds, by the names the real client uses ---------------------

    @property
    def entries(self) -> dict[str, Entity]:
        return self.storage.entries

    @property
    def pieces(self) -> dict[str, Entity]:
        return self.storage.pieces

    @property
    def last_sync_time(self) -> str | None:
        return self.storage.last_sync_time

    @last_sync_time.setter
    def last_sync_time(self, value: str | None) -> None:
        self.storage.last_sync_time = value

    @property
    def queue(self) -> Outbox:
        return self.outbox

    @property
    def state(self) -> ConnState:
        return self._conn.state

    @property
    def attempt(self) -> int:
        """The number of the connect attempt the client is on (0 before the first)."""
        return self._attempt

    # -- plumbing ---------------------------------------------------------------------

    def drain(self) -> list[ClientOutput]:
        out, self._out = self._out, []
        return out

    @property
    def reconnecting(self) -> bool:
        """A reconnect is scheduled; False once the client has given up (or is connected)."""
        return self._reconnect_at is not None

    def next_deadline(self) -> float | None:
        times = [self._reconnect_at, self._ping_at]
        if self.state is ConnState.OPEN:
            times.append(self.outbox.next_due())
        return min((t for t in times if t is not None), default=None)

    def _send(self, frame: Frame, write_id: str | None = None) -> None:
        self._out.append(Send(frame, frame.encode(), write_id))

    @staticmethod
    def _uuid(rng: random.Random) -> str:
        bits = f"{rng.getrandbits(128):032x}"
        return f"{bits[:8]}-{bits[8:12]}-4{bits[13:16]}-{bits[16:20]}-{bits[20:]}"

    # -- page lifecycle ---------------------------------------------------------------

    def start(self, now: float) -> None:
        """The page loads: run migrations, then ask for a connection."""
        self._migrate(now)
        self._connect()

    def reload(self, now: float) -> None:
        """The page reloads: memory (the in-memory queue, the socket) is lost."""
        for item in self.outbox.lose():
            self._queue_event("lost", item, "reload")
        if self._conn.allows(ConnInput.CLOSE):
            self._conn.handle(ConnInput.CLOSE)
            self._out.append(CloseConnection(self._attempt))
        self._reset_memory()
        self.start(now)

    def wipe(self, now: float) -> None:
        """Storage wiped or the app reinstalled: nothing local survives."""
        for item in self.outbox.items():
            self._queue_event("lost", item, "wipe")
        self.storage.wipe()
        self.reload(now)

    # -- transport inputs -------------------------------------------------------------

    def _connect(self) -> None:
        if self.state is ConnState.CLOSED and self.online:
            self._conn.handle(ConnInput.CONNECT)
            self._attempt += 1
            self._reconnect_at = None
            self._out.append(OpenConnection(self._attempt))

    def _stale(self, attempt: int | None) -> bool:
        return attempt is not None and attempt != self._attempt

    def connection_opened(self, now: float, attempt: int | None = None) -> None:
        """Attempt `attempt` (default: the current one) is open."""
        if self._stale(attempt):
            assert attempt is not None
            self._out.append(CloseConnection(attempt))  # given up since: close it again
            return
        self._conn.handle(ConnInput.OPENED)
        self._tries = 0
        self._ping_at = now + self.profile.ping_interval_s if self.keepalive else None
        self._maybe_backfill(now)
        if self._needs_sync_request(now):
            self._send(Frame.make(FrameType.SYNC_REQUEST, now, **self._cursor_fields()))
        self._drain_outbox(now)

    def connection_failed(self, now: float, attempt: int | None = None) -> None:
        """A connect attempt did not succeed."""
        if self._stale(attempt):
            return
        self._conn.handle(ConnInput.FAILED)
        self._schedule_reconnect(now)

    def connection_closed(self, now: float, attempt: int | None = None) -> None:
        """An open connection ended (the other side, or the network)."""
        if self._stale(attempt):
            return
        self._conn.handle(ConnInput.LOST)
        self._ping_at = None
        self._tries = 0
        self._schedule_reconnect(now)

    def network_changed(self, online: bool, now: float) -> None:
        """The browser's online/offline event."""
        self.online = online
        if online:
            self._tries = 0
            self._connect()
        else:
            self._reconnect_at = None

    def tick(self, now: float) -> None:
        if self._ping_at is not None and now >= self._ping_at and self.state is ConnState.OPEN:
            self._send(Frame.make(FrameType.PING, now))
            self._ping_at = now + self.profile.ping_interval_s
        if self._reconnect_at is not None and now >= self._reconnect_at:
            self._reconnect_at = None
            self._connect()
        if self.state is ConnState.OPEN:
            self._drain_outbox(now)

    def _schedule_reconnect(self, now: float) -> None:
        if not self.online or self._tries >= self.profile.reconnect_tries:
            self._reconnect_at = None
            return
        delay = self.profile.reconnect_first_delay_s * 2**self._tries
        self._reconnect_at = now + min(delay, self.profile.reconnect_max_delay_s)
        self._tries += 1

    def _cursor_fields(self) -> dict[str, Any]:
        if self.profile.cursor is Cursor.SEQ:
            # A seq client never catches up by time: until it has a seq, the window answers.
            return {"lastSeq": self.storage.last_seq} if self.storage.last_seq > 0 else {}
        cursor = self.last_sync_time
        return {} if cursor is None else {"lastSyncTime": cursor}

    def _needs_sync_request(self, now: float) -> bool:
        cursor = parse_iso_z(self.last_sync_time)
        if cursor is None or cursor > now:
            if self.last_sync_time is not None:
                self._out.append(CursorMoved(None, "discarded future or invalid cursor"))
            self.last_sync_time = None
            return True
        return now - cursor > self.profile.sync_request_min_age_s or len(self.outbox) > 0

    # -- backfill over REST -----------------------------------------------------------

    def _maybe_backfill(self, now: float) -> None:
        if self.profile.backfill is Backfill.OFF or self._backfill.state is not BackfillState.IDLE:
            return
        cursor = parse_iso_z(self.last_sync_time)
        if cursor is not None and now - cursor <= self.profile.backfill_after_days * DAY:
            return
        if self.profile.backfill is Backfill.CONFIRM:
            self._backfill.handle(BackfillInput.PROMPT)
            self._out.append(BackfillEvent("prompted"))
        else:
            self._request_pull()

    def _request_pull(self) -> None:
        self._backfill.handle(BackfillInput.PULL)
        self._out.append(BackfillEvent("requested"))
        self._out.append(RestPull())

    def confirm_backfill(self, now: float) -> bool:
        """The user agreed to download the full history; False when no prompt was pending."""
        if self._backfill.state is not BackfillState.PROMPTED:
            return False
        self._request_pull()
        return True

    def rest_pull_done(self, body: Mapping[str, Any] | None, now: float) -> None:
        """The answer to `RestPull`, or None when the request failed."""
        if self._backfill.state is not BackfillState.PULLING:
            return  # the page reloaded since it asked: nobody is waiting for this answer
        self._backfill.handle(BackfillInput.DONE)
        if body is None:
            self._out.append(BackfillEvent("failed"))
            return
        pulled = 0
        for owner in KINDS:
            items = body.get(owner.bulk)
            items = items if isinstance(items, list) else []
            self._merge_items(owner, items, "REST_PULL")
            pulled += len(items)
        self._advance_seq(body.get("lastSeq"), "REST_PULL")
        self.last_sync_time = iso_z(now)
        self._out.append(CursorMoved(self.last_sync_time, "REST_PULL"))
        self._out.append(BackfillEvent("done", pulled))

    # -- user inputs ------------------------------------------------------------------

    def create_entry(self, fields: Mapping[str, Any], now: float) -> str:
        """The user logs a new entry; returns its id."""
        stamp_ = iso_z(now)
        entry: Entity = {"id": self._uuid(self._ids), **fields}
        entry.update(createdAt=stamp_, updatedAt=stamp_, device_id=self.device_id)
        self._local_write(ENTRY, entry["id"], entry, FrameType.ENTRY_CREATED, now)
        return str(entry["id"])

    def update_entry(self, entry_id: str, changes: Mapping[str, Any], now: float) -> None:
        entry = {**self.entries[entry_id], **changes}
        entry.update(updatedAt=iso_z(now), device_id=self.device_id)
        self._local_write(ENTRY, entry_id, entry, FrameType.ENTRY_UPDATED, now)

    def delete_entry(self, entry_id: str, now: float) -> None:
        self._local_delete(ENTRY, entry_id, now)

    def score_id(self, title: str, composer: str | None) -> str:
        if self.profile.normalize_score_ids:
            return normalize_score_id(title, composer)
        return legacy_score_id(title, composer)

    def add_piece(self, title: str, composer: str | None, status: str, now: float) -> str:
        """The user adds a piece to their repertoire; returns its score id."""
        score_id = self.score_id(title, composer)
        piece: Entity = {"id": score_id, "scoreId": score_id, "title": title, "status": status}
        if composer is not None:
            piece["composer"] = composer
        known = score_id in self.pieces
        stamp_ = iso_z(now)
        piece["created_at"] = self.pieces[score_id].get("created_at", stamp_) if known else stamp_
        piece[PIECE_KIND.stamp_field] = stamp_
        type_ = FrameType.PIECE_UPDATED if known else FrameType.PIECE_ADDED
        self._local_write(PIECE, score_id, piece, type_, now)
        return score_id

    def update_piece(self, score_id: str, changes: Mapping[str, Any], now: float) -> None:
        piece = {**self.pieces[score_id], **changes, PIECE_KIND.stamp_field: iso_z(now)}
        self._local_write(PIECE, score_id, piece, FrameType.PIECE_UPDATED, now)

    def remove_piece(self, score_id: str, now: float) -> None:
        self._local_delete(PIECE, score_id, now)

    def _local_write(
        self,
        entity_type: str,
        entity_id: str,
        data: Entity,
        type_: FrameType,
        now: float,
        origin: str = "user",
    ) -> None:
        op = "create" if type_ in (FrameType.ENTRY_CREATED, FrameType.PIECE_ADDED) else "update"
        write_id = self._next_write_id(origin)
        message_id, frame = self._mutation(type_, kind(entity_type).write_body(data), now)
        if not self._fits(entity_type, entity_id, data, message_id, frame):
            self._out.append(WriteFailed(write_id, op, entity_type, entity_id, "quota exceeded"))
            return
        self.storage.store_of(entity_type)[entity_id] = data
        self.storage.account(entity_type, entity_id, data)
        self.storage.tombstones.pop((entity_type, entity_id), None)
        fp = fingerprint(data)
        label = kind(entity_type).describe(data)
        self._out.append(
            UserWrite(write_id, op, entity_type, entity_id, fp, stamp_text(data), origin, label)
        )
        self._dispatch(message_id, frame, entity_type, entity_id, write_id, fp, now)

    def _local_delete(
        self, entity_type: str, entity_id: str, now: float, origin: str = "user"
    ) -> None:
        owner = kind(entity_type)
        write_id = self._next_write_id(origin)
        message_id, frame = self._mutation(owner.deleted, owner.delete_body(entity_id), now)
        if not self._fits(entity_type, entity_id, None, message_id, frame):
            self._out.append(
                WriteFailed(write_id, "delete", entity_type, entity_id, "quota exceeded")
            )
            return
        held = self.storage.store_of(entity_type).pop(entity_id, None)
        label = None if held is None else owner.describe(held)
        self.storage.account(entity_type, entity_id, None)
        if self.profile.client_tombstones:
            self.storage.tombstones[(entity_type, entity_id)] = iso_z(now)
        self._out.append(
            UserWrite(write_id, "delete", entity_type, entity_id, None, None, origin, label)
        )
        self._dispatch(message_id, frame, entity_type, entity_id, write_id, None, now)

    def _next_write_id(self, origin: str) -> str:
        """A history label for the write; the change counter numbers it for the server."""
        self.storage.change_counter += 1
        self._write_serial += 1
        mark = "m" if origin == "migration" else ""
        self.last_write_id = f"{self.device_id}#{mark}{self._write_serial}"
        return self.last_write_id

    def _install_id(self) -> str:
        """The device id the server sees: kept in localStorage, new after a wipe, so change
        ids counted from 1 again never collide with the old install's."""
        if self.storage.install_id is None:
            self.storage.install_id = f"{self.device_id}-{self._uuid(self._ids)[:8]}"
        return self.storage.install_id

    def _mutation(self, type_: FrameType, body: dict[str, Any], now: float) -> tuple[str, Frame]:
        """The frame of a local change, with its messageId (named in it when persisted)."""
        message_id = self._uuid(self._message_ids)
        extra: dict[str, Any] = {}
        if self.outbox.persisted:
            extra["messageId"] = message_id
        if self.profile.idempotency is Idempotency.CLIENT_CHANGE:
            extra.update(deviceId=self._install_id(), clientChangeId=self.storage.change_counter)
        return message_id, Frame.make(type_, now, **body, **extra)

    def _fits(
        self,
        entity_type: str,
        entity_id: str,
        data: Entity | None,
        message_id: str,
        frame: Frame,
    ) -> bool:
        """Whether a local change fits in localStorage: the item (None: removed) and, with the
        persisted outbox, its outbox item too. The two are one user action, refused whole:
        localStorage never holds more than its quota."""
        changes: list[tuple[str, str, object | None]] = [(entity_type, entity_id, data)]
        if isinstance(self.outbox, PersistedOutbox):
            changes += self.outbox.changes_to_put(message_id, (entity_type, entity_id), frame)
        return self.storage.fits_all(changes)

    def _dispatch(
        self,
        message_id: str,
        frame: Frame,
        entity_type: str,
        entity_id: str,
        write_id: str,
        fp: str | None,
        now: float,
    ) -> None:
        if not self.outbox.persisted and self.state is ConnState.OPEN:
            self._send(frame, write_id)
            return
        item = OutboxItem(message_id, write_id, entity_type, entity_id, frame, now, fp)
        for dropped in self.outbox.put(item):
            self._dropped(dropped)
        self._queue_event("enqueue", item)
        if self.state is ConnState.OPEN:
            self._drain_outbox(now)

    # -- migrations -------------------------------------------------------------------

    def _migrate(self, now: float) -> None:
        if self.profile.migrations is Migrations.OFF:
            return
        self._run_migration("lowercase_enums", self._lowercase_enums, now)
        if self.profile.normalize_score_ids:
            self._run_migration("normalize_score_ids", self._normalize_piece_ids, now)

    def _run_migration(self, name: str, migration: Any, now: float) -> None:
        guarded = self.profile.migrations is Migrations.GUARDED
        if guarded and name in self.storage.migrations_done:
            return
        changed = migration(now)
        self._out.append(MigrationRan(name, changed))
        if guarded:
            self.storage.migrations_done.add(name)

    def _lowercase_enums(self, now: float) -> int:
        changed = 0
        for entry_id, entry in sorted(self.entries.items()):
            fixed = {
                k: (v.lower() if k in ("type", "mood") and isinstance(v, str) else v)
                for k, v in entry.items()
            }
            if fixed != entry:
                fixed["updatedAt"] = iso_z(now)
                self._local_write(ENTRY, entry_id, fixed, FrameType.ENTRY_UPDATED, now, "migration")
                changed += 1
        return changed

    def _normalize_piece_ids(self, now: float) -> int:
        """Re-key pieces under their normalized id; of several spellings, the newest stays."""
        moves: dict[str, list[tuple[str, Entity]]] = {}
        for old_id, piece in sorted(self.pieces.items()):
            new_id = normalize_score_id(str(piece.get("title")), piece.get("composer"), old_id)
            if new_id != old_id:
                moves.setdefault(new_id, []).append((old_id, piece))
        for new_id, olds in sorted(moves.items()):
            newest = max((p for _, p in olds), key=stamp)
            for old_id, _ in olds:
                self._local_delete(PIECE, old_id, now, "migration")
            current = self.pieces.get(new_id)
            if current is None or stamp(newest) > stamp(current):
                moved = {**newest, "id": new_id, "scoreId": new_id}
                moved[PIECE_KIND.stamp_field] = iso_z(now)
                self._local_write(PIECE, new_id, moved, FrameType.PIECE_ADDED, now, "migration")
        return sum(len(olds) for olds in moves.values())

    # -- outbox -----------------------------------------------------------------------

    def _queue_event(self, op: str, item: OutboxItem, reason: str = "") -> None:
        self._out.append(
            QueueEvent(
                op,
                item.write_id,
                item.entity_type,
                item.entity_id,
                len(self.outbox),
                reason,
                item.message_id,
            )
        )

    def _dropped(self, dropped: Dropped) -> None:
        self._queue_event("drop", dropped.item, dropped.reason)

    def _drain_outbox(self, now: float) -> None:
        due, dropped = self.outbox.drain(now)
        for gone in dropped:
            self._dropped(gone)
        for item in due:
            # The change keeps its original content; only the wire timestamp is new.
            frame = Frame.make(item.frame.type, now, **item.frame.fields)
            self._send(frame, item.write_id)
            self._queue_event("send", item)

    def hold_resend(self, message_id: str, until: float) -> None:
        """The transport's word that the server has this change (or is about to) and may
        still answer it: no resend before `until`. Live at a high time scale, the profile's
        backoff (2 s, doubling) is microseconds of wall time, less than any real server takes
        to answer; the simulation's server answers within the latency, and never calls this."""
        self.outbox.hold(message_id, until)

    def _acked(self, frame: Frame) -> None:
        message_id = frame.get("messageId")
        if not isinstance(message_id, str):
            return
        item = self.outbox.ack(message_id)
        if item is None:
            return
        self._queue_event("ack", item)
        version = _version_of(frame)
        if version is None:
            return
        store = self.storage.store_of(item.entity_type)
        local = store.get(item.entity_id)
        if local is not None and fingerprint(local) == item.fingerprint:
            self.storage.versions[item.key] = version
            return
        pending = any(other.key == item.key for other in self.outbox.items())
        local_version = self.storage.versions.get(item.key)
        if pending or (local_version is not None and version <= local_version):
            return
        # The server now holds what this device sent, at a version above the copy shown here
        # (another device's change, merged while this one was in flight): show it again.
        sent = item.frame.get(kind(item.entity_type).body)
        if isinstance(sent, Mapping):
            self._merge_item(item.entity_type, sent, version, "ACK")

    # -- frames from the server -------------------------------------------------------

    def receive(self, text: str | bytes, now: float) -> None:
        frame = decode(text)
        if isinstance(frame, BadFrame):
            self._out.append(PeerError(frame.reason, frame.text))
            return
        handled = self._handle(frame)
        if not handled:
            return
        if frame.type in DATA_FRAMES:
            self.last_sync_time = iso_z(now)
            self._out.append(CursorMoved(self.last_sync_time, frame.type.value))
        if frame.type not in BULKS:
            # A bulk's rows are not in seq order across entries, pieces and deletes: only the
            # catch-up's closing SYNC_RESPONSE (and a broadcast's own seq) may move lastSeq.
            self._advance_seq(frame.get("seq", frame.get("lastSeq")), frame.type.value)

    def _handle(self, frame: Frame) -> bool:
        """Apply one frame; False when the client does not listen for it."""
        type_ = frame.type
        if type_ is FrameType.ERROR:
            self._out.append(PeerError(f"server refused a frame: {frame.get('error')}", ""))
        elif type_ is FrameType.SYNC_RESPONSE:
            if self.profile.acks:
                self._acked(frame)
        elif type_ is FrameType.BULK_SYNC:
            return self._bulk(frame, ENTRY_KIND)
        elif type_ in (FrameType.REPERTOIRE_BULK_SYNC, FrameType.PIECE_BULK_SYNC):
            if type_.value != self.profile.client_repertoire_event:
                self._out.append(PeerError(f"no handler for {type_.value}; ignored", ""))
                return False
            return self._bulk(frame, PIECE_KIND)
        elif (owner := kind_of_frame(type_)) is not None:
            if type_ in owner.writes:
                self._merge_item(owner.name, frame.get(owner.body), _version_of(frame), type_.value)
            else:
                self._remote_delete(owner.name, frame.get(owner.delete_id), frame)
        return True

    def _bulk(self, frame: Frame, owner: EntityKind) -> bool:
        items = frame.get(owner.bulk)
        if not isinstance(items, list):
            self._out.append(PeerError(f"{frame.type.value} without a {owner.bulk} list", ""))
            return False
        self._merge_items(owner, items, frame.type.value)
        return True

    def _advance_seq(self, value: object, reason: str) -> None:
        if self.profile.cursor is not Cursor.SEQ:
            return
        if isinstance(value, int) and not isinstance(value, bool) and value > self.storage.last_seq:
            self.storage.last_seq = value
            self._out.append(CursorMoved(self.last_sync_time, reason, value))

    def _merge_items(self, owner: EntityKind, items: list[Any], via: str) -> None:
        if owner is PIECE_KIND and self.profile.repertoire_bulk_merge:
            # The proposed fix merges a repertoire batch by normalized id before storing it.
            for piece in bulk_merge_pieces(i for i in items if isinstance(i, Mapping)):
                self._merge_item(owner.name, piece.data, piece.version, via)
            return
        for item in items:
            version = item.get("version") if isinstance(item, Mapping) else None
            self._merge_item(owner.name, item, version if isinstance(version, int) else None, via)

    def _merge_item(
        self, entity_type: str, incoming: object, version: int | None, via: str
    ) -> None:
        if not isinstance(incoming, Mapping):
            self._out.append(PeerError(f"{via} carries an item that is not an object", ""))
            return
        data, carried = split_version(incoming)
        version = version if version is not None else carried
        entity_id = kind(entity_type).key(data)
        if entity_id is None:
            self._out.append(PeerError(f"{via} carries an item without an id", ""))
            return
        key = (entity_type, entity_id)
        store = self.storage.store_of(entity_type)
        local, local_version = store.get(entity_id), self.storage.versions.get(key)
        accepted, reason = self._judge(key, local, local_version, data, version)
        if accepted and not self.storage.fits(entity_type, entity_id, data):
            # localStorage refuses incoming data past its quota as it refuses the user's own.
            accepted, reason = False, "quota exceeded"
        if accepted:
            store[entity_id] = data
            self.storage.account(entity_type, entity_id, data)
            self.storage.tombstones.pop(key, None)
            if version is not None:
                self.storage.versions[key] = version
        self._out.append(
            Merged(
                entity_type,
                entity_id,
                accepted,
                reason,
                via,
                fingerprint(data),
                None if local is None else fingerprint(local),
                stamp_text(data),
                stamp_text(local),
                version,
                local_version,
            )
        )

    def _judge(
        self,
        key: tuple[str, str],
        local: Mapping[str, Any] | None,
        local_version: int | None,
        data: Mapping[str, Any],
        version: int | None,
    ) -> tuple[bool, str]:
        deleted_at = self.storage.tombstones.get(key)
        if local is None and deleted_at is not None:
            if stamp(data) <= (parse_iso_z(deleted_at) or float("-inf")):
                return False, "tombstoned"
            return True, "newer than its tombstone"
        return decide(self.profile.lww, local, local_version, data, version)

    def _remote_delete(self, entity_type: str, entity_id: object, frame: Frame) -> None:
        via = frame.type.value
        if not isinstance(entity_id, str):
            self._out.append(PeerError(f"{via} without an id", ""))
            return
        local = self.storage.store_of(entity_type).pop(entity_id, None)
        self.storage.account(entity_type, entity_id, None)
        self.storage.versions.pop((entity_type, entity_id), None)
        if self.profile.client_tombstones:
            # The delete happened no later than the server stamped its frame.
            self.storage.tombstones[(entity_type, entity_id)] = frame.timestamp
        self._out.append(
            Merged(
                entity_type,
                entity_id,
                local is not None,
                "deleted" if local is not None else "already absent",
                via,
                None,
                None if local is None else fingerprint(local),
                None,
                stamp_text(local),
            )
        )
