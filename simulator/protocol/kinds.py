"""The entity kinds the protocol syncs, each in one place: what the wire calls it, how its
frames name it, how the server validates it and what identifies it.

Everything that used to ask "entry or piece?" asks the kind instead, so a third kind (plans,
goals) is one more entry in `KINDS`, and a history's `entity_type` that no kind owns is an
`UnknownKind` error rather than being filed with the pieces.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from simulator.errors import SyncsimError
from simulator.protocol.codec import BULKS, Frame, FrameType
from simulator.protocol.entities import (
    ENTRY_FIELDS,
    PIECE_FIELDS,
    Entity,
    clean_entry,
    clean_piece,
    content_fingerprint,
    normalize_score_id,
    piece_key,
)
from simulator.protocol.timefmt import iso_z, parse_timestamp

__all__ = [
    "DATA_FRAMES",
    "DELETES",
    "ENTRY",
    "ENTRY_KIND",
    "ENTRY_MUTATIONS",
    "ENTRY_WRITES",
    "KINDS",
    "MUTATIONS",
    "PIECE",
    "PIECE_KIND",
    "PIECE_MUTATIONS",
    "PIECE_WRITES",
    "EntityKind",
    "UnknownKind",
    "entity_key",
    "items_in",
    "kind",
    "kind_of_bulk",
    "kind_of_frame",
]


class UnknownKind(SyncsimError, KeyError):
    """An entity type no kind in the registry owns."""


def _entry_key(data: Mapping[str, Any]) -> str | None:
    value = data.get("id")
    return value if isinstance(value, str) and value.strip() else None


# Identity: what a snapshot row keeps of an item so the checker can tell one logical item
# held under two ids, and how it reads that back. An entry is its content without its ids and
# times; a piece is its normalized score id.


def _entry_identity(item: Mapping[str, Any]) -> dict[str, Any]:
    return {"content": content_fingerprint(item)}


def _entry_logical(detail: Mapping[str, Any], entity_id: str) -> str | None:
    content = detail.get("content")
    return content if isinstance(content, str) else None


def _piece_identity(item: Mapping[str, Any]) -> dict[str, Any]:
    return {"title": item.get("title"), "composer": item.get("composer")}


# Labels: what a person reading a report knows an item by, beside its id: an entry by its day,
# instrument and first piece, a piece by its title and composer, as typed.


def _entry_label(item: Mapping[str, Any]) -> str:
    seconds = parse_timestamp(item.get("timestamp"))
    day = iso_z(seconds)[:10] if seconds is not None else "no date"
    parts = [day, str(item.get("instrument") or "no instrument")]
    pieces = item.get("pieces")
    first = pieces[0] if isinstance(pieces, list) and pieces else None
    title = first.get("title") if isinstance(first, Mapping) else None
    return " ".join(parts) + (f": {title}" if isinstance(title, str) else "")


def _piece_label(item: Mapping[str, Any]) -> str:
    title = item.get("title")
    composer = item.get("composer")
    text = title if isinstance(title, str) else "untitled"
    return text + (f" ({composer})" if isinstance(composer, str) and composer else "")


def _piece_logical(detail: Mapping[str, Any], entity_id: str) -> str | None:
    title = detail.get("title")
    if not isinstance(title, str):
        return None
    return normalize_score_id(title, detail.get("composer"), entity_id)


@dataclass(frozen=True)
class EntityKind:
    name: str  # the entity_type in histories, stores and the server's rows
    label: str  # what a person calls one
    body: str  # the field holding the item in a write frame
    delete_id: str  # the field naming the item in a delete frame
    bulk: str  # the list field in catch-ups and REST bodies
    bulk_frames: frozenset[FrameType]  # the catch-up frames that carry that list
    created: FrameType
    updated: FrameType
    deleted: FrameType
    also_deletes: frozenset[FrameType]  # other frames that take the item away
    clean: Callable[[object], Entity]  # the server's validation: the item as stored
    key: Callable[[Mapping[str, Any]], str | None]  # the item's id, read from its body
    identity: Callable[[Mapping[str, Any]], dict[str, Any]]  # kept in snapshot rows
    logical: Callable[[Mapping[str, Any], str], str | None]  # read back from them
    describe: Callable[[Mapping[str, Any]], str]  # a label for people, beside the id
    twin_cause: str  # why two ids are one item, as a finding says it
    stamp_field: str  # where a client writes the item's last-written time
    fields: frozenset[str]  # every field the schema knows; a server drops the rest

    # Cached: every frame a client or the checker reads asks one of these, and a property
    # built a new set each time.
    @cached_property
    def writes(self) -> frozenset[FrameType]:
        return frozenset({self.created, self.updated})

    @cached_property
    def deletes(self) -> frozenset[FrameType]:
        return self.also_deletes | {self.deleted}

    @cached_property
    def mutations(self) -> frozenset[FrameType]:
        return self.writes | self.deletes

    def write_body(self, data: Mapping[str, Any]) -> dict[str, Any]:
        return {self.body: data}

    def delete_body(self, entity_id: str) -> dict[str, Any]:
        return {self.delete_id: entity_id}

    def id_in(self, frame: Frame) -> str | None:
        """The id a mutation frame of this kind names, or None when it names none."""
        if frame.type in self.writes:
            body = frame.get(self.body)
            return self.key(body) if isinstance(body, Mapping) else None
        value = frame.get(self.delete_id)
        return value if isinstance(value, str) else None


ENTRY_KIND = EntityKind(
    name="logbook_entry",
    label="entry",
    body="entry",
    delete_id="entryId",
    bulk="entries",
    bulk_frames=frozenset({FrameType.BULK_SYNC}),
    created=FrameType.ENTRY_CREATED,
    updated=FrameType.ENTRY_UPDATED,
    deleted=FrameType.ENTRY_DELETED,
    also_deletes=frozenset(),
    clean=clean_entry,
    key=_entry_key,
    identity=_entry_identity,
    logical=_entry_logical,
    describe=_entry_label,
    twin_cause="same content under two ids",
    stamp_field="updatedAt",
    fields=ENTRY_FIELDS,
)
PIECE_KIND = EntityKind(
    name="repertoire_piece",
    label="piece",
    body="piece",
    delete_id="scoreId",
    bulk="pieces",
    # PIECE_BULK_SYNC: the other name the seed's open question 1 considers.
    bulk_frames=frozenset({FrameType.REPERTOIRE_BULK_SYNC, FrameType.PIECE_BULK_SYNC}),
    created=FrameType.PIECE_ADDED,
    updated=FrameType.PIECE_UPDATED,
    deleted=FrameType.PIECE_REMOVED,
    also_deletes=frozenset({FrameType.PIECE_DISSOCIATED}),
    clean=clean_piece,
    key=piece_key,
    identity=_piece_identity,
    logical=_piece_logical,
    describe=_piece_label,
    twin_cause="same normalized score id",
    # The real server's repertoire schema is snake case; a camel `updatedAt` is dropped.
    stamp_field="updated_at",
    fields=PIECE_FIELDS,
)
KINDS: tuple[EntityKind, ...] = (ENTRY_KIND, PIECE_KIND)

# The entity_type strings of histories and stores, and the frame sets, for callers that only
# need a name or a test of a frame's type.
ENTRY = ENTRY_KIND.name
PIECE = PIECE_KIND.name
ENTRY_WRITES = ENTRY_KIND.writes
ENTRY_MUTATIONS = ENTRY_KIND.mutations
PIECE_WRITES = PIECE_KIND.writes
PIECE_MUTATIONS = PIECE_KIND.mutations
MUTATIONS = frozenset(t for k in KINDS for t in k.mutations)
DELETES = frozenset(t for k in KINDS for t in k.deletes)
# Frames that carry data; only these may move a client's lastSyncTime cursor.
DATA_FRAMES = MUTATIONS | BULKS

_BY_NAME = {k.name: k for k in KINDS}
_BY_FRAME = {t: k for k in KINDS for t in k.mutations}
_BY_BULK = {t: k for k in KINDS for t in k.bulk_frames}


def kind(name: str) -> EntityKind:
    """The kind an entity_type names; `UnknownKind` for one the registry lacks."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownKind(f"unknown entity type {name!r}") from None


def kind_of_frame(type_: FrameType) -> EntityKind | None:
    """The kind a mutation frame is about; None for frames that are not mutations."""
    return _BY_FRAME.get(type_)


def kind_of_bulk(type_: FrameType) -> EntityKind | None:
    """The kind a catch-up batch frame carries; None for other frames."""
    return _BY_BULK.get(type_)


def items_in(body: Mapping[str, Any]) -> int:
    """How many items a REST pull answer carries, over every kind."""
    return sum(len(v) for k in KINDS if isinstance(v := body.get(k.bulk), list))


def entity_key(frame: Frame) -> tuple[str, str] | None:
    """(entity type, id) a mutation frame is about, or None when the frame names none."""
    owner = kind_of_frame(frame.type)
    if owner is None:
        return None
    entity_id = owner.id_in(frame)
    return None if entity_id is None else (owner.name, entity_id)
