"""Logbook entries and repertoire items as the real server accepts them.

Validation is as strict as the real server's: whole-minute integer durations, lower-case enums,
an instrument, strict `Z` timestamps. Unknown fields are dropped, as the server drops them, so a
value's fingerprint is computed over exactly what survives a round trip through the server.

Before any of that, `check_json` holds a whole frame (or REST body) to the limits every store
and wire can keep: strings valid UTF-8 and at most `MAX_STRING_LENGTH` characters, integers in
SQLite's signed 64-bit range, finite numbers, at most `MAX_DEPTH` levels of nesting. Ids (entry
and score ids, messageId, deviceId) are at most `MAX_ID_LENGTH` characters.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from simulator.protocol.timefmt import parse_iso_z, parse_timestamp

ENTRY_TYPES = frozenset(
    {
        "practice",
        "performance",
        "lesson",
        "masterclass",
        "rehearsal",
        "technique",
        "status_change",
        "other",
    }
)
MOODS = frozenset({"frustrated", "neutral", "satisfied", "excited", "proud"})
PIECE_STATUSES = frozenset(
    {"planned", "learning", "working", "polished", "performance_ready", "archived"}
)
_STRING_LISTS = ("tags", "techniques", "goalIds")
_OPTIONAL_TIMES = ("createdAt", "updatedAt")

Entity = dict[str, Any]


class Invalid(ValueError):
    """An entity the real server would refuse; the message says which field and why."""


# -- limits every frame obeys -------------------------------------------------------------

MAX_ID_LENGTH = 200  # characters of an entry id, score id, messageId, deviceId
MAX_STRING_LENGTH = 10_000  # characters of any other string in a frame, keys included
MAX_DEPTH = 32  # levels of objects and lists in one frame or REST body
INT64_MIN = -(2**63)  # SQLite INTEGER holds exactly this range
INT64_MAX = 2**63 - 1

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")


def _join(path: str, key: str) -> str:
    # A key that is no plain name is shown escaped and cut, so the path is safe to send back.
    shown = key if _PLAIN_KEY.fullmatch(key) else ascii(key[:40])
    return f"{path}.{shown}" if path else shown


def _show(value: object) -> str:
    """A refused value as an ERROR may quote it: escaped (repr escapes lone surrogates) and
    short."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _string_problem(text: str, limit: int) -> str | None:
    if len(text) > limit:
        return f"longer than {limit} characters"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            return f"not valid UTF-8 (lone surrogate at character {error.start})"
    return None


# Where a value sits: a path, or the place of its parent and its key or index there. Turned
# into text (`_path`) only when a refusal names it, as every frame is checked and few refused.
_Where = str | tuple["_Where", str | int]


def _path(where: _Where) -> str:
    if isinstance(where, str):
        return where
    parent, key = where
    above = _path(parent)  # at most MAX_DEPTH levels
    return f"{above}[{key}]" if isinstance(key, int) else _join(above, key)


