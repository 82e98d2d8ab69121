"""A scenario's preload, carried out against a live endpoint: the same items the simulation
writes into its store, in the same order, pushed through the endpoint's own REST push before
t=0, in batches, each under an idempotency key made from its content (so a retried or
repeated push applies once). One REST `push` row per user says how many items went in how
many requests; the PRELOAD row says how many the endpoint took.

A push is stored at the time it arrives, so a real endpoint's rows are as new as the push,
not spread over `over` as in the simulation, and a catch-up window (7 or 30 days) hides none
of them. Against `syncsim serve --clock-file` the run sets the server's clock to each item's
own time and pushes it alone, so its rows are dated as the simulation dates them.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.history import Kind
from simulator.live.clockfile import ClockSetting, write_clock
from simulator.live.rest import PUSH, post
from simulator.workload.preload import PreloadItem, preload_items

if TYPE_CHECKING:
    from simulator.live.driver import LiveRun

BATCH = 200  # changes per push: well under any body cap a server is likely to set


def _body(batch: Sequence[PreloadItem]) -> bytes:
    changes = [{"type": i.kind.created.value, **i.kind.write_body(i.data)} for i in batch]
    return json.dumps({"changes": changes}, sort_keys=True, separators=(",", ":")).encode()


def _batches(run: LiveRun, items: list[PreloadItem]) -> list[list[PreloadItem]]:
    # With a clock file the server's clock can be set to each item's own time, one push each.
    size = 1 if run.server.clock_file is not None else BATCH
    return [items[start : start + size] for start in range(0, len(items), size)]


async def _push(run: LiveRun, user: str, batch: list[PreloadItem]) -> tuple[int, str]:
    """(bytes sent, "" or why the endpoint did not take the batch)."""
    if run.server.clock_file is not None:
        write_clock(Path(run.server.clock_file), ClockSetting(batch[0].at, 0.0, time.time()))
    body = _body(batch)
    key = "syncsim-preload-" + hashlib.sha256(body).hexdigest()[:32]
    answer, error = await post(
        run.http, f"{run.rest_url}{PUSH}", user, run.secret, run.timeout, body, key
    )
    return len(body), "" if answer is not None else error


async def push_preload(run: LiveRun) -> None:
    scenario = run.loaded.scenario
    for spec, items in preload_items(scenario, run.life.catalogue):
        pushed = requests = sent = 0
        error = ""
        for batch in _batches(run, items):
            size, error = await _push(run, spec.user, batch)
            requests, sent = requests + 1, sent + size
            if error:
                break
            pushed += len(batch)
        stamped = "item times" if run.server.clock_file else "arrival"
        run.record(
            Kind.REST,
            None,
            user=spec.user,
            op="push",
            bytes=sent,
            reason=error or None,
            detail={"items": pushed, "requests": requests, "preload": True, "stamped": stamped},
        )
        run.record(
            Kind.PRELOAD,
            None,
            user=spec.user,
            reason=f"REST push refused: {error}" if error else None,
            detail={
                "entries": spec.entries,
                "pieces": spec.pieces,
                "over": spec.over,
                "pushed": pushed,
                "via": "rest_push",
            },
        )
