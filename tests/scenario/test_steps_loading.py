"""Scripted `steps` at load time: each mistake is a ScenarioError naming its line and field."""

from __future__ import annotations

import pytest

from simulator.errors import ScenarioError
from simulator.scenario.loader import load_text

HEAD = """\
duration: 2h
devices:
  - {name: phone}
  - {name: laptop, joins: 5m}
steps:
  - {at: 10m, device: phone, do: create, item: E1}
  - {at: 20m, device: phone, do: add_piece, item: P1, title: Clair de lune}
"""


def fails(step: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        load_text("s.yaml", HEAD + step)
    error = caught.value
    assert str(error) == f"s.yaml:{error.line}: {error.field}: {error.message}"
    return error


def test_a_valid_script_loads_with_every_do() -> None:
    script = """\
  - {at: 30m, device: laptop, do: update, item: E1, fields: {notes: hi}}
  - {at: 31m, device: laptop, do: update_piece, item: P1, fields: {status: polished}}
  - {at: 32m, device: phone, do: crash, when: before}
  - {at: 33m, device: phone, do: reload}
  - {at: 34m, device: phone, do: wipe}
  - {at: 35m, device: phone, do: offline}
  - {at: 36m, device: phone, do: online}
  - {at: 37m, device: phone, do: disconnect}
  - {at: 38m, device: phone, do: accept_backfill}
  - {at: 39m, device: phone, do: remove_piece, item: P1}
  - {at: 40m, device: phone, do: delete, item: E1}
"""
    scenario = load_text("s.yaml", HEAD + script).scenario
    assert [s.do for s in scenario.steps][-2:] == ["remove_piece", "delete"]
    assert scenario.steps[4].when == "before"


def test_an_item_no_step_creates_is_refused_on_its_line() -> None:
    error = fails("  - {at: 1h, device: phone, do: update, item: E2}\n")
    assert (error.line, error.field) == (8, "steps[2].item")
    assert error.message == "no earlier step creates an item 'E2' (`do: create`)"


def test_an_item_created_only_later_is_refused() -> None:
    error = fails("  - {at: 5m, device: phone, do: delete, item: E1}\n")
    assert (error.line, error.field) == (8, "steps[2].item")


def test_an_item_of_the_other_kind_is_refused() -> None:
    error = fails("  - {at: 1h, device: phone, do: remove_piece, item: E1}\n")
    assert (error.line, error.field) == (8, "steps[2].item")
    assert "needs add_piece" in error.message


def test_an_unknown_do_is_refused_on_its_line() -> None:
    error = fails("  - {at: 1h, device: phone, do: explode}\n")
    assert (error.line, error.field) == (8, "steps[2].do")
    assert error.message.startswith("unknown do 'explode'; known: create, update, delete")


def test_a_field_the_do_does_not_take_is_refused_on_its_own_line() -> None:
    error = fails(
        "  - at: 1h\n    device: phone\n    do: delete\n    item: E1\n    fields: {a: 1}\n"
    )
    assert (error.line, error.field) == (12, "steps[2].fields")
    assert error.message == "`do: delete` takes no 'fields'; it takes item"


def test_when_belongs_to_crash_alone() -> None:
    error = fails("  - {at: 1h, device: phone, do: reload, when: after}\n")
    assert (error.line, error.field) == (8, "steps[2].when")
    assert "takes nothing but at, device, do" in error.message
    assert fails("  - {at: 1h, device: phone, do: crash, when: later}\n").field == "steps[2].when"


def test_a_misspelled_step_field_suggests_the_right_one() -> None:
    error = fails("  - {at: 1h, device: phone, do: delete, itme: E1}\n")
    assert (error.line, error.field) == (8, "steps[2].itme")
    assert "did you mean 'item'" in error.message


@pytest.mark.parametrize(
    ("step", "field", "message"),
    [
        ("{at: 1h, device: tablet, do: reload}", "device", "unknown device 'tablet'"),
        ("{at: 2h, device: phone, do: reload}", "at", "must be before the end of `duration`"),
        ("{at: 1m, device: laptop, do: reload}", "at", "must not be before 'laptop' joins"),
        ("{at: 1h, device: phone, do: create, item: E1}", "item", "another step already"),
        ("{at: 1h, device: phone, do: delete}", "item", "required field is missing"),
        ("{at: 1h, device: phone, do: add_piece}", "title", "required field is missing"),
    ],
)
def test_each_reference_is_checked(step: str, field: str, message: str) -> None:
    error = fails(f"  - {step}\n")
    assert (error.line, error.field) == (8, f"steps[2].{field}")
    assert error.message.startswith(message)


def test_wire_steps_load_with_names_references_and_replays() -> None:
    script = """\
  - {at: 30m, device: phone, do: update, item: E1, name: u1}
  - {at: 31m, device: phone, do: send, name: s1, frame: {type: PING, timestamp: "{{now}}"}}
  - {at: 32m, device: phone, do: send, frame: 'not json {{ item.E1.id }}'}
  - {at: 33m, device: phone, do: replay, step: u1}
  - {at: 34m, device: phone, do: replay, step: s1, name: again}
  - {at: 35m, device: laptop, do: request, cursor: {lastSeq: 3}}
  - {at: 36m, device: laptop, do: connect, token: expired}
  - {at: 37m, device: laptop, do: push, key: k1,
     changes: [{type: ENTRY_DELETED, entryId: "{{item.E1.id}}"}]}
  - {at: 38m, device: laptop, do: pull}
"""
    steps = load_text("s.yaml", HEAD + script).scenario.steps
    assert [s.do for s in steps[2:]] == [
        "update", "send", "send", "replay", "replay", "request", "connect", "push", "pull",
    ]  # fmt: skip


def test_a_replay_of_a_step_that_sent_nothing_or_is_unknown_is_refused() -> None:
    error = fails("  - {at: 1h, device: phone, do: replay, step: nowhere}\n")
    assert (error.line, error.field) == (8, "steps[2].step")
    assert error.message.startswith("no earlier step named 'nowhere' sends a frame")
    error = fails(
        "  - {at: 30m, device: phone, do: reload, name: r}\n"
        "  - {at: 1h, device: phone, do: replay, step: r}\n"
    )
    assert (error.line, error.field) == (9, "steps[3].step")


def test_two_steps_of_one_name_and_a_send_without_a_frame_are_refused() -> None:
    error = fails(
        "  - {at: 30m, device: phone, do: reload, name: x}\n"
        "  - {at: 31m, device: phone, do: pull, name: x}\n"
    )
    assert (error.line, error.field, error.message) == (
        9,
        "steps[3].name",
        "another step is already named 'x'",
    )
    error = fails("  - {at: 30m, device: phone, do: send}\n")
    assert (error.field, error.message) == ("steps[2].frame", "required field is missing")


def test_a_reference_to_an_unknown_item_or_name_is_refused_with_its_line() -> None:
    error = fails('  - {at: 1h, device: phone, do: send, frame: {id: "{{item.E9.id}}"}}\n')
    assert (error.line, error.field) == (8, "steps[2].frame")
    assert error.message == "{{item.E9.id}}: no earlier step creates an item 'E9'"
    error = fails('  - {at: 1h, device: phone, do: send, frame: "{{when}}"}\n')
    assert error.message.startswith("{{when}}: unknown reference; known: {{device}}, {{now}}")


def test_a_connect_takes_only_known_credentials() -> None:
    error = fails("  - {at: 1h, device: phone, do: connect, token: stolen}\n")
    assert error.field == "steps[2].token"
