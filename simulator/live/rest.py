"""The REST calls a live run makes beside the socket (`POST /api/sync/pull`, `POST
/api/sync/push`): blocking, each with a deadline, run in a thread so the loop goes on; an
answer that is not a JSON object, an HTTP error or an unreachable endpoint comes back as a
reason, never as an exception."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from simulator import auth

PULL = "/api/sync/pull"
PUSH = "/api/sync/push"


def rest_default(ws_url: str) -> str:
    """The REST base URL when none is given: the socket's own host and port."""
    parts = urlsplit(ws_url)
    scheme = "https" if parts.scheme == "wss" else "http"
    return f"{scheme}://{parts.netloc}"


def post(
    url: str,
    user: str,
    secret: str,
    timeout: float,
    body: bytes = b"{}",
    idempotency_key: str | None = None,
) -> tuple[dict[str, Any] | None, str]:
    """(the answer, "") or (None, why not), as `user` with a token minted now."""
    headers = {
        "Authorization": f"Bearer {auth.mint(secret, user, time.time())}",
        "X-User-Id": user,
        "Content-Type": "application/json",
    }
    if idempotency_key is not None:
        headers["X-Idempotency-Key"] = idempotency_key
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            parsed = json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return None, f"HTTP {error.code}{_said(error)}"
    except (OSError, ValueError) as error:
        return None, f"unreachable: {error!r}"[:200]
    return (parsed, "") if isinstance(parsed, dict) else (None, "answer is not a JSON object")


def _said(error: urllib.error.HTTPError) -> str:
    """The `error` text of an HTTP error's JSON body, as `: text`, when it has one."""
    try:
        body = json.loads(error.read(4096))
    except (OSError, ValueError):
        return ""
    text = body.get("error") if isinstance(body, dict) else None
    return f": {text}"[:200] if isinstance(text, str) else ""
