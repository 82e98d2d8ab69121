"""duplicate: two live items for one logical item, or one message applied twice.

One logical item is one normalized score id (repertoire) or one typed content under two ids
(logbook). Each logical item is one finding, naming every snapshot (server or device) that
holds it twice. A message applied twice needs server-internal evidence (the write behind each
stored change); without it that half of the check has nothing to read.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from simulator.checker.findings import Finding
from simulator.checker.names import Anomaly
from simulator.checker.view import Held, Key, View, tuples
from simulator.history import SERVER
from simulator.protocol.kinds import kind

Logical = tuple[str, str, str]  # (user, entity type, logical key)


def _logical(key: Key, held: Held) -> Logical | None:
    logical = kind(key[1]).logical(held.detail or {}, key[2])
    return None if logical is None else (key[0], key[1], logical)


def _snapshots(view: View) -> list[tuple[str, dict[Key, Held]]]:
    return [(SERVER, view.server), *sorted(view.devices.items())]


def _twins(view: View) -> list[Finding]:
    ids: dict[Logical, set[str]] = defaultdict(set)
    holders: dict[Logical, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    rows: dict[Logical, list[int]] = defaultdict(list)
    for holder, snapshot in _snapshots(view):
        for key, held in snapshot.items():
            logical = _logical(key, held) if held.live else None
            if logical is not None:
                ids[logical].add(key[2])
                holders[logical][holder].add(key[2])
                rows[logical].append(held.row)
    found = []
    for logical in sorted(ids):
        twice = sorted(h for h, held_ids in holders[logical].items() if len(held_ids) > 1)
        if twice:
            found.append(_twin_finding(logical, sorted(ids[logical]), twice, rows[logical]))
    return found


def _twin_finding(logical: Logical, ids: list[str], holders: list[str], rows: list[int]) -> Finding:
    owner = kind(logical[1])
    where = ", ".join(holders)
    return Finding(
        Anomaly.DUPLICATE,
        f"one {owner.label} is live under {len(ids)} ids ({', '.join(ids)}) on {where}",
        user=logical[0],
        entity_type=logical[1],
        entity_id=ids[0],
        devices=tuple(holders),
        cause=owner.twin_cause,
        rows=tuple(sorted(rows)),
        others=tuple(ids[1:]),
    )


def _applied_twice(view: View) -> list[Finding]:
    applied: dict[str, list[Any]] = defaultdict(list)
    for row in tuples(view.applied):
        if isinstance(row.write_id, str):
            applied[row.write_id].append(row)
    found = []
    for write_id, rows in sorted(applied.items()):
        if len(rows) > 1:
            first = rows[0]
            found.append(
                Finding(
                    Anomaly.DUPLICATE,
                    f"write {write_id} on {first.entity_id} was applied {len(rows)} times "
                    "by the server",
                    user=first.user,
                    entity_type=first.entity_type,
                    entity_id=first.entity_id,
                    devices=(write_id.split("#")[0],),
                    cause="message applied twice",
                    t=float(first.t),
                    rows=tuple(int(r.Index) for r in rows),
                )
            )
    return found


def findings(view: View) -> list[Finding]:
    return _twins(view) + _applied_twice(view)
