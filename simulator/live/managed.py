"""A `syncsim serve` that syncsim runs itself, in the background, for the differential gate
and the tests: a fresh SQLite file, two free loopback ports, a clock file (so its rows are
stamped in scenario time, as the simulation's server stamps them), and the shell commands
that stop and start it, the same commands a user gives for their own server (`--stop-cmd`,
`--start-cmd`), so a `server_outage` is carried out exactly as against a real deployment.

The process is its own session; its pid lives in a file beside the database, which is how the
stop command finds it after a start command has replaced it.
"""

from __future__ import annotations

import shlex
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from simulator.errors import EndpointError
from simulator.live.commands import LiveTarget
from simulator.live.serve import WS_PATH

READY_TIMEOUT = 30.0  # wall seconds for a started server to accept connections


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class ManagedServer:
    folder: Path
    profile: str
    port: int
    rest_port: int
    breaks: tuple[str, ...] = ()  # rules it breaks on purpose (the probes' mutation test)

    @classmethod
    def create(cls, folder: Path, profile: str, breaks: tuple[str, ...] = ()) -> ManagedServer:
        folder.mkdir(parents=True, exist_ok=True)
        return cls(folder, profile, _free_port(), _free_port(), breaks)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{WS_PATH}"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def start_cmd(self) -> str:
        serve = [sys.executable, "-m", "simulator.cli", "serve", "--port", str(self.port)]
        serve += ["--rest-port", str(self.rest_port), "--profile", self.profile]
        serve += ["--db", str(self.folder / "serve.db"), "--clock-file", str(self.clock_file)]
        serve += [arg for rule in self.breaks for arg in ("--break", rule)]
        pid = shlex.quote(str(self.folder / "serve.pid"))
        log = shlex.quote(str(self.folder / "serve.log"))
        return f"{shlex.join(serve)} >>{log} 2>&1 & echo $! >{pid}"

    @property
    def stop_cmd(self) -> str:
        # SIGTERM, then wait (the run's command deadline bounds this) until it has exited.
        pid = shlex.quote(str(self.folder / "serve.pid"))
        return f'p=$(cat {pid}) && kill "$p" && while kill -0 "$p" 2>/dev/null; do sleep 0.05; done'

    @property
    def clock_file(self) -> Path:
        return self.folder / "clock.json"

    def target(self, time_scale: float | None = None) -> LiveTarget:
        return LiveTarget(
            self.ws_url,
            self.rest_url,
            time_scale,
            self.stop_cmd,
            self.start_cmd,
            str(self.clock_file),
        )

    def start(self) -> None:
        subprocess.run(self.start_cmd, shell=True, check=True, timeout=READY_TIMEOUT)
        deadline = time.monotonic() + READY_TIMEOUT
        while not (_listening(self.port) and _listening(self.rest_port)):
            if time.monotonic() > deadline:
                log = (self.folder / "serve.log").read_text(errors="replace")[-500:]
                raise EndpointError(f"syncsim serve did not start on {self.ws_url}: {log}")
            time.sleep(0.05)

    def stop(self) -> None:
        if (self.folder / "serve.pid").exists():
            subprocess.run(self.stop_cmd, shell=True, check=False, timeout=READY_TIMEOUT)
