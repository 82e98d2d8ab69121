"""After the scenario settles: does every device hold what the server holds?

A device that lacks an item the server has live shows missing_history; a device that holds a
different value, or holds an item the server does not have live, shows divergence. One finding
per device and entity, so the evidence names exactly what differs.

A divergence lists the writes that clash: each device's last write of the item, and the writes
the device and the server ended up holding (matched by content, or by `updatedAt`), with true
and device times. Its time is the item's last user write: from then on no user act changed the
item, so any difference left after settling is the system's. An item no user wrote in the run
(preloaded history) has no writes to list and no time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from simulator.checker.findings import Finding, WriteRef
from simulator.checker.names import Anomaly
from simulator.checker.view import KEY, Held, Key, View, equal, same_text, tuples
from simulator.history import SERVER


class _Writes:
    """Every user write of the items named, to name the writes behind a divergence."""

    def __init__(self, view: View, items: set[Key]) -> None:
        self.view = view
        self.of: dict[Key, list[Any]] = {}
        writes = view.writes[view.writes["entity_id"].isin({key[2] for key in items})]
        for row in tuples(writes):
            key = (row.user, row.entity_type, row.entity_id)
            if key in items:
                self.of.setdefault(key, []).append(row)

    def clashing(self, key: Key, held: Iterable[Held | None]) -> tuple[WriteRef, ...]:
        """Each device's last write of the item, and the writes the snapshots `held` hold."""
        mine = self.of.get(key, [])
        chosen = {row.device: row for row in mine}  # in time order: the last one stays
        picked = {int(row.Index): row for row in chosen.values()}
        for snapshot in held:
            if snapshot is None or not snapshot.live:
                continue
            match = next((r for r in reversed(mine) if snapshot.holds(r.fingerprint, None)), None)
            if match is None:
                match = next(
                    (r for r in reversed(mine) if snapshot.holds(None, r.updated_at)), None
                )
            if match is not None:
                picked[int(match.Index)] = match
        rows = sorted(picked.values(), key=lambda r: (float(r.t), int(r.Index)))
        return tuple(self.view.write_ref(r) for r in rows)


class _Merges:
    """What each device's merges did with the items it lacks at the end."""

    def __init__(self, view: View, lacking: set[tuple[str, str]]) -> None:
        merges = view.merges
        merges = merges[merges["entity_id"].isin({entity for _, entity in lacking})]
        accepted = merges["accepted"].astype(bool)
        grouped = accepted.groupby([merges["device"], merges["entity_id"]]).any()
        pairs: list[tuple[str, str]] = grouped.index.tolist()
        self.any_accepted: dict[tuple[str, str], bool] = {
            (str(device), str(entity)): bool(value)
            for (device, entity), value in zip(pairs, grouped.tolist(), strict=True)
        }

    def cause(self, device: str, key: Key) -> str:
        accepted = self.any_accepted.get((device, key[2]))
        if accepted is None:
            return "never received"
        if not accepted:
            return "received but every merge refused it"
        return "received, then removed"


def _finding(
    anomaly: Anomaly, device: str, key: Key, summary: str, cause: str, rows: list[int]
) -> Finding:
    return Finding(
        anomaly,
        summary,
        user=key[0],
        entity_type=key[1],
        entity_id=key[2],
        devices=(device,),
        cause=cause,
        rows=tuple(sorted(rows)),
    )


def _divergence(
    writes: _Writes,
    device: str,
    key: Key,
    summary: str,
    cause: str,
    rows: list[int],
    held: tuple[Held, Held | None],
) -> Finding:
    """`held`: what the device and the server ended with (None: the server has no row)."""
    clashing = writes.clashing(key, held)
    finding = _finding(Anomaly.DIVERGENCE, device, key, summary, cause, rows)
    return replace(finding, t=max((w.t for w in clashing), default=None), writes=clashing)


# What a device ended with that differs from the server: `missing` (the server has it live, the
# device not), `different` (both live, not the same write), `absent`/`deleted` (the device
# has it live, the server not: no row for it, or a dead one).
MISSING, DIFFERENT, ABSENT, DELETED = "missing", "different", "absent", "deleted"


