"""LocalStorage keeps each area's ids sorted as items come and go, so a user's act can pick
the k-th id without sorting the store each time; they must always equal the sorted keys."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from simulator.protocol.storage import LocalStorage

ops = st.lists(
    st.tuples(
        st.sampled_from(["logbook_entry", "repertoire_piece", "outbox"]),
        st.text(min_size=1, max_size=4),
        st.one_of(st.none(), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)),
    ),
    max_size=60,
)


@given(ops)
def test_ids_are_always_the_sorted_keys_of_what_is_held(changes: list) -> None:  # type: ignore[type-arg]
    storage = LocalStorage()
    held: dict[str, dict[str, object]] = {}
    for area, key, value in changes:
        storage.account(area, key, value)
        if value is None:
            held.setdefault(area, {}).pop(key, None)
        else:
            held.setdefault(area, {})[key] = value
        assert list(storage.ids(area)) == sorted(held[area])


def test_a_wipe_forgets_the_ids() -> None:
    storage = LocalStorage()
    storage.account("logbook_entry", "b", {"id": "b"})
    storage.account("logbook_entry", "a", {"id": "a"})
    assert list(storage.ids("logbook_entry")) == ["a", "b"]
    storage.wipe()
    assert list(storage.ids("logbook_entry")) == []
