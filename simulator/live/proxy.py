"""FaultProxy: what stands between one device and the endpoint, frame by frame.

Every frame the device sends, and every frame it receives, passes through here. The proxy
decides, from the scenario's link model and its seeded rng, whether the frame is lost (loss, a
partition, the device offline), how long it takes (latency draws and bandwidth, scaled from
scenario seconds to wall seconds), whether it arrives twice, and whether it may overtake the
frame before it. Whether the device is offline or partitioned is the shared lifecycle's to
say; the proxy is told with each frame. It can also cut a connection in the middle of a frame,
as a dropped TCP connection does.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from simulator.scenario.model import Link
from simulator.world.link import DeviceLink


@dataclass(frozen=True)
class Hop:
    """One delivery of a frame: after `delay` wall seconds; `duplicate` marks a second copy."""

    delay: float
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
        hops = [Hop(at - wall_now)]
        if path.duplicate and rng.random() < path.duplicate:
            again = max(at + path.delay(rng) / self.scale, self._last[direction])
            self._last[direction] = again
            hops.append(Hop(again - wall_now, duplicate=True))
        return Verdict(tuple(hops))


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
