"""`make fuzz`: hostile frames at the reference server, counted.

Three phases, each with its own counts, every count of trouble 0 or the exit code is 1:

- coordinator: N frames (default 100,000) straight into Coordinators (one per profile), from six
  connections of alice while bob holds rows and a connection of his own;
- socket: M frames (default 10,000) over six real WebSocket connections of alice to a
  `syncsim serve` subprocess, bob connected beside them;
- rest: K bodies (default 1,000) POSTed to a `syncsim serve`'s /api/sync/push on raw sockets.

Trouble counted: exceptions (raised by the Coordinator; on the server, tracebacks and
"failed" lines on stderr), 1011 closes, frames without exactly one answer (SYNC_RESPONSE,
ERROR or PONG; for REST, a request without an HTTP answer or answered 5xx), answers that are
not strict JSON in UTF-8, and effects on bob (a frame on his connection, a change in his rows).

The frames come from one seeded `random.Random` (`--seed`): near-valid mutations (so rows are
stored and broadcast), bent frames (a field replaced by a lone surrogate, a NUL, an integer past
64 bits, a 401-digit number, NaN, nesting thousands deep, a wrong type), and text that is no
frame at all. Not collected by pytest; tests/live/test_serve_fuzz.py runs the socket phase small.

    python bench/fuzz_server.py [--frames N] [--socket-frames M] [--rest-bodies K] [--seed S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from simulator import auth
from simulator.protocol.codec import Frame, FrameType, decode
from simulator.protocol.coordinator import Coordinator, Outgoing
from simulator.protocol.kinds import MUTATIONS
from simulator.protocol.profile import PROFILES
from simulator.protocol.store import ServerStore
from simulator.protocol.timefmt import iso_z

T0 = 1772409600.0  # 2026-03-02T00:00:00Z
SECRET = "a-fuzz-secret-long-enough-for-hs256-keys!"
ANSWERS = {"SYNC_RESPONSE", "ERROR", "PONG"}
TIMEOUT = 10.0  # seconds a frame may wait for its answer before it counts as unanswered
ALICE_CONNECTIONS = 6

# -- the frames -----------------------------------------------------------------------------

EDGE_INTS = [-1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 10**30, int("9" * 401)]
EDGE_TEXTS = ["", " ", "\x00", "a\x00b", "\ud800", "x\udfffy", "\ud83d", "\U0001f3bb", "\ufeff"]
EDGE_TEXTS += ["e" * 201, "n" * 10_001, "caf\u00e9", "\u202e", "'; DROP TABLE sync_data; --"]
ENTRY_FIELDS = ["id", "timestamp", "duration", "type", "instrument", "pieces", "mood", "notes"]
ENTRY_FIELDS += ["tags", "techniques", "goalIds", "createdAt", "updatedAt", "device_id"]
PIECE_FIELDS = ["scoreId", "score_id", "id", "title", "composer", "status", "updatedAt"]
FRAME_FIELDS = ["messageId", "deviceId", "clientChangeId", "lastSeq", "lastSyncTime", "entry"]
FRAME_FIELDS += ["piece", "entryId", "scoreId", "version", "page"]
MUTATION_TYPES = sorted(t.value for t in MUTATIONS)
DEEP = "<<DEEP>>"  # stands for nesting too deep for json.dumps; replaced in the text


def _hostile(rng: random.Random, depth: int = 0) -> Any:
    """A value no field should hold, or any JSON at all."""
    roll = rng.random()
    if roll < 0.2:
        return rng.choice(EDGE_TEXTS)
    if roll < 0.35:
        return rng.choice(EDGE_INTS)
    if roll < 0.45:
        return rng.choice([float("nan"), float("inf"), -float("inf"), 1e300, -0.0, 2.5])
    if roll < 0.5:
        return DEEP
    if roll < 0.6:
        return "".join(chr(rng.randrange(0x110000)) for _ in range(rng.randrange(1, 8)))
    if roll < 0.7 or depth > 3:
        return rng.choice([None, True, False, 0, "", [], {}])
    if roll < 0.85:
        return [_hostile(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(EDGE_TEXTS + FRAME_FIELDS): _hostile(rng, depth + 1) for _ in range(3)}


def _entry(rng: random.Random) -> dict[str, Any]:
    stamp = iso_z(T0 + rng.randrange(10_000))
    return {
        "id": f"e{rng.randrange(10)}",
        "timestamp": int(T0 * 1000) + rng.randrange(10**6),
        "duration": rng.randrange(120),
        "type": rng.choice(["practice", "lesson", "performance"]),
        "instrument": rng.choice(["piano", "cello"]),
        "pieces": [{"title": "Prelude", "composer": "Bach", "id": f"p{rng.randrange(3)}"}],
        "notes": rng.choice(["scales", "caf\u00e9 \U0001f3bb", "long " * 40]),
        "tags": ["t"],
        "createdAt": stamp,
        "updatedAt": stamp,
        "device_id": rng.choice(["phone", "laptop"]),
    }


def _piece(rng: random.Random) -> dict[str, Any]:
    return {
        "scoreId": f"s{rng.randrange(10)}",
        "title": rng.choice(["Prelude", "Suite"]),
        "composer": "Bach",
        "status": rng.choice(["planned", "learning", "polished"]),
        "updatedAt": iso_z(T0 + rng.randrange(10_000)),
    }


def _near_valid(rng: random.Random) -> dict[str, Any]:
    type_ = rng.choice([*MUTATION_TYPES, "SYNC_REQUEST", "SYNC_REQUEST", "PING"])
    frame: dict[str, Any] = {"type": type_, "timestamp": iso_z(T0 + rng.randrange(10_000))}
    if type_ in ("ENTRY_CREATED", "ENTRY_UPDATED"):
        frame["entry"] = _entry(rng)
    elif type_ in ("PIECE_ADDED", "PIECE_UPDATED"):
        frame["piece"] = _piece(rng)
    elif type_ == "ENTRY_DELETED":
        frame["entryId"] = f"e{rng.randrange(10)}"
    elif type_ in ("PIECE_REMOVED", "PIECE_DISSOCIATED"):
        frame["scoreId"] = f"s{rng.randrange(10)}"
    elif type_ == "SYNC_REQUEST":
        frame["lastSeq"] = rng.choice([0, 1, rng.randrange(1000), None])
    if rng.random() < 0.5:
        frame["messageId"] = f"m{rng.randrange(1000)}"
    if rng.random() < 0.3:
        frame["deviceId"], frame["clientChangeId"] = "phone", rng.randrange(100)
    return frame


def _bend(rng: random.Random, frame: dict[str, Any]) -> None:
    """Replace, drop or add one field somewhere in the frame."""
    target = frame
    for key in ("entry", "piece"):
        if isinstance(frame.get(key), dict) and rng.random() < 0.6:
            target = frame[key]
    names = ENTRY_FIELDS if target is frame.get("entry") else PIECE_FIELDS
    pieces = target.get("pieces")
    if isinstance(pieces, list) and pieces and isinstance(pieces[0], dict) and rng.random() < 0.3:
        target = pieces[0]
    key = rng.choice([*target.keys(), *names, *FRAME_FIELDS, rng.choice(EDGE_TEXTS)])
    if rng.random() < 0.15:
        target.pop(key, None)
    else:
        target[key] = _hostile(rng)


def _text(frame: dict[str, Any], rng: random.Random) -> str:
    text = json.dumps(frame)  # ASCII: lone surrogates travel as \\udXXX escapes
    depth = rng.choice([40, 999, 5000, 100_000])
    return text.replace(json.dumps(DEEP), "[" * depth + "]" * depth)


# Frames json.dumps cannot write: a literal goes where the "?" is.
_RAW_PING = '{"type":"PING","timestamp":"' + iso_z(T0) + '","x":?}'
_RAW_SYNC = '{"type":"SYNC_REQUEST","timestamp":"' + iso_z(T0) + '","lastSeq":?}'
_RAW_ENTRY = '{"type":"ENTRY_CREATED","timestamp":"' + iso_z(T0) + '","entry":?}'


def hostile_message(rng: random.Random) -> str | bytes:
    """One WebSocket message: near valid, bent, or no frame at all."""
    roll = rng.random()
    if roll < 0.45:
        frame = _near_valid(rng)
        for _ in range(rng.choice([0, 0, 1, 2])):
            _bend(rng, frame)
        return _text(frame, rng)
    if roll < 0.7:
        frame = _near_valid(rng)
        frame[rng.choice(["type", "timestamp"])] = _hostile(rng)
        return _text(frame, rng)
    raw = [
        lambda: "[" * rng.choice([10, 1000, 100_000]),
        lambda: _text(_near_valid(rng), rng)[: rng.randrange(1, 60)],
        lambda: json.dumps(_hostile(rng)).replace(json.dumps(DEEP), "[]"),
        lambda: _RAW_PING.replace("?", "9" * 401),
        lambda: _RAW_SYNC.replace("?", "1e400"),
        lambda: _RAW_ENTRY.replace("?", rng.choice(["NaN", "Infinity", "-Infinity", "9" * 401])),
        lambda: "9" * 5000,
        lambda: "".join(chr(rng.randrange(0x110000)) for _ in range(rng.randrange(30))),
        lambda: bytes(rng.randrange(256) for _ in range(rng.randrange(30))),
        lambda: _text(_near_valid(rng), rng).encode("utf-8"),
    ]
    return rng.choice(raw)()


# -- counts ---------------------------------------------------------------------------------


@dataclass
class Counts:
    phase: str
    frames: int = 0
    exceptions: int = 0
    closes_1011: int = 0
    unanswered: int = 0  # no answer, or not exactly one
    bad_answers: int = 0  # not valid UTF-8 or not strict JSON
    other_user_effects: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    TROUBLE = ("exceptions", "closes_1011", "unanswered", "bad_answers", "other_user_effects")

    @property
    def ok(self) -> bool:
        return all(getattr(self, name) == 0 for name in self.TROUBLE)

    def note(self, text: str) -> None:
        if len(self.notes) < 5:
            self.notes.append(text[:300])

    def report(self) -> str:
        trouble = "  ".join(f"{name}={getattr(self, name)}" for name in self.TROUBLE)
        mix = ", ".join(f"{k} {v}" for k, v in sorted(self.answers.items()))
        lines = [f"{self.phase}: {self.frames} sent  {trouble}  ({mix})"]
        lines += [f"  e.g. {n}" for n in self.notes]
        return "\n".join(lines)


def _bob_frame(rng: random.Random) -> str:
    entry = {**_entry(rng), "id": f"bob-{rng.randrange(10**9)}"}
    return Frame.make(FrameType.ENTRY_CREATED, T0, entry=entry).encode()


# -- phase 1: the Coordinator ---------------------------------------------------------------


def fuzz_coordinator(frames: int, seed: int) -> Counts:
    """`frames` messages into one Coordinator per profile, round robin."""
    rng = random.Random(seed)
    counts = Counts("coordinator")
    servers = []
    for name in sorted(PROFILES):
        store = ServerStore()
        coord = Coordinator(store, PROFILES[name])
        conns = [f"a{i}" for i in range(ALICE_CONNECTIONS)]
        for conn in conns:
            coord.open(conn, "alice", T0)
        coord.open("bob", "bob", T0)
        for _ in range(3):
            coord.receive("bob", _bob_frame(rng), T0)
        coord.drain()
        servers.append((coord, store, conns, list(store.rows("bob"))))
    for index in range(frames):
        coord, store, conns, _ = servers[index % len(servers)]
        conn = rng.choice(conns)
        message = hostile_message(rng)
        counts.frames += 1
        try:
            coord.receive(conn, message, T0 + index / 1000)
        except Exception as error:
            counts.exceptions += 1
            counts.note(f"{type(error).__name__}: {error} <- {message!r:.150}")
            coord.drain()
            continue
        out = [o for o in coord.drain() if isinstance(o, Outgoing)]
        for o in out:
            try:
                ok = isinstance(decode(o.text.encode("utf-8")), Frame)
            except UnicodeEncodeError:
                ok = False
            counts.bad_answers += not ok
            if o.conn_id == "bob":
                counts.other_user_effects += 1
                counts.note(f"bob got {o.text:.150}")
        mine = [o.frame.type.value for o in out if o.conn_id == conn]
        answers = [t for t in mine if t in ANSWERS]
        if len(answers) != 1 or mine[-1] not in ANSWERS:
            counts.unanswered += 1
            counts.note(f"answers {mine} <- {message!r:.150}")
        else:
            counts.answers[answers[0]] += 1
    for _, store, _, bobs in servers:
        if list(store.rows("bob")) != bobs:
            counts.other_user_effects += 1
            counts.note("bob's rows changed")
    return counts


# -- phase 2 and 3: a real `syncsim serve` --------------------------------------------------

_LINE = re.compile(r"WebSocket (ws://\S+)\s+REST (http://\S+)")


@dataclass
class Served:
    process: subprocess.Popen[str]
    ws_url: str
    rest_url: str
    stderr: Path


def start_server(directory: Path, profile: str = "proposed") -> Served:
    stderr = directory / "serve.stderr"
    command = [sys.executable, "-m", "simulator.cli", "serve", "--port", "0"]
    command += ["--db", str(directory / "fuzz.db"), "--profile", profile]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=stderr.open("w"),  # a file: a full pipe would stall the server
        text=True,
        env={**os.environ, "SYNCSIM_JWT_SECRET": SECRET},
    )
    assert process.stdout is not None
    match = _LINE.search(process.stdout.readline())
    if match is None:
        process.kill()
        raise SystemExit(f"serve did not start: {stderr.read_text()}")
    return Served(process, match.group(1), match.group(2), stderr)


def stop_server(served: Served) -> tuple[int, str]:
    served.process.send_signal(signal.SIGTERM)
    code = served.process.wait(timeout=30)
    return code, served.stderr.read_text()


def server_exceptions(stderr: str) -> int:
    """Tracebacks, and the one-line reports of a failure serve answered for."""
    lines = stderr.splitlines()
    return sum("Traceback" in ln for ln in lines) + sum(
        ln.startswith("syncsim serve:") and "failed" in ln for ln in lines
    )


def _url(served: Served, user: str) -> str:
    token = auth.mint(SECRET, user, time.time())
    return f"{served.ws_url}?{urlencode({'userId': user, 'token': token})}"


def _wire(message: str | bytes) -> str | bytes:
    """What a client can put on the wire: text that is not UTF-8 goes as a binary message."""
    if isinstance(message, str):
        try:
            message.encode("utf-8")
        except UnicodeEncodeError:
            return message.encode("utf-8", "surrogatepass")
    return message


async def _open(served: Served, user: str) -> ClientConnection:
    ws = await connect(_url(served, user), open_timeout=TIMEOUT, max_size=None)
    await asyncio.wait_for(ws.recv(), TIMEOUT)  # WELCOME
    return ws


async def _alice(served: Served, messages: list[str | bytes], counts: Counts) -> None:
    ws = await _open(served, "alice")
    try:
        for message in messages:
            counts.frames += 1
            try:
                await ws.send(_wire(message))
                while True:
                    raw = await asyncio.wait_for(ws.recv(), TIMEOUT)
                    try:
                        type_ = json.loads(raw)["type"]
                    except (ValueError, KeyError, TypeError):
                        counts.bad_answers += 1
                        break
                    if type_ in ANSWERS:
                        counts.answers[type_] += 1
                        break
            except TimeoutError:
                counts.unanswered += 1
                counts.note(f"no answer within {TIMEOUT}s <- {message!r:.150}")
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd is not None else None
                counts.closes_1011 += code == 1011
                counts.unanswered += code != 1009  # 1009: the documented size limit
                counts.note(f"closed {code} <- {message!r:.150}")
                ws = await _open(served, "alice")
    finally:
        await ws.close()


async def _bob_sees(bob: ClientConnection) -> list[str]:
    """What bob's connection got: everything before the PONG answering his PING."""
    await bob.send(Frame.make(FrameType.PING, time.time()).encode())
    seen = []
    while (frame := json.loads(await asyncio.wait_for(bob.recv(), TIMEOUT)))["type"] != "PONG":
        seen.append(frame["type"])
    return seen


