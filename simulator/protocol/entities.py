"""Logbook entries and repertoire items as the real server accepts them.

Validation is as strict as the real server's: whole-minute integer durations, lower-case enums,
an instrument, strict `Z` timestamps. Unknown fields are dropped, as the server drops them, so a
value's fingerprint is computed over exactly what survives a round trip through the server.
"""

from __future__ import annotations

import hashlib
import json
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


def _require_str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{key}: required non-empty string")
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
                clean[key] = piece[key]
        pieces.append(clean)
    return pieces


def _clean_optional(data: Mapping[str, Any], clean: Entity) -> None:
    if "mood" in data and data["mood"] is not None:
        if not isinstance(data["mood"], str) or data["mood"] not in MOODS:
            raise Invalid(f"mood: {data['mood']!r} is not one of {sorted(MOODS)}")
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
        clean["device_id"] = _require_str(data, "device_id")


def clean_entry(data: object) -> Entity:
    """The entry as the server stores it, or `Invalid` naming the first bad field."""
    if not isinstance(data, Mapping):
        raise Invalid("entry: must be an object")
    clean: Entity = {"id": _require_str(data, "id")}
    if parse_timestamp(data.get("timestamp")) is None:
        raise Invalid("timestamp: must be epoch milliseconds or an ISO 8601 Z timestamp")
    clean["timestamp"] = data["timestamp"]
    duration = data.get("duration")
    if isinstance(duration, bool) or not isinstance(duration, int) or duration < 0:
        raise Invalid("duration: must be a whole number of minutes >= 0")
    clean["duration"] = duration
    if not isinstance(data.get("type"), str) or data["type"] not in ENTRY_TYPES:
        raise Invalid(f"type: {data.get('type')!r} is not one of {sorted(ENTRY_TYPES)}")
    clean["type"] = data["type"]
    clean["instrument"] = _require_str(data, "instrument")
    clean["pieces"] = _clean_pieces(data.get("pieces", []))
    _clean_optional(data, clean)
    return clean


def fingerprint(entity: Mapping[str, Any]) -> str:
    """A short stable digest of an entity's content, to tell which write a snapshot holds."""
    canonical = json.dumps(entity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


_IDENTITY_FIELDS = ("id", "createdAt", "updatedAt", "device_id")


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
    """The score id of a piece, accepted as `scoreId`, `score_id` or `id`."""
    for key in ("scoreId", "score_id", "id"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def clean_piece(data: object) -> Entity:
    """The repertoire item as the server stores it, or `Invalid` naming the first bad field."""
    if not isinstance(data, Mapping):
        raise Invalid("piece: must be an object")
    score_id = piece_key(data)
    if score_id is None:
        raise Invalid("scoreId: required non-empty string (also accepted as score_id or id)")
    clean: Entity = {"scoreId": score_id, "title": _require_str(data, "title")}
    composer = data.get("composer")
    if composer is not None:
        if not isinstance(composer, str):
            raise Invalid("composer: must be a string")
        clean["composer"] = composer
    status = data.get("status", "planned")
    if not isinstance(status, str) or status not in PIECE_STATUSES:
        raise Invalid(f"status: {status!r} is not one of {sorted(PIECE_STATUSES)}")
    clean["status"] = status
    if "updatedAt" in data:
        if parse_iso_z(data["updatedAt"]) is None:
            raise Invalid("updatedAt: must be an ISO 8601 UTC timestamp ending in Z")
        clean["updatedAt"] = data["updatedAt"]
    return clean
