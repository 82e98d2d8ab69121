"""`syncsim serve`: the reference Coordinator as a real WebSocket server, REST beside it.

The WebSocket endpoint is `/sync/ws?userId=USER&token=JWT`; tokens are checked before the
upgrade (400, 401, 403 as plain HTTP answers). The websockets library answers only GET
upgrades, so REST (`POST /api/sync/pull`, `POST /api/sync/push`) listens on its own port,
by default the WebSocket port plus one. Storage is a SQLite file written in autocommit mode,
so every acknowledged row is on disk when the ACK leaves; SIGINT and SIGTERM stop the server
cleanly.

The coordinator is pure and synchronous: each frame is fed and its outputs drained without an
`await` in between, then handed to one writer queue per connection, so frames leave in the
order the coordinator produced them.

Validation is the coordinator's (every frame is answered, none makes it raise). Should it raise
all the same, that frame is answered with an ERROR, one line goes to stderr and the connection
stays open; a REST request is answered 500 the same way. Nothing here closes with 1011.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from simulator import auth
from simulator.protocol.codec import Frame, error_frame, read_json
from simulator.protocol.coordinator import Coordinator, Outgoing
from simulator.protocol.profile import Profile
from simulator.protocol.store import ServerStore

WS_PATH = "/sync/ws"
REST_READ_TIMEOUT = 10.0
MAX_REST_BODY = 16 * 1024 * 1024  # bytes; a bigger body is answered 413
MAX_FRAME = 1024 * 1024  # bytes; a bigger WebSocket message closes the connection with 1009


@dataclass(frozen=True)
class Endpoints:
    ws_url: str
    rest_url: str


def _query(path: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}


def _log(what: str, error: BaseException) -> None:
    """One line on stderr for a failure that was answered, never a traceback."""
    print(f"syncsim serve: {what}: {type(error).__name__}: {error!s:.200}", file=sys.stderr)


class ReferenceServer:
    def __init__(
        self, db: str, profile: Profile, secret: str, clock: Callable[[], float] = time.time
    ) -> None:
        self.now = clock  # what the coordinator is told the time is (auth keeps wall time)
        self.store = ServerStore(db)
        self.coordinator = Coordinator(self.store, profile)
        self.secret = secret
        self._queues: dict[str, asyncio.Queue[str | None]] = {}
        self._count = 0
        self._servers: list[Server | asyncio.Server] = []

    # -- WebSocket --------------------------------------------------------------------

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        if urlsplit(request.path).path != WS_PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        query = _query(request.path)
        refusal = auth.check(self.secret, query.get("userId"), query.get("token"))
        if refusal is None:
            return None
        return connection.respond(HTTPStatus(refusal.status), refusal.reason + "\n")

    def _deliver(self, outputs: list[Any]) -> None:
        for output in outputs:
            if isinstance(output, Outgoing) and output.conn_id in self._queues:
                self._queues[output.conn_id].put_nowait(output.text)

    async def _writer(
        self, conn_id: str, ws: ServerConnection, queue: asyncio.Queue[str | None]
    ) -> None:
        with contextlib.suppress(ConnectionClosed):
            while (text := await queue.get()) is not None:
                # Encoded here: websockets drops the connection on a text it cannot encode.
                try:
                    data = text.encode("utf-8")
                except UnicodeEncodeError as error:  # a frame that cannot be sent: say so
                    _log(f"{conn_id}: sending a frame failed", error)
                    data = self._internal_error(error).encode().encode("utf-8")
                await ws.send(data, text=True)

    def _internal_error(self, error: BaseException) -> Frame:
        return error_frame(f"internal error: {type(error).__name__}", self.now())

    def _receive(self, conn_id: str, message: str | bytes) -> None:
        """Feed one frame and deliver what it produced; an exception becomes an ERROR frame
        for that frame and one line on stderr, and the connection stays open."""
        try:
            self.coordinator.receive(conn_id, message, self.now())
        except Exception as error:
            _log(f"{conn_id}: handling a frame failed", error)
            self._deliver(self.coordinator.drain())
            if conn_id in self._queues:
                self._queues[conn_id].put_nowait(self._internal_error(error).encode())
            return
        self._deliver(self.coordinator.drain())

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        user = _query(ws.request.path)["userId"]
        self._count += 1
        conn_id = f"c{self._count}"
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._queues[conn_id] = queue
        writer = asyncio.create_task(self._writer(conn_id, ws, queue))
        self.coordinator.open(conn_id, user, self.now())
        self._deliver(self.coordinator.drain())
        try:
            async for message in ws:
                self._receive(conn_id, message)
        except ConnectionClosed:
            pass
        finally:
            self.coordinator.close(conn_id)
            del self._queues[conn_id]
            queue.put_nowait(None)
            await writer

    # -- REST ---------------------------------------------------------------------------

    def _rest_user(self, headers: dict[str, str]) -> tuple[str | None, auth.Refusal | None]:
        token, refusal = auth.bearer_token(headers.get("authorization"))
        user = headers.get("x-user-id")
        return user, refusal or auth.check(self.secret, user, token)

    def _rest_answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        if method != "POST" or path not in ("/api/sync/pull", "/api/sync/push"):
            return 404, {"error": "not found"}
        user, refusal = self._rest_user(headers)
        if refusal is not None or user is None:
            return (refusal.status if refusal else 400), {
                "error": refusal.reason if refusal else "userId"
            }
        now = self.now()
        if path == "/api/sync/pull":
            return 200, self.coordinator.rest_pull(user, now)
        try:
            payload = read_json(body.decode("utf-8") if body else "{}")
        except UnicodeDecodeError:
            return 400, {"error": "body is not UTF-8"}
        except ValueError as error:  # read_json says why: invalid, or nested too deep
            return 400, {"error": str(error)}
        answer = self.coordinator.rest_push(user, payload, headers.get("x-idempotency-key"), now)
        self._deliver(self.coordinator.drain())
        return answer

    async def _rest(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        unread = 0
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REST_READ_TIMEOUT)
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {
                k.strip().lower(): v.strip()
                for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)
            }
            length = int(headers.get("content-length", "0"))
            if length > MAX_REST_BODY:
                status, answer = 413, {"error": f"body over {MAX_REST_BODY} bytes"}
                unread = length
            else:
                body = await asyncio.wait_for(reader.readexactly(length), REST_READ_TIMEOUT)
                status, answer = self._answer_safely(method, urlsplit(path).path, headers, body)
        except (TimeoutError, asyncio.IncompleteReadError, ValueError, asyncio.LimitOverrunError):
            status, answer = 400, {"error": "bad request"}
        except ConnectionError:  # the client went away: nobody to answer
            writer.close()
            return
        data = json.dumps(answer).encode()
        reason = HTTPStatus(status).phrase
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
            + data
        )
        with contextlib.suppress(ConnectionError):
            await writer.drain()
            if unread:  # read what the client still sends, so closing does not reset the answer
                await _discard(reader, unread)
        writer.close()

    def _answer_safely(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        try:
            return self._rest_answer(method, path, headers, body)
        except Exception as error:
            _log(f"REST {path} failed", error)
            self._deliver(self.coordinator.drain())
            return 500, {"error": f"internal error: {type(error).__name__}"}

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self, host: str, port: int, rest_port: int | None = None) -> Endpoints:
        ws_server = await serve(
            self._handle, host, port, process_request=self._check, max_size=MAX_FRAME
        )
        bound = ws_server.sockets[0].getsockname()[1] if port == 0 else port
        rest = await asyncio.start_server(
            self._rest, host, rest_port if rest_port is not None else (0 if port == 0 else port + 1)
        )
        rest_bound = rest.sockets[0].getsockname()[1]
        self._servers = [ws_server, rest]
        return Endpoints(f"ws://{host}:{bound}{WS_PATH}", f"http://{host}:{rest_bound}")

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()
        self.store.close()


async def _discard(reader: asyncio.StreamReader, length: int) -> None:
    """Read and drop up to `length` bytes (at most 4 x MAX_REST_BODY), within the read timeout."""
    left = min(length, 4 * MAX_REST_BODY)

    async def drop() -> None:
        nonlocal left
        while left > 0 and (chunk := await reader.read(min(left, 65536))):
            left -= len(chunk)

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(drop(), REST_READ_TIMEOUT)


async def serve_forever(
    server: ReferenceServer, host: str, port: int, rest_port: int | None
) -> None:
    """Serve until SIGINT or SIGTERM, then close every connection and the store."""
    endpoints = await server.start(host, port, rest_port)
    print(f"syncsim serve: WebSocket {endpoints.ws_url}  REST {endpoints.rest_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.stop()
    print("syncsim serve: stopped", flush=True)
