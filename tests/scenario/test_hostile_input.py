"""Hostile scenario documents: each refused on one line naming file, line and field, never a
traceback, never a hang (bounds are on the document before anything walks it)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.errors import ScenarioError
from simulator.scenario.loader import load, load_text

BASE = "devices:\n  - name: phone\n"


def _bomb() -> str:
    text = "a: &a [x,x,x,x,x,x,x,x,x]\n"
    for i in range(9):
        prev, name = chr(97 + i), chr(98 + i)
        text += f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]\n"
    return text + "duration: 1d\n" + BASE


REPRODUCERS: dict[str, tuple[bytes, int | None, str, str]] = {
    "not utf-8": (b"duration: 1d\nname: \xff\n" + BASE.encode(), 2, "(file)", "not UTF-8"),
    "deep flow nesting": (
        ("duration: 1d\n" + BASE + "x: " + "[" * 3000 + "]" * 3000 + "\n").encode(),
        4,
        "(yaml)",
        "nested more than 64",
    ),
    "deep block nesting": (
        ("duration: 1d\n" + BASE + "".join("  " * i + f"k{i}:\n" for i in range(200))).encode(),
        67,
        "(yaml)",
        "nested more than 64",
    ),
    "alias bomb": (_bomb().encode(), 1, "(yaml)", "once aliases are expanded"),
    "recursive alias": (("duration: 1d\nx: &a [*a]\n" + BASE).encode(), 2, "(yaml)", "recursive"),
    "a 20,000 character line": (
        ("duration: 1d\ndescription: " + "x" * 20_000 + "\n" + BASE).encode(),
        2,
        "(file)",
        "line longer",
    ),
    "a 2 MB file": (b"#" * 2_000_000, None, "(file)", "larger than"),
    "NUL": (("duration: 1d\ndescription: a\x00b\n" + BASE).encode(), 2, "(file)", "U+0000"),
    "duration .inf": (b"duration: .inf\n" + BASE.encode(), 1, "duration", "finite"),
    "duration .nan": (b"duration: .nan\n" + BASE.encode(), 1, "duration", "finite"),
    "duration 100000w": (b"duration: 100000w\n" + BASE.encode(), 1, "duration", "3650d"),
    "duration over a year": (b"duration: 400d\n" + BASE.encode(), 1, "duration", "366d"),
    "entries_per_day .inf": (
        b"duration: 1d\ndevices:\n  - {name: p, workload: {entries_per_day: .inf}}\n",
        3,
        "devices[0].workload.entries_per_day",
        "finite",
    ),
    "entries_per_day 1e9": (
        b"duration: 1d\ndevices:\n  - {name: p, workload: {entries_per_day: 1e9}}\n",
        3,
        "devices[0].workload.entries_per_day",
        "10000",
    ),
    "drops per_day .inf": (
        b"duration: 1d\ndevices:\n  - {name: p, link: {drops: {per_day: .inf}}}\n",
        3,
        "devices[0].link.drops.per_day",
        "finite",
    ),
    "hot_items every 0s": (
        b"duration: 1d\ndevices: [{name: p}, {name: q}]\n"
        b"hot_items: [{devices: [p, q], every: 0s}]\n",
        3,
        "hot_items[0].every",
        "greater than or equal to 1",
    ),
    "preload 1e8 entries": (
        b"duration: 1d\npreload: [{entries: 100000000}]\n" + BASE.encode(),
        2,
        "preload[0].entries",
        "200000",
    ),
    "clock offset .inf": (
        b"duration: 1d\ndevices:\n  - {name: p, clock: {offset: .inf}}\n",
        3,
        "devices[0].clock.offset",
        "finite",
    ),
    "latency .nan": (
        b"duration: 1d\ndevices:\n  - {name: p, link: {latency: .nan}}\n",
        3,
        "devices[0].link.latency",
        "finite",
    ),
    "settle .nan": (b"duration: 1d\nsettle: .nan\n" + BASE.encode(), 2, "settle", "finite"),
    "flag window_days .nan": (
        b"duration: 1d\nflags: {window_days: .nan}\n" + BASE.encode(),
        2,
        "flags.window_days",
        "finite",
    ),
    "expect a 400-digit int": (
        b"duration: 1d\nexpect: {lost_write: " + b"9" * 400 + b"}\n" + BASE.encode(),
        2,
        "expect.lost_write",
        "2^53",
    ),
    "duration a 400-digit int": (
        b"duration: " + b"9" * 400 + b"\n" + BASE.encode(),
        1,
        "duration",
        "finite",
    ),
    "flag a 400-digit int": (
        b"duration: 1d\nflags: {window_days: " + b"9" * 400 + b"}\n" + BASE.encode(),
        2,
        "flags.window_days",
        "finite",
    ),
    "expect .nan": (
        b"duration: 1d\nexpect: {lost_write: .nan}\n" + BASE.encode(),
        2,
        "expect.lost_write",
        "finite",
    ),
}


@pytest.mark.parametrize("case", list(REPRODUCERS))
def test_a_hostile_document_is_refused_on_one_line(case: str, tmp_path: Path) -> None:
    raw, line, field, words = REPRODUCERS[case]
    path = tmp_path / "hostile.yaml"
    path.write_bytes(raw)
    with pytest.raises(ScenarioError) as caught:
        load(path)
    error = caught.value
    assert (error.line, error.field) == (line, field)
    assert words in error.message
    assert "\n" not in str(error) and len(str(error)) < 300 + len(str(path))


def test_a_long_value_is_cut_in_the_message() -> None:
    with pytest.raises(ScenarioError) as caught:
        load_text("x.yaml", "duration: 1d\nprofile: " + "q" * 5000 + "\n" + BASE)
    assert caught.value.line == 2 and len(caught.value.message) <= 160


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(st.binary(max_size=400))
def test_any_bytes_load_or_are_refused(raw: bytes) -> None:
    try:
        load_text("fuzz.yaml", raw.decode("utf-8", "surrogateescape"))
    except ScenarioError as error:
        assert "\n" not in str(error)


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["1d", "0s", "-2h", "1MiB", "100000w", "legacy", "partition", ".inf"]),
)
KEYS = st.sampled_from(
    ["duration", "settle", "seed", "devices", "name", "link", "latency", "workload", "faults",
     "kind", "from", "to", "every", "expect", "flags", "lost_write", "entries_per_day",
     "clock", "offset", "hot_items", "preload", "entries", "profile", "server"]
)  # fmt: skip
DOCS = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25,
)


@FUZZ
@given(st.dictionaries(KEYS, DOCS, max_size=8))
def test_any_structure_loads_or_is_refused(document: dict[str, object]) -> None:
    text = yaml.safe_dump(document, allow_unicode=True)
    try:
        load_text("fuzz.yaml", text)
    except ScenarioError as error:
        assert "\n" not in str(error)
