"""`syncsim serve`: the reference Coordinator as a real WebSocket server, REST beside it.

The WebSocket endpoint is `/sync/ws?userId=USER&token=JWT`, served by the websockets library;
tokens are checked before the upgrade (400, 401, 403 as plain HTTP answers). That library
answers only GET upgrades, so REST (`POST /api/sync/pull`, `POST /api/sync/push`) is an aiohttp
application on a port of its own, by default the WebSocket port plus one: HTTP/1.1 with
keep-alive and chunked bodies. A body over `MAX_REST_BODY` is answered 413 (and read on, so
the answer is not lost to a reset), a head over `MAX_REST_HEAD` or with a line over
`MAX_REST_LINE` 400, a body not in within `REST_READ_TIMEOUT` 400; a head not in within it
closes the connection unanswered (aiohttp's keep-alive timeout is its only wait for a head).
SIGINT and SIGTERM stop the server cleanly.

Storage is a SQLite file (WAL) written by group commit. The coordinator is pure and
synchronous: each frame (or REST request) is fed and its outputs drained without an `await` in
between, into the store's open transaction (`ServerStore.begin`), and the outputs are held. One
commit task commits that transaction, which writes the log without waiting for the disk
(`deferred_sync`), then syncs the log on a thread of its own; frames that arrive meanwhile are
handled into the next transaction. Only once the sync has returned are the outputs of that
commit released, in the order the coordinator produced them, to one writer queue per connection
(and REST answers to their requests): so no ACK, broadcast, catch-up or REST answer leaves
before every row it reports is on disk. A commit or sync that fails is named in one line on
stderr (a failed commit is rolled back) and each frame it held is answered with an ERROR
instead (a REST request 500); a WELCOME, which reports no row, goes out all the same.

Validation is the coordinator's (every frame is answered, none makes it raise). Should it raise
all the same, that frame is answered with an ERROR, one line goes to stderr and the connection
stays open; a REST request is answered 500 the same way. Nothing here closes with 1011, and
aiohttp writes no access log and no traceback: what it would log goes to stderr as one line,
and a client's malformed request (aiohttp's own 400) not at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from simulator import auth
from simulator.protocol.breaks import Break
from simulator.protocol.codec import Frame, error_frame, read_json
from simulator.protocol.coordinator import REST, Coordinator, Outgoing, ServerOutput
from simulator.protocol.profile import Profile
from simulator.protocol.store import ServerStore

WS_PATH = "/sync/ws"
# Seconds for a request's head, from connecting or from the answer before it on a kept-alive
# connection (else the connection is closed), and for its body, from its head (else 400).
REST_READ_TIMEOUT = 10.0
MAX_REST_BODY = 16 * 1024 * 1024  # bytes; a bigger body is answered 413
MAX_REST_HEAD = 64 * 1024  # bytes of request line and headers; a bigger head is answered 400
MAX_REST_LINE = 8190  # bytes of the request line, and of each header: aiohttp's limits (400)
MAX_REST_HEADERS = 128  # header lines at most (400)
REST_STOP_GRACE = 1.0  # seconds a REST request under way may still take when the server stops
MAX_FRAME = 1024 * 1024  # bytes; a bigger WebSocket message closes the connection with 1009
# The websockets settings of the endpoint. bench/echo_server.py, the baseline serve is measured
# against, takes the same, so the figure counts serve's own work and not the library's.
WS_OPTIONS: dict[str, Any] = {"max_size": MAX_FRAME}


@dataclass(frozen=True)
class Endpoints:
    ws_url: str
    rest_url: str


def _query(path: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}


def _log(what: str, error: BaseException) -> None:
    """One line on stderr for a failure that was answered, never a traceback."""
    print(f"syncsim serve: {what}: {type(error).__name__}: {error!s:.200}", file=sys.stderr)


class _OneLine(logging.Handler):
    """What aiohttp's server logs, as one line on stderr without a traceback. A client's
    malformed request is the client's fault and answered 400 by aiohttp: not logged, as no
    refused request is."""

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            return
        what = f"REST: {record.getMessage()}"
        if error is None:
            print(f"syncsim serve: {what:.300}", file=sys.stderr)
        else:
            _log(what, error)


# A logger of serve's own, so no other user of aiohttp in the process is affected; without a
# handler, logging's last resort would print aiohttp's errors with their tracebacks.
REST_LOG = logging.getLogger("syncsim.serve.rest")
REST_LOG.addHandler(_OneLine(logging.WARNING))
REST_LOG.propagate = False


class ReferenceServer:
    def __init__(
        self,
        db: str,
        profile: Profile,
        secret: str,
        clock: Callable[[], float] = time.time,
        breaks: frozenset[Break] = frozenset(),
    ) -> None:
        self.now = clock  # what the coordinator is told the time is (auth keeps wall time)
        self.store = ServerStore(db, deferred_sync=True)  # synced by the commit task
        self.coordinator = Coordinator(self.store, profile, breaks)
        self.loose_auth = Break.AUTH in breaks  # another user's token let in (a test only)
        self.secret = secret
        self._queues: dict[str, asyncio.Queue[str | None]] = {}
        self._count = 0
        self._ws_server: Server | None = None
        self._runner: web.AppRunner | None = None
        # Group commit: what the coordinator produced since the last commit, in order, and the
        # REST answers waiting for the next commit and its sync to end.
        self._held: list[_Held] = []
        self._waiting: list[asyncio.Future[None]] = []
        self._pending = asyncio.Event()  # something is held or waiting
        self._closing = False
        self._sync_thread = ThreadPoolExecutor(1, thread_name_prefix="syncsim-sync")
        self._committer: asyncio.Task[None] | None = None

    # -- WebSocket --------------------------------------------------------------------

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        if urlsplit(request.path).path != WS_PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        query = _query(request.path)
        refusal = auth.check(
            self.secret, query.get("userId"), query.get("token"), any_subject=self.loose_auth
        )
        if refusal is None:
            return None
        return connection.respond(HTTPStatus(refusal.status), refusal.reason + "\n")

    def _deliver(self, frames: list[tuple[str, str]]) -> None:
        for conn_id, text in frames:
            if conn_id in self._queues:  # a connection gone meanwhile hears nothing
                self._queues[conn_id].put_nowait(text)

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
        """Feed one frame and hold what it produced for the next commit; an exception becomes
        an ERROR frame for that frame and one line on stderr, and the connection stays open."""
        self.store.begin()
        try:
            self.coordinator.receive(conn_id, message, self.now())
        except Exception as error:
            _log(f"{conn_id}: handling a frame failed", error)
            failed = (conn_id, self._internal_error(error).encode())
            self._hold(_Held([*_frames(self.coordinator.drain()), failed], conn_id))
            return
        self._hold(_Held(_frames(self.coordinator.drain()), conn_id))

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        user = _query(ws.request.path)["userId"]
        self._count += 1
        conn_id = f"c{self._count}"
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._queues[conn_id] = queue
        writer = asyncio.create_task(self._writer(conn_id, ws, queue))
        self.coordinator.open(conn_id, user, self.now())
        self._hold(_Held(_frames(self.coordinator.drain()), None))
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

    # -- group commit -------------------------------------------------------------------

    def _hold(self, held: _Held) -> None:
        self._held.append(held)
        self._pending.set()

    async def _commit_loop(self) -> None:
        """Commit what the store holds, wait for the disk, then release what waited for it.
        The wait is on a thread of its own: meanwhile new frames are handled into the next
        transaction, which the next round commits."""
        while True:
            await self._pending.wait()
            self._pending.clear()
            held, self._held = self._held, []
            waiting, self._waiting = self._waiting, []
            wrote = self.store.in_transaction  # a batch of WELCOMEs alone has nothing to sync
            failure = self._commit()
            if failure is None and wrote:
                failure = await self._sync()
            for item in held:
                self._deliver(item.frames if failure is None else self._instead(item, failure))
            for future in waiting:
                if future.done():  # its request was given up on
                    continue
                if failure is None:
                    future.set_result(None)
                else:
                    future.set_exception(failure)
            if self._closing and not self._pending.is_set():
                return

    def _commit(self) -> Exception | None:
        """Commit the open transaction (quick: the disk is `_sync`'s); the exception if that
        failed, after taking the transaction back."""
        try:
            self.store.commit()
        except Exception as error:
            _log("committing failed", error)
            self.store.rollback()
            return error
        return None

    async def _sync(self) -> Exception | None:
        """Wait until what was committed is on disk; the exception if syncing failed (the rows
        are committed all the same, but no answer may say so)."""
        try:
            await asyncio.get_running_loop().run_in_executor(self._sync_thread, self.store.sync)
        except OSError as error:
            _log("syncing failed", error)
            return error
        return None

    def _instead(self, held: _Held, failure: Exception) -> list[tuple[str, str]]:
        """What goes out for an input whose commit or sync failed: an ERROR to the frame's
        sender, as for any frame that failed; a WELCOME as it was."""
        if held.sender is None:
            return held.frames
        if held.sender == REST:  # its HTTP answer says so
            return []
        return [(held.sender, self._internal_error(failure).encode())]

    async def _durable(self) -> None:
        """Return once everything fed to the store so far is committed and on disk; raise if
        that failed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        self._pending.set()
        await future

    # -- REST ---------------------------------------------------------------------------

    def _rest_user(self, headers: dict[str, str]) -> tuple[str | None, auth.Refusal | None]:
        token, refusal = auth.bearer_token(headers.get("authorization"))
        user = headers.get("x-user-id")
        return user, refusal or auth.check(self.secret, user, token, any_subject=self.loose_auth)

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
        return self.coordinator.rest_push(user, payload, headers.get("x-idempotency-key"), now)

    async def _rest(self, request: web.BaseRequest) -> web.Response:
        """Every REST request, whatever its method and path: `_rest_answer` decides."""
        status, data = await self._read_and_answer(request)
        return web.Response(status=status, body=data, content_type="application/json")

    async def _read_and_answer(self, request: web.BaseRequest) -> tuple[int, bytes]:
        if _head_size(request) > MAX_REST_HEAD:
            return _encoded(400, {"error": "bad request"})
        if (request.content_length or 0) > MAX_REST_BODY:  # no need to read it to know
            return _encoded(413, {"error": f"body over {MAX_REST_BODY} bytes"})
        try:
            async with asyncio.timeout(REST_READ_TIMEOUT):
                body = await request.read()
        except web.HTTPRequestEntityTooLarge:  # a chunked body, counted as it came
            return _encoded(413, {"error": f"body over {MAX_REST_BODY} bytes"})
        except (TimeoutError, web.RequestPayloadError, ConnectionError):
            # Late, malformed (a bad chunk) or cut short. A client gone is answered to nobody;
            # after any answer aiohttp reads on for at most lingering_time, then closes.
            return _encoded(400, {"error": "bad request"})
        headers = {name.lower(): value for name, value in request.headers.items()}
        path = urlsplit(request.raw_path).path  # as sent: %-escapes name no endpoint
        answer = self._answer_safely(request.method, path, headers, body)
        try:  # what the answer says is stored (or read) must be on disk before it leaves
            await self._durable()
        except Exception as error:  # the commit or its sync failed, and said so on stderr
            return _encoded(500, {"error": f"internal error: {type(error).__name__}"})
        return answer

    def _answer_safely(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        self.store.begin()
        try:
            return _encoded(*self._rest_answer(method, path, headers, body))
        except Exception as error:
            _log(f"REST {path} failed", error)
            return _encoded(500, {"error": f"internal error: {type(error).__name__}"})
        finally:  # broadcasts of what a push stored leave with the commit, as the answer does
            self._hold(_Held(_frames(self.coordinator.drain()), REST))

    def _rest_runner(self) -> web.AppRunner:
        app = web.Application(client_max_size=MAX_REST_BODY)
        app.router.add_route("*", "/{path:.*}", self._rest)  # 404 is _rest_answer's, in JSON
        return web.AppRunner(
            app,
            access_log=None,
            logger=REST_LOG,
            keepalive_timeout=REST_READ_TIMEOUT,  # also bounds the wait for a request's head
            lingering_time=REST_READ_TIMEOUT,
            max_line_size=MAX_REST_LINE,
            max_field_size=MAX_REST_LINE,
            max_headers=MAX_REST_HEADERS,
            auto_decompress=False,  # a body is taken as sent, as it always was
            shutdown_timeout=REST_STOP_GRACE,
        )

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self, host: str, port: int, rest_port: int | None = None) -> Endpoints:
        ws_server = await serve(self._handle, host, port, process_request=self._check, **WS_OPTIONS)
        self._committer = asyncio.create_task(self._commit_loop())
        self._ws_server = ws_server
        bound = ws_server.sockets[0].getsockname()[1] if port == 0 else port
        runner = self._rest_runner()
        await runner.setup()
        self._runner = runner
        chosen = rest_port if rest_port is not None else (0 if port == 0 else port + 1)
        try:
            await web.TCPSite(runner, host, chosen).start()
        except OSError:  # the REST port is taken: serve nothing, not the socket alone
            await self.stop()
            raise
        rest_bound = runner.addresses[0][1]
        return Endpoints(f"ws://{host}:{bound}{WS_PATH}", f"http://{host}:{rest_bound}")

    async def stop(self) -> None:
        ws_server, runner, self._ws_server, self._runner = self._ws_server, self._runner, None, None
        if ws_server is not None:
            ws_server.close()
            await ws_server.wait_closed()
        if runner is not None:
            await runner.cleanup()
        # Nothing feeds the store any more: the last commit, then no thread uses it.
        committer, self._committer = self._committer, None
        if committer is not None:
            self._closing = True
            self._pending.set()
            await committer
        self._sync_thread.shutdown()
        self.store.close()


@dataclass(frozen=True)
class _Held:
    """What one input produced, held until the commit after it is on disk. `sender`: the
    connection whose frame it answers (told of a failed commit or sync by an ERROR instead),
    REST for a REST request (its HTTP answer tells), None for a connection's WELCOME (sent
    whatever the commit did)."""

    frames: list[tuple[str, str]]  # connection id, text
    sender: str | None


def _frames(outputs: list[ServerOutput]) -> list[tuple[str, str]]:
    return [(o.conn_id, o.text) for o in outputs if isinstance(o, Outgoing)]


def _encoded(status: int, answer: dict[str, Any]) -> tuple[int, bytes]:
    return status, json.dumps(answer).encode()


def _head_size(request: web.BaseRequest) -> int:
    """The bytes of the request line and headers as sent, but for optional whitespace."""
    target = request.raw_path.encode("utf-8", "surrogateescape")
    line = len(request.method) + len(target) + len(" HTTP/1.1\r\n") + 1
    return line + sum(len(k) + len(v) + 4 for k, v in request.raw_headers) + 2


async def until_stopped() -> None:
    """Return once the process is sent SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


async def serve_forever(
    server: ReferenceServer, host: str, port: int, rest_port: int | None
) -> None:
    """Serve until SIGINT or SIGTERM, then close every connection and the store."""
    endpoints = await server.start(host, port, rest_port)
    print(f"syncsim serve: WebSocket {endpoints.ws_url}  REST {endpoints.rest_url}", flush=True)
    await until_stopped()
    await server.stop()
    print("syncsim serve: stopped", flush=True)
