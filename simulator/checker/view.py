"""A history sliced once into the tables every check needs.

Checks work on whole columns (masks, merges, sorts) and build Python objects only for the rows
that end up as evidence; `tuples` serves those few rows. `snapshot_items` is the final state as
a table, one row per holder and item, and `server`/`devices` the same state as mappings for
checks that look up a few items by key.
"""

from __future__ import annotations

import functools
from collections import defaultdict, namedtuple
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from simulator.checker.findings import WriteRef
from simulator.history import SERVER, History, Kind
from simulator.protocol.timefmt import parse_iso_z

Key = tuple[str, str, str]  # (user, entity type, entity id)
KEY = ["user", "entity_type", "entity_id"]


@dataclass(frozen=True)
class Held:
    """What one final snapshot holds for one entity."""

    row: int
    live: bool
    fingerprint: str | None
    updated_at: str | None
    detail: dict[str, Any] | None = None

    def holds(self, fingerprint: object, updated_at: object) -> bool:
        """Whether this is the write with that content and stamp, live.

        A server stores a normalized form (it drops fields it does not know and adds its own),
        so the same write can come back with other content: it is the same write when its
        content is the same or, failing that, its `updatedAt` is, which is what the profile's
        own rule goes by."""
        if not self.live:
            return False
        if fingerprint is not None and self.fingerprint == fingerprint:
            return True
        return isinstance(updated_at, str) and self.updated_at == updated_at

    def same_write(self, other: Held) -> bool:
        return other.live and self.holds(other.fingerprint, other.updated_at)

    def rewritten(self, fingerprint: object, updated_at: object) -> bool:
        """The write is held, but in other content than was written (a normalizing server)."""
        return self.holds(fingerprint, updated_at) and self.fingerprint != fingerprint


def tuples(frame: pd.DataFrame) -> Iterator[Any]:
    """Rows as named tuples, typed loosely: history columns hold mixed types by design.

    The values `DataFrame.itertuples` gives (Python scalars, NaN for missing text), read a
    column at a time: itertuples reads text columns value by value through pandas, which cost
    more than everything else a check does with the rows."""
    row = _row_type(tuple(str(c) for c in frame.columns))
    columns = [frame.index.tolist(), *(frame[c].tolist() for c in frame.columns)]
    return map(row._make, zip(*columns, strict=True))


@functools.cache
def _row_type(columns: tuple[str, ...]) -> Any:
    return namedtuple("Row", ("Index", *columns), rename=True)


def is_str(column: pd.Series) -> np.ndarray:
    """Which values are text. A column pandas typed as text holds text or NaN; another one may
    hold anything (a live server's frames are not to be trusted), so it is asked value by value."""
    if isinstance(column.dtype, pd.StringDtype):
        return column.notna().to_numpy(dtype=bool)
    return np.fromiter((isinstance(v, str) for v in column), dtype=bool, count=len(column))


def equal(left: pd.Series | np.ndarray, right: pd.Series | np.ndarray) -> np.ndarray:
    """Value by value, `left is not None and left == right`: how `Held.holds` compares
    contents (a missing value, NaN, is equal to nothing)."""
    a = np.asarray(left, dtype=object)
    b = np.asarray(right, dtype=object)
    present = np.fromiter((x is not None for x in a), dtype=bool, count=len(a))
    matches: np.ndarray = present & (a == b).astype(bool)
    return matches


def same_text(left: pd.Series, right: pd.Series | np.ndarray) -> np.ndarray:
    """Value by value, `isinstance(left, str) and left == right`: how `Held.holds` compares
    stamps."""
    a = np.asarray(left, dtype=object)
    matches: np.ndarray = is_str(left) & (a == np.asarray(right, dtype=object)).astype(bool)
    return matches


def stamps(column: pd.Series) -> np.ndarray:
    """Each value as seconds since the epoch, -inf where it is no strict `Z` timestamp
    (`parse_iso_z`). Each distinct text is parsed once: a stamp recurs in every row about
    its write."""
    values = column.to_numpy(dtype=object)
    texts = is_str(column)
    parsed: dict[str, float] = {}
    for text in pd.unique(values[texts]):
        moment = parse_iso_z(text)
        parsed[text] = float("-inf") if moment is None else moment
    found = np.full(len(values), float("-inf"))
    found[texts] = [parsed[v] for v in values[texts]]
    return found


