"""Merges that broke the profile's own rule, and data that reached another user's device.

A merge a device accepted must be newer by the rule in force (the profile's `lww` flag, read
from the history's meta row): a later `updatedAt`, or under `version_first` a higher version
when both sides carry one. A device holding or receiving an item whose writes all belong to
another user is a leak.
"""

from __future__ import annotations

from typing import Any

from simulator.checker.findings import Finding
from simulator.checker.names import Anomaly
from simulator.checker.view import View, tuples
from simulator.history import SERVER
from simulator.protocol.timefmt import parse_iso_z


def _stamp(value: object) -> float:
    moment = parse_iso_z(value)
    return float("-inf") if moment is None else moment


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _breaks_rule(rule: str, row: Any) -> bool:
    detail = row.detail if isinstance(row.detail, dict) else {}
    if detail.get("local_fingerprint") is None:
        return False  # nothing local to beat
    mine, theirs = _int(detail.get("local_version")), _int(detail.get("version"))
    if rule == "version_first" and mine is not None and theirs is not None:
        return theirs <= mine
    return _stamp(row.updated_at) <= _stamp(detail.get("local_updated_at"))


def merge_violations(view: View) -> list[Finding]:
    rule = str(view.meta.get("profile", {}).get("lww", "updated_at"))
    accepted = view.merges[view.merges["accepted"].astype(bool)]
    found = []
    for row in tuples(accepted):
        if row.frame_type in ("ENTRY_DELETED", "PIECE_REMOVED", "PIECE_DISSOCIATED"):
            continue
        if _breaks_rule(rule, row):
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


def leaks(view: View) -> list[Finding]:
    """A device row whose value (entity and fingerprint) only other users ever wrote.

    Judged by value, not id: piece ids come from title and composer, so two users may
    rightly hold pieces under one id.
    """
    owners: dict[tuple[str, str], set[str]] = {}
    for row in tuples(view.writes):
        if isinstance(row.fingerprint, str):
            owners.setdefault((row.entity_id, row.fingerprint), set()).add(row.user)
    for key, held in view.server.items():
        if held.fingerprint is not None:
            owners.setdefault((key[2], held.fingerprint), set()).add(key[0])
    found: dict[tuple[str, str], Finding] = {}
    frame = view.frame
    seen = frame[frame["kind"].isin(["merge", "snapshot"]) & (frame["device"] != SERVER)]
    for row in tuples(seen):
        users = owners.get((row.entity_id, row.fingerprint))
        if not users or row.user in users or (row.device, row.entity_id) in found:
            continue
        found[(row.device, row.entity_id)] = Finding(
            Anomaly.LEAK,
            f"{row.device} (user {row.user}) got {row.entity_id}, which belongs to "
            f"{', '.join(sorted(users))}",
            user=row.user,
            entity_type=row.entity_type,
            entity_id=row.entity_id,
            devices=(row.device,),
            cause="another user's data",
            t=float(row.t),
            rows=(int(row.Index),),
        )
    return list(found.values())