def _pull(served: Served, user: str) -> dict[str, Any]:
    status, body = post(served, "/api/sync/pull", b"{}", user)
    assert status == 200, (status, body)
    return {k: v for k, v in body.items() if k != "timestamp"}


async def _socket(served: Served, frames: int, rng: random.Random, counts: Counts) -> None:
    bob = await _open(served, "bob")
    for _ in range(3):
        await bob.send(_bob_frame(rng))
        await asyncio.wait_for(bob.recv(), TIMEOUT)
    before = _pull(served, "bob")
    messages = [hostile_message(rng) for _ in range(frames)]
    share = [messages[i::ALICE_CONNECTIONS] for i in range(ALICE_CONNECTIONS)]
    await asyncio.gather(*(_alice(served, part, counts) for part in share))
    seen = await _bob_sees(bob)
    await bob.close()
    if seen or _pull(served, "bob") != before:
        counts.other_user_effects += 1
        counts.note(f"bob saw {seen[:5]} or his rows changed")


def fuzz_socket(frames: int, seed: int) -> Counts:
    """`frames` messages over six WebSocket connections of alice to a fresh `syncsim serve`."""
    counts = Counts("socket")
    with tempfile.TemporaryDirectory() as directory:
        served = start_server(Path(directory))
        try:
            asyncio.run(_socket(served, frames, random.Random(seed), counts))
        finally:
            code, stderr = stop_server(served)
        counts.exceptions += server_exceptions(stderr) + (code != 0)
        if stderr.strip():
            counts.note(f"serve stderr: {stderr.strip().splitlines()[-1]}")
    return counts


