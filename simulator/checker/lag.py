"""Convergence lag: how long after a write every other device of its user holds it.

A device that is offline cannot be expected to hold anything, so each device's share of the
lag is counted from the write, or from the device's next connect when it was not connected at
the time. The lag of a write is the largest share among the user's other devices. A write
that some device never held, and that no later write to the same item superseded, did not
converge; superseded writes are left out of the figures.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from simulator.checker.view import View, tuples
from simulator.history import Kind


@dataclass(frozen=True)
class Lags:
    lags: tuple[float, ...]
    unconverged: int

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.lags, q)) if self.lags else 0.0


class _Presence:
    """When each device was connected, from its connect and disconnect rows."""

    def __init__(self, view: View) -> None:
        self.connects: dict[str, list[float]] = defaultdict(list)
        self.disconnects: dict[str, list[float]] = defaultdict(list)
        frame = view.frame
        rows = frame[frame["kind"].isin([Kind.CONNECT.value, Kind.DISCONNECT.value])]
        for row in tuples(rows):
            target = self.connects if row.kind == Kind.CONNECT.value else self.disconnects
            target[row.device].append(float(row.t))

    def since(self, device: str, t: float) -> float | None:
        """The start of the device's connected time at or after `t`, or None if none."""
        connects, disconnects = self.connects[device], self.disconnects[device]
        last_connect = bisect.bisect_right(connects, t)
        if last_connect and bisect.bisect_right(disconnects, t) < last_connect:
            return t  # connected at t: the last connect before t has no disconnect after it
        return connects[last_connect] if last_connect < len(connects) else None


def convergence(view: View) -> Lags:
    presence = _Presence(view)
    held: dict[tuple[str, str, str], float] = {}
    accepted = view.merges[view.merges["accepted"].astype(bool)]
    for row in tuples(accepted):
        # By content, and by stamp: a server's normalized copy of a write is that write.
        if isinstance(row.fingerprint, str):
            held.setdefault((row.device, row.entity_id, row.fingerprint), float(row.t))
        if isinstance(row.updated_at, str):
            held.setdefault((row.device, row.entity_id, "@" + row.updated_at), float(row.t))
    devices_of: dict[str, list[str]] = defaultdict(list)
    for device, user in sorted(view.device_users.items()):
        devices_of[user].append(device)
    last_write = view.writes.groupby(["user", "entity_type", "entity_id"])["t"].max().to_dict()
    lags: list[float] = []
    unconverged = 0
    for write in tuples(view.writes):
        if not isinstance(write.fingerprint, str):
            continue
        others = [d for d in devices_of.get(write.user, []) if d != write.device]
        if not others:
            continue  # nobody else to converge with: no lag to measure
        shares: list[float] = []
        for other in others:
            start = presence.since(other, float(write.t))
            got = held.get((other, write.entity_id, write.fingerprint))
            if got is None and isinstance(write.updated_at, str):
                got = held.get((other, write.entity_id, "@" + write.updated_at))
            if got is None or start is None:
                break
            shares.append(max(0.0, got - start))
        else:
            lags.append(max(shares, default=0.0))
            continue
        if last_write.get((write.user, write.entity_type, write.entity_id), write.t) <= write.t:
            unconverged += 1
    return Lags(tuple(lags), unconverged)
