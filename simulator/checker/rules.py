"""Merges that broke the profile's own rule, and data that reached another user's device.

A merge a device accepted must be newer by the rule in force (the profile's `lww` flag, read
from the history's meta row): a later `updatedAt`, or under `version_first` a higher version
when both sides carry one. A device holding or receiving an item whose writes all belong to
another user is a leak.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from simulator.checker.findings import Finding
from simulator.checker.names import Anomaly
from simulator.checker.view import View, is_str, stamps, tuples
from simulator.history import SERVER, Kind
from simulator.protocol.kinds import DELETES

_DELETES = [t.value for t in DELETES]  # a list: what `Series.isin` takes


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _field(details: np.ndarray, name: str) -> list[Any]:
    return [d.get(name) if isinstance(d, dict) else None for d in details]


def _by_version(rule: str, mine: object, theirs: object) -> bool | None:
    """Whether the merged version is not newer than the local one, when the rule goes by
    versions and both sides carry one; None when the stamps decide."""
    local, merged = _int(mine), _int(theirs)
    if rule != "version_first" or local is None or merged is None:
        return None
    return merged <= local


def _breaks_rule(rule: str, merges: pd.DataFrame) -> np.ndarray:
    """Which accepted merges were not newer than what the device held, by the rule: under
    `version_first` by version where both sides carry one, else by `updatedAt`."""
    details = merges["detail"].to_numpy(dtype=object)
    local = np.fromiter(
        (v is not None for v in _field(details, "local_fingerprint")),
        dtype=bool,
        count=len(details),
    )
    versions = [
        _by_version(rule, mine, theirs)
        for mine, theirs in zip(
            _field(details, "local_version"), _field(details, "version"), strict=True
        )
    ]
    stale = stamps(merges["updated_at"]) <= stamps(pd.Series(_field(details, "local_updated_at")))
    older = np.fromiter(
        (s if v is None else v for v, s in zip(versions, stale, strict=True)),
        dtype=bool,
        count=len(details),
    )
    broken: np.ndarray = local & older
    return broken


def merge_violations(view: View) -> list[Finding]:
    rule = str(view.meta.get("profile", {}).get("lww", "updated_at"))
    merges = view.merges
    accepted = merges[merges["accepted"].astype(bool)]
    accepted = accepted[~accepted["frame_type"].isin(_DELETES).to_numpy(dtype=bool)]
    found = []
    for row in tuples(accepted[_breaks_rule(rule, accepted)]):
        found.append(
            Finding(
                Anomaly.LWW_VIOLATION,
                f"{row.device} accepted {row.entity_id} from {row.frame_type} although it is "
                f"not newer by the {rule} rule",
                user=row.user,
                entity_type=row.entity_type,
                entity_id=row.entity_id,
                devices=(row.device,),
                cause="merge accepted against the rule",
                t=float(row.t),
                rows=(int(row.Index),),
            )
        )
    return found


def _owners(view: View) -> pd.DataFrame:
    """Who wrote each value (entity_id, fingerprint): the users whose writes carry it, and
    the users the server holds it for. A server row without content (a tombstone) counts as
    a value of its own, no content, which a device's row without content then matches."""
    writes = view.writes[is_str(view.writes["fingerprint"])]
    items = view.snapshot_items
    server = items[(items["holder"] == SERVER).to_numpy(dtype=bool)]
    columns = ["entity_id", "fingerprint", "user"]
    owners = pd.concat([writes[columns].astype(object), server[columns].astype(object)])
    return owners.drop_duplicates()


def _value(entity: object, fingerprint: object) -> tuple[object, object]:
    """A value as a key: missing content (NaN, which equals nothing) as None."""
    return entity, fingerprint if isinstance(fingerprint, str) else None


def leaks(view: View) -> list[Finding]:
    """A device row whose value (entity and fingerprint) only other users ever wrote.

    Judged by value, not id: piece ids come from title and composer, so two users may
    rightly hold pieces under one id.
    """
    owners = _owners(view)
    seen = view.of_kinds(Kind.MERGE, Kind.SNAPSHOT)
    seen = seen[(seen["device"] != SERVER).to_numpy(dtype=bool)]
    value = ["entity_id", "fingerprint"]
    table = seen[[*value, "user"]].astype(object).reset_index(names="at")
    owned = table.merge(owners[value].drop_duplicates(), on=value, how="inner")
    mine = owned.merge(owners, on=[*value, "user"], how="left", indicator=True)
    foreign = mine[(mine["_merge"] == "left_only").to_numpy(dtype=bool)]["at"].sort_values()
    suspects = seen.loc[foreign.to_numpy()].drop_duplicates(["device", "entity_id"])
    if suspects.empty:
        return []
    of_value: dict[tuple[object, object], set[str]] = {}
    for entity, fingerprint, user in zip(*(owners[c].tolist() for c in owners), strict=True):
        of_value.setdefault(_value(entity, fingerprint), set()).add(user)
    return [
        Finding(
            Anomaly.LEAK,
            f"{row.device} (user {row.user}) got {row.entity_id}, which belongs to "
            f"{', '.join(sorted(of_value[_value(row.entity_id, row.fingerprint)]))}",
            user=row.user,
            entity_type=row.entity_type,
            entity_id=row.entity_id,
            devices=(row.device,),
            cause="another user's data",
            t=float(row.t),
            rows=(int(row.Index),),
        )
        for row in tuples(suspects)
    ]