def post(served: Served, path: str, body: bytes, user: str = "alice") -> tuple[int, Any]:
    """A POST on a raw socket; (0, None) when the connection closed without an answer. It
    asks for `Connection: close`, so the answer ends where the connection does."""
    parts = urlsplit(served.rest_url)
    token = auth.mint(SECRET, user, time.time())
    head = (
        f"POST {path} HTTP/1.1\r\nHost: fuzz\r\nAuthorization: Bearer {token}\r\n"
        f"X-User-Id: {user}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    assert parts.hostname is not None and parts.port is not None
    with socket.create_connection((parts.hostname, parts.port), timeout=TIMEOUT) as sock:
        sock.sendall(head.encode() + body)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except OSError:
            pass
    if not data:
        return 0, None
    status_line, _, rest = data.partition(b"\r\n")
    try:
        return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])
    except (ValueError, IndexError):
        return -1, None


def _rest_body(rng: random.Random) -> bytes:
    message = hostile_message(rng)
    roll = rng.random()
    if roll < 0.5 and isinstance(message, str) and message.startswith("{"):
        text = '{"changes": [' + message + "]}"  # a frame as a change, bent or not
    elif roll < 0.7:
        text = '{"changes": ' + json.dumps(_hostile(rng)).replace(json.dumps(DEEP), "[]") + "}"
    else:
        text = message if isinstance(message, str) else message.decode("latin-1")
    return text.encode("utf-8", "surrogatepass")


