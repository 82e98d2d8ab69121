"""Endpoints that misbehave, for tests: `python fake_endpoint.py MODE` prints its URLs the way
`syncsim serve` does, then serves until killed.

- stores_nothing: upgrades, answers WELCOME, acks every mutation, ends every catch-up at once,
  and answers REST pulls with nothing: it never stores a thing.
- closes_at_once: upgrades, then closes every connection at once; REST answers 500.
- silent: accepts TCP connections and never answers the handshake; REST the same.
- never_acks: as stores_nothing, but a mutation gets no answer at all.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime

from websockets.asyncio.server import ServerConnection, serve


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _frame(type_: str, **fields: object) -> str:
    return json.dumps({"type": type_, "timestamp": _now(), **fields})


async def _stores_nothing(ws: ServerConnection, acks: bool = True) -> None:
    await ws.send(_frame("WELCOME", message="Connected"))
    async for text in ws:
        frame = json.loads(text)
        kind = frame.get("type")
        if kind == "PING":
            await ws.send(_frame("PONG"))
        elif kind == "SYNC_REQUEST":
            await ws.send(_frame("BULK_SYNC", entries=[]))
            await ws.send(_frame("SYNC_RESPONSE", message="Sync complete", lastSeq=0))
        elif acks:
            fields = {"messageId": frame["messageId"]} if "messageId" in frame else {}
            await ws.send(_frame("SYNC_RESPONSE", message="Mutation applied", **fields))


async def _closes_at_once(ws: ServerConnection) -> None:
    await ws.close()


async def _rest(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, mode: str) -> None:
    if mode == "silent":
        await asyncio.sleep(3600)
        return
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        ),
        0,
    )
    await reader.readexactly(length)
    if mode in ("stores_nothing", "never_acks"):
        body, status = json.dumps({"entries": [], "pieces": [], "lastSeq": 0}).encode(), "200 OK"
    else:
        body, status = b'{"error": "broken"}', "500 Internal Server Error"
    writer.write(
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    writer.close()


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(3600)


async def main(mode: str) -> None:
    rest = await asyncio.start_server(lambda r, w: _rest(r, w, mode), "127.0.0.1", 0)
    rest_port = rest.sockets[0].getsockname()[1]
    if mode == "silent":
        ws_server = await asyncio.start_server(_silent, "127.0.0.1", 0)
        port = ws_server.sockets[0].getsockname()[1]
    else:
        handlers = {
            "stores_nothing": _stores_nothing,
            "never_acks": lambda ws: _stores_nothing(ws, acks=False),
            "closes_at_once": _closes_at_once,
        }
        ws_server = await serve(handlers[mode], "127.0.0.1", 0)
        port = next(iter(ws_server.sockets)).getsockname()[1]
    print(f"WebSocket ws://127.0.0.1:{port}/sync/ws REST http://127.0.0.1:{rest_port}", flush=True)
    await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
