"""The server's rules from PROTOCOL.md, each a black-box check: judged only from what syncsim's
devices sent and received, what its network lost and what the final observer read, so they
hold a live endpoint to the protocol as they hold the reference server.

Each rule is an entry in `SERVER_RULES`: its name, the protocol's words it judges, which
profile flags it needs (a rule of the seed's plan is not asked of `legacy`), and its check. A
finding is a `protocol_violation` whose cause is the rule's name. A rule never guesses: where
the evidence is not whole (see `wire.py`), it does not judge, and says nothing.

Isolation ("a frame about one user's data never reaches another user's connection") is the
anomaly `leak`, judged in `rules.py`; it is not repeated here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from simulator.checker.findings import Finding
from simulator.checker.names import Anomaly
from simulator.checker.view import tuples
from simulator.checker.wire import (
    APPLIED,
    CAUGHT_UP,
    MUTATION_NAMES,
    Change,
    Conn,
    Pair,
    Wire,
    detail,
    number,
)
from simulator.history import NOT_A_FRAME, Kind
from simulator.protocol.changes import validate
from simulator.protocol.codec import BULKS, BadFrame, FrameType, decode
from simulator.protocol.entities import Invalid, check_frame_fields
from simulator.protocol.kinds import DELETES, KINDS, MUTATIONS
from simulator.protocol.timefmt import parse_iso_z

# A time cursor is judged with this much room (seconds): a server may stamp a row a moment
# before the frame that tells of it.
TIME_MARGIN = 1.0
DAY = 86_400.0
# What a server following the protocol answers to each kind of credentials a `connect` step
# presents (101: the upgrade goes ahead).
EXPECTED_STATUS = {
    "valid": 101,
    "no_token": 400,
    "no_user": 400,
    "bad_signature": 401,
    "expired": 401,
    "other_user": 403,
}
_DELETES = frozenset(t.value for t in DELETES)

Check = Callable[[Wire], Iterator[Finding]]
Flags = Mapping[str, Any]


@dataclass(frozen=True)
class ServerRule:
    name: str
    says: str  # PROTOCOL.md's words
    check: Check
    applies: Callable[[Flags], bool] = lambda flags: True


def _violation(
    rule: str,
    summary: str,
    *,
    user: str | None = None,
    entity: tuple[str, str] | None = None,
    devices: tuple[str, ...] = (),
    t: float | None = None,
    rows: tuple[int, ...] = (),
) -> Finding:
    return Finding(
        Anomaly.PROTOCOL_VIOLATION,
        summary,
        user=user,
        entity_type=None if entity is None else entity[0],
        entity_id=None if entity is None else entity[1],
        devices=devices,
        cause=rule,
        t=t,
        rows=tuple(sorted(set(rows))),
    )


def _on(conn: Conn, rule: str, summary: str, rows: tuple[int, ...], t: float) -> Finding:
    return _violation(rule, summary, user=conn.user, devices=(conn.device,), t=t, rows=rows)


# -- connection -------------------------------------------------------------------------


def _auth(wire: Wire) -> Iterator[Finding]:
    for row in tuples(wire.view.rows(Kind.HANDSHAKE)):
        status, expected = number(row, "status"), EXPECTED_STATUS.get(str(row.op))
        if status is None or expected is None or status == expected:
            continue
        yield _violation(
            "auth",
            f"{row.device} opened a connection with {row.op} credentials and got HTTP "
            f"{status}; the protocol answers {expected}",
            user=row.user,
            devices=(row.device,),
            t=float(row.t),
            rows=(int(row.Index),),
        )


def _welcome(wire: Wire) -> Iterator[Finding]:
    for conn in wire.conns.values():
        if conn.opened is None:
            continue  # not watched from its start: its first frame is not known
        first = conn.first_down()
        if first is not None and first.frame_type != FrameType.WELCOME.value:
            summary = f"the first frame on {conn.conn_id} was {first.frame_type}, not WELCOME"
            yield _on(conn, "welcome", summary, (int(first.Index),), float(first.t))


def _frame_shape(wire: Wire) -> Iterator[Finding]:
    for conn in wire.conns.values():
        for row in conn.down:
            if row.frame_type == NOT_A_FRAME:
                summary = f"{conn.conn_id} received text that is no frame: {row.reason}"
            elif "data_in_control" in detail(row):
                carried = ", ".join(detail(row)["data_in_control"])
                summary = f"a {row.frame_type} on {conn.conn_id} carries data: {carried}"
            else:
                continue
            yield _on(conn, "frame_shape", summary, (int(row.Index),), float(row.t))


def _pong(wire: Wire) -> Iterator[Finding]:
    for conn in wire.whole():
        pings = conn.keepalive.get("PING", [0, 0])[0]
        pongs = conn.keepalive.get("PONG", [0, 0])[0]
        if pongs < pings - 1:  # the last PING may still be on its way when the run ends
            summary = f"{conn.conn_id} sent {pings} PINGs and got {pongs} PONGs"
            t = float(conn.ended.t) if conn.ended is not None else wire.end
            yield _on(conn, "pong", summary, (), t)


# -- mutations ----------------------------------------------------------------------------


def _expected_answer(sent: Any) -> str:
    """What a frame of this type is answered with: an ack, a catch-up's end, or an ERROR."""
    if sent.frame_type in MUTATION_NAMES:
        return APPLIED
    if sent.frame_type == FrameType.SYNC_REQUEST.value:
        return CAUGHT_UP
    return FrameType.ERROR.value


