"""A real `syncsim serve` on a free loopback port, for tests that talk to it over sockets."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

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


@pytest.fixture
def seq_served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    """syncsim serve under profile seq, the profile the conformance probes name."""
    monkeypatch.setenv("SYNCSIM_JWT_SECRET", SECRET)
    server = start_server(tmp_path / "seq.db", profile="seq")
    yield server
    if server.process.poll() is None:
        stop_server(server)


# -- raw HTTP/1.1 on the REST port, to say exactly what goes on the wire -------------------


def rest_socket(served: Served, timeout: float = 10.0) -> socket.socket:
    """A raw TCP connection to serve's REST port; `timeout` bounds each read and write."""
    parts = urlsplit(served.rest_url)
    assert parts.hostname is not None and parts.port is not None
    return socket.create_connection((parts.hostname, parts.port), timeout=timeout)


def request(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """A POST as given: `Content-Length` from `headers` when there, else the body's."""
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    if "Transfer-Encoding" not in headers and "Content-Length" not in headers:
        head += f"Content-Length: {len(body)}\r\n"
    return f"POST {path} HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode() + body


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP answer: status, headers (names in lower case) and the body its
    Content-Length gives. The connection may stay open (keep-alive): nothing reads past it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed without an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines)}
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(65536)
        assert chunk, "the connection closed in the middle of the answer"
        body += chunk
    return int(status_line.split()[1]), headers, body
