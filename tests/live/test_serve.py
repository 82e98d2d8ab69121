"""`syncsim serve` as a client meets it: auth refusals, frames, REST, a clean stop."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import jwt
import pytest
from conftest import SECRET, Served, read_answer, request, rest_socket, stop_server
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from simulator import auth
from simulator.protocol.codec import Frame, FrameType
from simulator.protocol.store import ServerStore


def ws_url(served: Served, **query: str) -> str:
    return f"{served.ws_url}?{urlencode(query)}"


async def status_of(url: str) -> int:
    try:
        async with connect(url, open_timeout=5):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({}, 400),
        ({"userId": "alice"}, 400),
        ({"userId": "alice", "token": "not-a-jwt"}, 401),
        (
            {
                "userId": "alice",
                "token": jwt.encode(
                    {"sub": "alice"}, "wrong-secret-wrong-secret-wrong!!", algorithm="HS256"
                ),
            },
            401,
        ),
        (
            {
                "userId": "alice",
                "token": jwt.encode({"sub": "alice", "exp": 1}, SECRET, algorithm="HS256"),
            },
            401,
        ),
        ({"userId": "alice", "token": auth.mint(SECRET, "bob", time.time())}, 403),
        ({"userId": "alice", "token": auth.mint(SECRET, "alice", time.time())}, 101),
    ],
    ids=["nothing", "no-token", "garbage", "wrong-secret", "expired", "other-user", "good"],
)
def test_auth_refusals_before_the_upgrade(
    served: Served, query: dict[str, str], status: int
) -> None:
    assert asyncio.run(status_of(ws_url(served, **query))) == status


def test_a_mutation_is_acked_broadcast_and_stored(served: Served) -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        token = auth.mint(SECRET, "alice", time.time())
        async with (
            connect(ws_url(served, userId="alice", token=token)) as a,
            connect(ws_url(served, userId="alice", token=token)) as b,
        ):
            welcome = [json.loads(await a.recv())["type"], json.loads(await b.recv())["type"]]
            entry = {
                "id": "e1",
                "timestamp": 0,
                "duration": 30,
                "type": "practice",
                "instrument": "piano",
                "pieces": [],
            }
            await a.send(
                Frame.make(
                    FrameType.ENTRY_CREATED, time.time(), entry=entry, messageId="m1"
                ).encode()
            )
            ack = json.loads(await asyncio.wait_for(a.recv(), 5))
            broadcast = json.loads(await asyncio.wait_for(b.recv(), 5))
            await a.send("{not json")
            error = json.loads(await asyncio.wait_for(a.recv(), 5))
            return welcome, [ack["message"], ack.get("messageId"), broadcast["type"], error["type"]]

    welcome, seen = asyncio.run(scenario())
    assert welcome == ["WELCOME", "WELCOME"]
    assert seen == ["Mutation applied", "m1", "ENTRY_CREATED", "ERROR"]
    assert stop_server(served) == 0
    store = ServerStore(str(served.db))
    row = store.get("alice", "logbook_entry", "e1")
    assert row is not None and row.version == 1


def post(
    url: str, token: str | None, user: str, body: dict[str, object], key: str | None = None
) -> tuple[int, dict[str, object]]:
    headers = {"X-User-Id": user, "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if key:
        headers["X-Idempotency-Key"] = key
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_rest_push_is_idempotent_and_pull_returns_live_rows(served: Served) -> None:
    token = auth.mint(SECRET, "alice", time.time())
    entry = {
        "id": "r1",
        "timestamp": 0,
        "duration": 5,
        "type": "lesson",
        "instrument": "cello",
        "pieces": [],
    }
    change = {"changes": [{"type": "ENTRY_CREATED", "entry": entry}]}
    first = post(f"{served.rest_url}/api/sync/push", token, "alice", change, key="k1")
    again = post(f"{served.rest_url}/api/sync/push", token, "alice", change, key="k1")
    assert first == again and first[0] == 200
    status, pulled = post(f"{served.rest_url}/api/sync/pull", token, "alice", {})
    assert status == 200 and [e["id"] for e in pulled["entries"]] == ["r1"]  # type: ignore[union-attr]
    assert post(f"{served.rest_url}/api/sync/pull", None, "alice", {})[0] == 400
    assert (
        post(
            f"{served.rest_url}/api/sync/pull", auth.mint(SECRET, "bob", time.time()), "alice", {}
        )[0]
        == 403
    )
    bad = {"changes": [{"type": "ENTRY_CREATED", "entry": {**entry, "id": "r2", "duration": 2.5}}]}
    assert post(f"{served.rest_url}/api/sync/push", token, "alice", bad)[0] == 400
    assert stop_server(served) == 0
    assert ServerStore(str(served.db)).get("alice", "logbook_entry", "r1").version == 1  # type: ignore[union-attr]


def test_a_chunked_push_and_a_pull_share_one_kept_alive_connection(served: Served) -> None:
    token = auth.mint(SECRET, "alice", time.time())
    headers = {"Authorization": f"Bearer {token}", "X-User-Id": "alice"}
    entry = {
        "id": "c1",
        "timestamp": 0,
        "duration": 5,
        "type": "practice",
        "instrument": "piano",
        "pieces": [],
    }
    text = json.dumps({"changes": [{"type": "ENTRY_CREATED", "entry": entry}]}).encode()
    parts = [text[:10], text[10:40], text[40:]]  # no length announced: the chunks say it
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    with rest_socket(served) as sock:
        sock.sendall(request("/api/sync/push", body, {**headers, "Transfer-Encoding": "chunked"}))
        pushed, _, _ = read_answer(sock)
        sock.sendall(request("/api/sync/pull", b"{}", headers))  # the same connection
        pulled, _, answer = read_answer(sock)
    assert (pushed, pulled) == (200, 200)
    assert [e["id"] for e in json.loads(answer)["entries"]] == ["c1"]
    assert stop_server(served) == 0


def _serve(port: int, db: Path, secret: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "simulator.cli", "serve", "--port", str(port), "--db"]
    return subprocess.run(
        [*command, str(db)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYNCSIM_JWT_SECRET": secret},
        check=False,
    )


def test_a_busy_port_is_one_line_and_exit_2(served: Served, tmp_path: Path) -> None:
    port = int(served.ws_url.split(":")[2].split("/")[0])
    done = _serve(port, tmp_path / "other.db", SECRET)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "address already in use" in done.stderr and "Traceback" not in done.stderr


def test_a_short_secret_is_refused(tmp_path: Path) -> None:
    done = _serve(0, tmp_path / "s.db", "short")
    assert done.returncode == 2 and "32 bytes or more" in done.stderr
