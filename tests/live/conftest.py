"""A real `syncsim serve` on a free loopback port, for tests that talk to it over sockets."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SECRET = "a-test-secret-long-enough-for-hs256-keys!"
LINE = re.compile(r"WebSocket (ws://\S+)\s+REST (http://\S+)")


@dataclass
class Served:
    process: subprocess.Popen[str]
    ws_url: str
    rest_url: str
    db: Path


def start_server(
    db: Path, port: int = 0, rest_port: int | None = None, profile: str = "proposed"
) -> Served:
    command = [
        sys.executable,
        "-m",
        "simulator.cli",
        "serve",
        "--port",
        str(port),
        "--db",
        str(db),
        "--profile",
        profile,
    ]
    if rest_port is not None:
        command += ["--rest-port", str(rest_port)]
    env = {**os.environ, "SYNCSIM_JWT_SECRET": SECRET}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # the server prints its URLs once it listens
    match = LINE.search(line)
    if match is None:
        process.kill()
        raise AssertionError(
            f"serve did not start: {line!r} {process.stderr.read() if process.stderr else ''}"
        )
    return Served(process, match.group(1), match.group(2), db)


def stop_server(served: Served) -> int:
    served.process.send_signal(signal.SIGTERM)
    return served.process.wait(timeout=20)


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    monkeypatch.setenv("SYNCSIM_JWT_SECRET", SECRET)
    server = start_server(tmp_path / "serve.db")
    yield server
    if server.process.poll() is None:
        stop_server(server)
