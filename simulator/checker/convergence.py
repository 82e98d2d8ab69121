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

from simulator.checker.findings import Finding, WriteRef
from simulator.checker.names import Anomaly
from simulator.checker.view import Held, Key, View, tuples


class _Writes:
    """Every user write of each item, to name the writes behind a divergence."""

    def __init__(self, view: View) -> None:
        self.view = view
        self.of: dict[Key, list[Any]] = {}
        for row in tuples(view.writes):
            self.of.setdefault((row.user, row.entity_type, row.entity_id), []).append(row)

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


def _missing_cause(view: View, device: str, key: Key) -> str:
    merges = view.merges
    seen = merges[(merges["device"] == device) & (merges["entity_id"] == key[2])]
    if seen.empty:
        return "never received"
    if not bool(seen["accepted"].astype(bool).any()):
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


def _compare(view: View, writes: _Writes, device: str, user: str) -> list[Finding]:
    found = []
    mine = view.devices.get(device, {})
    server = {k: h for k, h in view.server.items() if k[0] == user}
    for key, held in sorted(server.items()):
        local = mine.get(key)
        if held.live and (local is None or not local.live):
            cause = _missing_cause(view, device, key)
            summary = f"{device} lacks {key[2]}, which the server holds: {cause}"
            found.append(_finding(Anomaly.MISSING_HISTORY, device, key, summary, cause, [held.row]))
        elif held.live and local is not None and not held.same_write(local):
            summary = (
                f"{device} holds a different {key[2]} (updatedAt {local.updated_at}) "
                f"than the server (updatedAt {held.updated_at})"
            )
            found.append(
                _divergence(
                    writes,
                    device,
                    key,
                    summary,
                    "different value",
                    [local.row, held.row],
                    (local, held),
                )
            )
    for key, local in sorted(mine.items()):
        if local.live and not (key in server and server[key].live):
            state = "deleted" if key in server else "absent"
            summary = f"{device} holds {key[2]}, which is {state} on the server"
            found.append(
                _divergence(
                    writes,
                    device,
                    key,
                    summary,
                    f"{state} on server",
                    [local.row],
                    (local, server.get(key)),
                )
            )
    return found


def findings(view: View) -> list[Finding]:
    found: list[Finding] = []
    writes = _Writes(view)
    for device, user in sorted(view.device_users.items()):
        found.extend(_compare(view, writes, device, user))
    return found
