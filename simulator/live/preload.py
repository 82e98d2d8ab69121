"""A scenario's preload, carried out against a live endpoint: the same items the simulation
writes into its store, pushed through the endpoint's own REST push before t=0, in batches,
each under an idempotency key made from its content (so a retried or repeated push applies
once). Each batch is a REST `push` row; the PRELOAD row says how many items the endpoint took.

What cannot be carried over: a push is stored at the time it arrives, so the endpoint's rows
are as new as the push, not spread over `over` as in the simulation; a catch-up window (7 or
30 days) hides none of them. A scenario whose point is an old history behind the window
(history_backfill) therefore shows less missing history live than simulated.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from simulator.history import Kind
from simulator.live import auth
from simulator.live.rest import PUSH, post
from simulator.workload.preload import PreloadItem, preload_items

if TYPE_CHECKING:
    from simulator.live.driver import LiveRun

BATCH = 200  # changes per push: well under any body cap a server is likely to set


def _body(batch: Sequence[PreloadItem]) -> bytes:
    changes = [{"type": i.kind.created.value, **i.kind.write_body(i.data)} for i in batch]
    return json.dumps({"changes": changes}, sort_keys=True, separators=(",", ":")).encode()


async def push_preload(run: LiveRun) -> None:
    scenario = run.loaded.scenario
    for spec, items in preload_items(scenario, run.life.catalogue):
        pushed, why = 0, None
        for start in range(0, len(items), BATCH):
            batch = items[start : start + BATCH]
            body = _body(batch)
            key = "syncsim-preload-" + hashlib.sha256(body).hexdigest()[:32]
            token = auth.mint(run.secret, spec.user, time.time())
            answer, error = await asyncio.to_thread(
                post, f"{run.rest_url}{PUSH}", spec.user, token, run.timeout, body, key
            )
            detail: dict[str, Any] = {"items": len(batch), "preload": True}
            if answer is not None:
                detail["answer"] = {k: answer[k] for k in ("applied", "lastSeq") if k in answer}
            run.record(
                Kind.REST,
                None,
                user=spec.user,
                op="push",
                bytes=len(body),
                reason=error or None,
                detail=detail,
            )
            if answer is None:
                why = f"REST push refused: {error}"
                break
            pushed += len(batch)
        run.record(
            Kind.PRELOAD,
            None,
            user=spec.user,
            reason=why,
            detail={
                "entries": spec.entries,
                "pieces": spec.pieces,
                "over": spec.over,
                "pushed": pushed,
                "via": "rest_push",
            },
        )