def _against_server(view: View) -> pd.DataFrame:
    """Every server item of each device's user, beside what the device holds of it: those
    that differ, with `what` (MISSING or DIFFERENT)."""
    items = view.snapshot_items
    server = items[(items["holder"] == SERVER).to_numpy(dtype=bool)]
    devices = pd.DataFrame(sorted(view.device_users.items()), columns=["device", "user"])
    pairs = devices.merge(server.drop(columns="holder"), on="user")
    local = items[(items["holder"] != SERVER).to_numpy(dtype=bool)].rename(
        columns={"holder": "device"}
    )
    pairs = pairs.merge(local, how="left", on=["device", *KEY], suffixes=("", "_local"))
    live = pairs["live"].to_numpy(dtype=bool)
    local_live = pairs["live_local"].fillna(False).to_numpy(dtype=bool)
    same_write = local_live & (
        equal(pairs["fingerprint_local"], pairs["fingerprint"])
        | same_text(pairs["updated_at_local"], pairs["updated_at"])
    )
    pairs["what"] = np.where(local_live, DIFFERENT, MISSING)
    differ: pd.DataFrame = pairs[live & ~(local_live & same_write)]
    return differ


def _beyond_server(view: View) -> pd.DataFrame:
    """Every item a device holds live that the server does not have live for the device's
    user, with `what` (ABSENT or DELETED)."""
    items = view.snapshot_items
    users = pd.DataFrame(sorted(view.device_users.items()), columns=["device", "of"])
    local = items[(items["holder"] != SERVER).to_numpy(dtype=bool) & items["live"].to_numpy()]
    local = local.rename(columns={"holder": "device"}).merge(users, on="device")
    server = items[(items["holder"] == SERVER).to_numpy(dtype=bool)][[*KEY, "live", "row"]]
    pairs = local.merge(server, how="left", on=KEY, suffixes=("", "_server"))
    known = pairs["row_server"].notna().to_numpy(dtype=bool) & (
        pairs["user"].to_numpy(dtype=object) == pairs["of"].to_numpy(dtype=object)
    )
    server_live = known & pairs["live_server"].fillna(False).to_numpy(dtype=bool)
    pairs["what"] = np.where(known, DELETED, ABSENT)
    beyond: pd.DataFrame = pairs[~server_live]
    return beyond


def _differences(view: View) -> pd.DataFrame:
    """Every difference, in the order findings are told: by device, the server's items (in
    key order) before the device's own (in key order)."""
    found = pd.concat(
        [_against_server(view).assign(part=0), _beyond_server(view).assign(part=1)],
        ignore_index=True,
    )
    return found.sort_values(["device", "part", *KEY], kind="stable")


def _held(view: View, holder: str, key: Key) -> Held:
    snapshot = view.server if holder == SERVER else view.devices[holder]
    return snapshot[key]


def _tell(view: View, row: Any, writes: _Writes, merges: _Merges) -> Finding:
    device, key = str(row.device), (row.user, row.entity_type, row.entity_id)
    if row.what == MISSING:
        held = _held(view, SERVER, key)
        cause = merges.cause(device, key)
        summary = f"{device} lacks {key[2]}, which the server holds: {cause}"
        return _finding(Anomaly.MISSING_HISTORY, device, key, summary, cause, [held.row])
    local = _held(view, device, key)
    if row.what == DIFFERENT:
        held = _held(view, SERVER, key)
        summary = (
            f"{device} holds a different {key[2]} (updatedAt {local.updated_at}) "
            f"than the server (updatedAt {held.updated_at})"
        )
        rows = [local.row, held.row]
        return _divergence(writes, device, key, summary, "different value", rows, (local, held))
    summary = f"{device} holds {key[2]}, which is {row.what} on the server"
    server = view.server.get(key) if key[0] == view.device_users[device] else None
    cause = f"{row.what} on server"
    return _divergence(writes, device, key, summary, cause, [local.row], (local, server))


def findings(view: View) -> list[Finding]:
    differences = _differences(view)
    if differences.empty:
        return []
    items = set(
        zip(differences["user"], differences["entity_type"], differences["entity_id"], strict=True)
    )
    writes = _Writes(view, items)
    lacking = differences[differences["what"] == MISSING]
    merges = _Merges(view, set(zip(lacking["device"], lacking["entity_id"], strict=True)))
    return [_tell(view, row, writes, merges) for row in tuples(differences)]
