"""Entry validation, score-id normalization and wire timestamps, as PROTOCOL.md states them."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.protocol.entities import Invalid, clean_entry, fingerprint, normalize_score_id
from simulator.protocol.timefmt import iso_z, parse_iso_z, parse_timestamp

T0 = 1772409600.0  # 2026-03-02T00:00:00Z


def valid_entry(**overrides: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": "0f8e2c1a-7b3d-4e5f-9a0b-1c2d3e4f5a6b",
        "timestamp": 1772409600000,
        "duration": 45,
        "type": "lesson",
        "instrument": "cello",
        "pieces": [{"title": "Suite No. 1", "composer": "J.S. Bach", "id": "p1"}],
        "mood": "satisfied",
        "notes": "bowing drills",
        "tags": ["bowing", "scales"],
        "techniques": ["spiccato"],
        "goalIds": ["g1"],
        "createdAt": "2026-03-02T00:00:00.000Z",
        "updatedAt": "2026-03-02T00:05:00.000Z",
        "device_id": "phone",
    }
    entry.update(overrides)
    return entry


# -- clean_entry ----------------------------------------------------------------------------


def test_clean_entry_keeps_every_known_field_exactly():
    entry = valid_entry()
    assert clean_entry(entry) == entry


def test_clean_entry_drops_unknown_fields_at_both_levels():
    dirty = valid_entry(secret="x", userId="mallory", version=7)
    dirty["pieces"] = [{"title": "Suite No. 1", "composer": "J.S. Bach", "year": 1720}]
    clean = clean_entry(dirty)
    assert set(clean) == set(valid_entry())
    assert clean["pieces"] == [{"title": "Suite No. 1", "composer": "J.S. Bach"}]
    assert fingerprint(clean) != fingerprint(dirty)
    assert clean_entry(clean) == clean  # cleaning is idempotent


def test_clean_entry_minimal_entry_gets_an_empty_piece_list():
    minimal = {
        "id": "e1",
        "timestamp": "2026-03-02T09:30:00.000Z",
        "duration": 0,
        "type": "other",
        "instrument": "voice",
    }
    assert clean_entry(minimal) == {**minimal, "pieces": []}


def test_clean_entry_drops_null_mood_and_notes():
    clean = clean_entry(valid_entry(mood=None, notes=None))
    assert "mood" not in clean and "notes" not in clean


def test_clean_entry_does_not_modify_its_input():
    entry = valid_entry(extra=1)
    before = {**entry, "pieces": [dict(p) for p in entry["pieces"]]}
    clean_entry(entry)
    assert entry == before


@pytest.mark.parametrize(
    "kind",
    [
        "practice",
        "performance",
        "lesson",
        "masterclass",
        "rehearsal",
        "technique",
        "status_change",
        "other",
    ],
)
def test_clean_entry_accepts_every_entry_type(kind: str):
    assert clean_entry(valid_entry(type=kind))["type"] == kind


_DROP = object()

BAD_FIELDS = [
    ("id", _DROP, "id:"),
    ("id", "", "id:"),
    ("id", "   ", "id:"),
    ("id", 17, "id:"),
    ("timestamp", _DROP, "timestamp:"),
    ("timestamp", "2026-03-02T00:00:00.000+00:00", "timestamp:"),
    ("timestamp", "2026-03-02", "timestamp:"),
    ("timestamp", True, "timestamp:"),
    ("timestamp", None, "timestamp:"),
    ("duration", _DROP, "duration:"),
    ("duration", 30.5, "duration:"),
    ("duration", 30.0, "duration:"),
    ("duration", "30", "duration:"),
    ("duration", -1, "duration:"),
    ("duration", True, "duration:"),
    ("type", _DROP, "type:"),
    ("type", "PRACTICE", "type:"),
    ("type", "Practice", "type:"),
    ("type", "jam", "type:"),
    ("instrument", _DROP, "instrument:"),
    ("instrument", "", "instrument:"),
    ("instrument", "  ", "instrument:"),
    ("instrument", 3, "instrument:"),
    ("pieces", "Suite", "pieces:"),
    ("pieces", None, "pieces:"),
    ("pieces", [{"composer": "Bach"}], "pieces[0]:"),
    ("pieces", [{"title": "A"}, "B"], "pieces[1]:"),
    ("pieces", [{"title": "A", "composer": 5}], "pieces[0].composer:"),
    ("pieces", [{"title": "A", "id": 5}], "pieces[0].id:"),
    ("mood", "happy", "mood:"),
    ("mood", "Proud", "mood:"),
    ("notes", 5, "notes:"),
    ("tags", "bowing", "tags:"),
    ("tags", ["ok", 1], "tags:"),
    ("techniques", None, "techniques:"),
    ("goalIds", [None], "goalIds:"),
    ("createdAt", "2026-03-02T00:00:00+00:00", "createdAt:"),
    ("updatedAt", 1772409600000, "updatedAt:"),
    ("updatedAt", "2026-03-02T00:00:00.000z", "updatedAt:"),
    ("device_id", "", "device_id:"),
    ("device_id", None, "device_id:"),
]


@pytest.mark.parametrize(
    ("field", "value", "prefix"),
    BAD_FIELDS,
    ids=[f"{f}={'<missing>' if v is _DROP else repr(v)}" for f, v, _ in BAD_FIELDS],
)
def test_clean_entry_refuses_each_bad_field_and_names_it(field: str, value: Any, prefix: str):
    entry = valid_entry(**{field: value})
    if value is _DROP:
        del entry[field]
    with pytest.raises(Invalid) as caught:
        clean_entry(entry)
    assert str(caught.value).startswith(prefix)


@pytest.mark.parametrize("data", [None, "entry", ["id"], 3])
def test_clean_entry_refuses_non_objects(data: Any):
    with pytest.raises(Invalid, match=r"^entry: must be an object$"):
        clean_entry(data)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("type", ["practice"], id="type-list"),
        pytest.param("type", {"v": "practice"}, id="type-object"),
        pytest.param("mood", ["proud"], id="mood-list"),
        pytest.param("mood", {}, id="mood-object"),
    ],
)
def test_clean_entry_refuses_unhashable_enum_values(field: str, value: Any):
    with pytest.raises(Invalid, match=f"^{field}:"):
        clean_entry(valid_entry(**{field: value}))


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_clean_entry_refuses_a_non_finite_timestamp(value: float):
    with pytest.raises(Invalid, match=r"^timestamp:"):
        clean_entry(valid_entry(timestamp=value))


def test_fingerprint_ignores_key_order_and_sees_any_change():
    entry = valid_entry()
    reordered = dict(reversed(list(entry.items())))
    assert fingerprint(reordered) == fingerprint(entry)
    assert fingerprint(valid_entry(duration=46)) != fingerprint(entry)
    assert len(fingerprint(entry)) == 16


# -- normalize_score_id -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "composer", "expected"),
    [
        ("Prelude in C", "J.S. Bach", "prelude in c-js bach"),
        ("Cello Suite No. 1", "J. S. Bach", "cello suite no. 1-j s bach"),  # periods kept in titles
        ("  Clair   de\tLune ", " Claude  Debussy ", "clair de lune-claude debussy"),
        ("\u201cMoonlight\u201d Sonata", "Beethoven", '"moonlight" sonata-beethoven'),
        ("Children\u2019s Corner", "Debussy", "children's corner-debussy"),
        ("\u2018Träumerei\u2019", "Schumann", "'träumerei'-schumann"),
        ("Sonata \u2013 K. 545", "Mozart", "sonata - k. 545||mozart"),
        ("Sonata\u2014Allegro", "Mozart", "sonata-allegro||mozart"),
        (
            "Flight of the Bumblebee",
            "Rimsky\u2013Korsakov",
            "flight of the bumblebee||rimsky-korsakov",
        ),
        ("Etude Op. 10-3", "Chopin", "etude op. 10-3||chopin"),
        ("Etude", None, "etude-unknown"),
        ("Etude", "", "etude-unknown"),
        ("GYMNOPÉDIE NO. 1", "ERIK SATIE", "gymnopédie no. 1-erik satie"),
    ],
)
def test_normalize_score_id_examples(title: str, composer: str | None, expected: str):
    assert normalize_score_id(title, composer) == expected


def test_normalize_score_id_keeps_score_ids_and_ignores_other_ids():
    assert normalize_score_id("Whatever", "Anyone", "score_AbC-123") == "score_AbC-123"
    assert normalize_score_id("Air", "J.S. Bach", "p-17") == "air-js bach"
    assert normalize_score_id("Air", "J.S. Bach", "SCORE_x") == "air-js bach"


def test_normalize_score_id_makes_spelling_variants_one_key():
    variants = [
        ("Für Elise", "Beethoven"),
        ("  für elise", "BEETHOVEN "),
        ("Für  Elise", "beethoven"),
    ]
    assert len({normalize_score_id(t, c) for t, c in variants}) == 1
    dashed = [("Op. 28 \u2013 No. 4", "Chopin"), ("op. 28 - no. 4", "chopin")]
    assert {normalize_score_id(t, c) for t, c in dashed} == {"op. 28 - no. 4||chopin"}


_words = st.text(alphabet=st.characters(categories=["L", "N", "P", "Zs"]), max_size=20)


@settings(max_examples=200)
@given(_words, _words)
def test_normalize_score_id_ignores_outer_and_repeated_white_space(title: str, composer: str):
    spaced_title = "  " + title.replace(" ", "   ") + "\t"
    spaced_composer = " " + composer.replace(" ", " \t ") + "  "
    if composer.strip() == "":
        return  # a blank composer is not a missing one; padding does not change that
    assert normalize_score_id(spaced_title, spaced_composer) == normalize_score_id(title, composer)


@settings(max_examples=200)
@given(_words, _words)
def test_normalize_score_id_has_no_curly_quotes_en_or_em_dashes(title: str, composer: str):
    key = normalize_score_id(title, composer)
    assert not set(key) & set("\u2018\u2019\u201c\u201d\u2013\u2014")
    assert key == key.lower()
    title_part = normalize_score_id(title, "x")
    assert title_part.endswith("||x") == ("-" in title_part[:-2])


# -- timestamps -----------------------------------------------------------------------------


def test_iso_z_formats_with_milliseconds_and_a_literal_z():
    assert iso_z(T0) == "2026-03-02T00:00:00.000Z"
    assert iso_z(T0 + 9.5 * 3600 + 0.123) == "2026-03-02T09:30:00.123Z"
    assert iso_z(0) == "1970-01-01T00:00:00.000Z"
    assert iso_z(T0 + 0.9996) == "2026-03-02T00:00:01.000Z"  # rounding carries into seconds
    assert iso_z(-0.5) == "1969-12-31T23:59:59.500Z"


@settings(max_examples=500)
@given(st.integers(min_value=-2_208_988_800_000, max_value=253_402_300_799_999))
def test_iso_z_and_parse_iso_z_round_trip_every_millisecond(ms: int):
    text = iso_z(ms / 1000)
    assert text.endswith("Z") and len(text) == 24
    seconds = parse_iso_z(text)
    assert seconds is not None
    assert round(seconds * 1000) == ms
    assert iso_z(seconds) == text


def test_parse_iso_z_accepts_the_strict_z_forms():
    assert parse_iso_z("2026-03-02T00:00:00Z") == T0
    assert parse_iso_z("2026-03-02T00:00:00.000Z") == T0
    assert parse_iso_z("2026-03-02T00:00:00.5Z") == T0 + 0.5
    assert parse_iso_z("2026-03-02T00:00:00.123456Z") == pytest.approx(T0 + 0.123456, abs=1e-6)


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-02T00:00:00+00:00",
        "2026-03-02T00:00:00.000+00:00",
        "2026-03-02T01:00:00.000+01:00",
        "2026-03-02T00:00:00.000",
        "2026-03-02T00:00:00.000z",
        "2026-03-02 00:00:00.000Z",
        "2026-03-02",
        "2026-03-02T00:00:00.1234567Z",
        "2026-02-30T00:00:00.000Z",
        "2026-03-02T24:00:00.000Z",
        " 2026-03-02T00:00:00.000Z",
        "",
        "Z",
    ],
)
def test_parse_iso_z_refuses_anything_but_a_strict_z_timestamp(text: str):
    assert parse_iso_z(text) is None


@pytest.mark.parametrize("value", [None, 1772409600, 1772409600.0, b"2026-03-02T00:00:00Z", []])
def test_parse_iso_z_refuses_non_strings(value: Any):
    assert parse_iso_z(value) is None


def test_parse_iso_z_refuses_a_trailing_newline():
    assert parse_iso_z("2026-03-02T00:00:00.000Z\n") is None


def test_parse_iso_z_refuses_non_ascii_digits():
    assert parse_iso_z("\uff12\uff10\uff12\uff16-03-02T00:00:00.000Z") is None  # full-width 2026
    assert parse_iso_z("2026-03-02T00:00:0\u0664.000Z") is None  # Arabic-Indic 4


def test_parse_timestamp_reads_epoch_ms_or_strict_iso():
    assert parse_timestamp(1772409600000) == T0
    assert parse_timestamp(1772409600500.0) == T0 + 0.5
    assert parse_timestamp("2026-03-02T00:00:00.000Z") == T0
    assert parse_timestamp("2026-03-02T00:00:00+00:00") is None
    assert parse_timestamp(True) is None
    assert parse_timestamp(None) is None
    assert parse_timestamp("1772409600000") is None
    assert parse_timestamp(10**400) is None  # compared, never turned into a float
    assert parse_timestamp(1e300) is None  # finite, but no datetime holds it
    assert parse_timestamp(float("nan")) is None and parse_timestamp(float("inf")) is None
