"""Group commit in `syncsim serve`: what says a row is stored leaves only once it is on disk.

Real parts throughout: a real server (in this process where the test must see inside it, as
a subprocess killed with SIGKILL otherwise), real loopback sockets and a real SQLite file, read
through a connection of the test's own, which sees only what is committed. The only stand-ins
are wrappers around the store's sync (noting what was committed when it returned) and commit
(failing it on purpose).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import SECRET, start_server
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from simulator import auth
from simulator.live.rest import PUSH, post, rest_session
from simulator.live.serve import ReferenceServer
from simulator.protocol.codec import Frame, FrameType
from simulator.protocol.profile import resolve

TIMEOUT = 10.0  # a bound on each wait, so a hang fails instead of blocking; never asserted


def committed(db: Path) -> dict[str, int]:
    """Entity id -> version of every row another connection sees: what is committed."""
    reader = sqlite3.connect(db)
    try:
        return dict(reader.execute("SELECT entity_id, version FROM sync_data"))
    finally:
        reader.close()


def url(base: str, user: str) -> str:
    return f"{base}?{urlencode({'userId': user, 'token': auth.mint(SECRET, user, time.time())})}"


def created(entry_id: str) -> str:
    entry = {
        "id": entry_id,
        "timestamp": 0,
        "duration": 30,
        "type": "practice",
        "instrument": "piano",
        "pieces": [],
    }
    frame = Frame.make(FrameType.ENTRY_CREATED, time.time(), entry=entry, messageId=entry_id)
    return frame.encode()


def push(entry_id: str) -> bytes:
    """A REST push body of one entry."""
    change = {"type": "ENTRY_CREATED", "entry": json.loads(created(entry_id))["entry"]}
    return json.dumps({"changes": [change]}).encode()


async def frames(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    return [json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT)) for _ in range(count)]


def test_no_ack_broadcast_or_rest_answer_leaves_before_its_row_is_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every frame serve sends and every REST answer is noted in order with each sync of the
    log and the rows committed when it returned: each ACK (by entityId) and broadcast (by entry
    id) must come after a sync that followed its row's commit, and so must a push's answer."""
    db = tmp_path / "serve.db"
    log: list[tuple[str, Any]] = []
    send = ServerConnection.send

    async def noting_send(self: ServerConnection, message: Any, text: bool | None = None) -> None:
        log.append(("sent", json.loads(message)))
        await send(self, message, text=text)

    monkeypatch.setattr(ServerConnection, "send", noting_send)

    async def scenario() -> None:
        server = ReferenceServer(str(db), resolve("proposed"), SECRET)
        sync = server.store.sync

        def noting_sync() -> None:
            sync()
            log.append(("synced", committed(db)))

        server.store.sync = noting_sync  # type: ignore[method-assign]
        answer_rest = server._rest

        async def noting_rest(request: Any) -> Any:
            response = await answer_rest(request)
            log.append(("answered", request.path))
            return response

        server._rest = noting_rest  # type: ignore[method-assign]
        endpoints = await server.start("127.0.0.1", 0, 0)
        try:
            async with (
                connect(url(endpoints.ws_url, "alice"), open_timeout=TIMEOUT) as a,
                connect(url(endpoints.ws_url, "alice"), open_timeout=TIMEOUT) as b,
                connect(url(endpoints.ws_url, "bob"), open_timeout=TIMEOUT) as c,
                rest_session() as http,
            ):
                await frames(a, 1), await frames(b, 1), await frames(c, 1)  # WELCOMEs
                # Sent without waiting, from three connections at once, so commits hold many.
                for i in range(30):
                    await a.send(created(f"a{i}"))
                    await c.send(created(f"c{i}"))
                pushed, reason = await post(
                    http, f"{endpoints.rest_url}{PUSH}", "alice", SECRET, TIMEOUT, push("r1")
                )
                assert pushed is not None, reason
                # a hears its 30 ACKs and the push's broadcast, b 31 broadcasts, c its ACKs.
                to_a, to_b, to_c = await frames(a, 31), await frames(b, 31), await frames(c, 30)
        finally:
            await server.stop()
        assert [f["type"] for f in to_a].count("SYNC_RESPONSE") == 30
        assert all(f["type"] == "SYNC_RESPONSE" for f in to_c), to_c
        heard = to_b
        assert sorted(f["entry"]["id"] for f in heard) == sorted(
            ["r1"] + [f"a{i}" for i in range(30)]
        )

    asyncio.run(scenario())
    visible: dict[str, int] = {}
    checked = 0
    for what, detail in log:
        if what == "synced":
            visible = detail
        elif what == "answered":
            assert visible.get("r1") == 1, "the push was answered before its row was synced"
            checked += 1
        elif detail["type"] == "SYNC_RESPONSE" and "entityId" in detail:
            assert visible.get(detail["entityId"]) == detail["version"], detail
            checked += 1
        elif detail["type"] == "ENTRY_CREATED":
            assert detail["entry"]["id"] in visible, detail
            checked += 1
    assert checked == 60 + 32 + 1  # every ACK, every broadcast (the push's to a and b), the answer


