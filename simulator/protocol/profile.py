"""Protocol profiles: named sets of behaviour flags, defined here and nowhere else.

A profile describes one version of the modelled sync system. `legacy` is the system as
`seed/SYNC_TODO.md` describes it today. Scenarios pick a profile by name and may override
single flags; `resolve` refuses names that do not exist.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import asdict, dataclass, fields, replace
from enum import StrEnum
from typing import Any

DAY = 86_400.0
HOUR = 3_600.0


class LwwRule(StrEnum):
    """How a client decides whether an incoming item replaces its local copy."""

    UPDATED_AT = "updated_at"  # later updatedAt wins
    VERSION_FIRST = "version_first"  # higher server version wins when both have one


class OutboxKind(StrEnum):
    MEMORY = "memory"  # lost on reload; an item leaves when sent
    PERSISTED = "persisted"  # ws_outbox_v1 in localStorage; an item leaves on its ACK


class Cursor(StrEnum):
    TIME = "time"  # lastSyncTime
    SEQ = "seq"  # lastSeq, the server's change counter


class Idempotency(StrEnum):
    NONE = "none"
    MESSAGE_ID = "message_id"  # the outbox item's messageId
    CLIENT_CHANGE = "client_change"  # (deviceId, clientChangeId)


class Backfill(StrEnum):
    OFF = "off"
    AUTO = "auto"  # REST pull when the cursor is missing or too old
    CONFIRM = "confirm"  # the same, once the user confirms


class Migrations(StrEnum):
    OFF = "off"
    UNGUARDED = "unguarded"  # run at every page load
    GUARDED = "guarded"  # run once, tracked in localStorage


EVENT_NAMES = ("REPERTOIRE_BULK_SYNC", "PIECE_BULK_SYNC")


@dataclass(frozen=True)
class Profile:
    """Every behaviour flag of the modelled client and server. Defaults are `legacy`."""

    name: str
    # -- server --
    # SYNC_REQUEST without a usable cursor answers with rows of the last N days.
    window_days: float = 7.0
    # Send repertoire rows in catch-up, under this event name.
    repertoire_bulk: bool = False
    repertoire_bulk_event: str = "REPERTOIRE_BULK_SYNC"
    # Rows per bulk frame; 0 sends one frame whatever its size.
    bulk_chunk_size: int = 0
    # Broadcasts, bulk items and ACKs carry the row's version.
    version_in_broadcasts: bool = False
    # The mutation ACK names the messageId it acknowledges; the client keeps items until then.
    acks: bool = False
    idempotency: Idempotency = Idempotency.NONE
    # -- client --
    outbox: OutboxKind = OutboxKind.MEMORY
    queue_cap: int = 200
    # Memory queue: items older than this are dropped when it drains. Persisted outbox:
    # retention, after which an unacknowledged item is dropped.
    queue_max_age_s: float = 48 * HOUR
    outbox_max_retries: int = 8
    outbox_backoff_first_s: float = 2.0
    outbox_backoff_max_s: float = 300.0
    # The bulk event name the client listens for (the seed's open question 1).
    client_repertoire_event: str = "REPERTOIRE_BULK_SYNC"
    # Repertoire bulk merge: normalize scoreId, dedupe, keep max(updatedAt, version).
    repertoire_bulk_merge: bool = False
    # New pieces get the normalized score id of PROTOCOL.md (else the old raw id).
    normalize_score_ids: bool = False
    lww: LwwRule = LwwRule.UPDATED_AT
    cursor: Cursor = Cursor.TIME
    # Keep deleted ids so a stale copy cannot bring an item back.
    client_tombstones: bool = False
    backfill: Backfill = Backfill.OFF
    backfill_after_days: float = 30.0
    migrations: Migrations = Migrations.UNGUARDED
    # SYNC_REQUEST on connect when the last sync is older than this.
    sync_request_min_age_s: float = 30.0
    ping_interval_s: float = 30.0
    # Reconnect backoff, doubling from the first delay up to the cap, then giving up until the
    # network comes back.
    reconnect_first_delay_s: float = 1.0
    reconnect_max_delay_s: float = 30.0
    reconnect_tries: int = 5

    def flags(self) -> dict[str, Any]:
        return {k: (v.value if isinstance(v, StrEnum) else v) for k, v in asdict(self).items()}


_LEGACY = Profile(name="legacy")
_PROPOSED = replace(
    _LEGACY,
    name="proposed",
    window_days=30.0,
    repertoire_bulk=True,
    bulk_chunk_size=500,
    version_in_broadcasts=True,
    acks=True,
    idempotency=Idempotency.MESSAGE_ID,
    outbox=OutboxKind.PERSISTED,
    queue_max_age_s=7 * DAY,
    repertoire_bulk_merge=True,
    normalize_score_ids=True,
    lww=LwwRule.VERSION_FIRST,
    backfill=Backfill.AUTO,
    migrations=Migrations.GUARDED,
)
_SEQ = replace(
    _PROPOSED,
    name="seq",
    cursor=Cursor.SEQ,
    client_tombstones=True,
    idempotency=Idempotency.CLIENT_CHANGE,
)

PROFILES: dict[str, Profile] = {p.name: p for p in (_LEGACY, _PROPOSED, _SEQ)}

FLAG_NAMES = frozenset(f.name for f in fields(Profile)) - {"name"}


class UnknownProfile(KeyError):
    """An unknown profile (`flag` None) or a bad flag override (`flag` names it)."""

    def __init__(self, message: str, flag: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.flag = flag


def resolve(name: str, overrides: dict[str, Any] | None = None) -> Profile:
    """The named profile with single flags overridden; unknown names raise `UnknownProfile`."""
    if name not in PROFILES:
        raise UnknownProfile(f"unknown profile {name!r}; known: {', '.join(sorted(PROFILES))}")
    overrides = overrides or {}
    unknown = sorted(set(overrides) - FLAG_NAMES)
    if unknown:
        known = ", ".join(sorted(FLAG_NAMES))
        close = difflib.get_close_matches(unknown[0], sorted(FLAG_NAMES), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownProfile(
            f"unknown profile flag {unknown[0]!r}{hint}; known: {known}", unknown[0]
        )
    base = PROFILES[name]
    profile = replace(base, **{k: _coerce(k, getattr(base, k), v) for k, v in overrides.items()})
    if profile.outbox is OutboxKind.PERSISTED and not profile.acks:
        # Items leave the persisted outbox only on an ACK naming their messageId: without
        # ACKs every write would be resent until its retries ran out.
        flag = "acks" if "acks" in overrides else "outbox"
        raise UnknownProfile("outbox 'persisted' needs acks: true (items leave only on ACK)", flag)
    return profile


MAX_FLAG = 10**9  # a numeric flag beyond this (days, counts, tries) would never end a run


def _coerce(flag: str, default: object, value: object) -> Any:
    """`value` in the type of the flag's default, or `UnknownProfile` saying what was wanted."""
    if flag in {"repertoire_bulk_event", "client_repertoire_event"}:
        if value not in EVENT_NAMES:
            raise UnknownProfile(
                f"flag {flag!r}: {value!r} is not one of {', '.join(EVENT_NAMES)}", flag
            )
        return value
    if isinstance(default, StrEnum):
        try:
            return type(default)(str(value))
        except ValueError:
            choices = ", ".join(m.value for m in type(default))
            raise UnknownProfile(
                f"flag {flag!r}: {value!r} is not one of {choices}", flag
            ) from None
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if abs(value) > MAX_FLAG or not math.isfinite(value):  # abs first: no overflow
            raise UnknownProfile(f"flag {flag!r}: must be a finite number of at most 10^9", flag)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, int) and value == int(value):
            return int(value)
    raise UnknownProfile(f"flag {flag!r}: expected {type(default).__name__}, got {value!r}", flag)
