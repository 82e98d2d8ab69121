"""The REST calls a live run makes beside the socket (`POST /api/sync/pull`, `POST
/api/sync/push`), on aiohttp: one session per run (`rest_session()`, closed at its end), each call
with its own deadline for the whole exchange. An answer that is not a JSON object, an HTTP
error or an unreachable endpoint comes back as a reason, never as an exception."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from simulator import auth
from simulator.protocol.codec import read_json

PULL = "/api/sync/pull"
PUSH = "/api/sync/push"
ERROR_TEXT = 4096  # bytes of an HTTP error's body read for its `error` text


def rest_default(ws_url: str) -> str:
    """The REST base URL when none is given: the socket's own host and port."""
    parts = urlsplit(ws_url)
    scheme = "https" if parts.scheme == "wss" else "http"
    return f"{scheme}://{parts.netloc}"


def rest_session() -> aiohttp.ClientSession:
    """A session for a run's REST calls; open it inside the loop that uses it, and close it.

    Every call gets a connection of its own, as with urllib before: a kept-alive connection
    the endpoint closes while idle (ours after 10 s) would fail the next POST, which aiohttp
    does not retry. No cookies are kept: each call carries its own credentials."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(force_close=True),
        cookie_jar=aiohttp.DummyCookieJar(),
    )


async def post(
    http: aiohttp.ClientSession,
    url: str,
    user: str,
    secret: str,
    timeout: float,
    body: bytes = b"{}",
    idempotency_key: str | None = None,
) -> tuple[dict[str, Any] | None, str]:
    """(the answer, "") or (None, why not), as `user` with a token minted now; the whole
    exchange (connect, send, answer) within `timeout` seconds."""
    headers = {
        "Authorization": f"Bearer {auth.mint(secret, user, time.time())}",
        "X-User-Id": user,
        "Content-Type": "application/json",
    }
    if idempotency_key is not None:
        headers["X-Idempotency-Key"] = idempotency_key
    try:
        async with http.post(
            url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as answer:
            if not 200 <= answer.status < 300:
                return None, f"HTTP {answer.status}{await _said(answer)}"
            data = await answer.read()
    except TimeoutError:
        return None, f"unreachable: no answer within {timeout:g} s"
    except (aiohttp.ClientError, OSError, ValueError) as error:  # ValueError: a bad URL
        return None, f"unreachable: {error!r}"[:200]
    try:
        parsed = read_json(data.decode("utf-8"))
    except ValueError:  # not UTF-8, not JSON, or nested too deep
        return None, "answer is not a JSON object"
    return (parsed, "") if isinstance(parsed, dict) else (None, "answer is not a JSON object")


async def _said(answer: aiohttp.ClientResponse) -> str:
    """The `error` text of an HTTP error's JSON body, as `: text`, when it has one."""
    try:
        body = read_json((await answer.content.read(ERROR_TEXT)).decode("utf-8"))
    except (aiohttp.ClientError, OSError, ValueError):
        return ""
    text = body.get("error") if isinstance(body, dict) else None
    return f": {text}"[:200] if isinstance(text, str) else ""
