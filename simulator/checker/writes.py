"""Judging each entity's last write: lost_write, refused_write, lost_update, lww_violation,
resurrection.

For every entity, the write the user made last in true time is what a correct system ends
with. If the server's final snapshot holds something else, the checker asks why:
- the server answered the last write's last send with ERROR: refused_write, with its text;
- the last write never reached the server: lost_write, with the cause the device observed
  (queue expiry, queue cap, outbox lost on reload, frame lost in flight, never sent);
- it reached the server but an earlier write won, and that earlier write carried a later
  device `updatedAt`: the rule was followed and a wrong clock cost the edit, lost_update;
- it reached the server and an earlier write with an older `updatedAt` won: the system broke
  its own rule, lww_violation.
A last write that is a delete, with the item live on the server or on a device, is a
resurrection.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from simulator.checker.findings import Finding
from simulator.checker.names import Anomaly
from simulator.checker.refusals import Refusal, refusals
from simulator.checker.view import KEY, Held, Key, View, equal, same_text, tuples
from simulator.history import NOT_SENT, SERVER, Kind
from simulator.protocol.timefmt import parse_iso_z

_QUEUE_CAUSES = {
    "expired": "dropped from the offline queue: older than its retention",
    "cap": "dropped from the offline queue: queue full",
    "reload": "outbox lost on reload",
    "wipe": "outbox lost when storage was wiped",
    "retries": "dropped from the outbox after its retries ran out",
}


class WriteJudge:
    def __init__(self, view: View) -> None:
        self.view = view
        self.rule = str(view.meta.get("profile", {}).get("lww", "updated_at"))
        self.refused = refusals(view)

    def failed_writes(self) -> list[Finding]:
        """Writes localStorage refused (quota), unless a later write to the item superseded."""
        failed = self.view.rows(Kind.WRITE_FAILED)
        if failed.empty:
            return []
        last = self.view.writes.groupby(KEY)["t"].max().to_dict()
        found = []
        for row in tuples(failed):
            if last.get((row.user, row.entity_type, row.entity_id), -1.0) > row.t:
                continue
            found.append(
                Finding(
                    Anomaly.LOST_WRITE,
                    f"{row.op} of {row.entity_id} on {row.device} failed locally: {row.reason}",
                    user=row.user,
                    entity_type=row.entity_type,
                    entity_id=row.entity_id,
                    devices=(row.device,),
                    cause=f"quota: {row.reason}",
                    t=float(row.t),
                    rows=(int(row.Index),),
                )
            )
        return found

    def findings(self) -> list[Finding]:
        """Each item's last write, judged; only those the server does not plainly hold (and
        deletes, which may have come back) are looked at one by one, in item order."""
        found: list[Finding] = self.failed_writes()
        doubtful = _doubtful_last_writes(self.view)
        if doubtful.empty:
            return found
        self._index(doubtful)
        for last in tuples(doubtful):
            key = (last.user, last.entity_type, last.entity_id)
            finding = self._judge(key, last)
            if finding is not None:
                found.append(finding)
        return found

    def _index(self, doubtful: pd.DataFrame) -> None:
        """The lookups `_judge` needs, over the rows of the doubtful items only: their writes
        (the winner of a lost item is one of them), and those writes' frames and queue rows."""
        view = self.view
        items = set(
            zip(doubtful["user"], doubtful["entity_type"], doubtful["entity_id"], strict=True)
        )
        writes = view.writes[_of_items(view.writes, items)]
        self.by_fingerprint: dict[tuple[str, str, str, str], Any] = {
            (r.user, r.entity_type, r.entity_id, r.fingerprint): r
            for r in tuples(writes)
            if isinstance(r.fingerprint, str)
        }
        self.by_stamp: dict[tuple[str, str, str, str], Any] = {
            (r.user, r.entity_type, r.entity_id, r.updated_at): r
            for r in tuples(writes)
            if isinstance(r.updated_at, str)
        }
        ids = writes["write_id"]
        self.sent = _group_rows(_of_writes(view.frames_sent, ids), "write_id")
        # Only frames that left the device count as lost in flight; a frame refused for want of
        # an open connection was never sent at all.
        lost = _of_writes(view.frames_lost, ids)
        self.lost = _group_rows(lost[lost["reason"] != NOT_SENT], "write_id")
        self.unsent = _group_rows(lost[lost["reason"] == NOT_SENT], "write_id")
        self.queue = _group_rows(_of_writes(view.queue, ids), "write_id")
        applied = view.applied[_of_items(view.applied, items)]
        self.applied: dict[tuple[str, str, str, str | None], int] = {
            (r.user, r.entity_type, r.entity_id, r.fingerprint if r.op == "write" else None): int(
                r.Index
            )
            for r in tuples(applied)
        }

    def _judge(self, key: Key, last: Any) -> Finding | None:
        held = self.view.server.get(key)
        if last.op == "delete":
            return self._resurrection(key, last, held)
        if held is not None and held.holds(last.fingerprint, last.updated_at):
            return None
        refusal = self.refused.get(last.write_id)
        if refusal is not None and refusal.send_row == self.sent[last.write_id][-1].Index:
            return self._refused(key, last, refusal)
        if not self._delivered(key, last):
            return self._lost(key, last, held, self.cause(last.write_id))
        winner = None
        if held is not None and held.fingerprint is not None:
            winner = self.by_fingerprint.get((*key, held.fingerprint))
            if winner is None and isinstance(held.updated_at, str):
                winner = self.by_stamp.get((*key, held.updated_at))
        if held is None or not held.live or winner is None:
            what = "deleted by an older delete" if held is not None and not held.live else "missing"
            return self._lost(key, last, held, f"delivered, yet {what} on the server")
        return self._lost_to(key, last, winner, held)

    def _delivered(self, key: Key, write: Any) -> bool:
        if self.view.has_server_evidence:
            fingerprint = write.fingerprint if isinstance(write.fingerprint, str) else None
            return (*key, fingerprint) in self.applied
        sent = self.sent.get(write.write_id, [])
        return bool(sent) and len(self.lost.get(write.write_id, [])) < len(sent)

    def cause(self, write_id: str) -> str:
        for row in self.queue.get(write_id, []):
            reason = _QUEUE_CAUSES.get(str(row.reason))
            if row.op in {"drop", "lost"} and reason:
                return reason
        lost = self.lost.get(write_id)
        if lost:
            reason = str(lost[-1].reason)
            if reason == "crash":
                return "never sent: the page crashed before sending it"
            if reason in ("connection closed in flight", "None"):
                return "frame lost in flight when the connection dropped"
            return f"frame lost in flight: {reason}"
        if self.unsent.get(write_id) and not self.sent.get(write_id):
            return "never sent: no open connection"
        if not self.sent.get(write_id):
            return "never sent"
        return "never delivered"

    def _of_last(
        self, anomaly: Anomaly, key: Key, last: Any, summary: str, cause: str, rows: tuple[int, ...]
    ) -> Finding:
        """A finding about the item's last write, by the device that made it."""
        return Finding(
            anomaly,
            summary,
            user=key[0],
            entity_type=key[1],
            entity_id=key[2],
            devices=(last.device,),
            cause=cause,
            t=float(last.t),
            writes=(self.view.write_ref(last),),
            rows=rows,
        )

    def _lost(self, key: Key, last: Any, held: Held | None, cause: str) -> Finding:
        summary = f"{last.op} of {key[2]} on {last.device} is in no final server snapshot: {cause}"
        rows = self._evidence_rows(last.write_id, held)
        return self._of_last(Anomaly.LOST_WRITE, key, last, summary, cause, rows)

    def _refused(self, key: Key, last: Any, refusal: Refusal) -> Finding:
        cause = f"refused by the server: {refusal.error}"
        if refusal.linked_by != "messageId":
            cause += f" (ERROR linked by {refusal.linked_by})"
        summary = (
            f"{last.op} of {key[2]} on {last.device} was refused by the server: {refusal.error}"
        )
        rows = tuple(sorted({refusal.send_row, refusal.error_row, int(last.Index)}))
        return self._of_last(Anomaly.REFUSED_WRITE, key, last, summary, cause, rows)

    def _lost_to(self, key: Key, last: Any, winner: Any, held: Held) -> Finding:
        later_stamp = _stamp(winner.updated_at) > _stamp(last.updated_at)
        anomaly = Anomaly.LOST_UPDATE if later_stamp else Anomaly.LWW_VIOLATION
        if self.rule == "version_first":
            # The server numbers versions by arrival, so its final value always has the highest
            # one: the rule was kept, and the later edit was still overwritten.
            anomaly = Anomaly.LOST_WRITE
            summary = (
                f"{winner.device}'s earlier edit of {key[2]} reached the server after "
                f"{last.device}'s later one and overwrote it"
            )
            cause = "overwritten by an older write that arrived later"
        elif later_stamp:
            summary = (
                f"{winner.device}'s earlier edit of {key[2]} beat {last.device}'s later one: "
                f"its clock stamped {winner.updated_at} against {last.updated_at}"
            )
            cause = "clock skew: the rule was followed"
        else:
            summary = (
                f"the server kept {winner.device}'s older value of {key[2]} "
                f"(updatedAt {winner.updated_at}) over {last.device}'s newer {last.updated_at}"
            )
            cause = "overwritten by an older write"
        return Finding(
            anomaly,
            summary,
            user=key[0],
            entity_type=key[1],
            entity_id=key[2],
            devices=tuple(sorted({last.device, winner.device})),
            cause=cause,
            t=float(last.t),
            writes=(self.view.write_ref(winner), self.view.write_ref(last)),
            rows=self._evidence_rows(last.write_id, held)
            + self._evidence_rows(winner.write_id, None),
        )

    def _resurrection(self, key: Key, last: Any, held: Held | None) -> Finding | None:
        holders = [d for d, snap in self.view.devices.items() if key in snap and snap[key].live]
        if held is not None and held.live:
            holders.insert(0, "server")
        if not holders:
            return None
        return Finding(
            Anomaly.RESURRECTION,
            f"{key[2]} was deleted on {last.device} yet is live at the end on {', '.join(holders)}",
            user=key[0],
            entity_type=key[1],
            entity_id=key[2],
            devices=tuple(holders),
            cause=None if self._delivered(key, last) else self.cause(last.write_id),
            t=float(last.t),
            writes=(self.view.write_ref(last),),
            rows=self._evidence_rows(last.write_id, held),
        )

    def _evidence_rows(self, write_id: str, held: Held | None) -> tuple[int, ...]:
        rows = [
            int(r.Index)
            for group in (self.sent, self.lost, self.queue)
            for r in group.get(write_id, [])
        ]
        if held is not None:
            rows.append(held.row)
        return tuple(sorted(rows))


