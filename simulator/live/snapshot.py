"""The server's final state, seen from outside as any client could see it.

An observer asks REST pull for every live row of the user, then catches up over the socket
from the epoch (a lastSyncTime of 1970 is a valid cursor in the past, so the server answers
with every row since, deletes included). The rows become SNAPSHOT rows of device `server`,
exactly as the simulation writes them, so the checker needs no live-mode special case.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from simulator.history import Kind
from simulator.live.rest import PULL, post
from simulator.protocol.codec import BadFrame, Frame, FrameType, decode
from simulator.protocol.entities import fingerprint, stamp_text
from simulator.protocol.kinds import KINDS, kind_of_bulk, kind_of_frame
from simulator.protocol.merge import split_version
from simulator.protocol.timefmt import iso_z
from simulator.recording import identity

if TYPE_CHECKING:
    from simulator.live.driver import LiveRun

EPOCH_CURSOR = iso_z(0)


async def observe_server(run: LiveRun, user: str) -> None:
    rows: dict[tuple[str, str], tuple[bool, dict[str, Any]]] = {}
    body, error = await post(run.http, f"{run.rest_url}{PULL}", user, run.secret, run.timeout)
    if body is None:
        run.record(Kind.PEER_ERROR, None, user=user, reason=f"observer REST pull failed: {error}")
    else:
        for owner in KINDS:
            for item in body.get(owner.bulk, []):
                data, _ = split_version(item)
                rows[(owner.name, str(owner.key(data)))] = (True, data)
    frames, complete = await _catch_up(run, user)
    for frame in frames:
        _apply(rows, frame)
    # Whether the server's state is known: the checker's verdict is inconclusive without it.
    # A catch-up shows only the kinds the server sends batches of (legacy sends no pieces).
    carried = sorted({k.name for f in frames if (k := kind_of_bulk(f.type)) is not None})
    observed = {"rest": body is not None, "catch_up": complete, "catch_up_kinds": carried}
    run.record(Kind.OBSERVER, None, user=user, detail=observed)
    for (entity_type, entity_id), (live, data) in sorted(rows.items()):
        run.record(
            Kind.SNAPSHOT,
            None,
            user=user,
            op="live" if live else "deleted",
            entity_type=entity_type,
            entity_id=entity_id,
            fingerprint=fingerprint(data) if live else None,
            updated_at=stamp_text(data),
            detail={"observer": True, **(identity(entity_type, data) if live else {})},
        )


def _apply(rows: dict[tuple[str, str], tuple[bool, dict[str, Any]]], frame: Frame) -> None:
    batch = kind_of_bulk(frame.type)
    if batch is not None:
        for item in frame.get(batch.bulk) or []:
            data, _ = split_version(item)
            rows.setdefault((batch.name, str(batch.key(data))), (True, data))
    elif (owner := kind_of_frame(frame.type)) is not None and frame.type in owner.deletes:
        entity_id = owner.id_in(frame)
        if entity_id is not None:
            rows[(owner.name, entity_id)] = (False, {})


async def _catch_up(run: LiveRun, user: str) -> tuple[list[Frame], bool]:
    """Every frame of a catch-up from the epoch, until it ends or the deadline passes, and
    whether it ended."""
    frames: list[Frame] = []
    try:
        async with connect(
            run._ws_url(user), open_timeout=run.timeout, max_size=None, ping_interval=None
        ) as ws:
            request = Frame.make(FrameType.SYNC_REQUEST, time.time(), lastSyncTime=EPOCH_CURSOR)
            await ws.send(request.encode())
            while True:
                text = await asyncio.wait_for(ws.recv(), run.timeout)
                frame = decode(text)
                if isinstance(frame, BadFrame):
                    run.record(
                        Kind.PEER_ERROR,
                        None,
                        user=user,
                        reason=f"observer got garbage: {frame.reason}",
                    )
                    continue
                frames.append(frame)
                if (
                    frame.type is FrameType.SYNC_RESPONSE
                    and frame.get("message") == "Sync complete"
                ):
                    return frames, True
    except (TimeoutError, OSError, InvalidHandshake, ConnectionClosed) as error:
        run.record(
            Kind.PEER_ERROR, None, user=user, reason=f"observer catch-up failed: {error!r}"[:200]
        )
    return frames, False
