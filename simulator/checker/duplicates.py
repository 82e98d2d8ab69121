"""duplicate: two live items for one logical item, or one message applied twice.

One logical item is one normalized score id (repertoire) or one typed content under two ids
(logbook). Each logical item is one finding, naming every snapshot (server or device) that
holds it twice. A message applied twice needs server-internal evidence (the write behind each
stored change); without it that half of the check has nothing to read.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pandas as pd

from simulator.checker.findings import Finding
from simulator.checker.names import Anomaly
from simulator.checker.view import View, is_str, tuples
from simulator.protocol.kinds import kind

Logical = tuple[str, str, str]  # (user, entity type, logical key)


def _logical(items: pd.DataFrame) -> list[str | None]:
    """Each live item's logical key (see `EntityKind.logical`), None where it has none."""
    kinds = {name: kind(name) for name in pd.unique(items["entity_type"])}
    return [
        kinds[entity_type].logical(detail if isinstance(detail, dict) else {}, entity_id)
        for entity_type, entity_id, detail in zip(
            items["entity_type"].tolist(),
            items["entity_id"].tolist(),
            items["detail"].tolist(),
            strict=True,
        )
    ]


def _twins(view: View) -> list[Finding]:
    items = view.snapshot_items
    live = items[items["live"].to_numpy(dtype=bool)]
    table = pd.DataFrame(
        {
            "user": live["user"].to_numpy(dtype=object),
            "entity_type": live["entity_type"].to_numpy(dtype=object),
            "logical": _logical(live),
            "holder": live["holder"].to_numpy(dtype=object),
            "entity_id": live["entity_id"].to_numpy(dtype=object),
            "row": live["row"].to_numpy(),
        }
    ).dropna(subset=["logical"])
    logical = ["user", "entity_type", "logical"]
    ids = table.groupby([*logical, "holder"], sort=False)["entity_id"].transform("nunique")
    twice = table[ids.to_numpy() > 1][logical].drop_duplicates()
    if twice.empty:
        return []
    chosen = table.merge(twice, on=logical)
    found = []
    for key, group in chosen.groupby(logical, sort=True):
        holders = group.groupby("holder")["entity_id"].nunique()
        found.append(
            _twin_finding(
                (str(key[0]), str(key[1]), str(key[2])),
                sorted(set(group["entity_id"])),
                sorted(str(h) for h in holders[holders > 1].index),
                group["row"].tolist(),
            )
        )
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
    applied = view.applied[is_str(view.applied["write_id"])]
    applied = applied[applied["write_id"].duplicated(keep=False).to_numpy(dtype=bool)]
    by_write: dict[str, list[Any]] = defaultdict(list)
    for row in tuples(applied):
        by_write[row.write_id].append(row)
    found = []
    for write_id, rows in sorted(by_write.items()):
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
