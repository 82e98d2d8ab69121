"""ServerStore: the reference server's storage, one SQLite table of rows per user and entity.

Every write bumps the row's `version` and takes a fresh `seq` from a counter that only goes up,
so `seq` orders all changes of the store. Deletes keep the row as a tombstone (`deleted_at`).
Schema migrations are tracked by version and each runs once, so opening a store twice is safe.

Transactions: by default every write is a transaction of its own, committed (for a file, on
disk: WAL with `synchronous=FULL`) before `write` returns, and so is each `remember` and
`remember_rest`. A driver that wants group commit calls `begin()`: from then on every write and
every remember joins one transaction, which reads on this store already see and which is
visible to any other connection once `commit()` returns; `rollback()` drops it. A write that
fails inside it takes back only its own part.

A file store opened with `deferred_sync` commits without waiting for the disk
(`synchronous=NORMAL`: the log is written, not synced) and `sync()` makes every commit so far
durable (an fsync of the write-ahead log). `sync` touches no SQLite connection, so it may run on
another thread while this one goes on writing the next transaction: a server overlaps the wait
for the disk with new work, and answers for a commit only after the `sync` that follows it.
Checkpoints still run inside a commit, and sync the log and the database file themselves
before the log is reused, so what a `sync` made durable stays so.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from simulator.protocol.entities import canonical, digest

_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE sync_data (
        user_id TEXT NOT NULL,
        entity_type TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        data TEXT NOT NULL,
        checksum TEXT NOT NULL,
        device_id TEXT,
        version INTEGER NOT NULL,
        updated_at REAL NOT NULL,
        deleted_at REAL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (user_id, entity_type, entity_id)
    );
    CREATE INDEX sync_data_user_updated ON sync_data (user_id, updated_at);
    CREATE INDEX sync_data_user_seq ON sync_data (user_id, seq);
    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    INSERT INTO counters (name, value) VALUES ('seq', 0);
    """,
    # Idempotency: mutations already applied (by messageId or device change id), and REST push
    # answers by X-Idempotency-Key.
    """
    CREATE TABLE processed (
        user_id TEXT NOT NULL, key TEXT NOT NULL, entity_type TEXT NOT NULL,
        entity_id TEXT NOT NULL, version INTEGER NOT NULL, seq INTEGER NOT NULL,
        PRIMARY KEY (user_id, key)
    );
    CREATE TABLE rest_idempotency (
        user_id TEXT NOT NULL, key TEXT NOT NULL, status INTEGER NOT NULL, body TEXT NOT NULL,
        PRIMARY KEY (user_id, key)
    );
    """,
)


_RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)  # UPDATE ... RETURNING


@dataclass(frozen=True)
class Row:
    user_id: str
    entity_type: str
    entity_id: str
    data: dict[str, Any]
    checksum: str
    device_id: str | None
    version: int
    updated_at: float
    deleted_at: float | None
    seq: int

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


@dataclass(frozen=True)
class Processed:
    """What an already-applied mutation produced: enough to acknowledge it again."""

    entity_type: str
    entity_id: str
    version: int
    seq: int


def _row(record: sqlite3.Row) -> Row:
    return Row(
        user_id=record["user_id"],
        entity_type=record["entity_type"],
        entity_id=record["entity_id"],
        data=json.loads(record["data"]),
        checksum=record["checksum"],
        device_id=record["device_id"],
        version=record["version"],
        updated_at=record["updated_at"],
        deleted_at=record["deleted_at"],
        seq=record["seq"],
    )