def fuzz_rest(bodies: int, seed: int) -> Counts:
    """`bodies` POSTs to /api/sync/push; each must get an HTTP answer that is not 5xx."""
    rng = random.Random(seed)
    counts = Counts("rest")
    with tempfile.TemporaryDirectory() as directory:
        served = start_server(Path(directory))
        try:
            bob_change = {"type": "ENTRY_CREATED", "entry": {**_entry(rng), "id": "bob-1"}}
            post(served, "/api/sync/push", json.dumps({"changes": [bob_change]}).encode(), "bob")
            before = _pull(served, "bob")
            for _ in range(bodies):
                body = _rest_body(rng)
                counts.frames += 1
                status, answer = post(served, "/api/sync/push", body)
                if status <= 0 or status >= 500 or not isinstance(answer, dict):
                    counts.unanswered += 1
                    counts.note(f"HTTP {status} {answer!r:.100} <- {body!r:.150}")
                else:
                    counts.answers[str(status)] += 1
            if _pull(served, "bob") != before:
                counts.other_user_effects += 1
                counts.note("bob's rows changed")
        finally:
            code, stderr = stop_server(served)
        counts.exceptions += server_exceptions(stderr) + (code != 0)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--frames", type=int, default=100_000, help="into the Coordinator")
    parser.add_argument("--socket-frames", type=int, default=10_000, help="over serve's socket")
    parser.add_argument("--rest-bodies", type=int, default=1_000, help="POSTed to serve's REST")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    results = []
    for run, size in (
        (fuzz_coordinator, args.frames),
        (fuzz_socket, args.socket_frames),
        (fuzz_rest, args.rest_bodies),
    ):
        if size > 0:
            counts = run(size, args.seed)
            print(counts.report(), flush=True)
            results.append(counts)
    ok = all(c.ok for c in results)
    print("fuzz: OK, every count of trouble is 0" if ok else "fuzz: FAILED", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
