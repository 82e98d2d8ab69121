"""The one record format both drivers write and the checker reads.

A history is a flat list of `Record`s, one row per thing that happened: user writes, frames sent,
received and lost, connects and disconnects, queue changes, merges, cursor moves, reloads,
server-internal evidence and the final snapshots. Every row has the true simulated time `t`
(seconds since the scenario start); rows written by a device also carry `device_time`, that
device's own clock reading on the same scale, so the checker can compare what happened with what
each device believed. The first row is `meta`: scenario name, seed, start epoch and profile.

On disk a history is JSON Lines, one object per row with empty fields left out and keys
sorted; its SHA-256 is the history hash that proves a run deterministic. Rows are encoded by
orjson, byte for byte what the standard library's encoder wrote before it (see `Record.to_json`),
so a history's hash does not depend on which one wrote it.
"""

from __future__ import annotations

import hashlib
import json
import operator
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from simulator.errors import UsageError


class Kind(StrEnum):
    META = "meta"
    WRITE = "write"
    FRAME_SENT = "frame_sent"
    FRAME_RECV = "frame_recv"
    FRAME_LOST = "frame_lost"
    CONNECT = "connect"
    CONNECT_FAILED = "connect_failed"
    DISCONNECT = "disconnect"
    NETWORK = "network"
    QUEUE = "queue"
    MERGE = "merge"
    CURSOR = "cursor"
    PEER_ERROR = "peer_error"
    RELOAD = "reload"
    SERVER_APPLIED = "server_applied"
    SERVER_REFUSED = "server_refused"
    SNAPSHOT = "snapshot"
    WRITE_FAILED = "write_failed"
    MIGRATION = "migration"
    BACKFILL = "backfill"
    REST = "rest"
    SERVER_DEDUPLICATED = "server_deduplicated"
    PRELOAD = "preload"
    SERVER_OUTAGE = "server_outage"
    PARTITION = "partition"
    CRASH = "crash"
    WIPE = "wipe"
    # PING/PONG are simulated frame by frame but summed per connection, one row when it ends:
    # thousands of identical keep-alive rows would bury everything else.
    KEEPALIVE = "keepalive"
    # How the end-of-run observer of a live server fared, per user: detail {rest, catch_up}.
    OBSERVER = "observer"
    # What a live endpoint was found to do before the run, against what the profile expects:
    # detail {user, capabilities: [{name, flag, expected, observed, matches, relied_on}]}.
    PREFLIGHT = "preflight"
    # Live mode, before the snapshot: whether every device settled (outbox drained, nothing in
    # flight, no frame moved for the quiet period) by the deadline; detail {reached, waited,
    # pending}.
    QUIESCENCE = "quiescence"
    # A scripted step that could not be carried out (its item is unknown or not held, the
    # device has not joined, no backfill prompt is pending): op is the `do`, reason says why.
    STEP_SKIPPED = "step_skipped"
    # A `connect` step's handshake: op the credentials presented (scenario.model.TOKENS),
    # detail {status: the HTTP status answered (101: upgraded), step}; reason when it failed.
    HANDSHAKE = "handshake"


SERVER = "server"
# `reason` of a SYNC_RESPONSE frame row that ends a catch-up (its `message`).
CATCH_UP_DONE = "Sync complete"
# `frame_type` of a frame row whose text is no frame (its `reason` says why).
NOT_A_FRAME = "(not a frame)"
# `reason` of a FRAME_LOST row for a frame that never left the device.
NOT_SENT = "no open connection"
# `reason` of a live FRAME_LOST row, before the cause in brackets: a frame a closed connection
# still held (sent and unread, or read and not yet delivered by the proxy). The differential
# gate takes such a row as proof that a live-only finding is a timing coincidence.
IN_FLIGHT = "in flight when the connection closed"
# `reason` of the DISCONNECT row of a live connection still open when the run ended (a
# simulated one has no DISCONNECT row then): it was whole until the end.
RUN_ENDED = "run ended"


@dataclass(frozen=True, slots=True)
class Record:
    """One history row. `device` is a device name, or `server`."""

    t: float
    kind: Kind
    device: str | None = None
    user: str | None = None
    device_time: float | None = None
    conn: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    write_id: str | None = None
    message_id: str | None = None  # the frame's messageId, where it names one
    op: str | None = None
    frame_type: str | None = None
    bytes: int | None = None
    fingerprint: str | None = None
    updated_at: str | None = None
    accepted: bool | None = None
    reason: str | None = None
    detail: dict[str, Any] | None = None

    def to_json(self) -> str:
        return encode_row(self).decode("utf-8")


