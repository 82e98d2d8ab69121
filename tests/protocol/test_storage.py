"""localStorage's size accounting: the running total is always the sum of what it holds."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.protocol.storage import LocalStorage, size_of

OPS = st.lists(
    st.tuples(
        st.sampled_from(["logbook_entry", "repertoire_piece"]),
        st.sampled_from(["a", "b", "c", "d"]),
        st.one_of(st.none(), st.dictionaries(st.text(max_size=3), st.text(max_size=8))),
    ),
    max_size=40,
)


@settings(suppress_health_check=list(HealthCheck), deadline=None)
@given(OPS)
def test_used_is_the_sum_of_what_is_held(ops: list[tuple[str, str, dict[str, str] | None]]) -> None:
    storage = LocalStorage()
    held: dict[tuple[str, str], object] = {}
    for area, key, value in ops:
        storage.account(area, key, value)
        if value is None:
            held.pop((area, key), None)
        else:
            held[(area, key)] = value
        assert storage.used == sum(size_of(v) for v in held.values())
    storage.wipe()
    assert storage.used == 0
