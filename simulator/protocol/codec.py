"""Wire frames: one JSON object per WebSocket text message, with `type` and `timestamp`.

`decode` never raises on peer data: text that is not a frame comes back as `BadFrame`, which the
receiving side turns into an `ERROR` frame (server) or a recorded protocol event (client).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from simulator.protocol.timefmt import iso_z, parse_iso_z


class FrameType(StrEnum):
    PING = "PING"
    PONG = "PONG"
    WELCOME = "WELCOME"
    SYNC_REQUEST = "SYNC_REQUEST"
    SYNC_RESPONSE = "SYNC_RESPONSE"
    BULK_SYNC = "BULK_SYNC"
    REPERTOIRE_BULK_SYNC = "REPERTOIRE_BULK_SYNC"
    # The other name the seed's open question 1 considers for the repertoire bulk.
    PIECE_BULK_SYNC = "PIECE_BULK_SYNC"
    ENTRY_CREATED = "ENTRY_CREATED"
    ENTRY_UPDATED = "ENTRY_UPDATED"
    ENTRY_DELETED = "ENTRY_DELETED"
    PIECE_ADDED = "PIECE_ADDED"
    PIECE_UPDATED = "PIECE_UPDATED"
    PIECE_REMOVED = "PIECE_REMOVED"
    PIECE_DISSOCIATED = "PIECE_DISSOCIATED"
    ERROR = "ERROR"


# Frames that carry a batch of data; with the mutations (see `kinds`) the only frames that
# may move a client's lastSyncTime cursor.
BULKS = frozenset({FrameType.BULK_SYNC, FrameType.REPERTOIRE_BULK_SYNC, FrameType.PIECE_BULK_SYNC})
CONTROL_FRAMES = frozenset({FrameType.WELCOME, FrameType.PONG})


_TYPES: dict[object, FrameType] = {t.value: t for t in FrameType}
# One encoder for every frame: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Frame:
    """A decoded frame: its type, its wire timestamp and every other field as sent."""

    type: FrameType
    timestamp: str
    fields: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def make(cls, type_: FrameType, now: float, **fields: Any) -> Frame:
        return cls(type_, iso_z(now), fields)

    def encode(self) -> str:
        body = {"type": self.type.value, "timestamp": self.timestamp, **self.fields}
        return _ENCODER.encode(body)

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)


def error_frame(reason: str, now: float, answering: Frame | None = None) -> Frame:
    """An ERROR refusing a frame; it names the refused frame's messageId when that had one,
    so the sender (and the checker) can tell which frame was refused."""
    message_id = answering.get("messageId") if answering is not None else None
    if isinstance(message_id, str):
        return Frame.make(FrameType.ERROR, now, error=reason, messageId=message_id)
    return Frame.make(FrameType.ERROR, now, error=reason)


@dataclass(frozen=True)
class BadFrame:
    """Text that could not be read as a frame, and why."""

    reason: str
    text: str


def _refuse_constant(name: str) -> None:
    # NaN and Infinity are not JSON; Python's parser would accept them.
    raise ValueError(f"{name} is not JSON")


# One decoder for every frame: json.loads with options builds a new one per call.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def read_json(text: str) -> Any:
    """Parse JSON as the wire takes it (no NaN or Infinity literals, integers of at most 4300
    digits); `ValueError` saying why otherwise, never another exception."""
    try:
        return _DECODER.decode(text)
    except RecursionError:  # the C scanner refuses nesting deeper than the recursion limit
        raise ValueError("invalid JSON: nested too deep") from None
    except ValueError:  # JSONDecodeError is a ValueError, as are huge ints
        raise ValueError("invalid JSON") from None


def decode(text: str | bytes) -> Frame | BadFrame:
    """Parse one WebSocket message; never raises on bad input."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return BadFrame("binary message is not UTF-8", repr(text[:80]))
    try:
        body = read_json(text)
    except ValueError as error:
        return BadFrame(str(error), text[:200])
    if not isinstance(body, dict):
        return BadFrame("frame is not a JSON object", text[:200])
    name = body.pop("type", None)
    type_ = _TYPES.get(name) if isinstance(name, str) else None
    if type_ is None:
        return BadFrame("unknown or missing frame type", text[:200])
    timestamp = body.pop("timestamp", None)
    if parse_iso_z(timestamp) is None:
        return BadFrame("timestamp missing or not ISO 8601 with Z", text[:200])
    return Frame(type_, str(timestamp), body)
