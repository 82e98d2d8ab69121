"""Key figures of a run, and the payload check against the configured frame-size limit."""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.checker.findings import Finding
from simulator.checker.lag import convergence
from simulator.checker.names import Anomaly
from simulator.checker.view import KEY, View, is_str, tuples
from simulator.history import CATCH_UP_DONE, SERVER, Kind


def _keepalive_totals(view: View) -> tuple[int, int]:
    frames = size = 0
    for detail in view.keepalive["detail"]:
        for count, nbytes in (detail or {}).values():
            frames += count
            size += nbytes
    return frames, size


def measure(view: View) -> dict[str, float]:
    sent = view.frames_sent
    keepalive_frames, keepalive_bytes = _keepalive_totals(view)
    frame_bytes = sent["bytes"].dropna()
    writes = len(view.writes)
    connects = int((view.frame["kind"] == Kind.CONNECT.value).sum())
    sync_requests = int((sent["frame_type"] == "SYNC_REQUEST").sum())
    lags = convergence(view)
    catch_up = catch_up_bytes(view)
    depth = [d.get("depth", 0) for d in view.queue["detail"].tolist() if isinstance(d, dict)]
    return {
        "writes": float(writes),
        "frames_sent": float(len(sent) + keepalive_frames),
        "frames_lost": float(len(view.frames_lost)),
        "bytes_sent": float(frame_bytes.sum() + keepalive_bytes),
        "max_frame_bytes": float(frame_bytes.max()) if not frame_bytes.empty else 0.0,
        "bytes_per_change": float(frame_bytes.sum()) / writes if writes else 0.0,
        "sync_requests": float(sync_requests),
        "sync_requests_per_connection": sync_requests / connects if connects else 0.0,
        "connections": float(connects),
        "queue_drops": float(_queue_drops(view)),
        "max_outbox_depth": float(max(depth, default=0)),
        "reloads": float((view.frame["kind"] == Kind.RELOAD.value).sum()),
        "p50_convergence_lag": lags.percentile(50),
        "p95_convergence_lag": lags.percentile(95),
        "max_convergence_lag": max(lags.lags, default=0.0),
        "unconverged_writes": float(lags.unconverged),
        "max_catch_up_bytes": float(max(catch_up, default=0)),
        "mean_catch_up_bytes": float(sum(catch_up) / len(catch_up)) if catch_up else 0.0,
        "server_rewrites": float(server_rewrites(view)),
    }


def server_rewrites(view: View) -> int:
    """Items the server holds as a user's write, by its `updatedAt`, in content other than
    was written: the server normalized it. An observation, not a loss."""
    writes = view.writes[view.writes["updated_at"].notna().to_numpy(dtype=bool)]
    # The last write of each item with each stamp names the content written.
    written = writes.drop_duplicates([*KEY, "updated_at"], keep="last")[
        [*KEY, "updated_at", "fingerprint"]
    ].astype(object)
    items = view.snapshot_items
    server = items[(items["holder"] == SERVER).to_numpy(dtype=bool) & items["live"].to_numpy()]
    held = server[[*KEY, "updated_at", "fingerprint"]].astype(object)
    pairs = held.merge(written, on=[*KEY, "updated_at"], suffixes=("", "_written"))
    fingerprint = pairs["fingerprint_written"].to_numpy(dtype=object)
    known = np.fromiter((f is not None for f in fingerprint), dtype=bool, count=len(fingerprint))
    stamped = is_str(pairs["updated_at"])
    other = pairs["fingerprint"].to_numpy(dtype=object) != fingerprint
    return int(np.count_nonzero(known & stamped & other))


def _queue_drops(view: View) -> int:
    ops = view.queue["op"].isin(["drop", "lost"])
    return int((ops & (view.queue["reason"] != "superseded")).sum())


def catch_up_bytes(view: View) -> list[int]:
    """Bytes each device received on each connection until its catch-up ended: from a
    CONNECT to the first SYNC_RESPONSE that ends a catch-up, in the order the catch-ups ended.
    Worked out once per view (the metrics, then the key figures)."""
    found = view.memo.get("catch_up_bytes")
    if not isinstance(found, list):
        found = view.memo["catch_up_bytes"] = _catch_up_bytes(view)
    return list(found)


def _catch_up_bytes(view: View) -> list[int]:
    rows = view.of_kinds(Kind.CONNECT, Kind.FRAME_RECV)
    rows = rows[(rows["device"] != SERVER).to_numpy(dtype=bool)]
    device = rows["device"]
    connect = (rows["kind"] == Kind.CONNECT.value).to_numpy(dtype=bool)
    # Each device's rows from one connect to the next are one connection's.
    conn = pd.Series(connect.astype(np.int64), index=rows.index).groupby(device).cumsum()
    done = ((rows["frame_type"] == "SYNC_RESPONSE") & (rows["reason"] == CATCH_UP_DONE)).to_numpy(
        dtype=bool
    ) & ~connect
    table = pd.DataFrame(
        {
            "device": device.to_numpy(dtype=object),
            "conn": conn.to_numpy(),
            "done": done,
            "bytes": rows["bytes"].fillna(0).to_numpy(dtype=np.int64) * ~connect,
        }
    )[(conn > 0).to_numpy(dtype=bool)]
    ended_before = table.groupby(["device", "conn"])["done"].cumsum() - table["done"]
    counted = table[(ended_before == 0).to_numpy(dtype=bool)]
    per_conn = counted.groupby(["device", "conn"], sort=False)
    totals = per_conn["bytes"].cumsum()[counted["done"].to_numpy(dtype=bool)]
    return [int(b) for b in totals]


def frame_bytes_by_type(view: View) -> dict[str, dict[str, float]]:
    """Count, total and largest frame size per frame type (keep-alives included)."""
    table: dict[str, dict[str, float]] = {}
    for frame_type, group in view.frames_sent.groupby("frame_type"):
        sizes = group["bytes"].astype(float)
        table[str(frame_type)] = {
            "count": float(len(sizes)),
            "bytes": float(sizes.sum()),
            "max": float(sizes.max()),
        }
    for detail in view.keepalive["detail"]:
        for frame_type, (count, nbytes) in (detail or {}).items():
            entry = table.setdefault(frame_type, {"count": 0.0, "bytes": 0.0, "max": 0.0})
            entry["count"] += count
            entry["bytes"] += nbytes
            entry["max"] = max(entry["max"], nbytes / count if count else 0.0)
    return dict(sorted(table.items()))


def payload(view: View) -> list[Finding]:
    limit = view.meta.get("max_frame_bytes")
    if not limit:
        return []
    sent = view.frames_sent
    over = sent[sent["bytes"] > limit]
    return [
        Finding(
            Anomaly.PAYLOAD,
            f"{row.frame_type} of {int(row.bytes)} bytes from {row.device} "
            f"exceeds the {limit}-byte limit",
            user=row.user if isinstance(row.user, str) else None,
            devices=(str(row.device),),
            t=float(row.t),
            rows=(int(row.Index),),
        )
        for row in tuples(over)
    ]