def _answered(wire: Wire) -> Iterator[Finding]:
    for conn in wire.whole():
        pairs = conn.pairs()
        for pair in pairs:
            problem = _answer_problem(wire, pair)
            if problem is not None:
                rows = (int(pair.sent.Index),) + (
                    () if pair.answer is None else (int(pair.answer.Index),)
                )
                yield _on(conn, "answered", problem, rows, float(pair.sent.t))
        extra = conn.answers[len(pairs) :]
        if extra:
            summary = f"{conn.conn_id} got {len(extra)} answer(s) to nothing it sent"
            yield _on(conn, "answered", summary, (int(extra[0].Index),), float(extra[0].t))


def _answer_problem(wire: Wire, pair: Pair) -> str | None:
    sent, answer = pair.sent, pair.answer
    what = f"{sent.frame_type} sent on {sent.conn}"
    if answer is None:
        return f"{what} got no answer" if wire.settled(sent) else None
    expected = _expected_answer(sent)
    if answer.frame_type == FrameType.ERROR.value:
        return None  # a refusal is an answer; whether it was right is `validation`'s
    if expected == FrameType.ERROR.value or answer.reason != expected:
        return f"{what} was answered {answer.frame_type} {answer.reason!r}, not {expected!r}"
    if number(answer, "last_seq") is None:
        return f"{what} was answered without a lastSeq"
    return None


def _broadcast(wire: Wire) -> Iterator[Finding]:
    """Every applied mutation reaches each other whole connection of its user that had its
    WELCOME before the mutation was sent."""
    acked = [c for c in wire.changes if len(c.rows) == 2]
    times = wire.view.frame["t"].to_numpy()
    whole = [(conn, conn.first_down(), _last_told(conn)) for conn in wire.whole()]
    for change in sorted(acked, key=lambda c: c.rows):
        if wire.retry(change.message_id, change.rows[0]):
            continue
        sent_at = float(times[change.rows[0]])
        for conn, welcome, last_told in whole:
            if conn.user != change.user or conn.conn_id == change.conn:
                continue
            if welcome is None or welcome.t >= sent_at:
                continue
            if last_told.get(change.entity_id, float("-inf")) < sent_at:
                summary = (
                    f"{conn.conn_id} never heard of the change to {change.entity_id} "
                    f"acknowledged on {change.conn}"
                )
                yield _violation(
                    "broadcast",
                    summary,
                    user=change.user,
                    entity=(change.entity_type, change.entity_id),
                    devices=(conn.device,),
                    t=sent_at,
                    rows=change.rows,
                )


def _last_told(conn: Conn) -> dict[object, float]:
    """When the connection last heard of each item by a mutation frame: it heard of a change
    sent at `t` if and only if this is at or after `t`."""
    last: dict[object, float] = {}
    for row in conn.down:
        if row.frame_type in MUTATION_NAMES:
            last[row.entity_id] = max(float(row.t), last.get(row.entity_id, float("-inf")))
    return last


