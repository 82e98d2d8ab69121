"""The live run's REST client (`simulator.live.rest.post`) against real servers on loopback:
`syncsim serve`, and small aiohttp and asyncio servers that answer what no endpoint should.
Every problem comes back as a reason, never as an exception."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from conftest import SECRET, Served, stop_server

from simulator.live.rest import PULL, PUSH, post, rest_session

TIMEOUT = 10.0  # a bound on each call, so a hang fails instead of blocking; never asserted

Answer = tuple[dict[str, Any] | None, str]


def call(url: str, timeout: float = TIMEOUT, secret: str = SECRET, **kw: Any) -> Answer:
    """One POST, in a session of its own, as alice."""

    async def scenario() -> Answer:
        async with rest_session() as http:
            return await post(http, url, "alice", secret, timeout, **kw)

    return asyncio.run(scenario())


@asynccontextmanager
async def answering(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> AsyncIterator[str]:
    """An aiohttp server on a free loopback port answering every request with `handler`."""
    app = web.Application()
    app.router.add_route("*", "/{path:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def test_a_pull_and_a_push_are_answered_as_json_objects(served: Served) -> None:
    entry: dict[str, Any] = {
        "id": "e1",
        "timestamp": 0,
        "duration": 5,
        "type": "practice",
        "instrument": "piano",
        "pieces": [],
    }
    change = json.dumps({"changes": [{"type": "ENTRY_CREATED", "entry": entry}]}).encode()
    pushed, why = call(f"{served.rest_url}{PUSH}", body=change, idempotency_key="k1")
    assert pushed is not None and why == ""
    pulled, why = call(f"{served.rest_url}{PULL}")
    assert pulled is not None and why == ""
    assert [e["id"] for e in pulled["entries"]] == ["e1"]
    assert stop_server(served) == 0


def test_a_refusal_is_the_status_and_the_servers_error_text(served: Served) -> None:
    wrong = "another-secret-long-enough-for-hs256-keys"
    answer, why = call(f"{served.rest_url}{PULL}", secret=wrong)
    assert answer is None and why.startswith("HTTP 401: bad token")
    answer, why = call(f"{served.rest_url}/api/sync/nothing")
    assert (answer, why) == (None, "HTTP 404: not found")
    assert stop_server(served) == 0


def test_an_answer_that_is_no_json_object_is_said_so() -> None:
    async def scenario() -> list[Answer]:
        bodies = iter([b"[1, 2]", b"{not json", b"\xff\xfe", b"[" * 100_000])

        async def handler(request: web.Request) -> web.Response:
            return web.Response(body=next(bodies), content_type="application/json")

        async with answering(handler) as base, rest_session() as http:
            return [await post(http, f"{base}{PULL}", "alice", SECRET, TIMEOUT) for _ in range(4)]

    assert asyncio.run(scenario()) == [(None, "answer is not a JSON object")] * 4


def test_an_error_without_a_json_body_is_the_status_alone() -> None:
    async def scenario() -> Answer:
        async def handler(request: web.Request) -> web.Response:
            return web.Response(status=502, text="<html>bad gateway</html>")

        async with answering(handler) as base, rest_session() as http:
            return await post(http, f"{base}{PULL}", "alice", SECRET, TIMEOUT)

    assert asyncio.run(scenario()) == (None, "HTTP 502")


def test_a_closed_port_is_unreachable() -> None:
    with socket.socket() as probe:  # a port nothing listens on once this socket is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    answer, why = call(f"http://127.0.0.1:{port}{PULL}")
    assert answer is None and why.startswith("unreachable: ")


def test_an_endpoint_that_never_answers_is_unreachable_at_the_deadline() -> None:
    async def scenario() -> Answer:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read()  # reads the request and answers nothing, until the client goes
            writer.close()

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            async with rest_session() as http:
                return await post(http, f"http://127.0.0.1:{port}{PULL}", "alice", SECRET, 0.5)
        finally:
            server.close()
            await server.wait_closed()

    assert asyncio.run(scenario()) == (None, "unreachable: no answer within 0.5 s")


def test_the_token_is_minted_per_call_for_the_user_named() -> None:
    seen: list[tuple[str | None, str | None, str | None]] = []

    async def scenario() -> None:
        async def handler(request: web.Request) -> web.Response:
            headers = request.headers
            seen.append(
                (
                    headers.get("X-User-Id"),
                    headers.get("X-Idempotency-Key"),
                    (headers.get("Authorization") or "").split(" ")[0],
                )
            )
            return web.json_response({"ok": time.time()})

        async with answering(handler) as base, rest_session() as http:
            await post(http, f"{base}{PUSH}", "bob", SECRET, TIMEOUT, b"{}", "key-1")
            await post(http, f"{base}{PULL}", "alice", SECRET, TIMEOUT)

    asyncio.run(scenario())
    assert seen == [("bob", "key-1", "Bearer"), ("alice", None, "Bearer")]
