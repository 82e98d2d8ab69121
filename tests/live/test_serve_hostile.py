"""`syncsim serve` meets what no client should send, over real loopback sockets: the fuzzer's
measured reproducers as literal requests, the token decisions README.md "Security" states, and
the last line of defence (an exception in handling one frame) in process.

Each WebSocket test ends with a PING answered on the same connection: a refusal keeps it open.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from aiohttp.http_exceptions import BadHttpMessage
from conftest import SECRET, Served, read_answer, request, rest_socket, stop_server
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from simulator import auth
from simulator.live.rest import PULL, post, rest_session
from simulator.live.serve import MAX_REST_BODY, REST_LOG, REST_READ_TIMEOUT, ReferenceServer
from simulator.protocol.codec import Frame, FrameType
from simulator.protocol.coordinator import Outgoing
from simulator.protocol.profile import resolve
from simulator.protocol.store import ServerStore

TIMEOUT = 10.0  # a bound on each wait, so a hang fails instead of blocking; never asserted


def stamp() -> str:
    return Frame.make(FrameType.PING, time.time()).timestamp


def entry(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": "e1",
        "timestamp": 0,
        "duration": 30,
        "type": "practice",
        "instrument": "piano",
        "pieces": [],
    }
    fields.update(overrides)
    return fields


def ws_url(base: str, user: str = "alice", token: str | None = None) -> str:
    token = token if token is not None else auth.mint(SECRET, user, time.time())
    return f"{base}?{urlencode({'userId': user, 'token': token})}"


async def answer(ws: ClientConnection, text: str) -> dict[str, Any]:
    """Send one frame; the SYNC_RESPONSE, ERROR or PONG that answers it."""
    await ws.send(text)
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if frame["type"] in ("SYNC_RESPONSE", "ERROR", "PONG"):
            return dict(frame)


async def still_open(ws: ClientConnection) -> bool:
    ping = json.dumps({"type": "PING", "timestamp": stamp()})
    return (await answer(ws, ping))["type"] == "PONG"


def ws_errors(served: Served, frames: list[str]) -> list[str]:
    """The ERROR text answering each frame, over one connection that must stay open."""

    async def scenario() -> list[str]:
        async with connect(ws_url(served.ws_url), open_timeout=TIMEOUT) as ws:
            await asyncio.wait_for(ws.recv(), TIMEOUT)  # WELCOME
            got = []
            for text in frames:
                reply = await answer(ws, text)
                assert reply["type"] == "ERROR", reply
                got.append(str(reply["error"]))
            assert await still_open(ws)
            return got

    return asyncio.run(scenario())


def assert_clean_stop(served: Served) -> None:
    """The server stops with 0, printed no traceback, and stored nothing."""
    assert stop_server(served) == 0
    assert served.process.stderr is not None
    err = served.process.stderr.read()
    assert "Traceback" not in err and "failed" not in err, err
    assert list(ServerStore(str(served.db)).rows()) == []


# -- the measured reproducers, over the WebSocket ------------------------------------------


def test_a_lone_surrogate_in_an_entry_id_is_an_error_not_a_1011(served: Served) -> None:
    frame = {"type": "ENTRY_CREATED", "timestamp": stamp(), "entry": entry(id="e\ud800")}
    text = json.dumps(frame)  # the surrogate travels as the JSON escape \ud800, as the fuzzer's
    assert "\\ud800" in text
    [error] = ws_errors(served, [text])
    assert "entry.id" in error and "UTF-8" in error
    assert_clean_stop(served)


def test_last_seq_2_to_the_63_and_a_401_digit_timestamp_are_errors(served: Served) -> None:
    sync = json.dumps({"type": "SYNC_REQUEST", "timestamp": stamp(), "lastSeq": 2**63})
    created = {"type": "ENTRY_CREATED", "timestamp": stamp(), "entry": entry()}
    long_stamp = json.dumps(created).replace('"timestamp": 0,', '"timestamp": ' + "9" * 401 + ",")
    assert "9" * 401 in long_stamp
    errors = ws_errors(served, [sync, long_stamp])
    assert "lastSeq" in errors[0] and "entry.timestamp" in errors[1]
    assert_clean_stop(served)


# -- REST, on a raw socket: every body gets an answer ---------------------------------------


def raw_post(served: Served, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    """POST `body` as given on a connection of its own; the status and the JSON answer."""
    with rest_socket(served) as sock:
        sock.sendall(request(path, body, headers))
        status, _, data = read_answer(sock)
    return status, json.loads(data)


def alice(token: str | None = None) -> dict[str, str]:
    token = token if token is not None else auth.mint(SECRET, "alice", time.time())
    return {"Authorization": f"Bearer {token}", "X-User-Id": "alice"}


def test_rest_answers_100_000_nested_brackets_with_400(served: Served) -> None:
    status, body = raw_post(served, "/api/sync/push", b"[" * 100_000, alice())
    assert status == 400 and "nested too deep" in body["error"]
    assert_clean_stop(served)


def test_rest_answers_a_401_digit_timestamp_with_400_naming_it(served: Served) -> None:
    change = {"changes": [{"type": "ENTRY_CREATED", "entry": entry()}]}
    text = json.dumps(change).replace('"timestamp": 0,', '"timestamp": ' + "9" * 401 + ",")
    status, body = raw_post(served, "/api/sync/push", text.encode(), alice())
    assert status == 400 and "changes[0].entry.timestamp" in body["error"]
    assert_clean_stop(served)


BAD_BODIES = [
    (b"{not json", "invalid JSON"),
    (b"\xff\xfe{}", "UTF-8"),
    (b'{"changes": NaN}', "invalid JSON"),
    (b'{"changes": [1e400]}', "changes[0]: number is not finite"),
    (b'{"changes": {"a": 1}}', "changes: required list"),
    (b'{"changes": [{"type": "ENTRY_CREATED", "entry": {"id": "\\udc00"}}]}', "entry.id"),
    (b'{"changes": [{"type": {"nested": 1}}]}', "changes[0]: type"),
    (b"[]", "changes: required list"),
]


def test_rest_answers_every_bad_body_with_400_naming_what(served: Served) -> None:
    for body, error in BAD_BODIES:  # one server for them all: each start costs a process
        status, answer = raw_post(served, "/api/sync/push", body, alice())
        assert status == 400 and error in answer["error"], (body, answer)
    assert_clean_stop(served)


def test_rest_answers_a_body_over_the_limit_with_413_while_it_is_still_sent(
    served: Served,
) -> None:
    headers = {**alice(), "Content-Length": str(MAX_REST_BODY + 1)}
    status, body = raw_post(served, "/api/sync/push", b"[" * 1_000_000, headers)
    assert status == 413 and str(MAX_REST_BODY) in body["error"]
    assert_clean_stop(served)


def chunked(body: bytes, size: int = 65536) -> bytes:
    """`body` as a chunked transfer coding, in chunks of `size` bytes."""
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"


def test_a_chunked_body_over_the_limit_is_answered_413_and_the_connection_serves_on(
    served: Served,
) -> None:
    # No length announced: the body is counted as it comes, and refused once over the limit.
    headers = {**alice(), "Transfer-Encoding": "chunked"}
    body = chunked(b"[" * (MAX_REST_BODY + 65536))
    with rest_socket(served) as sock:
        sock.sendall(request("/api/sync/push", body, headers))
        status, _, answer = read_answer(sock)
        assert status == 413 and str(MAX_REST_BODY) in json.loads(answer)["error"]
        sock.sendall(request("/api/sync/pull", b"{}", alice()))  # the rest was read, not reset
        assert read_answer(sock)[0] == 200
    assert_clean_stop(served)


def test_a_head_over_64_kib_is_400_and_so_is_one_line_over_8190_bytes(served: Served) -> None:
    under = {f"X-Pad-{i}": "a" * 8000 for i in range(7)}  # 56 KB, no line over the limit
    assert raw_post(served, "/api/sync/pull", b"{}", {**alice(), **under})[0] == 200
    over = {f"X-Pad-{i}": "a" * 8000 for i in range(9)}  # 72 KB: serve's own limit, in JSON
    assert raw_post(served, "/api/sync/pull", b"{}", {**alice(), **over}) == (
        400,
        {"error": "bad request"},
    )
    # One line over 8190 bytes is aiohttp's refusal, before serve sees the request: 400 with
    # a line of plain text, and the connection closed.
    with rest_socket(served) as sock:
        sock.sendall(request("/api/sync/pull", b"{}", {**alice(), "X-Long": "a" * 9000}))
        status, headers, answer = read_answer(sock)
        closed = sock.recv(65536) == b""
    assert status == 400 and headers["content-type"].startswith("text/plain")
    assert b"8190" in answer and closed
    assert stop_server(served) == 0
    assert served.process.stderr is not None and served.process.stderr.read() == ""


def test_a_head_or_a_body_not_in_within_10_s(served: Served) -> None:
    """Both at once, so the test waits the deadline once. A head not complete 10 s after the
    connection opened is closed without an answer (aiohttp's keep-alive timeout, which is also
    its wait for a first request); a body not complete 10 s after its head is 400."""
    wait = 3 * REST_READ_TIMEOUT  # a bound on the reads below, not a measure
    with rest_socket(served, wait) as head_only, rest_socket(served, wait) as short_body:
        head_only.sendall(b"POST /api/sync/pull HTTP/1.1\r\nHost: x\r\n")
        short_body.sendall(request("/api/sync/push", b"{}", {**alice(), "Content-Length": "9"}))
        status, _, answer = read_answer(short_body)
        assert (status, json.loads(answer)) == (400, {"error": "bad request"})
        assert head_only.recv(65536) == b""
    assert_clean_stop(served)


# -- tokens: the decisions ------------------------------------------------------------------


def test_a_bare_token_without_bearer_is_refused_401(served: Served) -> None:
    token = auth.mint(SECRET, "alice", time.time())
    headers = {"Authorization": token, "X-User-Id": "alice"}
    status, body = raw_post(served, "/api/sync/pull", b"{}", headers)
    assert status == 401 and "Bearer" in body["error"]
    lower = {"Authorization": f"bearer {token}", "X-User-Id": "alice"}  # the scheme is any case
    assert raw_post(served, "/api/sync/pull", b"{}", lower)[0] == 200
    assert raw_post(served, "/api/sync/pull", b"{}", {"X-User-Id": "alice"})[0] == 400


async def ws_status(url: str) -> int:
    try:
        async with connect(url, open_timeout=TIMEOUT):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


TOKENS = [
    ("exp-10**30", {"sub": "alice", "exp": 10**30}, 401),
    ("exp-in-2-years", {"sub": "alice", "exp": int(time.time()) + 2 * 365 * 86400}, 401),
    ("no-exp", {"sub": "alice"}, 401),
    ("exp-not-a-number", {"sub": "alice", "exp": "soon"}, 401),
    ("exp-in-300-days", {"sub": "alice", "exp": int(time.time()) + 300 * 86400}, 101),
]


def test_a_token_must_expire_within_a_year(served: Served) -> None:
    for name, claims, status in TOKENS:
        token = jwt.encode(claims, SECRET, algorithm="HS256")
        assert asyncio.run(ws_status(ws_url(served.ws_url, token=token))) == status, name
        rest_status = raw_post(served, "/api/sync/pull", b"{}", alice(token))[0]
        assert rest_status == (200 if status == 101 else status), name


def test_a_user_id_over_the_id_limit_is_refused_400(served: Served) -> None:
    user = "u" * 201
    token = auth.mint(SECRET, user, time.time())
    assert asyncio.run(ws_status(ws_url(served.ws_url, user=user, token=token))) == 400


# -- the last line of defence, in process ---------------------------------------------------


def in_process(
    sabotage: Callable[[ReferenceServer], None], capsys: pytest.CaptureFixture[str]
) -> tuple[list[str], str]:
    """Run a ReferenceServer in this process with `sabotage` applied; send an entry and a PING
    on one connection and return the frame types answering them and what went to stderr."""

    async def scenario() -> list[str]:
        server = ReferenceServer(":memory:", resolve("proposed"), SECRET)
        sabotage(server)
        endpoints = await server.start("127.0.0.1", 0, 0)
        try:
            async with connect(ws_url(endpoints.ws_url), open_timeout=TIMEOUT) as ws:
                await asyncio.wait_for(ws.recv(), TIMEOUT)  # WELCOME
                created = {"type": "ENTRY_CREATED", "timestamp": stamp(), "entry": entry()}
                first = await answer(ws, json.dumps(created))
                return [first["type"], "open" if await still_open(ws) else "closed"]
        finally:
            await server.stop()

    seen = asyncio.run(scenario())
    return seen, capsys.readouterr().err


def test_an_exception_handling_a_frame_is_an_error_frame_and_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def sabotage(server: ReferenceServer) -> None:
        receive = server.coordinator.receive

        def failing(conn_id: str, text: str | bytes, now: float) -> None:
            if "ENTRY_CREATED" in str(text):
                raise RuntimeError("injected")
            receive(conn_id, text, now)

        server.coordinator.receive = failing  # type: ignore[method-assign]

    seen, err = in_process(sabotage, capsys)
    assert seen == ["ERROR", "open"]
    assert err.count("\n") == 1 and "RuntimeError: injected" in err and "Traceback" not in err


def test_a_frame_that_cannot_be_sent_is_replaced_by_an_error_frame(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def sabotage(server: ReferenceServer) -> None:
        drain = server.coordinator.drain

        def unsendable() -> list[Any]:
            out = drain()
            return [
                Outgoing(o.conn_id, o.frame, o.text + "\ud800")
                if isinstance(o, Outgoing) and o.frame.type is FrameType.SYNC_RESPONSE
                else o
                for o in out
            ]

        server.coordinator.drain = unsendable  # type: ignore[method-assign]

    seen, err = in_process(sabotage, capsys)
    assert seen == ["ERROR", "open"]
    assert err.count("\n") == 1 and "UnicodeEncodeError" in err and "Traceback" not in err


def test_an_exception_answering_rest_is_a_500_and_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def scenario() -> tuple[dict[str, Any] | None, str]:
        server = ReferenceServer(":memory:", resolve("proposed"), SECRET)

        def failing(user: str, now: float) -> dict[str, Any]:
            raise RuntimeError("injected")

        server.coordinator.rest_pull = failing  # type: ignore[method-assign]
        endpoints = await server.start("127.0.0.1", 0, 0)
        try:
            async with rest_session() as http:
                url = f"{endpoints.rest_url}{PULL}"
                return await post(http, url, "alice", SECRET, TIMEOUT)
        finally:
            await server.stop()

    answer, reason = asyncio.run(scenario())
    err = capsys.readouterr().err
    assert answer is None and reason == "HTTP 500: internal error: RuntimeError"
    assert err.count("\n") == 1 and "RuntimeError: injected" in err and "Traceback" not in err


def test_what_aiohttp_logs_is_one_line_and_a_malformed_request_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    try:
        raise RuntimeError("inside aiohttp")
    except RuntimeError:
        REST_LOG.exception("Unhandled exception")
    REST_LOG.exception("Error handling request", exc_info=BadHttpMessage("no such method"))
    REST_LOG.warning("a warning of its own")
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "syncsim serve: REST: Unhandled exception: RuntimeError: inside aiohttp",
        "syncsim serve: REST: a warning of its own",
    ]