def _refused_unchanged(wire: Wire) -> Iterator[Finding]:
    """A refused mutation is neither broadcast nor stored."""
    for conn in wire.whole():
        for pair in conn.pairs():
            sent, answer = pair.sent, pair.answer
            if answer is None or answer.frame_type != FrameType.ERROR.value:
                continue
            if sent.frame_type not in MUTATION_NAMES or not isinstance(sent.fingerprint, str):
                continue
            key = (conn.user, str(sent.entity_type), str(sent.entity_id))
            held = wire.view.server.get(key)
            spread = [
                r
                for other, r in wire.received(conn.user, sent.fingerprint)
                if other is not conn and r.t >= sent.t
            ]
            if spread or (held is not None and held.live and held.fingerprint == sent.fingerprint):
                where = "broadcast" if spread else "stored"
                summary = f"{sent.frame_type} of {sent.entity_id} was refused, yet {where}"
                rows = (int(sent.Index), int(answer.Index), *(int(r.Index) for r in spread[:3]))
                yield _on(conn, "refused_unchanged", summary, rows, float(sent.t))


def _frame_refusal(text: str) -> str | None:
    """Why the protocol refuses this text as a frame from a client, or None."""
    frame = decode(text)
    if isinstance(frame, BadFrame):
        return frame.reason
    try:
        check_frame_fields(frame.fields)
        if frame.type in MUTATIONS:
            validate(frame)
        elif frame.type not in (FrameType.SYNC_REQUEST, FrameType.PING):
            return f"{frame.type.value} is not a frame a client sends"
    except Invalid as error:
        return str(error)
    return None


def _validation(wire: Wire) -> Iterator[Finding]:
    """A frame a step sent is refused exactly when the protocol's data rules refuse it."""
    for conn in wire.whole():
        for pair in conn.pairs():
            text = detail(pair.sent).get("text")
            if not isinstance(text, str) or pair.answer is None:
                continue
            why = _frame_refusal(text)
            refused = pair.answer.frame_type == FrameType.ERROR.value
            if why is not None and not refused:
                summary = f"the server took a frame the protocol refuses ({why})"
            elif why is None and refused:
                summary = f"the server refused a valid frame: {pair.answer.reason}"
            else:
                continue
            rows = (int(pair.sent.Index), int(pair.answer.Index))
            yield _on(conn, "validation", summary, rows, float(pair.sent.t))


# -- the counter and the versions -------------------------------------------------------


def _seq_order(wire: Wire) -> Iterator[Finding]:
    """Seqs come from a counter that only goes up: an acknowledged change gets a seq above
    every seq its device had seen when it sent it, and broadcasts on a connection rise."""
    for conn in wire.whole():
        highest, last_broadcast = 0, 0
        answers = {p.sent.Index: p for p in conn.pairs()}
        received = {r.Index for r in conn.down}
        for row in sorted((*conn.up, *conn.down), key=lambda r: (r.t, r.Index)):
            pair = answers.get(row.Index)
            if pair is not None and pair.applied and not wire.retry(row.message_id, row.Index):
                seq = number(pair.answer, "last_seq")
                if seq is not None and seq <= highest:
                    summary = (
                        f"{row.frame_type} of {row.entity_id} was acknowledged with seq {seq}, "
                        f"after {conn.device} had seen seq {highest}"
                    )
                    rows = (int(row.Index), int(pair.answer.Index))  # type: ignore[union-attr]
                    yield _on(conn, "seq_order", summary, rows, float(row.t))
            if row.Index not in received:
                continue
            seq = number(row, "seq")
            if seq is not None and row.frame_type in MUTATION_NAMES:
                if seq <= last_broadcast:
                    summary = f"a broadcast on {conn.conn_id} had seq {seq} after {last_broadcast}"
                    yield _on(conn, "seq_order", summary, (int(row.Index),), float(row.t))
                last_broadcast = max(last_broadcast, seq)
            highest = max(highest, seq or 0, number(row, "last_seq") or 0)


