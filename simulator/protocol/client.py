"""DeviceClient: one device's sync client (local store, offline queue, cursor), sans I/O.

How it works: the driver calls an input method with the device's own clock reading as `now`
(so everything the device stamps carries its clock error), then drains `drain()` for outputs:
`Send` (a frame to put on the socket), `OpenConnection` / `CloseConnection` (what the device
wants of its transport) and observations (`UserWrite`, `Merged`, `QueueEvent`, ...) that the
driver writes into the history. After each input the driver re-arms `next_deadline()`, a
device-clock time at which it must call `tick`.

Connection states: CLOSED -> CONNECTING (asked the driver to connect) -> OPEN. On open the
client sends SYNC_REQUEST when its cursor is missing, invalid or older than the profile's
threshold, or when its queue holds changes; then it sends the queue. While OPEN a change is
sent at once and not kept (the modelled system has no ACKs); while not OPEN it is queued.
A lost connection is retried with doubling delays, a limited number of times, and again as
soon as the network comes back.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from simulator.protocol.entities import Entity, fingerprint
from simulator.protocol.frames import (
    DATA_FRAMES,
    ENTRY,
    ENTRY_WRITES,
    BadFrame,
    Frame,
    FrameType,
    decode,
)
from simulator.protocol.outbox import Dropped, OfflineQueue, QueuedChange
from simulator.protocol.profile import Profile
from simulator.protocol.timefmt import iso_z, parse_iso_z


class ConnState(Enum):
    CLOSED = "closed"
    CONNECTING = "connecting"
    OPEN = "open"


# -- outputs: actions for the driver ------------------------------------------------------


@dataclass(frozen=True)
class Send:
    frame: Frame
    text: str
    write_id: str | None = None


@dataclass(frozen=True)
class OpenConnection:
    pass


@dataclass(frozen=True)
class CloseConnection:
    pass


# -- outputs: observations for the history ------------------------------------------------


@dataclass(frozen=True)
class UserWrite:
    write_id: str
    op: str
    entity_type: str
    entity_id: str
    fingerprint: str | None
    updated_at: str | None


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


@dataclass(frozen=True)
class QueueEvent:
    op: str
    write_id: str
    entity_type: str
    entity_id: str
    depth: int
    reason: str = ""


@dataclass(frozen=True)
class CursorMoved:
    value: str | None
    reason: str


@dataclass(frozen=True)
class PeerError:
    reason: str
    text: str


ClientOutput = (
    Send
    | OpenConnection
    | CloseConnection
    | UserWrite
    | Merged
    | QueueEvent
    | CursorMoved
    | PeerError
)


def _updated_at(entity: Mapping[str, Any] | None) -> float:
    if entity is None:
        return float("-inf")
    moment = parse_iso_z(entity.get("updatedAt"))
    return float("-inf") if moment is None else moment


class DeviceClient:
    def __init__(self, device_id: str, user_id: str, profile: Profile, rng: random.Random) -> None:
        self.device_id = device_id
        self.user_id = user_id
        self.profile = profile
        self._rng = rng
        self.state = ConnState.CLOSED
        self.online = True
        # localStorage: survives a reload.
        self.entries: dict[str, Entity] = {}
        self.last_sync_time: str | None = None
        # Memory: lost on reload.
        self.queue = OfflineQueue(profile.queue_cap, profile.queue_max_age_s)
        self._writes = 0
        self._tries = 0
        self._reconnect_at: float | None = None
        self._ping_at: float | None = None
        self._out: list[ClientOutput] = []

    # -- plumbing ---------------------------------------------------------------------

    def drain(self) -> list[ClientOutput]:
        out, self._out = self._out, []
        return out

    def next_deadline(self) -> float | None:
        times = [t for t in (self._reconnect_at, self._ping_at) if t is not None]
        return min(times, default=None)

    def _send(self, frame: Frame, write_id: str | None = None) -> None:
        self._out.append(Send(frame, frame.encode(), write_id))

    def _new_id(self) -> str:
        bits = f"{self._rng.getrandbits(128):032x}"
        return f"{bits[:8]}-{bits[8:12]}-4{bits[13:16]}-{bits[16:20]}-{bits[20:]}"

    # -- transport inputs -------------------------------------------------------------

    def start(self, now: float) -> None:
        """The page loads: ask for a connection."""
        self._connect()

    def _connect(self) -> None:
        if self.state is ConnState.CLOSED and self.online:
            self.state = ConnState.CONNECTING
            self._reconnect_at = None
            self._out.append(OpenConnection())

    def connection_opened(self, now: float) -> None:
        self.state = ConnState.OPEN
        self._tries = 0
        self._ping_at = now + self.profile.ping_interval_s
        if self._needs_sync_request(now):
            cursor = self.last_sync_time
            fields = {} if cursor is None else {"lastSyncTime": cursor}
            self._send(Frame.make(FrameType.SYNC_REQUEST, now, **fields))
        self._flush_queue(now)

    def connection_failed(self, now: float) -> None:
        """A connect attempt did not succeed."""
        self.state = ConnState.CLOSED
        self._schedule_reconnect(now)

    def connection_closed(self, now: float) -> None:
        """An open connection ended (either side, or the network)."""
        self.state = ConnState.CLOSED
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

    def reload(self, now: float) -> None:
        """The page reloads: memory (the queue, the socket) is lost, localStorage is kept."""
        for item in self.queue.clear():
            self._queue_event("lost", item, "reload")
        if self.state is not ConnState.CLOSED:
            self._out.append(CloseConnection())
        self.state = ConnState.CLOSED
        self._ping_at = None
        self._reconnect_at = None
        self._tries = 0
        self._connect()

    def _schedule_reconnect(self, now: float) -> None:
        if not self.online or self._tries >= self.profile.reconnect_tries:
            self._reconnect_at = None
            return
        delay = self.profile.reconnect_first_delay_s * 2**self._tries
        self._reconnect_at = now + min(delay, self.profile.reconnect_max_delay_s)
        self._tries += 1

    def _needs_sync_request(self, now: float) -> bool:
        cursor = parse_iso_z(self.last_sync_time)
        if cursor is None or cursor > now:
            if self.last_sync_time is not None:
                self._out.append(CursorMoved(None, "discarded future or invalid cursor"))
            self.last_sync_time = None
            return True
        return now - cursor > self.profile.sync_request_min_age_s or len(self.queue) > 0

    # -- user inputs ------------------------------------------------------------------

    def create_entry(self, fields: Mapping[str, Any], now: float) -> str:
        """The user logs a new entry; returns its id."""
        stamp = iso_z(now)
        entry: Entity = {"id": self._new_id(), **fields}
        entry.update(createdAt=stamp, updatedAt=stamp, device_id=self.device_id)
        self._local_write(entry, FrameType.ENTRY_CREATED, now)
        return str(entry["id"])

    def update_entry(self, entry_id: str, changes: Mapping[str, Any], now: float) -> None:
        entry = {**self.entries[entry_id], **changes}
        entry.update(updatedAt=iso_z(now), device_id=self.device_id)
        self._local_write(entry, FrameType.ENTRY_UPDATED, now)

    def delete_entry(self, entry_id: str, now: float) -> None:
        del self.entries[entry_id]
        write_id = self._record_write("delete", entry_id, None)
        self._dispatch(Frame.make(FrameType.ENTRY_DELETED, now, entryId=entry_id), write_id, now)

    def _local_write(self, entry: Entity, type_: FrameType, now: float) -> None:
        self.entries[entry["id"]] = entry
        op = "create" if type_ is FrameType.ENTRY_CREATED else "update"
        write_id = self._record_write(op, entry["id"], entry)
        self._dispatch(Frame.make(type_, now, entry=entry), write_id, now)

    def _record_write(self, op: str, entry_id: str, entry: Entity | None) -> str:
        self._writes += 1
        write_id = f"{self.device_id}#{self._writes}"
        fp = None if entry is None else fingerprint(entry)
        stamp = None if entry is None else entry.get("updatedAt")
        self._out.append(UserWrite(write_id, op, ENTRY, entry_id, fp, stamp))
        return write_id

    def _dispatch(self, frame: Frame, write_id: str, now: float) -> None:
        if self.state is ConnState.OPEN:
            self._send(frame, write_id)
            return
        entity_id = frame.get("entryId") or frame.get("entry", {}).get("id")
        item = QueuedChange(write_id, ENTRY, str(entity_id), frame, now)
        for dropped in self.queue.put(item):
            self._dropped(dropped)
        self._queue_event("enqueue", item)

    # -- queue ------------------------------------------------------------------------

    def _queue_event(self, op: str, item: QueuedChange, reason: str = "") -> None:
        self._out.append(
            QueueEvent(op, item.write_id, item.entity_type, item.entity_id, len(self.queue), reason)
        )

    def _dropped(self, dropped: Dropped) -> None:
        self._queue_event("drop", dropped.item, dropped.reason)

    def _flush_queue(self, now: float) -> None:
        fresh, expired = self.queue.take_all(now)
        for dropped in expired:
            self._dropped(dropped)
        for item in fresh:
            # The queued frame keeps its original content; only the wire timestamp is new.
            frame = Frame.make(item.frame.type, now, **item.frame.fields)
            self._send(frame, item.write_id)
            self._queue_event("send", item)

    # -- frames from the server -------------------------------------------------------

    def receive(self, text: str | bytes, now: float) -> None:
        frame = decode(text)
        if isinstance(frame, BadFrame):
            self._out.append(PeerError(frame.reason, frame.text))
            return
        if frame.type is FrameType.ERROR:
            self._out.append(PeerError(f"server refused a frame: {frame.get('error')}", ""))
        elif frame.type is FrameType.BULK_SYNC:
            entries = frame.get("entries")
            if not isinstance(entries, list):
                self._out.append(PeerError("BULK_SYNC without an entries list", ""))
                return
            for entry in entries:
                self._merge_entry(entry, frame.type)
        elif frame.type in ENTRY_WRITES:
            self._merge_entry(frame.get("entry"), frame.type)
        elif frame.type is FrameType.ENTRY_DELETED:
            self._remote_delete(frame.get("entryId"))
        if frame.type in DATA_FRAMES:
            self.last_sync_time = iso_z(now)
            self._out.append(CursorMoved(self.last_sync_time, frame.type.value))

    def _merge_entry(self, incoming: object, via: FrameType) -> None:
        if not isinstance(incoming, Mapping) or not isinstance(incoming.get("id"), str):
            self._out.append(PeerError(f"{via.value} carries an entry without an id", ""))
            return
        local = self.entries.get(incoming["id"])
        accepted = local is None or _updated_at(incoming) > _updated_at(local)
        if local is None:
            reason = "new"
        elif accepted:
            reason = "newer updatedAt"
        else:
            reason = "not newer by updatedAt"
        if accepted:
            self.entries[incoming["id"]] = dict(incoming)
        self._out.append(
            Merged(
                ENTRY,
                incoming["id"],
                accepted,
                reason,
                via.value,
                fingerprint(incoming),
                None if local is None else fingerprint(local),
                incoming.get("updatedAt"),
                None if local is None else local.get("updatedAt"),
            )
        )

    def _remote_delete(self, entry_id: object) -> None:
        if not isinstance(entry_id, str):
            self._out.append(PeerError("ENTRY_DELETED without an entryId", ""))
            return
        local = self.entries.pop(entry_id, None)
        self._out.append(
            Merged(
                ENTRY,
                entry_id,
                local is not None,
                "deleted" if local is not None else "already absent",
                FrameType.ENTRY_DELETED.value,
                None,
                None if local is None else fingerprint(local),
                None,
                None if local is None else local.get("updatedAt"),
            )
        )