def check_json(value: object, path: str = "") -> None:
    """Refuse, with `Invalid` naming the place, a decoded JSON value that SQLite, UTF-8 or a
    peer cannot hold; walks without recursion, so no nesting can exhaust the stack."""
    stack: list[tuple[object, _Where, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            problem = _string_problem(item, MAX_STRING_LENGTH)
            if problem is not None:
                raise Invalid(f"{_path(where) or 'value'}: {problem}")
        elif item is None or isinstance(item, bool):
            continue
        elif isinstance(item, int):
            if not INT64_MIN <= item <= INT64_MAX:
                raise Invalid(f"{_path(where) or 'value'}: integer outside the signed 64-bit range")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise Invalid(f"{_path(where) or 'value'}: number is not finite")
        elif isinstance(item, dict | list | Mapping):
            if depth >= MAX_DEPTH:
                raise Invalid(f"{_path(where) or 'value'}: nested deeper than {MAX_DEPTH} levels")
            children: list[tuple[object, _Where, int]] = []
            if isinstance(item, list):
                children = [(c, (where, i), depth + 1) for i, c in enumerate(item)]
            else:
                for key, child in item.items():
                    name = str(key)
                    problem = _string_problem(name, MAX_STRING_LENGTH)
                    if problem is not None:
                        raise Invalid(f"{_join(_path(where), name)}: key {problem}")
                    children.append((child, (where, name), depth + 1))
            stack.extend(reversed(children))  # the first bad field is the one named
        else:
            raise Invalid(f"{_path(where) or 'value'}: {type(item).__name__} is not a JSON value")


def id_problem(value: object) -> str | None:
    """Why `value` cannot be an id (non-empty string of at most MAX_ID_LENGTH characters,
    valid UTF-8), or None when it can."""
    if not isinstance(value, str) or not value.strip():
        return "required non-empty string"
    return _string_problem(value, MAX_ID_LENGTH)


def fits_id(value: object) -> bool:
    """A string that may be keyed and echoed: valid UTF-8, at most MAX_ID_LENGTH characters."""
    return isinstance(value, str) and _string_problem(value, MAX_ID_LENGTH) is None


def check_frame_fields(fields: Mapping[str, Any]) -> None:
    """The limits of a whole frame: `check_json` over its fields, and the frame-level ids
    (messageId, deviceId: keyed for idempotency, echoed in ACKs), when they are strings, at
    most MAX_ID_LENGTH characters."""
    check_json(fields)
    for key in ("messageId", "deviceId"):
        value = fields.get(key)
        if isinstance(value, str) and not fits_id(value):
            raise Invalid(f"{key}: longer than {MAX_ID_LENGTH} characters")


def _require_str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{key}: required non-empty string")
    return value


def require_id(data: Mapping[str, Any], key: str) -> str:
    """`data[key]` as an id, or `Invalid` saying why it cannot be one."""
    value = data.get(key)
    problem = id_problem(value)
    if problem is not None:
        raise Invalid(f"{key}: {problem}")
    assert isinstance(value, str)
    return value


def _clean_pieces(value: object) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise Invalid("pieces: must be a list")
    pieces = []
    for index, piece in enumerate(value):
        if not isinstance(piece, Mapping) or not isinstance(piece.get("title"), str):
            raise Invalid(f"pieces[{index}]: needs a string title")
        clean = {"title": piece["title"]}
        for key in ("composer", "id"):
            if key in piece:
                if not isinstance(piece[key], str):
                    raise Invalid(f"pieces[{index}].{key}: must be a string")
                if key == "id" and len(piece[key]) > MAX_ID_LENGTH:
                    raise Invalid(f"pieces[{index}].id: longer than {MAX_ID_LENGTH} characters")
                clean[key] = piece[key]
        pieces.append(clean)
    return pieces


def _clean_optional(data: Mapping[str, Any], clean: Entity) -> None:
    if "mood" in data and data["mood"] is not None:
        if not isinstance(data["mood"], str) or data["mood"] not in MOODS:
            raise Invalid(f"mood: {_show(data['mood'])} is not one of {sorted(MOODS)}")
        clean["mood"] = data["mood"]
    if "notes" in data and data["notes"] is not None:
        if not isinstance(data["notes"], str):
            raise Invalid("notes: must be a string")
        clean["notes"] = data["notes"]
    for key in _STRING_LISTS:
        if key in data:
            items = data[key]
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise Invalid(f"{key}: must be a list of strings")
            clean[key] = list(items)
    for key in _OPTIONAL_TIMES:
        if key in data:
            if parse_iso_z(data[key]) is None:
                raise Invalid(f"{key}: must be an ISO 8601 UTC timestamp ending in Z")
            clean[key] = data[key]
    if "device_id" in data:
        clean["device_id"] = require_id(data, "device_id")


def clean_entry(data: object) -> Entity:
    """The entry as the server stores it, or `Invalid` naming the first bad field."""
    if not isinstance(data, Mapping):
        raise Invalid("entry: must be an object")
    clean: Entity = {"id": require_id(data, "id")}
    if parse_timestamp(data.get("timestamp")) is None:
        raise Invalid(
            "timestamp: must be epoch milliseconds (years 1 to 9999) or an ISO 8601 Z timestamp"
        )
    clean["timestamp"] = data["timestamp"]
    duration = data.get("duration")
    if isinstance(duration, bool) or not isinstance(duration, int) or duration < 0:
        raise Invalid("duration: must be a whole number of minutes >= 0")
    clean["duration"] = duration
    if not isinstance(data.get("type"), str) or data["type"] not in ENTRY_TYPES:
        raise Invalid(f"type: {_show(data.get('type'))} is not one of {sorted(ENTRY_TYPES)}")
    clean["type"] = data["type"]
    clean["instrument"] = _require_str(data, "instrument")
    clean["pieces"] = _clean_pieces(data.get("pieces", []))
    _clean_optional(data, clean)
    return clean


# One encoder for every entity: json.dumps with options builds a new one per call, a fifth of
# the cost of encoding an entry.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(entity: Mapping[str, Any]) -> str:
    """An entity's content as one text: keys sorted, no spaces, characters as they are."""
    return _CANONICAL.encode(entity)


def digest(text: str) -> str:
    """The fingerprint of an entity whose `canonical` text this is."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def fingerprint(entity: Mapping[str, Any]) -> str:
    """A short stable digest of an entity's content, to tell which write a snapshot holds."""
    return digest(canonical(entity))


_IDENTITY_FIELDS = ("id", "createdAt", "updatedAt", "device_id")

# Every field the schema knows, per kind, and those a server adds to what it stores
# (PROTOCOL.md, Data): anything else in an item a server sends back was not dropped.
ENTRY_FIELDS = frozenset(
    {"id", "timestamp", "duration", "type", "instrument", "pieces", "mood", "notes", "device_id"}
    | set(_STRING_LISTS)
    | set(_OPTIONAL_TIMES)
)
SERVER_FIELDS = frozenset({"user_id", "goal_ids", "sync_version", "version"})


def content_fingerprint(entry: Mapping[str, Any]) -> str:
    """A digest of what a person typed, without ids and stamps: the same entry saved twice
    under two ids has the same content fingerprint."""
    return fingerprint({k: v for k, v in entry.items() if k not in _IDENTITY_FIELDS})


_SPACES = re.compile(r"\s+")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
_DASHES = str.maketrans({"\u2013": "-", "\u2014": "-"})


def _normalize_part(text: str) -> str:
    return _SPACES.sub(" ", text.strip().lower()).translate(_QUOTES).translate(_DASHES)


def normalize_score_id(title: str, composer: str | None, score_id: str | None = None) -> str:
    """The repertoire dedup key, as PROTOCOL.md describes it."""
    if score_id is not None and score_id.startswith("score_"):
        return score_id
    norm_title = _normalize_part(title)
    # A blank composer is as good as a missing one.
    norm_composer = _normalize_part((composer or "").strip() or "Unknown").replace(".", "")
    norm_composer = _SPACES.sub(" ", norm_composer).strip()
    joiner = "||" if "-" in norm_title or "-" in norm_composer else "-"
    return f"{norm_title}{joiner}{norm_composer}"


def legacy_score_id(title: str, composer: str | None) -> str:
    """The id the client gave pieces before normalization: lower-cased, nothing else.

    Two spellings of one piece ("J.S. Bach" and "JS Bach") get two ids, which is the duplicate
    the seed's normalization (and its migration) exists to remove.
    """
    return f"{title.strip().lower()}-{(composer or 'Unknown').strip().lower()}"


def piece_key(data: Mapping[str, Any]) -> str | None:
    """The key of a repertoire item: its `id` (which clients set to the score id), or, for
    items written before the key was required, `scoreId` / `score_id`."""
    for key in ("id", "scoreId", "score_id"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def stamp_text(item: Mapping[str, Any] | None) -> str | None:
    """When an item was last written, as its own field says: `updatedAt` on entries,
    `updated_at` on repertoire items (PROTOCOL.md's Data section)."""
    if item is None:
        return None
    for key in ("updatedAt", "updated_at"):
        value = item.get(key)
        if isinstance(value, str):
            return value
    return None


_PIECE_TEXTS = ("composer", "notes")
_PIECE_TEMPOS = ("target_tempo", "current_tempo")
_PIECE_TIMES = ("started_at", "last_practiced_at", "created_at", "updated_at")
PIECE_FIELDS = frozenset(
    {"id", "title", "status", "scoreId", "score_id", "tags"}
    | set(_PIECE_TEXTS)
    | set(_PIECE_TEMPOS)
    | set(_PIECE_TIMES)
)


def _clean_piece_optional(data: Mapping[str, Any], clean: Entity) -> None:
    for key in ("scoreId", "score_id"):
        if key in data:
            clean[key] = require_id(data, key)
    for key in _PIECE_TEXTS:
        if data.get(key) is not None:
            if not isinstance(data[key], str):
                raise Invalid(f"{key}: must be a string")
            clean[key] = data[key]
    if "tags" in data:
        tags = data["tags"]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise Invalid("tags: must be a list of strings")
        clean["tags"] = list(tags)
    for key in _PIECE_TEMPOS:
        if data.get(key) is not None:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise Invalid(f"{key}: must be a number >= 0")
            clean[key] = value
    for key in _PIECE_TIMES:
        if data.get(key) is not None:
            if parse_iso_z(data[key]) is None:
                raise Invalid(f"{key}: must be an ISO 8601 UTC timestamp ending in Z")
            clean[key] = data[key]


def clean_piece(data: object) -> Entity:
    """The repertoire item as the real server's schema holds it, or `Invalid` naming the first
    bad field: `id`, `title` and `status` required, times in snake case (a camel-case
    `updatedAt` is not in the schema and is dropped, as every other unknown field)."""
    if not isinstance(data, Mapping):
        raise Invalid("piece: must be an object")
    clean: Entity = {"id": require_id(data, "id"), "title": _require_str(data, "title")}
    status = data.get("status")
    if not isinstance(status, str) or status not in PIECE_STATUSES:
        raise Invalid(f"status: {_show(status)} is not one of {sorted(PIECE_STATUSES)}")
    clean["status"] = status
    _clean_piece_optional(data, clean)
    return clean
