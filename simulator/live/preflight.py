"""Capability preflight: before a live run, what the endpoint does that the client profile
relies on, probed with a fresh user of its own so no scenario user's data is touched.

Two connections of that user; on the first, one entry is created (with a `messageId`), the
same frame is sent again as a retry after a lost ack would be, and one piece is added; the
second connection sees the broadcasts, then asks for a catch-up from nothing and one from the
first write's `lastSeq`. From what comes back:

- does the acknowledgement name the `messageId` (the persisted outbox removes an item only
  then: a client that needs it, talking to a server without it, resends every change until it
  drops it);
- do acks, broadcasts and catch-up items carry a `version`;
- is a retried change applied once (its second ack names the same `lastSeq`);
- which event carries the repertoire in a catch-up (REPERTOIRE_BULK_SYNC, another, or none);
- does a catch-up end with a `lastSeq`, and is a `lastSeq` cursor honoured.

Chunking is not probed: it needs more rows than a preflight should write. Every wait has the
endpoint deadline; a preflight that cannot finish says why and the run goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from simulator.protocol.codec import BULKS, Frame, FrameType, decode
from simulator.protocol.entities import normalize_score_id
from simulator.protocol.profile import Cursor, Idempotency, Profile
from simulator.protocol.timefmt import iso_z

PREFLIGHT_USER = "syncsim-preflight"
YES, NO, NONE = "yes", "no", "none"


@dataclass(frozen=True)
class Capability:
    name: str  # what was probed, as a person says it
    flag: str  # the profile flag that says what the client expects
    expected: str  # what the profile says
    observed: str | None  # what the endpoint did; None when it could not be told
    relied_on: bool  # the client cannot work without it: a mismatch decides every write

    @property
    def matches(self) -> bool:
        return self.observed is None or self.observed == self.expected

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "matches": self.matches}


class Inbox:
    """Every frame one connection receives, read by a task of its own, waited on with a
    deadline."""

    def __init__(self, ws: ClientConnection) -> None:
        self.frames: list[Frame] = []
        self._arrived = asyncio.Event()
        self._task = asyncio.ensure_future(self._read(ws))

    async def _read(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                frame = decode(message if isinstance(message, str) else message.decode())
                if isinstance(frame, Frame):
                    self.frames.append(frame)
                    self._arrived.set()

    async def next(self, wanted: Callable[[Frame], bool], after: int, timeout: float) -> int:
        """The index of the first frame at or after `after` that is `wanted`; -1 on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            for index in range(after, len(self.frames)):
                if wanted(self.frames[index]):
                    return index
            left = deadline - time.monotonic()
            if left <= 0:
                return -1
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), left)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def _is_ack(frame: Frame) -> bool:
    return frame.type is FrameType.ERROR or (
        frame.type is FrameType.SYNC_RESPONSE and frame.get("message") != "Sync complete"
    )


def _word(value: bool | None) -> str | None:
    return None if value is None else (YES if value else NO)


def _entry(now: float) -> dict[str, Any]:
    stamp = iso_z(now)
    return {
        "id": str(uuid.uuid4()),
        "timestamp": stamp,
        "duration": 5,
        "type": "practice",
        "instrument": "piano",
        "pieces": [],
        "createdAt": stamp,
        "updatedAt": stamp,
    }


def _piece(now: float) -> dict[str, Any]:
    title = f"Preflight {uuid.uuid4().hex[:8]}"
    score_id = normalize_score_id(title, "syncsim")
    stamp = iso_z(now)
    return {
        "id": score_id,
        "scoreId": score_id,
        "title": title,
        "composer": "syncsim",
        "status": "learning",
        "created_at": stamp,
        "updated_at": stamp,
    }


@dataclass
class Seen:
    """What the probes saw; None where a probe got no answer in time."""

    ack: Frame | None = None
    retry_ack: Frame | None = None
    broadcast: Frame | None = None
    catch_up: list[Frame] | None = None
    since_seq: list[Frame] | None = None
    entry_id: str = ""
    piece_id: str = ""


async def _catch_up(
    ws: ClientConnection, inbox: Inbox, timeout: float, **cursor: Any
) -> list[Frame] | None:
    start = len(inbox.frames)
    await ws.send(Frame.make(FrameType.SYNC_REQUEST, time.time(), **cursor).encode())
    end = await inbox.next(lambda f: f.type is FrameType.SYNC_RESPONSE, start, timeout)
    return None if end < 0 else inbox.frames[start : end + 1]


