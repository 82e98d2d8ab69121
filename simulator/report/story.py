"""Per-item stories, Elle-style: for each item a finding names, every write of it on every
device (true and device time, its stamp) and what each device and the server ended with.

A finding says what broke; its story lets a reader check that without opening the history.
Which write a holder kept is read from the snapshot, matched the way the checker matches it
(the same content or, for a server that stores a normalized form, the same stamp), so
"laptop ends with phone#2" is evidence, not inference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from simulator.checker.findings import Finding
from simulator.history import SERVER, Kind, Record

ItemKey = tuple[str, str]  # (entity_type, entity_id)

NOTHING = "nothing"
DELETED = "deleted"
UNKNOWN_VALUE = "a value none of its writes in this run made"


@dataclass(frozen=True)
class StoryWrite:
    row: int
    device: str
    op: str
    write_id: str
    t: float
    device_time: float
    updated_at: str | None
    fingerprint: str | None


@dataclass(frozen=True)
class Ending:
    holder: str  # a device name, or `server`
    held: str  # a write id (`phone#2`), DELETED, NOTHING or UNKNOWN_VALUE
    row: int | None  # the snapshot row, when the holder had one for the item


@dataclass(frozen=True)
class Story:
    entity_type: str
    entity_id: str
    label: str | None
    writes: tuple[StoryWrite, ...]
    endings: tuple[Ending, ...]

    def kept_by(self, write: StoryWrite) -> tuple[str, ...]:
        """The holders that ended with this write."""
        return tuple(e.holder for e in self.endings if e.held == write.write_id)


class Stories:
    """Every item's writes, labels and final holdings, indexed once per report."""

    def __init__(self, records: Sequence[Record]) -> None:
        self._writes: dict[ItemKey, list[StoryWrite]] = {}
        self._labels: dict[ItemKey, str] = {}
        self._held: dict[ItemKey, dict[str, Record]] = {}
        self._rows: dict[ItemKey, dict[str, int]] = {}
        self._devices: dict[str, list[str]] = {}  # user -> devices that took a snapshot
        self._server_seen: set[str] = set()  # users whose server state was snapshotted
        for index, record in enumerate(records):
            self._index(index, record)

    def _index(self, index: int, r: Record) -> None:
        if r.kind is Kind.WRITE and r.entity_type and r.entity_id:
            key = (r.entity_type, r.entity_id)
            self._writes.setdefault(key, []).append(_story_write(index, r))
            self._label(key, r, replace=True)  # an item is called what it was last written as
        elif r.kind is Kind.SNAPSHOT and r.op == "device" and r.device and r.user:
            self._devices.setdefault(r.user, []).append(r.device)
        elif r.kind is Kind.SNAPSHOT and r.entity_type and r.entity_id and r.device:
            key = (r.entity_type, r.entity_id)
            self._held.setdefault(key, {})[r.device] = r
            self._rows.setdefault(key, {})[r.device] = index
            self._label(key, r, replace=False)  # preloaded items have no write row
            if r.device == SERVER and r.user:
                self._server_seen.add(r.user)

    def _label(self, key: ItemKey, r: Record, *, replace: bool) -> None:
        label = (r.detail or {}).get("label")
        if isinstance(label, str) and (replace or key not in self._labels):
            self._labels[key] = label

    def label(self, entity_type: str | None, entity_id: str | None) -> str | None:
        if entity_type is None or entity_id is None:
            return None
        return self._labels.get((entity_type, entity_id))

    def of(self, finding: Finding) -> tuple[Story, ...]:
        """The story of every item `finding` names; none for a finding about no item."""
        if finding.entity_type is None or finding.entity_id is None:
            return ()
        ids = (finding.entity_id, *finding.others)
        return tuple(self._story(finding, (finding.entity_type, i)) for i in ids)

    def _story(self, finding: Finding, key: ItemKey) -> Story:
        writes = tuple(sorted(self._writes.get(key, []), key=lambda w: (w.t, w.row)))
        user = finding.user or self._user_of(writes)
        endings = self._endings(key, writes, user)
        return Story(key[0], key[1], self._labels.get(key), writes, endings)

    def _user_of(self, writes: tuple[StoryWrite, ...]) -> str | None:
        for write in writes:
            for user, devices in self._devices.items():
                if write.device in devices:
                    return user
        return None

    def _endings(
        self, key: ItemKey, writes: tuple[StoryWrite, ...], user: str | None
    ) -> tuple[Ending, ...]:
        holders = list(self._devices.get(user or "", []))
        if user in self._server_seen:
            holders.append(SERVER)
        held = self._held.get(key, {})
        rows = self._rows.get(key, {})
        return tuple(Ending(h, _what_is_held(held.get(h), writes), rows.get(h)) for h in holders)


def _story_write(index: int, r: Record) -> StoryWrite:
    return StoryWrite(
        index,
        r.device or "-",
        r.op or "-",
        r.write_id or "-",
        r.t,
        r.device_time if r.device_time is not None else r.t,
        r.updated_at,
        r.fingerprint,
    )


def _what_is_held(row: Record | None, writes: tuple[StoryWrite, ...]) -> str:
    if row is None:
        return NOTHING
    if row.op == "deleted":
        return DELETED
    # The same content, or failing that the same stamp: a server stores a normalized form
    # (it drops and adds fields) of the very write it holds.
    made = [w for w in writes if w.op != "delete"]
    by_content = [w for w in made if w.fingerprint is not None and w.fingerprint == row.fingerprint]
    by_stamp = [w for w in made if w.updated_at is not None and w.updated_at == row.updated_at]
    same = by_content or by_stamp
    return same[-1].write_id if same else UNKNOWN_VALUE
