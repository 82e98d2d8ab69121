"""The live side of the command line: `serve`, running a scenario live, and `diff`."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from simulator.errors import UsageError
from simulator.history import History
from simulator.protocol.breaks import Break
from simulator.protocol.profile import UnknownProfile, resolve
from simulator.scenario.loader import Loaded
from simulator.scenario.model import LiveServer
from simulator.verdict import Run, judge_history


def serve(
    host: str,
    port: int,
    rest_port: int | None,
    db: str,
    profile: str,
    secret_env: str,
    clock_file: str | None = None,
    breaks: frozenset[Break] = frozenset(),
) -> int:
    from simulator.auth import secret_from
    from simulator.live.clockfile import FileClock
    from simulator.live.serve import ReferenceServer, serve_forever

    secret = secret_from(secret_env)
    try:
        chosen = resolve(profile)
    except UnknownProfile as error:
        raise UsageError(f"--profile: {error.message}") from None
    try:
        clock = time.time if clock_file is None else FileClock(Path(clock_file))
        server = ReferenceServer(db, chosen, secret, clock, breaks)
        if breaks:  # on stderr: stdout's first line is the URLs, which scripts read
            broken = ", ".join(sorted(breaks))
            print(f"syncsim serve: TEST ONLY: breaking the rule(s) {broken}", file=sys.stderr)
        asyncio.run(serve_forever(server, host, port, rest_port))
    except OSError as error:  # a busy port, an address not ours: bad input, one line
        raise UsageError(f"cannot serve: {error}") from None
    return 0


@dataclass(frozen=True)
class LiveTarget:
    """What a command line says about a live endpoint (`--endpoint`, `--rest`, `--time-scale`,
    `--stop-cmd`, `--start-cmd`); each field left None keeps the scenario's own."""

    endpoint: str | None = None
    rest: str | None = None
    time_scale: float | None = None
    stop_cmd: str | None = None
    start_cmd: str | None = None
    clock_file: str | None = None


SIMULATED = LiveTarget()  # nothing given on the command line


def live_server(loaded: Loaded, target: LiveTarget) -> LiveServer | None:
    """The live endpoint this run targets: the scenario's, or the one given on the command
    line (which turns a simulated scenario into a live one); None: simulate."""
    server = loaded.scenario.server
    if not isinstance(server, LiveServer):
        if target.endpoint is None:
            return None
        server = LiveServer(kind="live", url=target.endpoint)
    given = {
        "url": target.endpoint,
        "rest_url": target.rest,
        "time_scale": target.time_scale,
        "stop_cmd": target.stop_cmd,
        "start_cmd": target.start_cmd,
        "clock_file": target.clock_file,
    }
    return server.model_copy(update={k: v for k, v in given.items() if v is not None})


def play(loaded: Loaded, target: LiveTarget | None = None) -> Run:
    """Simulated, or live when the scenario or `target` names an endpoint; judged."""
    from simulator.runner import run

    server = live_server(loaded, target or SIMULATED)
    if server is None:
        return run(loaded)
    return judge_history(loaded, run_live(loaded, server))


def held_before(server: LiveServer, users: list[str]) -> dict[str, int]:
    """How many items the endpoint already holds for each of `users` (REST pull); a user
    whose pull fails is left out."""
    from simulator.auth import secret_from
    from simulator.live.rest import PULL, post, rest_default, rest_session
    from simulator.protocol.kinds import items_in

    secret = secret_from(server.jwt_secret_env)
    url = f"{server.rest_url or rest_default(server.url)}{PULL}"

    async def pull_each() -> list[dict[str, Any] | None]:
        async with rest_session() as http:
            return [(await post(http, url, user, secret, server.timeout))[0] for user in users]

    answers = asyncio.run(pull_each())
    return {
        user: count
        for user, body in zip(users, answers, strict=True)
        if body is not None and (count := items_in(body))
    }


def leftover_warning(loaded: Loaded, server: LiveServer) -> str | None:
    """For `syncsim diff`: a warning when the endpoint is not empty before the live run, since
    whatever it holds shows as a difference from the simulation."""
    users = list(server.users) or sorted({d.user for d in loaded.scenario.devices})
    held = held_before(server, users)
    if not held:
        return None
    listed = ", ".join(f"{user} {count}" for user, count in sorted(held.items()))
    return (
        f"before the live run the endpoint already held {sum(held.values())} items ({listed}):"
        " leftovers of an earlier run show as differences; start it on a fresh database"
    )


def with_live(loaded: Loaded, server: LiveServer) -> Loaded:
    """The scenario as run live; refusals of what cannot be done live apply here too."""
    from simulator.scenario.loader import refuse_unplayable_live

    scenario = loaded.scenario.model_copy(update={"server": server})
    refuse_unplayable_live(loaded.source, scenario)
    return replace(loaded, scenario=scenario)


def run_live(loaded: Loaded, server: LiveServer) -> History:
    from simulator.live.driver import LiveRun

    live = with_live(loaded, server)
    return asyncio.run(LiveRun(live, server).run())