COLUMNS = [f.name for f in fields(Record)]
_FIELDS = operator.attrgetter(*COLUMNS)
_KIND_VALUES = {kind: kind.value for kind in Kind}
# The standard library's encoder, what orjson must match byte for byte (and the fallback for
# the rows it cannot match). One for every row: json.dumps with options builds one per call.
_ROW_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
# Dataclasses and datetimes pass through to the error json would raise, as they did before.
_ORJSON = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
# Where orjson and json write a float differently, both under 1e-4: orjson writes 1e-5 in
# full (0.00001, json 1e-05) and smaller ones with one exponent digit (1e-6, json 1e-06). A
# row holding one is encoded by json; the same digits inside a string only cost that detour.
# The plain `in` tests first: the pattern is slow, and most rows have no `e-` at all.
_SMALL_FLOAT = re.compile(rb"[:,\[]-?[0-9]+(?:\.[0-9]+)?e-[0-9](?![0-9])")


def encode_row(record: Record) -> bytes:
    """The row as written to history.jsonl (UTF-8, no newline)."""
    # The fields as they are, not asdict: asdict deep-copies every detail dict, which was most
    # of the cost of writing a history.
    body = {k: v for k in COLUMNS if (v := getattr(record, k)) is not None}
    body["kind"] = record.kind.value
    try:
        line = orjson.dumps(body, option=_ORJSON)
    except TypeError:  # an int over 64 bits, a key that is no str: json says what it says
        return _ROW_ENCODER.encode(body).encode("utf-8")
    if b"0.0000" in line or (b"e-" in line and _SMALL_FLOAT.search(line)):
        return _ROW_ENCODER.encode(body).encode("utf-8")
    return line


class History:
    """An append-only list of records."""

    def __init__(self, records: Iterable[Record] = ()) -> None:
        self.records: list[Record] = list(records)
        self._encoded: tuple[int, bytes] | None = None  # (rows encoded, their bytes)
        self._digest: str | None = None  # of the bytes in _encoded

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    def add(self, record: Record) -> int:
        self.records.append(record)
        return len(self.records) - 1

    @property
    def meta(self) -> dict[str, Any]:
        if not self.records or self.records[0].kind is not Kind.META:
            return {}
        return dict(self.records[0].detail or {})

    def lines(self) -> Iterator[str]:
        for record in self.records:
            yield record.to_json() + "\n"

    def encoded(self) -> bytes:
        """The history as written to history.jsonl, encoded once: the file, the hash and the
        report all use these bytes. Rows are only ever appended, so the count says whether
        the cached bytes are current."""
        if self._encoded is None or self._encoded[0] != len(self.records):
            # One growing buffer, not a list of rows joined: orjson's bytes keep the 4 KiB it
            # wrote them in, so holding every row at once took ~15x the history's size
            # (1.1 GiB for a 10k-write run's 70 MB). Each row is copied in and freed.
            out = bytearray()
            for record in self.records:
                out += encode_row(record)
                out += b"\n"
            self._encoded = (len(self.records), bytes(out))
            self._digest = None
        return self._encoded[1]

    def digest(self) -> str:
        """The SHA-256 of exactly the bytes `save` writes, taken once per encoding."""
        data = self.encoded()
        if self._digest is None:
            self._digest = hashlib.sha256(data).hexdigest()
        return self._digest

    def save(self, path: Path) -> None:
        path.write_bytes(self.encoded())

    def to_frame(self) -> pd.DataFrame:
        """The history as a table, one column per record field, index = row number."""
        # Plain tuples, not asdict: asdict deep-copies every detail dict, which dominated the
        # time of checking a large history.
        rows = list(map(_FIELDS, self.records))
        frame = pd.DataFrame.from_records(rows, columns=COLUMNS)
        frame["kind"] = frame["kind"].map(_KIND_VALUES)
        return frame

    @classmethod
    def load(cls, path: Path) -> History:
        records = []
        try:
            # Binary lines, decoded one by one, so a bad byte is reported with its line.
            with path.open("rb") as source:
                for number, line in enumerate(source, start=1):
                    records.append(_parse_line(path, number, line))
        except OSError as error:
            raise UsageError(f"{path}: cannot read history: {error.strerror}") from None
        return cls(records)


def _parse_line(path: Path, number: int, line: bytes) -> Record:
    try:
        body = json.loads(line.decode("utf-8"))
        body["kind"] = Kind(body["kind"])
        return Record(**body)
    except (ValueError, KeyError, TypeError) as error:
        raise UsageError(f"{path}:{number}: history row: {error}") from None
