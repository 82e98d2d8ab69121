"""The baseline of the serve_vs_echo figure: a raw websockets echo server, nothing else.

It answers every message with the message itself, on any path and without checking a token,
with the websockets settings `syncsim serve` has (the same library, message size limit and
compression), so the figure measures what serve does for a frame on top of what the library
does. It prints `echo: ws://HOST:PORT` once it listens and stops on SIGTERM or SIGINT.

    python bench/echo_server.py [--port 0]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from websockets.asyncio.server import ServerConnection, serve

from simulator.live.serve import WS_OPTIONS, until_stopped


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


async def main(host: str, port: int) -> None:
    async with serve(echo, host, port, **WS_OPTIONS) as server:
        bound = server.sockets[0].getsockname()[1]
        print(f"echo: ws://{host}:{bound}", flush=True)
        await until_stopped()


def cli(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    asyncio.run(main(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(cli())
