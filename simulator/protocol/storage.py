"""A device's localStorage: everything that survives a page reload.

The client keeps its stores here (logbook entries, repertoire pieces), the server versions it
has seen, its cursors, tombstones, the persisted outbox and which migrations ran. Whatever the
client holds outside this object is memory and is lost on reload. Sizes are tracked per item,
so a quota can be enforced without serialising the whole store on every write.
"""

from __future__ import annotations

import json
from bisect import bisect_left, insort
from dataclasses import dataclass, field
from typing import Any

from simulator.protocol.kinds import ENTRY, KINDS, PIECE, kind

Key = tuple[str, str]  # (entity type, entity id)
DEFAULT_QUOTA = 5 * 1024 * 1024


# One encoder for every size: json.dumps with options builds a new one per call.
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def size_of(value: object) -> int:
    return len(_COMPACT.encode(value).encode("utf-8"))


@dataclass
class LocalStorage:
    # One store per entity kind, by its name: id -> item.
    stores: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {k.name: {} for k in KINDS}
    )
    versions: dict[Key, int] = field(default_factory=dict)
    tombstones: dict[Key, str] = field(default_factory=dict)  # deleted id -> when (ISO)
    last_sync_time: str | None = None
    last_seq: int = 0
    change_counter: int = 0
    install_id: str | None = None
    migrations_done: set[str] = field(default_factory=set)
    # ws_outbox_v1: message id -> item, in insertion order (see outbox.PersistedOutbox).
    outbox: dict[str, Any] = field(default_factory=dict)
    quota: int = DEFAULT_QUOTA
    _sizes: dict[tuple[str, str], int] = field(default_factory=dict)
    _used: int = 0  # the sum of _sizes, kept as they change: summing per write was quadratic
    # Each area's keys in sorted order, kept as they change: a user's act picks an item from
    # the sorted ids, and sorting the store on every act was quadratic in the items held.
    # A plain list kept by bisect: its inserts move memory in C, cheap at a device's sizes.
    _ids: dict[str, list[str]] = field(default_factory=dict)

    def store_of(self, entity_type: str) -> dict[str, dict[str, Any]]:
        """The store of one kind; `UnknownKind` for a type no kind owns."""
        return self.stores[kind(entity_type).name]

    @property
    def entries(self) -> dict[str, dict[str, Any]]:
        return self.stores[ENTRY]

    @entries.setter
    def entries(self, items: dict[str, dict[str, Any]]) -> None:
        self.stores[ENTRY] = items

    @property
    def pieces(self) -> dict[str, dict[str, Any]]:
        return self.stores[PIECE]

    @pieces.setter
    def pieces(self, items: dict[str, dict[str, Any]]) -> None:
        self.stores[PIECE] = items

    @property
    def used(self) -> int:
        return self._used

    def fits(self, area: str, key: str, value: object) -> bool:
        """Whether writing `value` under (area, key) stays within the quota."""
        return self.used - self._sizes.get((area, key), 0) + size_of(value) <= self.quota

    def fits_all(self, changes: list[tuple[str, str, object | None]]) -> bool:
        """Whether writing every (area, key, value) of one action (None: removed), each key
        once, stays within the quota."""
        used = self.used
        for area, key, value in changes:
            used -= self._sizes.get((area, key), 0)
            if value is not None:
                used += size_of(value)
        return used <= self.quota

    def account(self, area: str, key: str, value: object | None) -> None:
        """Record the size of what now stands under (area, key); None when it was removed."""
        before = self._sizes.pop((area, key), None)
        ids = self._ids.setdefault(area, [])
        if before is not None:
            self._used -= before
            if value is None:
                del ids[bisect_left(ids, key)]
        if value is not None:
            size = size_of(value)
            self._sizes[(area, key)] = size
            self._used += size
            if before is None:
                insort(ids, key)

    def ids(self, area: str) -> list[str]:
        """The keys held under `area`, sorted; read only."""
        return self._ids.setdefault(area, [])

    def wipe(self) -> None:
        """A storage wipe or reinstall: nothing survives."""
        quota = self.quota
        self.__init__()  # type: ignore[misc]
        self.quota = quota
