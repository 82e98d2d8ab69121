"""Series read from a history for plots and comparisons: spans, depths, sizes, lags, bytes.

Pure functions of a `View`, like the rest of the checker, so a report's plots and
`syncsim compare` read the very same numbers. Nothing here judges anything: the findings and
metrics stay in `check`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulator.checker.findings import Finding
from simulator.checker.lag import convergence
from simulator.checker.view import View, is_str, tuples
from simulator.history import SERVER, Kind

NO_CAUSE = "no cause named"
KEEPALIVE_TYPES = frozenset({"PING", "PONG"})  # summed per connection in KEEPALIVE rows


@dataclass(frozen=True)
class Span:
    """A stretch of true time [start, end) in seconds; `label` says what kind, if it varies."""

    start: float
    end: float
    label: str = ""


@dataclass(frozen=True)
class WriteBytes:
    """What one user write cost on the wire.

    `sent`: bytes of the frames the device sent for it (first send and every resend);
    `answered`: bytes of what the server sent in direct answer to each of those frames arriving
    (its ACK and its broadcasts to the user's other connections).
    """

    write_id: str
    device: str
    op: str
    t: float
    sent: int
    answered: int

    @property
    def total(self) -> int:
        return self.sent + self.answered


def end_of(view: View) -> float:
    """The true time the run ended: its duration plus settle, or its last row."""
    meta = view.meta
    if "duration" in meta:
        return float(meta["duration"]) + float(meta.get("settle", 0.0))
    return float(view.frame["t"].max()) if len(view.frame) else 0.0


def devices(view: View) -> list[str]:
    """Every device named in the history, sorted (the server is not a device)."""
    named = {str(d) for d in view.frame["device"].dropna().unique() if d != SERVER}
    named |= set(view.meta.get("devices", {}))
    return sorted(named)


def _pair(starts: Iterable[float], stops: Iterable[float], end: float) -> list[Span]:
    """Each start paired with the first stop at or after it; an unclosed span runs to `end`."""
    spans, stop_list = [], sorted(stops)
    for start in sorted(starts):
        stop = next((s for s in stop_list if s >= start), end)
        spans.append(Span(start, stop))
    return spans


def offline_spans(view: View) -> dict[str, list[Span]]:
    """When each device's network was down (NETWORK rows, op offline/online)."""
    rows = view.rows(Kind.NETWORK)
    end = end_of(view)
    spans: dict[str, list[Span]] = {}
    for device, group in rows.groupby("device"):
        down = group[group["op"] == "offline"]["t"].astype(float)
        up = group[group["op"] == "online"]["t"].astype(float)
        spans[str(device)] = _pair(down, up, end)
    return spans


def connected_spans(view: View) -> dict[str, list[Span]]:
    """When each device had an open connection: CONNECT to the DISCONNECT of the same conn."""
    frame = view.frame
    rows = frame[frame["kind"].isin([Kind.CONNECT.value, Kind.DISCONNECT.value])]
    opened: dict[str, tuple[str, float]] = {}
    spans: dict[str, list[Span]] = defaultdict(list)
    for row in tuples(rows):
        if row.kind == Kind.CONNECT.value:
            opened[str(row.conn)] = (str(row.device), float(row.t))
        elif str(row.conn) in opened:
            device, start = opened.pop(str(row.conn))
            spans[device].append(Span(start, float(row.t)))
    end = end_of(view)
    for device, start in opened.values():
        spans[device].append(Span(start, end))
    return {d: sorted(s, key=lambda span: span.start) for d, s in spans.items()}


def partition_spans(view: View) -> dict[str, list[Span]]:
    """When each device was cut off by a partition, labelled with the directions cut
    (`up`, `down` or `both`); overlapping partitions are merged into one state at a time."""
    rows = view.rows(Kind.PARTITION)
    blocked: dict[str, Counter[str]] = defaultdict(Counter)
    since: dict[str, tuple[float, str]] = {}
    spans: dict[str, list[Span]] = defaultdict(list)

    def state(device: str) -> str:
        cut = {d for d, n in blocked[device].items() if n > 0}
        return "both" if cut >= {"up", "down"} else ",".join(sorted(cut))

    for row in tuples(rows):
        device, t = str(row.device), float(row.t)
        before = state(device)
        for direction in str(row.reason or "").split(","):
            if direction:
                blocked[device][direction] += 1 if row.op == "start" else -1
        after = state(device)
        if after == before:
            continue
        if before:
            spans[device].append(Span(since[device][0], t, before))
        if after:
            since[device] = (t, after)
    end = end_of(view)
    for device in blocked:
        if state(device):
            spans[device].append(Span(since[device][0], end, state(device)))
    return dict(spans)


def outage_spans(view: View) -> list[Span]:
    """When the server was down (SERVER_OUTAGE rows, op down/up)."""
    rows = view.rows(Kind.SERVER_OUTAGE)
    down = rows[rows["op"] == "down"]["t"].astype(float)
    up = rows[rows["op"] == "up"]["t"].astype(float)
    return _pair(down, up, end_of(view))


def outbox_depth(view: View) -> dict[str, list[tuple[float, int]]]:
    """Each device's outbox depth after every change to it, as (true time, items)."""
    series: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for row in tuples(view.queue):
        if isinstance(row.detail, dict) and "depth" in row.detail:
            series[str(row.device)].append((float(row.t), int(row.detail["depth"])))
    return dict(series)


@dataclass(frozen=True)
class QueueLoss:
    """Items one device's outbox dropped or lost at one instant (a reload loses the whole
    queue at once): `depth` is how many items it held just before, where the drop shows on a
    depth plot; `count` how many went; `reasons` why (expired, cap, retries, reload, wipe)."""

    t: float
    depth: int
    count: int
    reasons: tuple[str, ...]


def queue_losses(view: View) -> dict[str, list[QueueLoss]]:
    """When each device's outbox dropped or lost items (superseded changes left out), one
    entry per run of consecutive losses at the same instant, with the depth before them."""
    depth: dict[str, int] = defaultdict(int)
    in_loss: dict[str, bool] = defaultdict(bool)  # the device's previous queue row was a loss
    losses: dict[str, list[QueueLoss]] = defaultdict(list)
    for row in tuples(view.queue):
        device, t = str(row.device), float(row.t)
        before = depth[device]
        if isinstance(row.detail, dict) and "depth" in row.detail:
            depth[device] = int(row.detail["depth"])
        if row.op not in ("drop", "lost") or row.reason == "superseded":
            in_loss[device] = False
            continue
        reason = str(row.reason) if isinstance(row.reason, str) else str(row.op)
        mine = losses[device]
        if in_loss[device] and mine[-1].t == t:
            last = mine[-1]
            reasons = last.reasons if reason in last.reasons else (*last.reasons, reason)
            mine[-1] = QueueLoss(t, last.depth, last.count + 1, reasons)
        else:
            mine.append(QueueLoss(t, before, 1, (reason,)))
        in_loss[device] = True
    return dict(losses)


def frame_sizes(view: View) -> dict[str, tuple[list[float], list[float]]]:
    """Sizes of every frame sent, by frame type, with weights: 1 per frame, and for keep-alives
    (summed per connection) one entry per connection at the mean size, weighted by its count.
    The weights of all types add up to the `frames_sent` metric."""
    table: dict[str, tuple[list[float], list[float]]] = {}
    for frame_type, group in view.frames_sent.groupby("frame_type"):
        sizes = [float(b) for b in group["bytes"].dropna()]
        table[str(frame_type)] = (sizes, [1.0] * len(sizes))
    for detail in view.keepalive["detail"]:
        for frame_type, (count, nbytes) in (detail or {}).items():
            if count:
                sizes, weights = table.setdefault(str(frame_type), ([], []))
                sizes.append(nbytes / count)
                weights.append(float(count))
    return dict(sorted(table.items()))


def convergence_lags(view: View) -> tuple[list[float], int]:
    """The convergence lag of every converged write (seconds), and how many never converged:
    exactly what the `*_convergence_lag` and `unconverged_writes` metrics are computed from."""
    lags = convergence(view)
    return list(lags.lags), lags.unconverged


def bytes_per_write(view: View) -> list[WriteBytes]:
    """Wire bytes each user write cost (see `WriteBytes`), in write order.

    A device's frame names its write (`write_id`); the server's answer is every frame the
    server sent at the same instant it received that frame, before anything else happened on a
    device (the reference server answers a frame at once, so these rows follow it directly).
    """
    frame = view.frame
    wire = frame[
        (
            frame["kind"].isin([Kind.FRAME_SENT.value, Kind.FRAME_RECV.value])
            | (frame["device"] != SERVER)
        ).to_numpy(dtype=bool)
    ]
    at_server = (wire["device"] == SERVER).to_numpy(dtype=bool)
    kind = wire["kind"].to_numpy(dtype=object)
    received = at_server & (kind == Kind.FRAME_RECV.value)
    written = is_str(wire["write_id"])
    size = wire["bytes"].fillna(0).to_numpy(dtype=np.int64)
    ids = wire["write_id"].to_numpy(dtype=object)
    mine = (kind == Kind.FRAME_SENT.value) & ~at_server & written
    sent = _sums(ids[mine], size[mine])
    # The server answers a frame at once: what it sends at the instant it received a frame,
    # before anything else happens on a device, answers that frame.
    told = received | ~at_server
    last = np.maximum.accumulate(np.where(told, np.arange(len(wire)), -1))
    answer = at_server & (kind == Kind.FRAME_SENT.value) & (last >= 0)
    source = last[answer]
    times = wire["t"].to_numpy(dtype=float)
    linked = received[source] & written[source] & (times[answer] == times[source])
    answered = _sums(ids[source][linked], size[answer][linked])
    return [
        WriteBytes(
            str(w.write_id),
            str(w.device),
            str(w.op),
            float(w.t),
            sent[w.write_id],
            answered[w.write_id],
        )
        for w in tuples(view.writes)
    ]


def _sums(ids: np.ndarray, sizes: np.ndarray) -> Counter[str]:
    """Bytes summed by write id."""
    totals: Counter[str] = Counter()
    if len(ids):
        summed = pd.Series(sizes).groupby(ids).sum()
        totals.update({str(k): int(v) for k, v in zip(summed.index, summed.tolist(), strict=True)})
    return totals


def bytes_per_write_by_type(view: View) -> dict[str, float]:
    """Bytes of every frame sent but keep-alives, by frame type, divided by the number of user
    writes: what one logical change costs on average, split by what carried it. The values add
    up to the `bytes_per_change` metric."""
    writes = len(view.writes)
    if not writes:
        return {}
    sent = view.frames_sent
    totals = sent.groupby("frame_type")["bytes"].sum()
    return {str(k): float(v) / writes for k, v in sorted(totals.items())}


def keepalive_bytes(view: View) -> float:
    """Bytes of every keep-alive frame (PING, PONG) sent by either side."""
    return float(
        sum(nbytes for detail in view.keepalive["detail"] for _, nbytes in (detail or {}).values())
    )


def anomaly_causes(findings: Iterable[Finding]) -> dict[str, dict[str, int]]:
    """Finding counts by anomaly and, within each, by the cause named."""
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for finding in findings:
        table[finding.anomaly.value][finding.cause or NO_CAUSE] += 1
    return {anomaly: dict(causes.most_common()) for anomaly, causes in table.items()}


def anomaly_marks(findings: Iterable[Finding], end: float) -> list[tuple[str, str, float, bool]]:
    """Where to mark each finding on a timeline: (device or `server`, anomaly, true time,
    found_at_end). A finding with no time of its own is placed at its writes' times, or, when
    it names none, at `end` (found in the final snapshots) with `found_at_end` set."""
    marks: list[tuple[str, str, float, bool]] = []
    for finding in findings:
        if finding.t is not None:
            times, at_end = [finding.t], False
        elif finding.writes:
            times, at_end = sorted({w.t for w in finding.writes}), False
        else:
            times, at_end = [end], True
        for device in finding.devices or (SERVER,):
            marks.extend((device, finding.anomaly.value, t, at_end) for t in times)
    return marks