def _version_order(wire: Wire) -> Iterator[Finding]:
    """Versions go up on every write: on a connection, what it hears of an item's versions
    rises, and the first write of a new item is version 1."""
    first_sent: dict[str, int] = {}
    for every in wire.conns.values():
        for r in every.up:
            first_sent.setdefault(str(r.entity_id), int(r.Index))
            first_sent[str(r.entity_id)] = min(first_sent[str(r.entity_id)], int(r.Index))
    for conn in wire.whole():
        known: dict[str, int] = {}
        for pair in conn.pairs():
            if not pair.applied or wire.retry(pair.sent.message_id, pair.sent.Index):
                continue
            version = number(pair.answer, "version")
            first = pair.sent.frame_type in (FrameType.ENTRY_CREATED, FrameType.PIECE_ADDED)
            new = first_sent.get(str(pair.sent.entity_id)) == pair.sent.Index
            if version is not None and first and new and version != 1:
                summary = f"the first write of {pair.sent.entity_id} got version {version}"
                yield _on(conn, "version_order", summary, (int(pair.sent.Index),), pair.sent.t)
        for row in conn.down:
            version = number(row, "version")
            if version is None or row.frame_type not in MUTATION_NAMES:
                continue
            before = known.get(str(row.entity_id))
            if before is not None and version <= before:
                summary = f"{row.entity_id} came back at version {version} after {before}"
                yield _on(conn, "version_order", summary, (int(row.Index),), float(row.t))
            known[str(row.entity_id)] = max(version, before or 0)


# -- catch-up ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CatchUp:
    conn: Conn
    request: Any
    end: Any
    frames: tuple[Any, ...]  # what came between, bulk pages and delete frames among them

    @property
    def delivered(self) -> set[str]:
        ids: set[str] = set()
        for row in self.frames:
            if row.frame_type in BULKS:
                ids.update(str(i) for i in detail(row).get("ids", []) if i is not None)
            elif row.frame_type in _DELETES and row.entity_id is not None:
                ids.add(str(row.entity_id))
        return ids


def _catch_ups(wire: Wire) -> Iterator[CatchUp]:
    """Each catch-up on a whole connection: what came after the answer before its own (the
    server answers in order) and before its own end."""
    for conn in wire.whole():
        after = -1
        for pair in conn.pairs():
            if pair.answer is None:
                break
            start, end = pair.sent, pair.answer
            if start.frame_type == FrameType.SYNC_REQUEST.value and end.reason == CAUGHT_UP:
                between = tuple(r for r in conn.down if after < r.Index < end.Index)
                yield CatchUp(conn, start, end, between)
            after = int(end.Index)


def _since(wire: Wire, catch_up: CatchUp) -> Callable[[Change], bool]:
    """Which changes the request's cursor asks for: by lastSeq when positive, else by
    lastSyncTime, else (a cursor missing, in the future or unreadable) the default window."""
    last_seq = number(catch_up.request, "last_seq")
    if last_seq is not None and last_seq > 0:
        return lambda c: c.seq is not None and c.seq > last_seq
    now = parse_iso_z(detail(catch_up.end).get("at"))
    cursor = parse_iso_z(detail(catch_up.request).get("last_sync_time"))
    if cursor is None or now is None or cursor > now:
        window = float(wire.profile.get("window_days", 7)) * DAY
        cursor = None if now is None else now - window
    if cursor is None:
        return lambda c: False
    bound = cursor + TIME_MARGIN
    return lambda c: (parse_iso_z(c.at) or float("-inf")) > bound


def _sent_kinds(wire: Wire) -> set[str]:
    kinds = {KINDS[0].name}
    if wire.profile.get("repertoire_bulk"):
        kinds.add(KINDS[1].name)
    return kinds


def _catch_up(wire: Wire) -> Iterator[Finding]:
    """A catch-up returns every change since the cursor it was asked for."""
    kinds = _sent_kinds(wire)
    for catch_up in _catch_ups(wire):
        asked = _since(wire, catch_up)
        before = [
            c
            for c in wire.by_user.get(catch_up.conn.user, ())
            if c.entity_type in kinds and c.known_at < catch_up.request.t and asked(c)
        ]
        missing = sorted({c.entity_id for c in before} - catch_up.delivered)
        if missing:
            summary = (
                f"a catch-up on {catch_up.conn.conn_id} left out {len(missing)} changed "
                f"item(s) it was asked for: {', '.join(missing[:5])}"
            )
            told = tuple(r for c in before if c.entity_id in missing for r in c.rows)[:10]
            rows = (int(catch_up.request.Index), int(catch_up.end.Index), *told)
            yield _on(catch_up.conn, "catch_up", summary, rows, float(catch_up.request.t))


def _catch_up_end(wire: Wire) -> Iterator[Finding]:
    """The catch-up ends with SYNC_RESPONSE carrying the highest lastSeq sent."""
    for catch_up in _catch_ups(wire):
        last = number(catch_up.end, "last_seq")
        pages = [number(r, "last_seq") for r in catch_up.frames if r.frame_type in BULKS]
        highest = max((p for p in pages if p is not None), default=0)
        if last is None or last < highest:
            said = "no lastSeq" if last is None else f"lastSeq {last}"
            summary = f"a catch-up on {catch_up.conn.conn_id} ended with {said}, after {highest}"
            rows = (int(catch_up.end.Index),)
            yield _on(catch_up.conn, "catch_up_end", summary, rows, float(catch_up.end.t))


