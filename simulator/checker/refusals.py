"""Which write each ERROR refused.

An `ERROR` frame names the frame it refuses by `messageId` when the server echoes one (the
reference server does). Otherwise it is linked by order on its connection: the server answers
each mutation and each SYNC_REQUEST with one SYNC_RESPONSE (the ACK, or the end of a
catch-up) or one ERROR, in the order they arrived, and TCP keeps both directions in order. So
the answers on a connection are matched, first in first out, against the requests sent on it,
and an ERROR answers the request at the front. Where the front is a frame the server is known
to have taken (its own record of applying it, another device receiving it as a broadcast, or
the server holding it at the end), the answers are out of step; the ERROR then goes to the
first request not known to be taken, and the link says how many it skipped.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

from simulator.checker.view import View, is_str, tuples
from simulator.history import SERVER, Kind
from simulator.protocol.kinds import MUTATIONS

# What the server answers one for one: every mutation, and a catch-up request.
REQUESTS = frozenset({t.value for t in MUTATIONS} | {"SYNC_REQUEST"})
ANSWERS = frozenset({"SYNC_RESPONSE", "ERROR"})


@dataclass(frozen=True)
class Refusal:
    write_id: str
    error: str
    error_row: int  # the device's FRAME_RECV row of the ERROR
    send_row: int  # the FRAME_SENT row it refused
    linked_by: str  # "messageId", "order", or "order, skipping N the server took"


class _Evidence:
    """What shows the server took a frame, though its answer may not say so: read for the
    items the conversations with an ERROR sent frames about, the only ones it is asked of."""

    def __init__(self, view: View, items: set[str]) -> None:
        self.view = view
        applied = view.applied[view.applied["entity_id"].isin(items)]
        self.applied = set(
            zip(
                *(applied[c].tolist() for c in ("user", "entity_type", "entity_id", "fingerprint")),
                strict=True,
            )
        )
        received = view.rows(Kind.FRAME_RECV)
        received = received[
            received["fingerprint"].notna().to_numpy(dtype=bool)
            & (received["device"] != SERVER).to_numpy(dtype=bool)
            & received["entity_id"].isin(items).to_numpy(dtype=bool)
        ]
        self.echoed = set(
            zip(
                *(
                    received[c].tolist()
                    for c in ("device", "entity_type", "entity_id", "fingerprint")
                ),
                strict=True,
            )
        )

    def taken(self, send: Any) -> bool:
        item = (send.entity_type, send.entity_id, send.fingerprint)
        if (send.user, *item) in self.applied:
            return True
        if any((d, *item) in self.echoed for d in self.view.devices if d != send.device):
            return True
        held = self.view.server.get((send.user, send.entity_type, send.entity_id))
        return held is not None and held.live and held.fingerprint == send.fingerprint


def _conversations(view: View) -> dict[tuple[str, str], list[Any]]:
    """Per (device, connection) that got an ERROR, the requests it sent and the answers it
    got, in row order: only an ERROR refuses anything."""
    frame = view.of_kinds(Kind.FRAME_SENT, Kind.FRAME_RECV)
    frame = frame[is_str(frame["conn"]) & (frame["device"] != SERVER).to_numpy(dtype=bool)]
    sent = (frame["kind"] == Kind.FRAME_SENT.value) & frame["frame_type"].isin(REQUESTS)
    got = (frame["kind"] == Kind.FRAME_RECV.value) & frame["frame_type"].isin(ANSWERS)
    errors = frame[(got & (frame["frame_type"] == "ERROR")).to_numpy(dtype=bool)]
    refused = set(zip(errors["device"].tolist(), errors["conn"].tolist(), strict=True))
    talk: dict[tuple[str, str], list[Any]] = defaultdict(list)
    if not refused:
        return talk
    near = frame["conn"].isin({conn for _, conn in refused}).to_numpy(dtype=bool)
    for row in tuples(frame[(sent | got).to_numpy(dtype=bool) & near]):
        if (row.device, row.conn) in refused:
            talk[(row.device, row.conn)].append(row)
    return talk


def _pop(waiting: deque[Any], answer: Any, evidence: _Evidence) -> tuple[Any, str] | None:
    named = answer.message_id if isinstance(answer.message_id, str) else None
    if named is not None:
        for request in waiting:
            if request.message_id == named:
                waiting.remove(request)
                return request, "messageId"
    if not waiting:
        return None
    if answer.frame_type != "ERROR" or not evidence.taken(waiting[0]):
        return waiting.popleft(), "order"
    for skipped, request in enumerate(waiting):
        if request.frame_type != "SYNC_REQUEST" and not evidence.taken(request):
            waiting.remove(request)
            return request, f"order, skipping {skipped} the server took"
    return waiting.popleft(), "order"


def refusals(view: View) -> dict[str, Refusal]:
    """The latest refusal of each write a device sent, by write id."""
    conversations = _conversations(view)
    if not conversations:
        return {}
    items = {r.entity_id for rows in conversations.values() for r in rows}
    evidence = _Evidence(view, {i for i in items if isinstance(i, str)})
    found: dict[str, Refusal] = {}
    for _, rows in sorted(conversations.items()):
        waiting: deque[Any] = deque()
        for row in rows:
            if row.kind == Kind.FRAME_SENT.value:
                waiting.append(row)
                continue
            matched = _pop(waiting, row, evidence)
            if matched is None or row.frame_type != "ERROR":
                continue
            request, how = matched
            if isinstance(request.write_id, str):
                text = row.reason if isinstance(row.reason, str) else "(no reason given)"
                found[request.write_id] = Refusal(
                    request.write_id, text, int(row.Index), int(request.Index), how
                )
    return found
