"""The client's offline queue of mutations made while disconnected.

As the real client does today: one item per entity (a newer change replaces an older one),
at most `cap` items (the oldest goes first when full), and items older than `max_age` are
dropped when the queue is drained. Every drop is reported, so the checker can count it.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.protocol.frames import Frame


@dataclass(frozen=True)
class QueuedChange:
    write_id: str
    entity_type: str
    entity_id: str
    frame: Frame
    queued_at: float


@dataclass(frozen=True)
class Dropped:
    item: QueuedChange
    reason: str


class OfflineQueue:
    def __init__(self, cap: int, max_age_s: float) -> None:
        self.cap = cap
        self.max_age_s = max_age_s
        self._items: dict[tuple[str, str], QueuedChange] = {}

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[QueuedChange]:
        return list(self._items.values())

    def put(self, item: QueuedChange) -> list[Dropped]:
        """Queue a change; returns what it pushed out (a superseded item or the oldest)."""
        key = (item.entity_type, item.entity_id)
        dropped = []
        if key in self._items:
            dropped.append(Dropped(self._items.pop(key), "superseded"))
        elif len(self._items) >= self.cap:
            oldest = next(iter(self._items))
            dropped.append(Dropped(self._items.pop(oldest), "cap"))
        self._items[key] = item
        return dropped

    def take_all(self, now: float) -> tuple[list[QueuedChange], list[Dropped]]:
        """Empty the queue: items still fresh to send, and those expired by age."""
        fresh, expired = [], []
        for item in self._items.values():
            if now - item.queued_at > self.max_age_s:
                expired.append(Dropped(item, "expired"))
            else:
                fresh.append(item)
        self._items.clear()
        return fresh, expired

    def clear(self) -> list[QueuedChange]:
        lost = list(self._items.values())
        self._items.clear()
        return lost
