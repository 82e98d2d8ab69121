"""Where a client keeps mutations it has not yet delivered: two models, one interface.

`MemoryQueue` is the real client today (`legacy`): one item per entity (a newer change replaces
an older one), at most `cap` items (the oldest goes first when full), items older than
`max_age` dropped when the queue drains, an item gone as soon as it is sent, and everything
lost on reload.

`PersistedOutbox` is the seed's plan (`ws_outbox_v1`): items live in localStorage with a
`messageId`, `attempts`, `lastAttempt` and `maxRetries`. Draining sends the items that are due;
an item stays until the server acknowledges its messageId, and is sent again after an
exponential backoff with seeded jitter. An item past its retention or out of retries is
dropped. Every drop is returned to the caller, so the client can report it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from simulator.protocol.codec import Frame
from simulator.protocol.storage import LocalStorage


@dataclass(frozen=True)
class OutboxItem:
    message_id: str
    write_id: str
    entity_type: str
    entity_id: str
    frame: Frame
    queued_at: float
    fingerprint: str | None = None
    attempts: int = 0
    last_attempt: float | None = None
    next_attempt: float | None = None
    max_retries: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return (self.entity_type, self.entity_id)


@dataclass(frozen=True)
class Dropped:
    item: OutboxItem
    reason: str  # superseded, cap, expired, retries


class MemoryQueue:
    persisted = False

    def __init__(self, cap: int, max_age_s: float) -> None:
        self.cap = cap
        self.max_age_s = max_age_s
        self._items: dict[tuple[str, str], OutboxItem] = {}

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[OutboxItem]:
        return list(self._items.values())

    def put(self, item: OutboxItem) -> list[Dropped]:
        """Queue a change; returns what it pushed out (a superseded item or the oldest)."""
        dropped = []
        if item.key in self._items:
            dropped.append(Dropped(self._items.pop(item.key), "superseded"))
        elif len(self._items) >= self.cap:
            oldest = next(iter(self._items))
            dropped.append(Dropped(self._items.pop(oldest), "cap"))
        self._items[item.key] = item
        return dropped

    def drain(self, now: float) -> tuple[list[OutboxItem], list[Dropped]]:
        """Empty the queue: items still fresh to send, and those expired by age."""
        fresh, expired = [], []
        for item in self._items.values():
            if now - item.queued_at > self.max_age_s:
                expired.append(Dropped(item, "expired"))
            else:
                fresh.append(item)
        self._items.clear()
        return fresh, expired

    def ack(self, message_id: str) -> OutboxItem | None:
        return None

    def hold(self, message_id: str, until: float) -> None:
        """Nothing to hold: a sent item is gone from the queue."""

    def next_due(self) -> float | None:
        return None

    def lose(self) -> list[OutboxItem]:
        """A reload: memory is gone, and the queue with it."""
        lost = list(self._items.values())
        self._items.clear()
        return lost


class PersistedOutbox:
    persisted = True

    def __init__(
        self,
        storage: LocalStorage,
        cap: int,
        retention_s: float,
        max_retries: int,
        backoff_first_s: float,
        backoff_max_s: float,
        rng: random.Random,
    ) -> None:
        self.storage = storage
        self.cap = cap
        self.retention_s = retention_s
        self.max_retries = max_retries
        self.backoff_first_s = backoff_first_s
        self.backoff_max_s = backoff_max_s
        self._rng = rng

    @property
    def _items(self) -> dict[str, OutboxItem]:
        return self.storage.outbox

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[OutboxItem]:
        return list(self._items.values())

    def _set(self, item: OutboxItem) -> None:
        self._items[item.message_id] = item
        self.storage.account("outbox", item.message_id, item.frame.encode())

    def _remove(self, message_id: str) -> OutboxItem | None:
        self.storage.account("outbox", message_id, None)
        return self._items.pop(message_id, None)

    def changes_to_put(
        self, message_id: str, key: tuple[str, str], frame: Frame
    ) -> list[tuple[str, str, object | None]]:
        """What `put` of this item would write to localStorage, as (area, key, value or
        None when removed): what it supersedes or pushes out goes, the item comes."""
        gone = [m for m, other in self._items.items() if other.key == key]
        if not gone and len(self._items) >= self.cap:
            gone = [next(iter(self._items))]
        changes: list[tuple[str, str, object | None]] = [("outbox", m, None) for m in gone]
        return [*changes, ("outbox", message_id, frame.encode())]

    def put(self, item: OutboxItem) -> list[Dropped]:
        dropped = []
        for other in list(self._items.values()):
            if other.key == item.key:
                self._remove(other.message_id)
                dropped.append(Dropped(other, "superseded"))
        if not dropped and len(self._items) >= self.cap:
            oldest = self._remove(next(iter(self._items)))
            assert oldest is not None
            dropped.append(Dropped(oldest, "cap"))
        self._set(replace(item, max_retries=self.max_retries))
        return dropped

    def _backoff(self, attempts: int) -> float:
        delay = min(self.backoff_first_s * 2.0 ** (attempts - 1), self.backoff_max_s)
        return float(delay * (1.0 + 0.25 * self._rng.random()))

    def drain(self, now: float) -> tuple[list[OutboxItem], list[Dropped]]:
        """Items due now, marked as attempted (they stay until acked), and items dropped."""
        due, dropped = [], []
        for item in list(self._items.values()):
            if now - item.queued_at > self.retention_s:
                self._remove(item.message_id)
                dropped.append(Dropped(item, "expired"))
            elif item.next_attempt is not None and now < item.next_attempt:
                continue
            elif item.attempts >= item.max_retries:
                self._remove(item.message_id)
                dropped.append(Dropped(item, "retries"))
            else:
                attempts = item.attempts + 1
                sent = replace(
                    item,
                    attempts=attempts,
                    last_attempt=now,
                    next_attempt=now + self._backoff(attempts),
                )
                self._set(sent)
                due.append(sent)
        return due, dropped

    def ack(self, message_id: str) -> OutboxItem | None:
        return self._remove(message_id)

    def hold(self, message_id: str, until: float) -> None:
        """No resend of this item before `until`: it is on its way to the server, or there,
        and may still be answered."""
        item = self._items.get(message_id)
        if item is not None and item.next_attempt is not None and item.next_attempt < until:
            self._set(replace(item, next_attempt=until))

    def next_due(self) -> float | None:
        """The next resend, or the next item past its retention (dropped then, not at
        whatever wakes the client next)."""
        times = [i.next_attempt for i in self._items.values() if i.next_attempt is not None]
        times += [self._expires(i) for i in self._items.values()]
        return min(times, default=None)

    def _expires(self, item: OutboxItem) -> float:
        """A moment past the item's retention (an item exactly that old is kept): a
        microsecond, the history's resolution, so `now - queued_at` is past it in floats."""
        return item.queued_at + self.retention_s + 1e-6

    def lose(self) -> list[OutboxItem]:
        """A reload: the outbox is in localStorage, so nothing is lost."""
        return []


Outbox = MemoryQueue | PersistedOutbox
