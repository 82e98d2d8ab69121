"""Per-item stories: literal histories where the story of a finding's item is known row by row."""

from __future__ import annotations

from dataclasses import replace

from histories import (
    at,
    device_snapshot,
    holds,
    meta,
    sent,
    server_holds,
    write,
)

from simulator.checker.check import check
from simulator.checker.names import Anomaly
from simulator.history import SERVER, History, Kind, Record
from simulator.report.story import DELETED, NOTHING, UNKNOWN_VALUE, Stories
from simulator.verdict import Run


def _labelled(record: Record, label: str) -> Record:
    return replace(record, detail={**(record.detail or {}), "label": label})


def _skewed_edit() -> list[Record]:
    """The laptop, 40 min fast, edits e1 at t=100; the phone edits it at t=110. Both reach
    the server; updatedAt-LWW keeps the laptop's earlier edit everywhere."""
    return [
        meta(),
        _labelled(write(10, "phone", "phone#1", "create", "e1", "fpA"), "2026-03-02 piano"),
        sent(10, "phone", "phone#1", "e1"),
        write(100, "laptop", "laptop#1", "update", "e1", "fpB", device_time=2500),
        sent(100, "laptop", "laptop#1", "e1", frame_type="ENTRY_UPDATED", device_time=2500),
        _labelled(write(110, "phone", "phone#2", "update", "e1", "fpC"), "2026-03-02 cello"),
        sent(110, "phone", "phone#2", "e1", frame_type="ENTRY_UPDATED"),
        device_snapshot("phone"),
        holds("phone", "e1", "fpB", at(2500)),
        device_snapshot("laptop"),
        holds("laptop", "e1", "fpB", at(2500)),
        server_holds("e1", "fpB", at(2500)),
    ]


def test_a_lost_update_story_has_every_write_in_true_time_and_who_kept_which() -> None:
    history = History(_skewed_edit())
    finding = next(f for f in check(history).findings if f.anomaly is Anomaly.LOST_UPDATE)
    (story,) = Stories(history.records).of(finding)
    assert [(w.write_id, w.t, w.device_time) for w in story.writes] == [
        ("phone#1", 10, 10),
        ("laptop#1", 100, 2500),
        ("phone#2", 110, 110),
    ]
    assert {e.holder: e.held for e in story.endings} == {
        "phone": "laptop#1",
        "laptop": "laptop#1",
        SERVER: "laptop#1",
    }
    laptop_edit = story.writes[1]
    assert story.kept_by(laptop_edit) == ("phone", "laptop", SERVER)
    assert story.kept_by(story.writes[2]) == ()
    # The label is what the item was last written as.
    assert story.label == "2026-03-02 cello"
    # Each ending points at the snapshot row it was read from.
    rows = {e.holder: e.row for e in story.endings}
    assert history.records[rows[SERVER]].device == SERVER  # type: ignore[index]


def test_a_normalizing_server_holds_the_write_by_its_stamp_not_its_content() -> None:
    """A real server stores a normalized form: other content, same updatedAt. The story names
    the write it holds, never "a value none of its writes made"."""
    records = [
        meta(),
        write(10, "phone", "phone#1", "create", "e1", "fpA"),
        sent(10, "phone", "phone#1", "e1"),
        device_snapshot("phone"),
        holds("phone", "e1", "fpA", at(10)),
        server_holds("e1", "normalized", at(10)),
        write(20, "phone", "phone#2", "create", "e2", "fpX"),  # lost: never sent
    ]
    history = History(records)
    finding = next(f for f in check(history).findings if f.entity_id == "e2")
    stories = Stories(history.records)
    (lost,) = stories.of(finding)
    assert {e.holder: e.held for e in lost.endings} == {"phone": NOTHING, SERVER: NOTHING}
    (kept,) = stories.of(replace(finding, entity_id="e1"))
    assert {e.holder: e.held for e in kept.endings} == {"phone": "phone#1", SERVER: "phone#1"}