def _doubtful_last_writes(view: View) -> pd.DataFrame:
    """Each item's last write in true time, in item order, unless it is no delete and the
    server's final snapshot holds it (by content, or failing that by stamp): those need no
    second look. Keeps the writes' row numbers as the index."""
    writes = view.writes.dropna(subset=KEY)
    last = writes.drop_duplicates(KEY, keep="last").sort_values(KEY, kind="stable")
    server = view.snapshot_items[view.snapshot_items["holder"] == SERVER]
    held = last[KEY].merge(server, how="left", on=KEY)
    live = held["live"].fillna(False).to_numpy(dtype=bool)
    holds = live & (
        equal(last["fingerprint"], held["fingerprint"])
        | same_text(last["updated_at"], held["updated_at"])
    )
    doubtful: pd.DataFrame = last[~holds | (last["op"] == "delete").to_numpy(dtype=bool)]
    return doubtful


def _of_items(frame: pd.DataFrame, items: set[tuple[str, str, str]]) -> np.ndarray:
    """Which rows are about one of these items (user, entity type, entity id)."""
    near = frame["entity_id"].isin({item[2] for item in items}).to_numpy(dtype=bool)
    exact = np.zeros(len(frame), dtype=bool)
    keys = zip(
        frame["user"][near], frame["entity_type"][near], frame["entity_id"][near], strict=True
    )
    exact[np.flatnonzero(near)] = [key in items for key in keys]
    return exact


def _of_writes(frame: pd.DataFrame, write_ids: pd.Series) -> pd.DataFrame:
    return frame[frame["write_id"].isin(write_ids.dropna())]


def _group_rows(frame: pd.DataFrame, column: str) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for row in tuples(frame):
        value = getattr(row, column)
        if isinstance(value, str):
            grouped.setdefault(value, []).append(row)
    return grouped


def _stamp(value: object) -> float:
    moment = parse_iso_z(value)
    return float("-inf") if moment is None else moment
