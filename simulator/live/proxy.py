"""FaultProxy: what stands between one device and the endpoint, frame by frame.

Every frame the device sends, and every frame it receives, passes through here. The proxy
decides, from the scenario's link model and its seeded rng, whether the frame is lost (loss, a
partition, the device offline), how long it takes (latency draws and bandwidth, scaled from
scenario seconds to wall seconds), whether it arrives twice, and whether it may overtake the
frame before it. Whether the device is offline or partitioned is the shared lifecycle's to
say; the proxy is told with each frame. It can also cut a connection in the middle of a frame,
as a dropped TCP connection does.

A verdict gives each delivery an absolute due time on the monotonic wall clock, never earlier
than the due time of the frame before it in that direction (unless the frame was chosen to
reorder). A `Lane`, one per connection and direction, delivers its frames one at a time in
due order, so the order the proxy decided is the order they arrive in, however late the event
loop runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from simulator.scenario.model import Link
from simulator.world.link import DeviceLink


@dataclass(frozen=True)
class Hop:
    """One delivery of a frame: due at `at` (monotonic wall seconds); `duplicate` marks a
    second copy."""

    at: float
    duplicate: bool = False


@dataclass(frozen=True)
class Verdict:
    hops: tuple[Hop, ...]
    lost: str | None = None  # why the frame never arrives


class FaultProxy:
    def __init__(self, spec: Link, rng: random.Random, time_scale: float) -> None:
        self.link = DeviceLink(spec, rng)
        self.scale = time_scale
        self._last: dict[str, float] = {"up": 0.0, "down": 0.0}
        self._free: dict[str, float] = {"up": 0.0, "down": 0.0}

    def reset(self) -> None:
        """A new connection starts with an empty pipe."""
        self._last = {"up": 0.0, "down": 0.0}
        self._free = {"up": 0.0, "down": 0.0}

    def judge(
        self,
        direction: str,
        size: int,
        wall_now: float,
        refusal: str | None,
        blocked: frozenset[str],
    ) -> Verdict:
        """The fate of a frame of `size` bytes entering the pipe at `wall_now`, the device's
        network being down for `refusal` (None: up) and cut in the `blocked` directions."""
        path, rng = self.link.path(direction), self.link.rng
        if refusal == "network offline":
            return Verdict((), "network offline")
        if direction in blocked:
            return Verdict((), "partition")
        if path.loss and rng.random() < path.loss:
            return Verdict((), "dropped by the network")
        depart = wall_now
        if path.bandwidth:
            depart = max(wall_now, self._free[direction]) + size / path.bandwidth / self.scale
            self._free[direction] = depart
        at = depart + path.delay(rng) / self.scale
        if not (path.reorder and rng.random() < path.reorder):
            at = max(at, self._last[direction])
            self._last[direction] = at
        hops = [Hop(at)]
        if path.duplicate and rng.random() < path.duplicate:
            again = max(at + path.delay(rng) / self.scale, self._last[direction])
            self._last[direction] = again
            hops.append(Hop(again, duplicate=True))
        return Verdict(tuple(hops))


T = TypeVar("T")


class Lane(Generic[T]):
    """One direction of one connection: frames wait until their due time and leave one at a
    time, in due order (ties in the order they were put). One sender task runs while the lane
    holds frames; `deliver` is awaited for each before the next one leaves."""

    def __init__(
        self,
        deliver: Callable[[T], Awaitable[None]],
        spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[Any]],
    ) -> None:
        self._deliver = deliver
        self._spawn = spawn
        self._heap: list[tuple[float, int, T]] = []
        self._serial = itertools.count()
        self._wake = asyncio.Event()
        self._sender: asyncio.Task[Any] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self.closed = False

    def __len__(self) -> int:
        return len(self._heap)

    @property
    def busy(self) -> bool:
        """Frames wait, or one is being delivered."""
        return not self._idle.is_set()

    def put(self, due: float, item: T) -> None:
        if self.closed:
            raise RuntimeError("put on a closed lane")
        heapq.heappush(self._heap, (due, next(self._serial), item))
        self._wake.set()
        if self._sender is None:
            self._idle.clear()
            self._sender = self._spawn(self._send())

    async def _send(self) -> None:
        try:
            while self._heap and not self.closed:
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    # Woken early by a frame due sooner (one chosen to reorder), or at the due
                    # time of the head.
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), wait)
                    continue
                _, _, item = heapq.heappop(self._heap)
                await self._deliver(item)
        finally:
            self._sender = None
            self._idle.set()

    def take_due(self, now: float) -> list[T]:
        """Take out, in due order, every frame due by `now` (monotonic wall time)."""
        due = []
        while self._heap and self._heap[0][0] <= now:
            due.append(heapq.heappop(self._heap)[2])
        return due

    def close(self) -> list[T]:
        """Stop delivering; the frames still waiting, in due order (the one being delivered,
        if any, is not among them)."""
        self.closed = True
        left = [item for _, _, item in sorted(self._heap)]
        self._heap.clear()
        self._wake.set()
        return left

    async def drained(self, timeout: float) -> bool:
        """Wait, at most `timeout` wall seconds, until every frame has been delivered."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)
        return not self.busy


def truncated_frame(text: str) -> bytes:
    """The first half of an unmasked WebSocket text frame carrying `text`: written to a socket
    and followed by an abort, it cuts the connection in the middle of a frame."""
    payload = text.encode("utf-8")
    size = len(payload)
    if size < 126:
        header = bytes([0x81, size])
    elif size < 65536:
        header = bytes([0x81, 126]) + size.to_bytes(2, "big")
    else:
        header = bytes([0x81, 127]) + size.to_bytes(8, "big")
    return header + payload[: max(1, size // 2)]
