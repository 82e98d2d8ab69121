"""`expect:` bounds: parsing names, comparisons and units; judging values from a check."""

from __future__ import annotations

import pytest
from histories import at, meta, run, sent, server_holds, write

from simulator.checker.expectations import BadExpectation, Expectation, judge, parse
from simulator.checker.names import EXPECTABLE


def test_a_bare_number_is_an_upper_bound() -> None:
    assert parse({"lost_write": 0}) == [Expectation("lost_write", "lte", 0.0)]


def test_a_size_bound_is_read_in_bytes() -> None:
    (expectation,) = parse({"max_frame_bytes": {"lte": "1MiB"}})
    assert (expectation.name, expectation.op, expectation.bound) == (
        "max_frame_bytes",
        "lte",
        1048576,
    )
    assert expectation.text == "max_frame_bytes <= 1048576 B"
    assert parse({"bytes_sent": "64KiB"}) == [Expectation("bytes_sent", "lte", 65536.0)]
    assert parse({"bytes_sent": 2048}) == [Expectation("bytes_sent", "lte", 2048.0)]


def test_several_comparisons_keep_file_order() -> None:
    parsed = parse({"frames_sent": {"gte": 1, "lt": 100}, "lost_update": {"eq": 0}})
    assert [(e.name, e.op, e.bound) for e in parsed] == [
        ("frames_sent", "gte", 1.0),
        ("frames_sent", "lt", 100.0),
        ("lost_update", "eq", 0.0),
    ]
    assert [e.text for e in parsed] == ["frames_sent >= 1", "frames_sent < 100", "lost_update == 0"]


def test_every_expectable_name_parses() -> None:
    for name in sorted(EXPECTABLE):
        assert parse({name: 0}) == [Expectation(name, "lte", 0.0)]


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(BadExpectation, match=r"did you mean 'lost_write'\?") as caught:
        parse({"lost_writes": 0})
    assert caught.value.path == ("lost_writes",)
    assert "known: " in str(caught.value)


def test_unknown_name_without_a_close_match_lists_the_known_ones() -> None:
    with pytest.raises(BadExpectation, match="unknown anomaly or metric; known: ") as caught:
        parse({"zzzz": 0})
    assert "did you mean" not in str(caught.value)
    assert caught.value.path == ("zzzz",)


def test_unknown_comparison_is_refused() -> None:
    with pytest.raises(BadExpectation, match="unknown comparison") as caught:
        parse({"lost_write": {"le": 0}})
    assert caught.value.path == ("lost_write", "le")


def test_empty_comparison_mapping_is_refused() -> None:
    with pytest.raises(BadExpectation, match="empty bound") as caught:
        parse({"lost_write": {}})
    assert caught.value.path == ("lost_write",)


@pytest.mark.parametrize(
    ("expect", "path"),
    [
        ({"lost_write": True}, ("lost_write",)),
        ({"lost_write": {"lte": False}}, ("lost_write", "lte")),
        ({"max_frame_bytes": True}, ("max_frame_bytes",)),
        ({"reloads": "3"}, ("reloads",)),
        ({"reloads": None}, ("reloads",)),
        ({"max_frame_bytes": {"lte": "1 megabyte"}}, ("max_frame_bytes", "lte")),
    ],
    ids=["bool-count", "bool-in-mapping", "bool-size", "string-count", "null", "bad-size"],
)
def test_bad_bounds_are_refused(expect: dict[str, object], path: tuple[str, ...]) -> None:
    with pytest.raises(BadExpectation) as caught:
        parse(expect)
    assert caught.value.path == path


def test_judge_on_values() -> None:
    expectations = parse(
        {
            "lost_write": 0,
            "frames_sent": {"gte": 2, "lt": 3},
            "max_frame_bytes": {"lte": "1KiB"},
            "sync_requests": {"gt": 0},
        }
    )
    values = {"lost_write": 1.0, "frames_sent": 2.0, "max_frame_bytes": 1025.0, "sync_requests": 0}
    outcomes = judge(expectations, values)
    assert [(o.expectation.text, o.value, o.passed) for o in outcomes] == [
        ("lost_write <= 0", 1.0, False),
        ("frames_sent >= 2", 2.0, True),
        ("frames_sent < 3", 2.0, True),
        ("max_frame_bytes <= 1024 B", 1025.0, False),
        ("sync_requests > 0", 0, False),
    ]


def test_judge_a_checked_history() -> None:
    rows = [
        meta(max_frame_bytes=1000),  # 0
        write(10, "phone", "phone#1", "create", "e1", "fpA"),  # 1
        sent(10, "phone", "phone#1", "e1", nbytes=1500),  # 2 over the limit
        server_holds("e1", "fpA", at(10)),  # 3
    ]
    values = run(rows).values()
    outcomes = judge(parse({"payload": 0, "lost_write": 0, "writes": {"eq": 1}}), values)
    assert [(o.expectation.name, o.passed) for o in outcomes] == [
        ("payload", False),
        ("lost_write", True),
        ("writes", True),
    ]


def test_a_known_gap_is_an_expected_failure_until_it_stops_showing() -> None:
    from simulator.checker.expectations import judge, parse

    (gap,) = parse({"lost_write": {"lte": 0, "known_gap": "the queue is lost on reload"}})
    assert gap.known_gap == "the queue is lost on reload"
    (shows,) = judge([gap], {"lost_write": 7.0})
    assert shows.passed and shows.gap_shows and not shows.holds
    (gone,) = judge([gap], {"lost_write": 0.0})
    assert not gone.passed and not gone.gap_shows  # a strict XPASS: the mark must go


def test_a_known_gap_needs_words_and_a_bound() -> None:
    import pytest

    from simulator.checker.expectations import BadExpectation, parse

    with pytest.raises(BadExpectation, match="gap's description"):
        parse({"lost_write": {"lte": 0, "known_gap": 3}})
    with pytest.raises(BadExpectation, match="empty bound"):
        parse({"lost_write": {"known_gap": "why"}})