class View:
    def __init__(self, history: History) -> None:
        self.meta: dict[str, Any] = history.meta
        self.frame = history.to_frame()
        frame = self.frame
        # Every row's position by kind, found once: a kind's rows are then a slice, not a scan.
        self._by_kind: dict[str, np.ndarray] = {
            str(kind): np.asarray(rows)
            for kind, rows in frame.groupby("kind", sort=False).indices.items()
        }
        self._slices: dict[str, pd.DataFrame] = {}
        # Series read more than once per run (the metrics, then the report), by name.
        self.memo: dict[str, object] = {}
        self.writes = self.rows(Kind.WRITE).sort_values("t", kind="stable")
        self.frames_sent = self.rows(Kind.FRAME_SENT)
        self.frames_lost = self.rows(Kind.FRAME_LOST)
        self.queue = self.rows(Kind.QUEUE)
        self.merges = self.rows(Kind.MERGE)
        self.applied = self.rows(Kind.SERVER_APPLIED)
        self.keepalive = self.rows(Kind.KEEPALIVE)
        self.snapshot_items = _items(self.rows(Kind.SNAPSHOT))
        self.server: dict[Key, Held] = {}
        self.devices: dict[str, dict[Key, Held]] = defaultdict(dict)
        self.device_users: dict[str, str] = {}
        self.device_state: dict[str, dict[str, Any]] = {}
        self._read_snapshots(self.rows(Kind.SNAPSHOT))

    def _read_snapshots(self, snapshots: pd.DataFrame) -> None:
        columns = ("device", "user", "entity_type", "entity_id", "op", "fingerprint")
        values = [snapshots[c].tolist() for c in (*columns, "updated_at", "detail")]
        for index, device, user, kind, entity, op, fingerprint, stamp, detail in zip(
            snapshots.index.tolist(), *values, strict=True
        ):
            if op == "device":
                self.device_users[device] = user
                self.device_state[device] = dict(detail or {})
                continue
            key = (user, kind, entity)
            # Missing texts stay as the table has them (NaN), as every check has read them.
            held = Held(
                int(index),
                op == "live",
                fingerprint,
                stamp,
                detail if isinstance(detail, dict) else None,
            )
            if device == SERVER:
                self.server[key] = held
            else:
                self.devices[device][key] = held

    def rows(self, kind: Kind) -> pd.DataFrame:
        """Every row of one kind, in history order."""
        found = self._slices.get(kind.value)
        if found is None:
            positions = self._by_kind.get(kind.value, np.empty(0, dtype=np.intp))
            found = self._slices[kind.value] = self.frame.iloc[positions]
        return found

    def of_kinds(self, *kinds: Kind) -> pd.DataFrame:
        """Every row of these kinds, in history order."""
        empty = np.empty(0, dtype=np.intp)
        positions = np.sort(np.concatenate([self._by_kind.get(k.value, empty) for k in kinds]))
        return self.frame.iloc[positions]

    @property
    def has_server_evidence(self) -> bool:
        return not self.applied.empty

    def write_ref(self, row: Any) -> WriteRef:
        return WriteRef(
            row=int(row.Index),
            write_id=row.write_id,
            device=row.device,
            op=row.op,
            t=float(row.t),
            device_time=float(row.device_time),
            updated_at=row.updated_at if isinstance(row.updated_at, str) else None,
        )


def _items(snapshots: pd.DataFrame) -> pd.DataFrame:
    """The final state, one row per holder (`holder`: a device or `server`) and item, the last
    snapshot row of each, as `View.server` and `View.devices` keep it; `row` its row number."""
    items = snapshots[snapshots["op"] != "device"]
    table = pd.DataFrame(
        {
            "holder": items["device"],
            "user": items["user"],
            "entity_type": items["entity_type"],
            "entity_id": items["entity_id"],
            "live": (items["op"] == "live").to_numpy(dtype=bool),
            "fingerprint": items["fingerprint"],
            "updated_at": items["updated_at"],
            "detail": items["detail"],
            "row": items.index.to_numpy(),
        },
        index=items.index,
    )
    return table.drop_duplicates(["holder", *KEY], keep="last")
