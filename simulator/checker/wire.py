"""What the devices saw on the wire, per connection: the index the server rules judge.

Only what syncsim's own side observed is used (frames its devices sent and received, what its
network lost, the final observer), so the rules work against a black-box endpoint. A rule may
only count on a frame's answer where the evidence is whole: a connection is *whole* when its
device's link neither loses, duplicates nor reorders frames, nothing on it was lost, and it
was still open when the run ended. There every frame the device sent reached the server once,
in order, and every frame the server sent came back, so a missing answer is the server's.

Answers pair with what they answer by order (PROTOCOL.md: an acknowledgement names neither the
messageId nor the entity, so a client can match it only by order on its connection): every
frame but PING gets exactly one SYNC_RESPONSE or ERROR, first in, first out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from simulator.checker.view import View, tuples
from simulator.history import RUN_ENDED, SERVER, Kind
from simulator.protocol.codec import FrameType
from simulator.protocol.kinds import MUTATIONS, kind_of_frame

# A frame sent this long (scenario seconds) before the run's last row may still be unanswered
# in a simulated run, which ends at a moment, not when the wire is quiet (a live run waits for
# quiet before it ends, see Live mode).
ANSWER_WAIT = 60.0
ANSWERS = frozenset({FrameType.SYNC_RESPONSE.value, FrameType.ERROR.value})
MUTATION_NAMES = frozenset(t.value for t in MUTATIONS)
APPLIED = "Mutation applied"
# By name, looked up where calling the enum for every frame cost a tenth of a check.
_FRAME_TYPES = {t.value: t for t in FrameType}
CAUGHT_UP = "Sync complete"


def detail(row: Any) -> dict[str, Any]:
    """A row's detail as a mapping (empty when it has none)."""
    value = row.detail
    return value if isinstance(value, dict) else {}


def number(row: Any, key: str) -> int | None:
    value = detail(row).get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass
class Pair:
    """A frame the device sent and the answer it got (None: none came)."""

    sent: Any
    answer: Any | None

    @property
    def applied(self) -> bool:
        """A mutation the server acknowledged as applied."""
        a = self.answer
        return (
            a is not None
            and self.sent.frame_type in MUTATION_NAMES
            and a.frame_type == FrameType.SYNC_RESPONSE.value
            and a.reason == APPLIED
        )


@dataclass
class Conn:
    conn_id: str
    device: str
    user: str
    up: list[Any] = field(default_factory=list)  # frames the device sent, keep-alives aside
    down: list[Any] = field(default_factory=list)  # frames it received
    lost: list[Any] = field(default_factory=list)
    opened: Any | None = None  # the CONNECT row: the connection was watched from its start
    ended: Any | None = None  # the DISCONNECT row
    keepalive: dict[str, list[int]] = field(default_factory=dict)
    whole: bool = False
    _pairs: list[Pair] | None = field(default=None, repr=False)

    @property
    def answers(self) -> list[Any]:
        return [r for r in self.down if r.frame_type in ANSWERS]

    def pairs(self) -> list[Pair]:
        """Each frame sent with its answer, by order (whole connections only). Paired once:
        the rows are all in by the time a rule asks."""
        if self._pairs is None:
            answers = self.answers
            self._pairs = [
                Pair(sent, answers[i] if i < len(answers) else None)
                for i, sent in enumerate(self.up)
            ]
        return self._pairs

    def first_down(self) -> Any | None:
        """The first frame the server sent on it, received or lost."""
        lost = [r for r in self.lost if r.op == "down"]
        candidates = [r for r in (*self.down[:1], *lost[:1]) if r is not None]
        return min(candidates, key=lambda r: (r.t, r.Index), default=None)


@dataclass(frozen=True)
class Change:
    """A change the server is known to have applied: acknowledged to its sender (paired by
    order, or naming its entity) or broadcast; `seq` and `at` (the server's time on the frame
    that told of it) where the frame carried them."""

    user: str
    conn: str
    message_id: str | None
    entity_type: str
    entity_id: str
    deleted: bool
    seq: int | None
    at: str | None
    known_at: float  # true time the first device learned of it
    fingerprint: str | None
    rows: tuple[int, ...]