def test_every_acknowledged_row_survives_a_sigkill_right_after_its_ack(tmp_path: Path) -> None:
    """Five connections send 40 entries each without waiting; the server is killed (no clean
    stop) as soon as 60 ACKs are in. Reopened, the file holds every acknowledged row."""
    served = start_server(tmp_path / "serve.db")
    acked: dict[str, int] = {}
    enough = asyncio.Event()

    async def sender(user: str) -> None:
        try:
            async with connect(url(served.ws_url, user), open_timeout=TIMEOUT) as ws:
                await frames(ws, 1)  # WELCOME
                for i in range(40):
                    await ws.send(created(f"{user}-{i}"))
                while True:
                    ack = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
                    assert ack["type"] == "SYNC_RESPONSE", ack
                    acked[ack["entityId"]] = ack["version"]
                    if len(acked) >= 60 and not enough.is_set():
                        served.process.send_signal(signal.SIGKILL)
                        enough.set()
        except ConnectionClosed:
            pass  # the kill

    async def scenario() -> None:
        async with asyncio.timeout(60):
            await asyncio.gather(*(sender(f"u{n}") for n in range(5)))

    try:
        asyncio.run(scenario())
    finally:
        served.process.kill()
        served.process.wait(timeout=20)
    assert served.process.returncode == -signal.SIGKILL
    stored = committed(served.db)
    assert len(acked) >= 60
    assert {k: stored.get(k) for k in acked} == acked


def test_a_failed_commit_answers_its_frames_with_an_error_and_stores_none_of_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first commit with a row in it fails (as a full disk would make it): its mutation
    is answered ERROR, nothing of it is stored or broadcast, a REST push in such a commit is
    500, and the next commit works."""
    db = tmp_path / "serve.db"
    failing = [True]

    async def scenario() -> tuple[list[dict[str, Any]], list[str]]:
        server = ReferenceServer(str(db), resolve("proposed"), SECRET)
        commit = server.store.commit

        def sometimes() -> None:
            if failing[0] and len(list(server.store.rows())) > len(committed(db)):
                failing[0] = False
                raise sqlite3.OperationalError("database or disk is full")
            commit()

        server.store.commit = sometimes  # type: ignore[method-assign]
        endpoints = await server.start("127.0.0.1", 0, 0)
        try:
            async with (
                connect(url(endpoints.ws_url, "alice"), open_timeout=TIMEOUT) as a,
                connect(url(endpoints.ws_url, "alice"), open_timeout=TIMEOUT) as b,
                rest_session() as http,
            ):
                await frames(a, 1), await frames(b, 1)  # WELCOMEs
                await a.send(created("lost"))
                first = (await frames(a, 1))[0]
                await a.send(created("kept"))
                second = (await frames(a, 1))[0]
                heard = await frames(b, 1)  # the broadcast of "kept" only
                failing[0] = True
                _, refused = await post(
                    http, f"{endpoints.rest_url}{PUSH}", "alice", SECRET, TIMEOUT, push("pushed")
                )
                pushed, _ = await post(
                    http, f"{endpoints.rest_url}{PUSH}", "alice", SECRET, TIMEOUT, push("pushed")
                )
                assert pushed is not None
        finally:
            await server.stop()
        return [first, second, *heard], [refused]

    answers, reasons = asyncio.run(scenario())
    first, second, heard = answers
    assert first["type"] == "ERROR" and first["error"] == "internal error: OperationalError"
    assert second["type"] == "SYNC_RESPONSE" and second["entityId"] == "kept"
    assert heard["type"] == "ENTRY_CREATED" and heard["entry"]["id"] == "kept"
    assert reasons == ["HTTP 500: internal error: OperationalError"]
    assert committed(db) == {"kept": 1, "pushed": 1}
    err = capsys.readouterr().err
    assert err.count("committing failed: OperationalError") == 2 and "Traceback" not in err