def _catch_up_frames(wire: Wire) -> Iterator[Finding]:
    """Logbook rows in BULK_SYNC, repertoire rows in the profile's event (none in legacy),
    chunked by the profile's page size, deleted rows as delete frames."""
    chunk = int(wire.profile.get("bulk_chunk_size", 0) or 0)
    repertoire = str(wire.profile.get("repertoire_bulk_event", "REPERTOIRE_BULK_SYNC"))
    allowed = {FrameType.BULK_SYNC.value}
    if wire.profile.get("repertoire_bulk"):
        allowed.add(repertoire)
    for catch_up in _catch_ups(wire):
        pages = [r for r in catch_up.frames if r.frame_type in BULKS]
        problems = [f"a {r.frame_type} (the profile sends {sorted(allowed)})" for r in pages]
        problems = [p for p, r in zip(problems, pages, strict=True) if r.frame_type not in allowed]
        for frame_type in allowed:
            of_type = [r for r in pages if r.frame_type == frame_type]
            problems += _paging(frame_type, of_type, chunk)
        deleted = _deleted_before(wire, catch_up)
        shown_live = sorted(
            str(i)
            for r in pages
            for i in detail(r).get("ids", [])
            if i is not None and str(i) in deleted
        )
        if shown_live:
            problems.append(f"deleted item(s) sent live in a batch: {', '.join(shown_live[:5])}")
        for problem in problems:
            summary = f"a catch-up on {catch_up.conn.conn_id}: {problem}"
            rows = (int(catch_up.request.Index), *(int(r.Index) for r in pages[:5]))
            yield _on(catch_up.conn, "catch_up_frames", summary, rows, float(catch_up.end.t))


def _paging(frame_type: str, pages: list[Any], chunk: int) -> list[str]:
    if chunk <= 0:
        return [f"{len(pages)} {frame_type} frames where the profile sends one"] * (len(pages) > 1)
    problems = []
    numbers = [number(r, "page") for r in pages]
    if numbers != list(range(len(pages))):
        problems.append(f"{frame_type} pages numbered {numbers}, not 0, 1, 2 ...")
    big = [number(r, "items") or 0 for r in pages if (number(r, "items") or 0) > chunk]
    if big:
        problems.append(f"a {frame_type} page of {max(big)} items, over the page size {chunk}")
    return problems


def _deleted_before(wire: Wire, catch_up: CatchUp) -> set[str]:
    """Items whose last change known before the request is a delete."""
    latest = wire.latest_before(catch_up.conn.user, catch_up.request.t)
    return {entity_id for entity_id, c in latest.items() if c.deleted}


# -- idempotency, durability, REST ------------------------------------------------------


def _idempotent(wire: Wire) -> Iterator[Finding]:
    """A mutation already applied (the same messageId) is acknowledged again, not re-applied:
    every acknowledgement of one messageId carries the same seq."""
    acks: dict[str, list[Pair]] = defaultdict(list)
    for conn in wire.whole():
        for pair in conn.pairs():
            if pair.applied and isinstance(pair.sent.message_id, str):
                acks[pair.sent.message_id].append(pair)
    for message_id, pairs in acks.items():
        seqs = [number(p.answer, "last_seq") for p in pairs]
        if len(set(seqs)) > 1:
            first = pairs[0].sent
            summary = f"messageId {message_id} was applied {len(set(seqs))} times (seqs {seqs})"
            rows = tuple(int(p.answer.Index) for p in pairs if p.answer is not None)
            yield _violation(
                "idempotent",
                summary,
                user=first.user,
                entity=(str(first.entity_type), str(first.entity_id)),
                devices=(str(first.device),),
                t=float(first.t),
                rows=rows,
            )


def _pushed(wire: Wire) -> str:
    """Every REST push body a step sent, as one text: items it names were changed in ways
    no frame tells of, so the durability rule leaves them alone."""
    return " ".join(
        str(detail(r).get("text", "")) for r in tuples(wire.view.rows(Kind.REST)) if r.op == "push"
    )