def test_deleted_nothing_and_a_value_no_write_made_are_told_apart() -> None:
    records = [
        meta(),
        write(10, "phone", "phone#1", "create", "e1", "fpA"),
        sent(10, "phone", "phone#1", "e1"),
        write(20, "phone", "phone#2", "delete", "e1"),
        sent(20, "phone", "phone#2", "e1", frame_type="ENTRY_DELETED"),
        device_snapshot("phone"),
        device_snapshot("tablet"),
        holds("tablet", "e1", "fpZ", at(5)),
        server_holds("e1", "fpA", at(10), deleted=True),
    ]
    history = History(records)
    finding = next(f for f in check(history).findings if f.anomaly is Anomaly.RESURRECTION)
    (story,) = Stories(history.records).of(finding)
    assert {e.holder: e.held for e in story.endings} == {
        "phone": NOTHING,
        "tablet": UNKNOWN_VALUE,
        SERVER: DELETED,
    }


def test_an_item_no_device_wrote_is_labelled_from_the_snapshot() -> None:
    """A preloaded item has no write row: its label comes from the snapshot rows."""
    preloaded = _labelled(server_holds("p1", "fpP", at(-86400)), "2026-03-01 violin")
    records = [meta(), device_snapshot("phone"), preloaded]
    history = History(records)
    finding = next(f for f in check(history).findings if f.anomaly is Anomaly.MISSING_HISTORY)
    (story,) = Stories(history.records).of(finding)
    assert story.label == "2026-03-01 violin"
    assert story.writes == ()
    assert {e.holder: e.held for e in story.endings} == {"phone": NOTHING, SERVER: UNKNOWN_VALUE}


def test_a_duplicate_tells_the_story_of_each_twin() -> None:
    same = {"content": "typed once"}
    records = [
        meta(),
        write(10, "phone", "phone#1", "create", "e1", "fpA"),
        sent(10, "phone", "phone#1", "e1"),
        write(11, "laptop", "laptop#1", "create", "e2", "fpB"),
        sent(11, "laptop", "laptop#1", "e2"),
        device_snapshot("phone"),
        replace(server_holds("e1", "fpA", at(10)), detail=same),
        replace(server_holds("e2", "fpB", at(11)), detail=same),
        replace(holds("phone", "e1", "fpA", at(10)), detail=same),
        replace(holds("phone", "e2", "fpB", at(11)), detail=same),
    ]
    history = History(records)
    finding = next(f for f in check(history).findings if f.anomaly is Anomaly.DUPLICATE)
    assert finding.others == ("e2",)
    stories = Stories(history.records).of(finding)
    assert [s.entity_id for s in stories] == ["e1", "e2"]
    assert [s.writes[0].write_id for s in stories] == ["phone#1", "laptop#1"]


def test_a_finding_about_no_item_has_no_story() -> None:
    records = [
        meta(max_frame_bytes=100),
        sent(10, "phone", nbytes=500, frame_type="SYNC_REQUEST"),
        device_snapshot("phone"),
    ]
    history = History(records)
    (finding,) = [f for f in check(history).findings if f.anomaly is Anomaly.PAYLOAD]
    assert Stories(history.records).of(finding) == ()


def test_every_item_finding_of_a_real_run_has_a_story_with_its_writes(
    eventful: tuple[Run, dict[str, bytes]],
) -> None:
    result, _ = eventful
    stories = Stories(result.history.records)
    found = [f for f in result.result.findings if f.entity_id is not None]
    assert found
    for finding in found:
        told = stories.of(finding)
        assert told and told[0].entity_id == finding.entity_id
        written = {w.write_id for s in told for w in s.writes}
        assert {w.write_id for w in finding.writes} <= written
        # Every holder of the user is accounted for, the server included.
        assert SERVER in {e.holder for e in told[0].endings}
        assert told[0].label is not None  # every item of a simulated run has a label
    assert all(r.kind is not Kind.WRITE or (r.detail or {}).get("label") for r in result.history)
