"""The entity-kind registry: every mutation frame has one owner, identity reads back."""

from __future__ import annotations

import pytest

from simulator.errors import SyncsimError
from simulator.protocol.codec import BULKS, Frame, FrameType
from simulator.protocol.kinds import (
    ENTRY_KIND,
    KINDS,
    MUTATIONS,
    PIECE_KIND,
    UnknownKind,
    entity_key,
    items_in,
    kind,
    kind_of_bulk,
    kind_of_frame,
)
from simulator.protocol.storage import LocalStorage

T = 1_772_409_600.0


def test_every_mutation_and_batch_frame_has_exactly_one_kind() -> None:
    owned = [t for k in KINDS for t in k.mutations]
    assert len(owned) == len(set(owned)) and set(owned) == MUTATIONS
    batches = [t for k in KINDS for t in k.bulk_frames]
    assert len(batches) == len(set(batches)) and set(batches) == BULKS
    assert kind_of_frame(FrameType.PING) is None and kind_of_bulk(FrameType.PING) is None


@pytest.mark.parametrize(
    ("frame", "key"),
    [
        (Frame.make(FrameType.ENTRY_CREATED, T, entry={"id": "e1"}), ("logbook_entry", "e1")),
        (Frame.make(FrameType.ENTRY_DELETED, T, entryId="e1"), ("logbook_entry", "e1")),
        (
            Frame.make(FrameType.PIECE_ADDED, T, piece={"scoreId": "p-x"}),
            ("repertoire_piece", "p-x"),
        ),
        (Frame.make(FrameType.PIECE_DISSOCIATED, T, scoreId="p-x"), ("repertoire_piece", "p-x")),
        (Frame.make(FrameType.ENTRY_UPDATED, T, entry={"id": ""}), None),
        (Frame.make(FrameType.PIECE_REMOVED, T, entryId="e1"), None),
        (Frame.make(FrameType.PING, T), None),
    ],
)
def test_entity_key_reads_the_field_its_kind_names(
    frame: Frame, key: tuple[str, str] | None
) -> None:
    assert entity_key(frame) == key


def test_a_type_no_kind_owns_is_an_error_not_a_piece() -> None:
    storage = LocalStorage()
    with pytest.raises(UnknownKind, match="'plan'"):
        storage.store_of("plan")
    assert issubclass(UnknownKind, SyncsimError)
    assert storage.store_of("repertoire_piece") is storage.pieces
    assert kind("logbook_entry") is ENTRY_KIND


def test_identity_reads_back_what_a_snapshot_row_keeps() -> None:
    piece = {"scoreId": "x", "title": "Prelude in C", "composer": "J.S. Bach"}
    spelled = {"scoreId": "y", "title": " prelude in c ", "composer": "JS Bach"}
    logical = [PIECE_KIND.logical(PIECE_KIND.identity(p), p["scoreId"]) for p in (piece, spelled)]
    assert logical[0] == logical[1] is not None
    entry = {"id": "a", "type": "practice", "duration": 5, "updatedAt": "2026-01-01T00:00:00Z"}
    twin = {**entry, "id": "b", "updatedAt": "2026-01-02T00:00:00Z"}
    assert ENTRY_KIND.logical(ENTRY_KIND.identity(entry), "a") == ENTRY_KIND.logical(
        ENTRY_KIND.identity(twin), "b"
    )


def test_items_in_counts_every_kind_and_ignores_what_is_not_a_list() -> None:
    assert items_in({"entries": [{}, {}], "pieces": [{}], "lastSeq": 3}) == 3
    assert items_in({"entries": "nope"}) == 0