def _durable(wire: Wire) -> Iterator[Finding]:
    """The server stores what it acknowledges: it never ends with an older known change of an
    item than the newest one it acknowledged, nor loses an acknowledged item no one deleted."""
    pushed = _pushed(wire)
    deletes_sent = {
        (conn.user, str(r.entity_id))
        for conn in wire.conns.values()
        for r in conn.up
        if r.frame_type in _DELETES
    }
    observed = {key[0] for key in wire.view.server} | _observed_users(wire)
    by_item: dict[tuple[str, str, str], list[Change]] = defaultdict(list)
    for c in wire.changes:
        if c.seq is not None and c.entity_id not in pushed and c.user in observed:
            by_item[(c.user, c.entity_type, c.entity_id)].append(c)
    for key, changes in by_item.items():
        newest = max(changes, key=lambda c: c.seq or 0)
        held = wire.view.server.get(key)
        if held is None or not held.live:
            if not newest.deleted and (key[0], key[2]) not in deletes_sent:
                summary = (
                    f"{key[2]} was acknowledged (seq {newest.seq}) and is gone, though no one "
                    "deleted it"
                )
                yield _violation(
                    "durable",
                    summary,
                    user=key[0],
                    entity=key[1:],
                    rows=newest.rows,
                    t=newest.known_at,
                )
            continue
        matching = [
            c for c in changes if c.fingerprint is not None and c.fingerprint == held.fingerprint
        ]
        if matching and max(c.seq or 0 for c in matching) < (newest.seq or 0):
            older = max(matching, key=lambda c: c.seq or 0)
            summary = (
                f"the server ended with {key[2]} as of seq {older.seq}, after acknowledging "
                f"seq {newest.seq}"
            )
            rows = (*older.rows, *newest.rows, held.row)
            yield _violation(
                "durable", summary, user=key[0], entity=key[1:], rows=rows, t=newest.known_at
            )


def _observed_users(wire: Wire) -> set[str]:
    """Users whose final server state was read (in a live run, by an observer that worked)."""
    rows = wire.view.rows(Kind.OBSERVER)
    if rows.empty:
        return set(wire.view.device_users.values())
    return {str(r.user) for r in tuples(rows) if detail(r).get("rest") or detail(r).get("catch_up")}


def _rest_pull(wire: Wire) -> Iterator[Finding]:
    """POST /api/sync/pull returns every live row of the user, and no deleted one."""
    for row in tuples(wire.view.rows(Kind.REST)):
        ids = detail(row).get("ids")
        asked = detail(row).get("asked")
        if row.op != "pull" or not isinstance(ids, dict) or not isinstance(asked, float | int):
            continue
        got = {str(i) for listed in ids.values() for i in listed}
        latest = wire.latest_before(str(row.user), float(asked))
        touched = {
            str(r.entity_id)
            for conn in wire.conns.values()
            if conn.user == row.user
            for r in conn.up
            if r.frame_type in MUTATION_NAMES and asked <= r.t <= row.t
        }
        missing = sorted(
            i for i, c in latest.items() if not c.deleted and i not in got and i not in touched
        )
        dead = sorted(i for i, c in latest.items() if c.deleted and i in got and i not in touched)
        for ids_, what in ((missing, "left out live item(s)"), (dead, "returned deleted item(s)")):
            if ids_:
                summary = f"a REST pull for {row.user} {what}: {', '.join(ids_[:5])}"
                yield _violation(
                    "rest_pull",
                    summary,
                    user=row.user,
                    devices=(row.device,),
                    t=float(row.t),
                    rows=(int(row.Index),),
                )


def _rest_push(wire: Wire) -> Iterator[Finding]:
    """POST /api/sync/push is idempotent under an X-Idempotency-Key: the same key, the same
    answer."""
    first: dict[tuple[str, str], Any] = {}
    for row in tuples(wire.view.rows(Kind.REST)):
        key = detail(row).get("key")
        if row.op != "push" or not isinstance(key, str) or detail(row).get("status") is None:
            continue
        answer = (detail(row).get("status"), detail(row).get("answer"))
        earlier = first.setdefault((str(row.user), key), (row, answer))
        if earlier[1] != answer:
            summary = (
                f"a repeated REST push under key {key!r} was answered {answer}, first {earlier[1]}"
            )
            rows = (int(earlier[0].Index), int(row.Index))
            yield _violation(
                "rest_push",
                summary,
                user=row.user,
                devices=(row.device,),
                t=float(row.t),
                rows=rows,
            )


