"""A history sliced once into the tables every check needs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd

from simulator.checker.findings import WriteRef
from simulator.history import SERVER, History, Kind

Key = tuple[str, str, str]  # (user, entity type, entity id)


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
    """Rows as named tuples, typed loosely: history columns hold mixed types by design."""
    return iter(frame.itertuples())


def _rows(frame: pd.DataFrame, kind: Kind) -> pd.DataFrame:
    return frame[frame["kind"] == kind.value]


class View:
    def __init__(self, history: History) -> None:
        self.meta: dict[str, Any] = history.meta
        self.frame = history.to_frame()
        frame = self.frame
        self.writes = _rows(frame, Kind.WRITE).sort_values("t", kind="stable")
        self.frames_sent = _rows(frame, Kind.FRAME_SENT)
        self.frames_lost = _rows(frame, Kind.FRAME_LOST)
        self.queue = _rows(frame, Kind.QUEUE)
        self.merges = _rows(frame, Kind.MERGE)
        self.applied = _rows(frame, Kind.SERVER_APPLIED)
        self.keepalive = _rows(frame, Kind.KEEPALIVE)
        snapshots = _rows(frame, Kind.SNAPSHOT)
        self.server: dict[Key, Held] = {}
        self.devices: dict[str, dict[Key, Held]] = defaultdict(dict)
        self.device_users: dict[str, str] = {}
        self.device_state: dict[str, dict[str, Any]] = {}
        self._read_snapshots(snapshots)

    def _read_snapshots(self, snapshots: pd.DataFrame) -> None:
        for row in tuples(snapshots):
            if row.op == "device":
                self.device_users[row.device] = row.user
                self.device_state[row.device] = dict(row.detail or {})
                continue
            key = (row.user, row.entity_type, row.entity_id)
            detail = row.detail if isinstance(row.detail, dict) else None
            held = Held(int(row.Index), row.op == "live", row.fingerprint, row.updated_at, detail)
            if row.device == SERVER:
                self.server[key] = held
            else:
                self.devices[row.device][key] = held

    def rows(self, kind: Kind) -> pd.DataFrame:
        """Every row of one kind, for the checks the fixed slices above do not serve."""
        return _rows(self.frame, kind)

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
