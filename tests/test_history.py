"""A history's bytes: orjson writes exactly what the standard library's encoder wrote, so the
history hash of a run does not change with the encoder."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from simulator.history import COLUMNS, History, Kind, Record, encode_row

JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def by_json(record: Record) -> bytes:
    """What a row was before orjson: json over the fields that are set, keys sorted."""
    body = {k: v for k in COLUMNS if (v := getattr(record, k)) is not None}
    body["kind"] = record.kind.value
    return JSON.encode(body).encode("utf-8")


values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(
    t=st.floats(min_value=0, max_value=1e9, allow_nan=False),
    device_time=st.none() | st.floats(allow_nan=False, allow_infinity=False),
    reason=st.none() | st.text(),
    detail=st.none() | st.dictionaries(st.text(), values, max_size=5),
)
def test_a_row_is_encoded_as_json_encoded_it(
    t: float, device_time: float | None, reason: str | None, detail: dict[str, Any] | None
) -> None:
    record = Record(t, Kind.MERGE, "phone", device_time=device_time, reason=reason, detail=detail)
    assert encode_row(record) == by_json(record)


def test_floats_orjson_writes_otherwise_go_through_json() -> None:
    for small in (1e-5, 1.234e-05, 3e-7, -9.9e-9, 1e-10, 5e-324):
        record = Record(1.0, Kind.WRITE, detail={"x": small, "y": [small]})
        assert encode_row(record) == by_json(record), small
    # Digits that look like one inside a text are encoded alike either way.
    record = Record(2.0, Kind.WRITE, reason="4c9e-9a5c, 0.00001", detail={"big": 2**80})
    assert encode_row(record) == by_json(record)


def test_the_hash_is_of_the_bytes_saved(tmp_path: Path) -> None:
    history = History([Record(0.0, Kind.META, detail={"seed": 1}), Record(1.5, Kind.RELOAD, "a")])
    path = tmp_path / "history.jsonl"
    history.save(path)
    assert path.read_bytes() == b"".join(by_json(r) + b"\n" for r in history)
    assert history.digest() == hashlib.sha256(path.read_bytes()).hexdigest()
    history.add(Record(2.0, Kind.RELOAD, "b"))  # appended: encoded and hashed again
    history.save(path)
    assert history.digest() == hashlib.sha256(path.read_bytes()).hexdigest()
    assert History.load(path).encoded() == path.read_bytes()
