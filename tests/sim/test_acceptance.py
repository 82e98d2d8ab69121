"""Scenario-level acceptance: chunked repertoire on a fresh device, and every frame a device
sends passing the real server's strict validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.history import Kind
from simulator.lifecycle.runtime import DeviceRuntime
from simulator.protocol.changes import validate
from simulator.protocol.client import Send
from simulator.protocol.codec import Frame, FrameType, decode
from simulator.protocol.coordinator import Outgoing
from simulator.protocol.kinds import MUTATIONS
from simulator.protocol.timefmt import parse_iso_z
from simulator.scenario.loader import load, load_text
from simulator.sim.driver import Simulation

ROOT = Path(__file__).resolve().parents[2]


class Wiretap(Simulation):
    """A simulation that keeps the text of every frame, to look inside them: keep-alives
    simulated PING by PING, so they are among the frames."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, lazy_keepalive=False, **kwargs)  # type: ignore[arg-type,misc]
        self.device_frames: list[str] = []
        self.server_frames: list[str] = []

    def send(self, device: DeviceRuntime, send: Send) -> None:
        self.device_frames.append(send.text)
        super().send(device, send)

    def _server_frames(self, frames: list[Outgoing]) -> None:
        self.server_frames.extend(out.text for out in frames)
        super()._server_frames(frames)


PIECES = """
name: two_thousand_pieces
duration: 1d
profile: proposed
preload:
  - {user: alice, pieces: 2000, entries: 300, over: 60d}
devices:
  - {name: old, workload: {entries_per_day: 5, pieces_per_day: 0}}
  - {name: fresh, joins: 6h, workload: {entries_per_day: 0, pieces_per_day: 0}}
"""


def test_two_thousand_pieces_reach_a_fresh_device_in_chunks_of_at_most_500() -> None:
    sim = Wiretap(load_text("pieces.yaml", PIECES))
    history = sim.run()
    bulks = [json.loads(t) for t in sim.server_frames if '"REPERTOIRE_BULK_SYNC"' in t]
    assert bulks and max(len(b["pieces"]) for b in bulks) <= 500
    assert sum(len(b["pieces"]) for b in bulks) >= 2000
    held = [
        r
        for r in history
        if r.kind is Kind.SNAPSHOT and r.device == "fresh" and r.entity_type == "repertoire_piece"
    ]
    server = [
        r
        for r in history
        if r.kind is Kind.SNAPSHOT
        and r.device == "server"
        and r.entity_type == "repertoire_piece"
        and r.op == "live"
    ]
    assert len(server) == 2000 and {r.entity_id for r in held} == {r.entity_id for r in server}


# One profile in `make test`; the others are the same path with other frames (`make slow`).
@pytest.mark.parametrize(
    "profile",
    [
        pytest.param("legacy", marks=pytest.mark.slow),
        "proposed",
        pytest.param("seq", marks=pytest.mark.slow),
    ],
)
def test_every_frame_a_device_sends_passes_the_servers_validation(profile: str) -> None:
    sim = Wiretap(load(ROOT / "scenarios" / "offline_week.yaml", profile))
    sim.run()
    assert len(sim.device_frames) > 100
    for text in sim.device_frames:
        frame = decode(text)
        assert isinstance(frame, Frame), text
        assert frame.timestamp.endswith("Z") and parse_iso_z(frame.timestamp) is not None
        if frame.type in MUTATIONS:
            validate(frame)  # raises Invalid when the real server would refuse it
            body = frame.get("entry")
            if body is not None:
                assert isinstance(body["duration"], int) and not isinstance(body["duration"], bool)
                assert body["type"] == body["type"].lower() and body["instrument"].strip()
                assert body.get("mood", "x") == body.get("mood", "x").lower()
        else:
            assert frame.type in (FrameType.PING, FrameType.SYNC_REQUEST)