class ServerStore:
    """SQLite-backed rows; `path` ':memory:' keeps the database in memory."""

    def __init__(self, path: str = ":memory:", *, deferred_sync: bool = False) -> None:
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._log: str | None = None  # the write-ahead log `sync` makes durable
        self._log_fd: int | None = None
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
            if deferred_sync:
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._log = f"{path}-wal"
            else:
                # WAL's default may be NORMAL, where a commit can be lost to a power cut;
                # FULL syncs the log at every commit, so a committed row is a row on disk.
                self._db.execute("PRAGMA synchronous=FULL")
            # A checkpoint copies every page written since the last one into the database
            # file, inside a commit. Ten thousand pages (40 MB of log) instead of a thousand:
            # a page rewritten by many commits (a user's latest rows) is copied once, not on
            # nearly every commit of a busy server.
            self._db.execute("PRAGMA wal_autocheckpoint=10000")
        self.migrate()

    def migrate(self) -> int:
        """Apply the migrations not yet applied; returns how many ran."""
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)"
        )
        done = {r[0] for r in self._db.execute("SELECT version FROM schema_migrations")}
        ran = 0
        for version, script in enumerate(_MIGRATIONS, start=1):
            if version in done:
                continue
            self._db.executescript(
                f"BEGIN; {script} INSERT INTO schema_migrations VALUES ({version}); COMMIT;"
            )
            ran += 1
        return ran

    def close(self) -> None:
        if self._log_fd is not None:
            os.close(self._log_fd)
            self._log_fd = None
        self._db.close()

    # -- group commit: a transaction the driver opens and commits -------------------------

    def begin(self) -> None:
        """Let every write from now on join one transaction, until `commit` or `rollback`; a
        no-op while one is open."""
        if not self._db.in_transaction:
            self._db.execute("BEGIN")

    @property
    def in_transaction(self) -> bool:
        return self._db.in_transaction

    def commit(self) -> None:
        """Commit the open transaction, if any: once this returns, its writes are on disk
        (with `deferred_sync`: once the next `sync` returns)."""
        if self._db.in_transaction:
            self._db.execute("COMMIT")
            if self._log is not None and self._log_fd is None:
                # SQLite keeps the log (the same file) while this connection is open, so one
                # descriptor syncs whatever it writes there.
                with contextlib.suppress(FileNotFoundError):  # nothing logged yet
                    self._log_fd = os.open(self._log, os.O_RDONLY)

    def sync(self) -> None:
        """With `deferred_sync`, make every commit so far durable; otherwise (and in memory)
        they are already as durable as they get. Uses no SQLite connection: safe on another
        thread while this store goes on writing."""
        if self._log_fd is not None:
            os.fsync(self._log_fd)

    def rollback(self) -> None:
        """Drop the open transaction, if any (SQLite may have dropped it already when a
        commit failed)."""
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def _next_seq(self) -> int:
        if _RETURNING:  # one statement instead of two, on every write
            bumped = "UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value"
            return int(self._db.execute(bumped).fetchone()[0])
        self._db.execute("UPDATE counters SET value = value + 1 WHERE name = 'seq'")
        return int(self._db.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()[0])

    def get(self, user_id: str, entity_type: str, entity_id: str) -> Row | None:
        record = self._db.execute(
            "SELECT * FROM sync_data WHERE user_id=? AND entity_type=? AND entity_id=?",
            (user_id, entity_type, entity_id),
        ).fetchone()
        return None if record is None else _row(record)

    def write(
        self,
        user_id: str,
        entity_type: str,
        entity_id: str,
        data: Mapping[str, Any],
        device_id: str | None,
        now: float,
        *,
        deleted: bool = False,
    ) -> Row:
        """Store a write or a tombstone; the row's version goes up by one."""
        # A savepoint is a transaction of its own outside `begin`, and a part of the open one
        # inside it: either way a write that fails takes back only what it did.
        self._db.execute("SAVEPOINT write")
        try:
            previous = self._db.execute(
                "SELECT version, data FROM sync_data "
                "WHERE user_id=? AND entity_type=? AND entity_id=?",
                (user_id, entity_type, entity_id),
            ).fetchone()
            version = 1 if previous is None else int(previous[0]) + 1
            body = json.loads(previous[1]) if deleted and previous is not None else dict(data)
            text = canonical(body)  # stored as it is hashed: one encoding, not two
            # As a REAL column gives it back, so the row returned is the row read later.
            at = float(now)
            row = Row(
                user_id=user_id,
                entity_type=entity_type,
                entity_id=entity_id,
                data=json.loads(text),
                checksum=digest(text),
                device_id=device_id,
                version=version,
                updated_at=at,
                deleted_at=at if deleted else None,
                seq=self._next_seq(),
            )
            self._db.execute(
                "INSERT OR REPLACE INTO sync_data VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    user_id,
                    entity_type,
                    entity_id,
                    text,
                    row.checksum,
                    device_id,
                    version,
                    now,
                    row.deleted_at,
                    row.seq,
                ),
            )
            self._db.execute("RELEASE write")
        except BaseException:
            self._db.execute("ROLLBACK TO write")
            self._db.execute("RELEASE write")
            raise
        return row

    def changed_since(self, user_id: str, since: float) -> list[Row]:
        """Rows of the user (live and deleted) updated strictly after `since`, in seq order."""
        records = self._db.execute(
            "SELECT * FROM sync_data WHERE user_id=? AND updated_at > ? ORDER BY seq",
            (user_id, since),
        )
        return [_row(r) for r in records]

    def changed_since_seq(self, user_id: str, last_seq: int) -> list[Row]:
        """Rows of the user with a seq strictly above `last_seq`, in seq order."""
        records = self._db.execute(
            "SELECT * FROM sync_data WHERE user_id=? AND seq > ? ORDER BY seq", (user_id, last_seq)
        )
        return [_row(r) for r in records]

    def processed(self, user_id: str, key: str) -> Processed | None:
        """What a mutation with this idempotency key did, if it was applied already."""
        found = self._db.execute(
            "SELECT entity_type, entity_id, version, seq FROM processed WHERE user_id=? AND key=?",
            (user_id, key),
        ).fetchone()
        return None if found is None else Processed(*found)

    def remember(self, user_id: str, key: str, row: Row) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO processed VALUES (?,?,?,?,?,?)",
            (user_id, key, row.entity_type, row.entity_id, row.version, row.seq),
        )

    def rest_response(self, user_id: str, key: str) -> tuple[int, dict[str, Any]] | None:
        found = self._db.execute(
            "SELECT status, body FROM rest_idempotency WHERE user_id=? AND key=?", (user_id, key)
        ).fetchone()
        return None if found is None else (int(found[0]), json.loads(found[1]))

    def remember_rest(self, user_id: str, key: str, answer: tuple[int, dict[str, Any]]) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO rest_idempotency VALUES (?,?,?,?)",
            (user_id, key, answer[0], json.dumps(answer[1], sort_keys=True)),
        )

    def rows(self, user_id: str | None = None) -> Iterator[Row]:
        """Every row, tombstones included, in a stable order."""
        if user_id is None:
            records = self._db.execute("SELECT * FROM sync_data ORDER BY user_id, seq")
        else:
            records = self._db.execute(
                "SELECT * FROM sync_data WHERE user_id=? ORDER BY seq", (user_id,)
            )
        for record in records:
            yield _row(record)

    def users(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT DISTINCT user_id FROM sync_data ORDER BY 1")]
