"""`syncsim diff`'s account of the server's final state: which fields of an item differ."""

from __future__ import annotations

from simulator.history import Kind, Record
from simulator.live.diff import Differences, diff_report, differing_fields


def stored(fingerprint: str, updated_at: str, **detail: str) -> Record:
    return Record(
        0.0,
        Kind.SNAPSHOT,
        None,
        "alice",
        fingerprint=fingerprint,
        updated_at=updated_at,
        detail=detail,
    )


def test_an_entry_stamped_at_another_instant_differs_in_updated_at_only() -> None:
    a = stored("f1", "2026-01-01T00:00:00Z", content="c1")
    b = stored("f2", "2026-01-01T00:00:03Z", content="c1")
    assert differing_fields(a, b) == ("updatedAt",)


def test_what_was_typed_and_a_pieces_title_are_named() -> None:
    a = stored("f1", "t", content="c1")
    assert differing_fields(a, stored("f2", "t", content="c2")) == ("content",)
    piece = stored("f1", "t", title="Air", composer="Bach")
    other = stored("f2", "t2", title="Aria", composer="Bach")
    assert differing_fields(piece, other) == ("updatedAt", "title")


def test_a_difference_the_rows_do_not_keep_is_other_fields() -> None:
    assert differing_fields(stored("f1", "t", content="c"), stored("f2", "t", content="c")) == (
        "other fields",
    )


def differences(different: tuple[tuple[str, tuple[str, ...]], ...]) -> Differences:
    return Differences((), (), (), (), different)


def test_the_report_groups_items_by_the_fields_that_differ() -> None:
    text = diff_report(
        "x",
        differences((("e1", ("updatedAt",)), ("e2", ("content",)), ("e3", ("updatedAt",)))),
    )
    assert "3 with another value (a write is stamped with its device's clock" in text
    assert "- different updatedAt: e1, e3\n" in text
    assert "- different content: e2\n" in text
    assert text.index("different updatedAt") < text.index("different content")


def test_no_clock_remark_where_no_stamp_differs() -> None:
    text = diff_report("x", differences((("e2", ("content",)),)))
    assert "1 with another value.\n" in text and "clock" not in text