def _stored_form(wire: Wire) -> Iterator[Finding]:
    """Unknown fields are dropped by the server: what it sends back holds none."""
    for conn in wire.conns.values():
        for row in conn.down:
            unknown = detail(row).get("unknown_fields")
            if unknown:
                summary = (
                    f"a {row.frame_type} on {conn.conn_id} holds fields the schema does not "
                    f"know: {', '.join(unknown)}"
                )
                yield _on(conn, "stored_form", summary, (int(row.Index),), float(row.t))


def _flag(name: str, off: object) -> Callable[[Flags], bool]:
    return lambda flags: flags.get(name, off) != off


# The rule registry: a new rule is an entry here (and a probe in scenarios/conformance/).
SERVER_RULES: tuple[ServerRule, ...] = (
    ServerRule(
        "auth",
        "Refusals are plain HTTP answers before the upgrade: 400 (userId or "
        "token missing), 401 (bad or expired token), 403 (sub differs from userId).",
        _auth,
    ),
    ServerRule("welcome", "On open the server sends WELCOME.", _welcome),
    ServerRule(
        "frame_shape",
        "Every frame is one JSON object in a text message, with type and "
        "timestamp (ISO 8601 in UTC with a literal Z); WELCOME and PONG carry no data.",
        _frame_shape,
    ),
    ServerRule("pong", "PING: keep-alive, answered by PONG.", _pong),
    ServerRule(
        "answered",
        "A mutation is acknowledged to its sender with SYNC_RESPONSE "
        '("Mutation applied", lastSeq = its seq); a SYNC_REQUEST ends with SYNC_RESPONSE; '
        "a refused frame gets ERROR.",
        _answered,
    ),
    ServerRule("broadcast", "A mutation is broadcast to the user's other connections.", _broadcast),
    ServerRule(
        "refused_unchanged",
        "ERROR: the last frame was refused (and nothing of it is stored or broadcast).",
        _refused_unchanged,
    ),
    ServerRule(
        "validation",
        "A frame that does not fit the data rules is refused with ERROR; a valid one is stored.",
        _validation,
    ),
    ServerRule("seq_order", "A seq drawn from a counter that only goes up.", _seq_order),
    ServerRule(
        "version_order",
        "A version that goes up by one on every write.",
        _version_order,
        _flag("version_in_broadcasts", False),
    ),
    ServerRule(
        "catch_up",
        "SYNC_REQUEST answers with the rows changed since the cursor: by "
        "lastSeq where given and positive, otherwise by lastSyncTime, otherwise the "
        "default window; a cursor in the future or unparseable falls back to the window.",
        _catch_up,
    ),
    ServerRule(
        "catch_up_end",
        "The catch-up ends with SYNC_RESPONSE carrying the highest lastSeq sent.",
        _catch_up_end,
    ),
    ServerRule(
        "catch_up_frames",
        "Deleted rows are sent as ENTRY_DELETED / PIECE_REMOVED. Logbook "
        "rows go in BULK_SYNC; repertoire rows in REPERTOIRE_BULK_SYNC (not sent at all in "
        "legacy). Frames are chunked (500 rows in proposed; one frame in legacy).",
        _catch_up_frames,
    ),
    ServerRule(
        "idempotent",
        "A mutation already applied (same messageId, or same deviceId + "
        "clientChangeId) is acknowledged again, not re-applied.",
        _idempotent,
        _flag("idempotency", "none"),
    ),
    ServerRule(
        "durable",
        "A mutation is validated, stored, acknowledged: every acknowledged row is kept.",
        _durable,
    ),
    ServerRule("rest_pull", "POST /api/sync/pull returns every live row of the user.", _rest_pull),
    ServerRule(
        "rest_push",
        "POST /api/sync/push writes changes, idempotent under an X-Idempotency-Key header.",
        _rest_push,
    ),
    ServerRule(
        "stored_form",
        "Unknown fields are dropped by the server; what it sends back is the stored form.",
        _stored_form,
    ),
)
RULES_BY_NAME = {rule.name: rule for rule in SERVER_RULES}


def violations(view: Any) -> list[Finding]:
    """Every server rule the profile asks for, judged on the history's wire."""
    wire = Wire(view)
    found: list[Finding] = []
    for rule in SERVER_RULES:
        if rule.applies(wire.profile):
            found.extend(rule.check(wire))
    return found
