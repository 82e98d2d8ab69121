"""Scenario loading: every bad input is a ScenarioError naming file, line and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from simulator.errors import ScenarioError, UsageError
from simulator.protocol.profile import resolve
from simulator.scenario.loader import load, load_text
from simulator.units import format_duration, parse_duration, parse_size

SOURCE = "scenarios/broken.yaml"

MINIMAL = """\
duration: 1d
devices:
  - name: phone
"""


def fails(text: str, source: str = SOURCE) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        load_text(source, textwrap.dedent(text))
    error = caught.value
    # The message format is the contract: FILE:LINE: FIELD: message.
    assert str(error) == f"{error.file}:{error.line}: {error.field}: {error.message}"
    assert error.file == source
    assert isinstance(error, UsageError) and error.exit_code == 2
    return error


# -- one test per kind of mistake ------------------------------------------------------------


def test_misspelled_field_names_the_path_and_suggests_the_right_name():
    error = fails(
        """\
        duration: 1d
        devices:
          - name: phone
            link:
              latncy: 120ms
        """
    )
    assert (error.line, error.field) == (5, "devices[0].link.latncy")
    assert error.message.startswith("unknown field")
    assert "did you mean 'latency'" in error.message


def test_a_single_mistake_in_a_device_reports_no_further_problems():
    error = fails(
        """\
        duration: 1d
        devices:
          - name: phone
            link:
              latncy: 120ms
        """
    )
    assert error.message == "unknown field (did you mean 'latency'?)"


def test_misspelled_top_level_field():
    error = fails(
        """\
        duration: 1d
        devices:
          - name: phone
        setle: 10m
        """
    )
    assert (error.line, error.field) == (4, "setle")
    assert error.message == "unknown field (did you mean 'settle'?)"


def test_negative_duration_is_refused_where_it_was_written():
    error = fails(
        """\
        duration: 1d
        devices:
          - name: phone
          - name: laptop
            link: {latency: -5ms}
        """
    )
    assert (error.line, error.field) == (5, "devices[1].link.latency")
    assert error.message.startswith("must not be negative")


def test_negative_top_level_duration():
    error = fails("duration: -2h\ndevices:\n  - name: phone\n")
    assert (error.line, error.field, error.message) == (1, "duration", "must not be negative")


def test_malformed_duration_says_what_was_expected():
    error = fails("duration: 1d\nsettle: 10 minutes\ndevices:\n  - name: phone\n")
    assert (error.line, error.field) == (2, "settle")
    assert "'10 minutes' is not a duration" in error.message


def test_bad_yaml_unclosed_bracket():
    error = fails(
        """\
        duration: 1d
        devices:
          - name: phone
            offline: [{from: 1d, to: 2d}
        settle: 10m
        """
    )
    assert error.field == "(yaml)"
    assert error.line == 5  # where the parser saw that the bracket was never closed
    assert error.message


def test_bad_yaml_unclosed_brace_at_end_of_file():
    error = fails("duration: 1d\ndevices:\n  - {name: phone\n")
    assert (error.field, error.line) == ("(yaml)", 4)
    assert "'}'" in error.message


def test_duplicate_top_level_key_points_at_the_second_one():
    error = fails(
        """\
        duration: 1d
        devices:
          - name: phone
        duration: 2d
        """
    )
    assert (error.line, error.field, error.message) == (4, "duration", "duplicate key")


def test_duplicate_nested_key():
    error = fails(
        """\
        duration: 1d
        devices:
          - name: phone
            clock: {offset: 5m, offset: 10m}
        """
    )
    assert (error.line, error.field, error.message) == (
        4,
        "devices[0].clock.offset",
        "duplicate key",
    )


def test_missing_required_field():
    error = fails(
        """\
        seed: 3
        devices:
          - name: phone
        """
    )
    assert (error.line, error.field, error.message) == (1, "duration", "required field is missing")


def test_missing_device_name():
    error = fails("duration: 1d\ndevices:\n  - user: alice\n")
    assert error.field == "devices[0].name"
    assert error.line == 3
    assert error.message.startswith("required field is missing")


def test_unknown_profile_name():
    error = fails("duration: 1d\nprofile: legacyy\ndevices:\n  - name: phone\n")
    assert (error.line, error.field) == (2, "profile")
    assert "unknown profile 'legacyy'" in error.message
    assert "legacy" in error.message.split("known:")[1]


def test_unknown_flag_names_the_flag():
    error = fails(
        """\
        duration: 1d
        flags:
          window_days: 30
          windw_days: 3
        devices:
          - name: phone
        """
    )
    assert error.field.split(".")[0] == "flags"
    assert 2 <= error.line <= 4
    assert "'windw_days'" in error.message
    assert "window_days" in error.message  # the known names are listed


def test_unknown_flag_points_at_its_own_line():
    error = fails(
        """\
        duration: 1d
        flags:
          window_days: 30
          windw_days: 3
        devices:
          - name: phone
        """
    )
    assert (error.line, error.field) == (4, "flags.windw_days")


def test_flag_with_a_value_of_the_wrong_type():
    error = fails("duration: 1d\nflags:\n  queue_cap: lots\ndevices:\n  - name: phone\n")
    assert error.field.split(".")[0] == "flags"
    assert "queue_cap" in error.message and "'lots'" in error.message


def test_unknown_expect_name_suggests_the_known_one():
    error = fails(
        """\
        duration: 1d
        devices:
          - name: phone
        expect:
          divergence: 0
          lost_writes: 0
        """
    )
    assert (error.line, error.field) == (6, "expect.lost_writes")
    assert "did you mean 'lost_write'" in error.message


def test_bad_expect_bound_and_comparison():
    bound = fails("duration: 1d\ndevices:\n  - name: a\nexpect:\n  lost_write: {lte: many}\n")
    assert (bound.line, bound.field) == (5, "expect.lost_write.lte")
    op = fails("duration: 1d\ndevices:\n  - name: a\nexpect:\n  lost_write: {le: 1}\n")
    assert (op.line, op.field) == (5, "expect.lost_write.le")
    assert "unknown comparison" in op.message


def test_offline_window_with_to_before_from():
    error = fails(
        """\
        duration: 7d
        devices:
          - name: phone
            offline:
              - {from: 1d, to: 2d}
              - from: 4d
                to: 3d12h
        """
    )
    assert (error.line, error.field) == (7, "devices[0].offline[1].to")
    assert "after 'from'" in error.message


def test_offline_window_of_zero_length_is_refused():
    error = fails("duration: 7d\ndevices:\n  - name: a\n    offline: [{from: 1d, to: 24h}]\n")
    assert error.field == "devices[0].offline[0].to"


def test_duplicate_device_names():
    error = fails(
        """\
        duration: 1d
        devices:
          - name: phone
          - name: laptop
          - name: phone
            user: bob
        """
    )
    assert (error.line, error.field, error.message) == (
        5,
        "devices[2].name",
        "duplicate device name",
    )


def test_active_hours_out_of_order():
    error = fails("duration: 1d\ndevices:\n  - name: a\n    workload: {active_hours: [22, 6]}\n")
    assert (error.line, error.field) == (4, "devices[0].workload.active_hours")


def test_start_with_an_offset_is_refused():
    error = fails("start: '2026-03-02T00:00:00+00:00'\nduration: 1d\ndevices:\n  - name: a\n")
    assert (error.line, error.field) == (1, "start")
    assert "Z" in error.message


@pytest.mark.parametrize("text", ["", "# only a comment\n", "- a\n- b\n", "just text\n"])
def test_a_scenario_must_be_a_mapping(text: str):
    error = fails(text)
    assert (error.line, error.field) == (1, "(top level)")


def test_no_devices():
    error = fails("duration: 1d\ndevices: []\n")
    assert (error.line, error.field) == (2, "devices")


# -- files ------------------------------------------------------------------------------------


def test_load_reads_a_file_and_names_it_in_errors(tmp_path: Path):
    path = tmp_path / "typo.yaml"
    path.write_text("duration: 1d\ndevices:\n  - name: a\n    lnk: {}\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load(path)
    assert caught.value.file == str(path)
    assert str(caught.value).startswith(f"{path}:4: devices[0].lnk: unknown field")


def test_load_of_a_missing_file(tmp_path: Path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ScenarioError) as caught:
        load(path)
    assert (caught.value.file, caught.value.line, caught.value.field) == (str(path), None, "(file)")
    assert str(caught.value) == f"{path}: (file): {caught.value.message}"


def test_a_valid_minimal_scenario_loads_with_defaults(tmp_path: Path):
    path = tmp_path / "tiny_week.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    loaded = load(path)
    scenario = loaded.scenario
    assert loaded.source == str(path)
    assert scenario.name == "tiny_week"  # from the file name
    assert scenario.duration == 86400.0
    assert scenario.settle == 600.0
    assert scenario.seed == 0
    assert scenario.start == 1772409600.0
    assert scenario.profile == "legacy" and scenario.flags == {}
    assert loaded.profile == resolve("legacy")
    assert loaded.expectations == ()
    assert scenario.limits.max_frame_bytes == 1048576
    (device,) = scenario.devices
    assert (device.name, device.user) == ("phone", "alice")
    assert device.clock.offset == 0.0
    assert (device.link.latency, device.link.jitter) == (0.05, 0.0)
    assert device.offline == () and device.reloads == ()
    assert device.workload.active_hours == (7, 23)


def test_a_full_scenario_converts_units_and_applies_flags():
    loaded = load_text(
        "x.yaml",
        textwrap.dedent(
            """\
            name: custom
            start: "2026-03-01T12:00:00Z"
            duration: 1w
            settle: 90s
            flags: {window_days: 30, queue_cap: 50}
            limits: {max_frame_bytes: 64KiB}
            devices:
              - name: phone
                user: bob
                clock: {offset: -2h}
                link: {latency: 250ms, jitter: 1h30m}
                offline: [{from: 1d6h, to: 4d18h}]
                reloads: [2d, 3d12h]
            expect:
              lost_write: 0
              max_frame_bytes: {lte: 1MiB}
            """
        ),
    )
    scenario = loaded.scenario
    assert scenario.name == "custom"
    assert scenario.start == 1772409600.0 - 12 * 3600
    assert (scenario.duration, scenario.settle) == (7 * 86400.0, 90.0)
    assert scenario.limits.max_frame_bytes == 65536
    (device,) = scenario.devices
    assert device.clock.offset == -7200.0
    assert (device.link.latency, device.link.jitter) == (0.25, 5400.0)
    assert [(w.start, w.end) for w in device.offline] == [(108000.0, 410400.0)]
    assert device.reloads == (172800.0, 302400.0)
    assert loaded.profile.window_days == 30.0 and loaded.profile.queue_cap == 50
    assert [(e.name, e.op, e.bound) for e in loaded.expectations] == [
        ("lost_write", "lte", 0.0),
        ("max_frame_bytes", "lte", 1048576.0),
    ]


def test_every_shipped_scenario_loads():
    root = Path(__file__).resolve().parents[2] / "scenarios"
    paths = sorted(root.glob("*.yaml"))
    assert paths, "no scenarios found"
    for path in paths:
        loaded = load(path)
        assert loaded.scenario.name == path.stem


# -- units ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1h30m", 5400.0),
        ("250ms", 0.25),
        ("-2h", -7200.0),
        ("+90m", 5400.0),
        ("7d", 604800.0),
        ("1w", 604800.0),
        ("1.5s", 1.5),
        ("1d 6h", 108000.0),
        ("2m30s500ms", 150.5),
        (45, 45.0),
        (0.5, 0.5),
    ],
)
def test_parse_duration(text: object, seconds: float):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text", ["", "5", "h", "1x", "1h30", "ms", "1.h", "1 hour", "-", True, None]
)
def test_parse_duration_refuses(text: object):
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize("text", ["--1h", "+-2h", "-+1h"])
def test_parse_duration_refuses_repeated_signs(text: str):
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1MiB", 1048576),
        ("1mib", 1048576),
        ("500KB", 500_000),
        ("64KiB", 65536),
        ("2048", 2048),
        ("1.5KiB", 1536),
        ("1 GB", 10**9),
        ("12B", 12),
        (4096, 4096),
    ],
)
def test_parse_size(text: object, size: int):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "MiB", "1XB", "-1", "1.5.2KB", True, 1.5, None])
def test_parse_size_refuses(text: object):
    with pytest.raises(ValueError):
        parse_size(text)


def test_format_duration():
    assert [format_duration(s) for s in (0.25, 42, 210, 7200, 129600)] == [
        "250ms",
        "42.0s",
        "3.5m",
        "2.0h",
        "1.5d",
    ]