class Wire:
    """Every connection's frames, whole or not, and the changes known to be applied."""

    def __init__(self, view: View) -> None:
        self.view = view
        self.meta = view.meta
        self.profile: dict[str, Any] = dict(view.meta.get("profile") or {})
        self.end = float(view.frame["t"].max()) if len(view.frame) else 0.0
        self.conns: dict[str, Conn] = {}
        self._received: dict[tuple[str, object], list[tuple[Conn, Any]]] | None = None
        self._index()
        # Where each messageId first left a device: a later frame under it is a retry.
        self.first_sent: dict[str, int] = {}
        for conn in self.conns.values():
            for row in conn.up:
                if isinstance(row.message_id, str):
                    index = self.first_sent.get(row.message_id, int(row.Index))
                    self.first_sent[row.message_id] = min(index, int(row.Index))
        self.changes = list(self._changes())
        # Each user's changes, in the order of `changes`: a catch-up or a snapshot is judged
        # against its own user's changes only, not by scanning every user's for each one.
        self.by_user: dict[str, list[Change]] = {}
        for change in self.changes:
            self.by_user.setdefault(change.user, []).append(change)

    def _conn(self, row: Any) -> Conn:
        conn = self.conns.get(row.conn)
        if conn is None:
            conn = self.conns[row.conn] = Conn(row.conn, row.device, row.user)
        return conn

    def _index(self) -> None:
        frame = self.view.frame
        wanted = {Kind.FRAME_SENT, Kind.FRAME_RECV, Kind.FRAME_LOST, Kind.DISCONNECT}
        wanted |= {Kind.KEEPALIVE, Kind.CONNECT}
        rows = frame[frame["kind"].isin([k.value for k in wanted]) & frame["conn"].notna()]
        for row in tuples(rows):
            if row.device == SERVER or row.conn == "rest":
                continue
            conn = self._conn(row)
            kind = row.kind
            if kind == Kind.FRAME_SENT.value:
                conn.up.append(row)
            elif kind == Kind.FRAME_RECV.value:
                conn.down.append(row)
            elif kind == Kind.FRAME_LOST.value:
                conn.lost.append(row)
            elif kind == Kind.DISCONNECT.value:
                conn.ended = row
            elif kind == Kind.CONNECT.value:
                conn.opened = row
            else:
                for name, (count, size) in detail(row).items():
                    tally = conn.keepalive.setdefault(name, [0, 0])
                    tally[0], tally[1] = tally[0] + count, tally[1] + size
        devices = self.meta.get("devices") or {}
        for conn in self.conns.values():
            faithful = bool((devices.get(conn.device) or {}).get("faithful_link", False))
            open_at_end = conn.ended is None or conn.ended.reason == RUN_ENDED
            conn.whole = faithful and open_at_end and not conn.lost

    def received(self, user: str, fingerprint: object) -> list[tuple[Conn, Any]]:
        """Every frame a connection of the user received carrying this content, by connection
        (in the order they were first seen), then in the order received."""
        if self._received is None:
            self._received = defaultdict(list)
            for conn in self.conns.values():
                for row in conn.down:
                    self._received[(conn.user, row.fingerprint)].append((conn, row))
        return self._received.get((user, fingerprint), [])

    def whole(self) -> Iterator[Conn]:
        return (c for c in self.conns.values() if c.whole)

    def retry(self, message_id: object, row: int) -> bool:
        """A mutation sent again under a messageId that left a device before (an outbox
        resend, a replay): with idempotency on, the server acknowledges it without applying
        it again, so it gets no new seq and no broadcast."""
        if self.profile.get("idempotency", "none") == "none" or not isinstance(message_id, str):
            return False
        return self.first_sent.get(message_id, row) < row

    def settled(self, row: Any) -> bool:
        """Whether an answer to a frame sent at this row must have come by the end."""
        return bool(row.t <= self.end - ANSWER_WAIT) or self.meta.get("mode") == "live"

    # -- what the server is known to have applied -------------------------------------

    def _changes(self) -> Iterator[Change]:
        """Acknowledged mutations (paired on whole connections) and broadcasts: every change
        the devices learned the server applied. An acknowledgement is `acked` (two rows)."""
        for conn in self.conns.values():
            if conn.whole:
                for pair in conn.pairs():
                    if pair.applied:
                        yield self._acked(conn, pair)
            for row in conn.down:
                if row.frame_type in MUTATION_NAMES and row.entity_id is not None:
                    yield self._broadcast(conn, row)

    def _acked(self, conn: Conn, pair: Pair) -> Change:
        """A mutation the device sent, told of by its acknowledgement. The acknowledgement of
        a retry is stamped when the retry came, not when the change was stored: its time
        says nothing of the row's."""
        assert pair.answer is not None
        seq = number(pair.answer, "last_seq")
        change = _change(conn, pair.sent, pair.answer, seq, pair.sent.message_id)
        if self.retry(pair.sent.message_id, int(pair.sent.Index)):
            return replace(change, at=None)
        return change

    def _broadcast(self, conn: Conn, row: Any) -> Change:
        """Another connection's mutation, told of by its broadcast."""
        return _change(conn, row, row, number(row, "seq"), None)

    def latest_before(self, user: str, moment: float) -> dict[str, Change]:
        """Each item's newest change (by seq, then by when it was learned) that the devices
        had learned of before `moment`."""
        latest: dict[str, Change] = {}
        for change in self.by_user.get(user, ()):
            if change.known_at < moment:
                held = latest.get(change.entity_id)
                if held is None or _newness(change) >= _newness(held):
                    latest[change.entity_id] = change
        return latest


def _newness(change: Change) -> tuple[int, float]:
    return change.seq or 0, change.known_at


def _change(conn: Conn, about: Any, told: Any, seq: int | None, message_id: object) -> Change:
    """A change from the frame `about` the item (the mutation sent, or the broadcast) and the
    frame `told` that said it was applied (its acknowledgement, or the broadcast itself)."""
    frame_type = _FRAME_TYPES[about.frame_type]
    owner = kind_of_frame(frame_type)
    assert owner is not None
    rows = (int(about.Index),) if about is told else (int(about.Index), int(told.Index))
    return Change(
        conn.user,
        conn.conn_id,
        message_id if isinstance(message_id, str) else None,
        owner.name,
        str(about.entity_id),
        frame_type in owner.deletes,
        seq,
        detail(told).get("at"),
        float(told.t),
        about.fingerprint if isinstance(about.fingerprint, str) else None,
        rows,
    )
