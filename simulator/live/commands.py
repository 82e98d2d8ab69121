"""The live side of the command line: `serve`, running a scenario live, and `diff`."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from simulator.errors import UsageError
from simulator.history import History
from simulator.protocol.profile import UnknownProfile, resolve
from simulator.scenario.loader import Loaded
from simulator.scenario.model import LiveServer


def serve(
    host: str, port: int, rest_port: int | None, db: str, profile: str, secret_env: str
) -> int:
    from simulator.live.auth import secret_from
    from simulator.live.serve import ReferenceServer, serve_forever

    secret = secret_from(secret_env)
    try:
        chosen = resolve(profile)
    except UnknownProfile as error:
        raise UsageError(f"--profile: {error.message}") from None
    try:
        asyncio.run(serve_forever(ReferenceServer(db, chosen, secret), host, port, rest_port))
    except OSError as error:  # a busy port, an address not ours: bad input, one line
        raise UsageError(f"cannot serve: {error}") from None
    return 0


def live_server(loaded: Loaded, endpoint: str | None, rest: str | None) -> LiveServer | None:
    """The live endpoint this run targets: the scenario's, or the one given on the command
    line (which turns a simulated scenario into a live one)."""
    server = loaded.scenario.server
    if endpoint is None:
        return server if isinstance(server, LiveServer) else None
    base = server if isinstance(server, LiveServer) else LiveServer(kind="live", url=endpoint)
    return base.model_copy(update={"url": endpoint, "rest_url": rest or base.rest_url})


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
