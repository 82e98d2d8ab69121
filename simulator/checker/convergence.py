"""After the scenario settles: does every device hold what the server holds?

A device that lacks an item the server has live shows missing_history; a device that holds a
different value, or holds an item the server does not have live, shows divergence. One finding
per device and entity, so the evidence names exactly what differs.
"""

from __future__ import annotations

from simulator.checker.findings import Finding
from simulator.checker.names import Anomaly
from simulator.checker.view import Held, Key, View


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


def _compare(view: View, device: str, user: str) -> list[Finding]:
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
            found.append(_differs(device, key, local, held))
    for key, local in sorted(mine.items()):
        if local.live and not (key in server and server[key].live):
            state = "deleted" if key in server else "absent"
            summary = f"{device} holds {key[2]}, which is {state} on the server"
            found.append(
                _finding(
                    Anomaly.DIVERGENCE, device, key, summary, f"{state} on server", [local.row]
                )
            )
    return found


def _differs(device: str, key: Key, local: Held, held: Held) -> Finding:
    summary = (
        f"{device} holds a different {key[2]} (updatedAt {local.updated_at}) "
        f"than the server (updatedAt {held.updated_at})"
    )
    return _finding(
        Anomaly.DIVERGENCE, device, key, summary, "different value", [local.row, held.row]
    )


def findings(view: View) -> list[Finding]:
    found: list[Finding] = []
    for device, user in sorted(view.device_users.items()):
        found.extend(_compare(view, device, user))
    return found
