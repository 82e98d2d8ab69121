"""Server outages against a live endpoint, carried out by the user's own commands
(`server.stop_cmd`, `server.start_cmd`): syncsim cannot stop a server it does not run, but the
person who runs it can say how (`docker stop sync`, `systemctl stop sync`, `kill ...`).

Each command runs in a shell of its own session with no input, its output discarded and its
error output kept in a file (a pipe would be held open by a server the start command leaves
running in the background), within `server.command_timeout` wall seconds; on the deadline its
whole process group is killed. After a start, the endpoint counts as back once its TCP port
accepts a connection again, within the same deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
import time
from urllib.parse import urlsplit

POLL = 0.05  # wall seconds between connection attempts while waiting for the endpoint


async def run_command(command: str, timeout: float) -> str | None:
    """Run `command`; None when it exited 0 in time, else why not."""
    with tempfile.TemporaryFile() as errors:
        process = await asyncio.create_subprocess_shell(
            command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=errors,
            start_new_session=True,
        )
        try:
            code = await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
            return f"did not finish within {timeout:g} s (killed)"
        if code == 0:
            return None
        errors.seek(0)
        said = errors.read()[-300:].decode("utf-8", "replace").strip().splitlines()
        return f"exit code {code}" + (f": {said[-1]}" if said else "")


async def until_listening(url: str, deadline: float) -> bool:
    """Whether the endpoint's host and port accept a TCP connection before `deadline`
    (monotonic wall time)."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), left)
        except (OSError, TimeoutError):
            await asyncio.sleep(min(POLL, max(0.0, deadline - time.monotonic())))
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True