async def _probe(a: ClientConnection, b: ClientConnection, timeout: float) -> Seen:
    first, second = Inbox(a), Inbox(b)
    seen = Seen()
    try:
        entry = _entry(time.time())
        seen.entry_id = entry["id"]
        fields = {"entry": entry, "messageId": str(uuid.uuid4()), "deviceId": "syncsim-preflight"}
        create = Frame.make(FrameType.ENTRY_CREATED, time.time(), **fields, clientChangeId=1)
        await a.send(create.encode())
        at = await first.next(_is_ack, 0, timeout)
        if at < 0:  # no answer at all: every other probe would wait out its deadline too
            return seen
        seen.ack = first.frames[at]
        got = await second.next(lambda f: f.type is FrameType.ENTRY_CREATED, 0, timeout)
        seen.broadcast = None if got < 0 else second.frames[got]
        await a.send(create.encode())  # the retry after a lost ack: same messageId
        again = await first.next(_is_ack, at + 1, timeout)
        seen.retry_ack = None if again < 0 else first.frames[again]
        piece = _piece(time.time())
        seen.piece_id = piece["id"]
        added = Frame.make(
            FrameType.PIECE_ADDED, time.time(), piece=piece, messageId=str(uuid.uuid4())
        )
        await a.send(added.encode())
        await first.next(_is_ack, max(at, again) + 1, timeout)
        seen.catch_up = await _catch_up(b, second, timeout)
        # From the entry's last write (the retry wrote it again where nothing dedupes): the
        # answer should hold the piece and not the entry.
        acks = [f.get("lastSeq") for f in (seen.ack, seen.retry_ack) if f is not None]
        seqs = [s for s in acks if isinstance(s, int) and not isinstance(s, bool)]
        if seqs:
            seen.since_seq = await _catch_up(b, second, timeout, lastSeq=max(seqs))
    finally:
        await first.stop()
        await second.stop()
    return seen


def _holds(frames: list[Frame] | None, item_id: str) -> bool | None:
    if frames is None:
        return None
    text = json.dumps([f.fields for f in frames if f.type in BULKS])
    return json.dumps(item_id) in text


def _repertoire_event(seen: Seen) -> str | None:
    if seen.catch_up is None:
        return None
    for frame in seen.catch_up:
        if frame.type in BULKS and _holds([frame], seen.piece_id):
            return frame.type.value
    return NONE


def _versioned(seen: Seen) -> bool | None:
    frames = [f for f in (seen.ack, seen.broadcast) if f is not None]
    return None if not frames else any("version" in f.fields for f in frames)


def _retried_once(seen: Seen) -> bool | None:
    if seen.ack is None or seen.retry_ack is None:
        return None
    first, second = seen.ack.get("lastSeq"), seen.retry_ack.get("lastSeq")
    if not isinstance(first, int) or not isinstance(second, int):
        return None
    return first == second


def _seq_honoured(seen: Seen) -> bool | None:
    entry, piece = _holds(seen.since_seq, seen.entry_id), _holds(seen.since_seq, seen.piece_id)
    return None if entry is None or piece is None else (piece and not entry)


def _ends_with_seq(seen: Seen) -> bool | None:
    if not seen.catch_up:
        return None
    return isinstance(seen.catch_up[-1].get("lastSeq"), int)


def capabilities(seen: Seen, profile: Profile) -> list[Capability]:
    """What the profile expects of the server, against what the probes saw."""
    ack = seen.ack
    names_id = None if ack is None else isinstance(ack.get("messageId"), str)
    repertoire = profile.repertoire_bulk_event if profile.repertoire_bulk else NONE
    seq = profile.cursor is Cursor.SEQ
    return [
        Capability(
            "the ack names the messageId",
            "acks",
            _word(profile.acks) or NO,
            _word(names_id),
            profile.acks,
        ),
        Capability(
            "acks and broadcasts carry a version",
            "version_in_broadcasts",
            _word(profile.version_in_broadcasts) or NO,
            _word(_versioned(seen)),
            False,
        ),
        Capability(
            "a retried change is applied once",
            "idempotency",
            _word(profile.idempotency is not Idempotency.NONE) or NO,
            _word(_retried_once(seen)),
            False,
        ),
        Capability(
            "the catch-up carries the repertoire as",
            "repertoire_bulk",
            repertoire,
            _repertoire_event(seen),
            False,
        ),
        Capability(
            "a catch-up ends with a lastSeq",
            "cursor",
            YES if seq else NO,
            _word(_ends_with_seq(seen)) if seq else None,
            False,
        ),
        Capability(
            "a lastSeq cursor is honoured",
            "cursor",
            YES if seq else NO,
            _word(_seq_honoured(seen)) if seq else None,
            False,
        ),
        Capability(
            "catch-ups are chunked",
            "bulk_chunk_size",
            YES if profile.bulk_chunk_size else NO,
            None,
            False,
        ),
    ]


async def preflight(
    url_for: Callable[[str], str], timeout: float, profile: Profile
) -> tuple[str, list[Capability], str | None]:
    """(the preflight user, what was found, why the preflight could not finish or None)."""
    user = f"{PREFLIGHT_USER}-{uuid.uuid4().hex[:12]}"
    try:
        async with (
            connect(url_for(user), open_timeout=timeout, ping_interval=None) as a,
            connect(url_for(user), open_timeout=timeout, ping_interval=None) as b,
        ):
            seen = await _probe(a, b, timeout)
    except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as error:
        return user, [], f"preflight could not finish: {error!r}"[:200]
    return user, capabilities(seen, profile), None
