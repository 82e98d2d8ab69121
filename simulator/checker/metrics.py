"""Key figures of a run, and the payload check against the configured frame-size limit."""

from __future__ import annotations

from simulator.checker.findings import Finding
from simulator.checker.names import Anomaly
from simulator.checker.view import View, tuples


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
    queue_ops = view.queue["op"]
    frame_bytes = sent["bytes"].dropna()
    return {
        "writes": float(len(view.writes)),
        "frames_sent": float(len(sent) + keepalive_frames),
        "frames_lost": float(len(view.frames_lost)),
        "bytes_sent": float(frame_bytes.sum() + keepalive_bytes),
        "max_frame_bytes": float(frame_bytes.max()) if not frame_bytes.empty else 0.0,
        "sync_requests": float((sent["frame_type"] == "SYNC_REQUEST").sum()),
        "queue_drops": float(
            queue_ops.isin(["drop", "lost"]).sum() - (view.queue["reason"] == "superseded").sum()
        ),
        "reloads": float((view.frame["kind"] == "reload").sum()),
    }


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
