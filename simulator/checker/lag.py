"""Convergence lag: how long after a write every other device of its user holds it.

A device that is offline cannot be expected to hold anything, so each device's share of the
lag is counted from the write, or from the device's next connect when it was not connected at
the time. The lag of a write is the largest share among the user's other devices. A write
that some device never held, and that no later write to the same item superseded, did not
converge; superseded writes are left out of the figures.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulator.checker.view import KEY, View, is_str
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
        rows = view.of_kinds(Kind.CONNECT, Kind.DISCONNECT)
        connect = (rows["kind"] == Kind.CONNECT.value).to_numpy(dtype=bool)
        times = rows["t"].to_numpy(dtype=float)
        devices = rows["device"].to_numpy(dtype=object)
        self.connects: dict[str, np.ndarray] = {}
        self.disconnects: dict[str, np.ndarray] = {}
        for device in pd.unique(devices):
            mine = devices == device
            self.connects[device] = times[mine & connect]
            self.disconnects[device] = times[mine & ~connect]

    def since(self, device: str, t: np.ndarray) -> np.ndarray:
        """For each time in `t`, the start of the device's connected time at or after it
        (NaN: none)."""
        empty = np.empty(0)
        connects = self.connects.get(device, empty)
        disconnects = self.disconnects.get(device, empty)
        last_connect = _bisect_right(connects, t)
        connected = (last_connect > 0) & (_bisect_right(disconnects, t) < last_connect)
        later = np.append(connects, np.nan)[last_connect]
        # Connected at t: the last connect before t has no disconnect after it.
        starts: np.ndarray = np.where(connected, t, later)
        return starts


def _bisect_right(values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """`bisect.bisect_right(values, x)` for every x in `at`, the times kept in row order (a
    live history's rows are not always in time order, and bisect's answer on them is kept)."""
    if len(values) < 2 or bool(np.all(values[1:] >= values[:-1])):
        return np.searchsorted(values, at, side="right")
    ordered = values.tolist()
    return np.fromiter((bisect.bisect_right(ordered, x) for x in at), dtype=np.intp, count=len(at))


def _held(view: View) -> pd.DataFrame:
    """When each device first accepted each value (device, entity_id, `value`): by content, and
    by stamp (`@` and the updatedAt), since a server's normalized copy of a write is that
    write."""
    accepted = view.merges[view.merges["accepted"].astype(bool)]
    order = np.arange(len(accepted)) * 2
    by_content = is_str(accepted["fingerprint"])
    by_stamp = is_str(accepted["updated_at"])
    table = pd.concat(
        [
            pd.DataFrame(
                {
                    "device": accepted["device"].to_numpy(dtype=object)[by_content],
                    "entity_id": accepted["entity_id"].to_numpy(dtype=object)[by_content],
                    "value": accepted["fingerprint"].to_numpy(dtype=object)[by_content],
                    "got": accepted["t"].to_numpy(dtype=float)[by_content],
                    "order": order[by_content],
                }
            ),
            pd.DataFrame(
                {
                    "device": accepted["device"].to_numpy(dtype=object)[by_stamp],
                    "entity_id": accepted["entity_id"].to_numpy(dtype=object)[by_stamp],
                    "value": "@" + accepted["updated_at"].to_numpy(dtype=object)[by_stamp],
                    "got": accepted["t"].to_numpy(dtype=float)[by_stamp],
                    "order": order[by_stamp] + 1,
                }
            ),
        ]
    )
    table = table.sort_values("order", kind="stable")
    return table.drop_duplicates(["device", "entity_id", "value"], keep="first")


def _pairs(view: View) -> pd.DataFrame:
    """Each user write with content, once per other device of its user: `other`, and `at`,
    the write's place among the writes."""
    writes = view.writes
    mine = pd.DataFrame(
        {
            "at": np.arange(len(writes)),
            "user": writes["user"].to_numpy(dtype=object),
            "device": writes["device"].to_numpy(dtype=object),
            "entity_id": writes["entity_id"].to_numpy(dtype=object),
            "fingerprint": writes["fingerprint"].to_numpy(dtype=object),
            "updated_at": writes["updated_at"].to_numpy(dtype=object),
            "stamped": is_str(writes["updated_at"]),
            "t": writes["t"].to_numpy(dtype=float),
        }
    )[is_str(writes["fingerprint"])]
    users = pd.DataFrame(sorted(view.device_users.items()), columns=["other", "user"], dtype=object)
    pairs = mine.merge(users, on="user", how="inner")
    return pairs[(pairs["other"] != pairs["device"]).to_numpy(dtype=bool)]


def convergence(view: View) -> Lags:
    """The lags of a history, worked out once per view: the metrics, the plots and the key
    figures all read them."""
    found = view.memo.get("convergence")
    if not isinstance(found, Lags):
        found = view.memo["convergence"] = _convergence(view)
    return found


def _convergence(view: View) -> Lags:
    pairs = _pairs(view)
    held = _held(view)
    keys = ["other", "entity_id", "value"]
    by_content = pairs.rename(columns={"fingerprint": "value"})[keys].merge(
        held.rename(columns={"device": "other"}), how="left", on=keys
    )
    stamps = pairs[keys[:2]].assign(
        value="@" + pairs["updated_at"].astype(object).where(pairs["stamped"], "")
    )
    by_stamp = stamps.merge(held.rename(columns={"device": "other"}), how="left", on=keys)
    got = by_content["got"].to_numpy(dtype=float)
    stamped = pairs["stamped"].to_numpy(dtype=bool)
    got = np.where(np.isnan(got) & stamped, by_stamp["got"].to_numpy(dtype=float), got)
    presence = _Presence(view)
    start = np.full(len(pairs), np.nan)
    others = pairs["other"].to_numpy(dtype=object)
    times = pairs["t"].to_numpy(dtype=float)
    for other in pd.unique(others):
        mine = others == other
        start[mine] = presence.since(other, times[mine])
    reached = ~np.isnan(got) & ~np.isnan(start)
    share = np.where(reached, np.maximum(0.0, got - start), 0.0)
    at = pairs["at"].to_numpy()
    per_write = pd.DataFrame({"at": at, "reached": reached, "share": share}).groupby("at")
    converged = per_write["reached"].all()
    lags = per_write["share"].max()[converged]
    return Lags(tuple(float(v) for v in lags), _unconverged(view, converged[~converged].index))


def _unconverged(view: View, at: pd.Index) -> int:
    """Writes (by place among the writes) that did not converge and that no later write to
    the same item superseded."""
    writes = view.writes
    times = writes["t"].to_numpy(dtype=float)
    last = writes.groupby(KEY)["t"].transform("max").to_numpy(dtype=float)
    last = np.where(np.isnan(last), times, last)  # an item with no key: nothing supersedes
    chosen = at.to_numpy(dtype=np.intp)
    return int(np.count_nonzero(last[chosen] <= times[chosen]))
