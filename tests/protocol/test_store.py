"""ServerStore: versions, the seq counter, tombstones, the catch-up query and migrations."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from simulator.protocol.entities import fingerprint
from simulator.protocol.kinds import ENTRY, PIECE
from simulator.protocol.store import Processed, ServerStore

T0 = 1772409600.0


@pytest.fixture
def store():
    s = ServerStore(":memory:")
    yield s
    s.close()


def test_version_goes_up_by_one_on_every_write_of_an_entity(store: ServerStore):
    versions = [
        store.write("alice", ENTRY, "e1", {"id": "e1", "duration": d}, "phone", T0 + d).version
        for d in range(5)
    ]
    assert versions == [1, 2, 3, 4, 5]
    other = store.write("alice", ENTRY, "e2", {"id": "e2"}, "phone", T0 + 10)
    assert other.version == 1
    # The same id under another user or entity type is another row.
    assert store.write("bob", ENTRY, "e1", {"id": "e1"}, "tab", T0).version == 1
    assert store.write("alice", PIECE, "e1", {"scoreId": "e1"}, "tab", T0).version == 1
    assert store.get("alice", ENTRY, "e1").data == {"id": "e1", "duration": 4}


def test_seq_strictly_increases_across_entities_users_and_deletes(store: ServerStore):
    writes = [
        ("alice", ENTRY, "a", False),
        ("bob", ENTRY, "b", False),
        ("alice", ENTRY, "a", False),
        ("alice", PIECE, "p", False),
        ("alice", ENTRY, "a", True),
        ("bob", ENTRY, "c", False),
    ]
    seqs = [
        store.write(user, kind, key, {"k": key}, None, T0, deleted=deleted).seq
        for user, kind, key, deleted in writes
    ]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert seqs[0] >= 1


def test_write_returns_the_stored_row(store: ServerStore):
    data = {"id": "e1", "notes": "na\u00efve \u2013 \u201cquoted\u201d", "pieces": [{"title": "A"}]}
    row = store.write("alice", ENTRY, "e1", data, "phone", T0 + 0.25)
    assert row == store.get("alice", ENTRY, "e1")
    assert row.data == data
    assert row.checksum == fingerprint(data)
    assert (row.user_id, row.entity_type, row.entity_id) == ("alice", ENTRY, "e1")
    assert row.device_id == "phone"
    assert row.updated_at == T0 + 0.25
    assert row.deleted_at is None and not row.deleted
    assert store.get("alice", ENTRY, "nope") is None
    assert store.get("bob", ENTRY, "e1") is None


def test_a_delete_keeps_the_row_as_a_tombstone(store: ServerStore):
    live = store.write("alice", ENTRY, "e1", {"id": "e1", "duration": 5}, "phone", T0)
    tomb = store.write("alice", ENTRY, "e1", {}, "laptop", T0 + 60, deleted=True)
    assert tomb.deleted and tomb.deleted_at == T0 + 60
    assert tomb.version == live.version + 1 and tomb.seq > live.seq
    assert tomb.data == live.data  # the last content is kept with the tombstone
    assert tomb.updated_at == T0 + 60
    assert store.get("alice", ENTRY, "e1") == tomb
    assert [r.entity_id for r in store.rows("alice")] == ["e1"]
    assert store.changed_since("alice", T0) == [tomb]

    again = store.write("alice", ENTRY, "e1", {"id": "e1", "duration": 9}, "phone", T0 + 120)
    assert not again.deleted and again.deleted_at is None
    assert again.version == 3 and again.data["duration"] == 9


def test_deleting_an_unknown_entity_still_leaves_a_tombstone(store: ServerStore):
    tomb = store.write("alice", ENTRY, "ghost", {}, None, T0, deleted=True)
    assert tomb.deleted and tomb.version == 1 and tomb.data == {}


def test_changed_since_is_strictly_after_and_in_seq_order(store: ServerStore):
    late = store.write("alice", ENTRY, "late", {"n": 1}, None, T0 + 200)
    early = store.write("alice", ENTRY, "early", {"n": 2}, None, T0 + 100)
    edge = store.write("alice", ENTRY, "edge", {"n": 3}, None, T0 + 50)
    store.write("bob", ENTRY, "bobs", {"n": 4}, None, T0 + 300)
    touched = store.write("alice", ENTRY, "late", {"n": 5}, None, T0 + 150)

    # Seq order, not time order: `early` was written before `edge`, `late` was rewritten last.
    assert [r.entity_id for r in store.changed_since("alice", T0)] == ["early", "edge", "late"]
    assert store.changed_since("alice", T0)[-1] == touched
    assert [r.entity_id for r in store.changed_since("alice", T0 + 50)] == ["early", "late"]
    assert [r.entity_id for r in store.changed_since("alice", T0 + 49.999)] == [
        "early",
        "edge",
        "late",
    ]
    assert store.changed_since("alice", T0 + 150) == []
    assert store.changed_since("carol", 0) == []
    assert [r.seq for r in store.changed_since("alice", 0)] == sorted(
        [early.seq, edge.seq, touched.seq]
    )
    assert late.seq < touched.seq


def test_rows_and_users(store: ServerStore):
    store.write("bob", ENTRY, "b1", {}, None, T0)
    store.write("alice", ENTRY, "a1", {}, None, T0)
    store.write("alice", ENTRY, "a2", {}, None, T0, deleted=True)
    assert store.users() == ["alice", "bob"]
    assert [(r.user_id, r.entity_id) for r in store.rows()] == [
        ("alice", "a1"),
        ("alice", "a2"),
        ("bob", "b1"),
    ]
    assert [r.entity_id for r in store.rows("bob")] == ["b1"]


def test_a_failed_write_changes_nothing(store: ServerStore):
    first = store.write("alice", ENTRY, "e1", {"n": 1}, None, T0)
    with pytest.raises(TypeError):
        store.write("alice", ENTRY, "e1", {"n": object()}, None, T0 + 1)
    assert store.get("alice", ENTRY, "e1") == first
    after = store.write("alice", ENTRY, "e2", {"n": 2}, None, T0 + 2)
    assert after.seq == first.seq + 1
    assert store.write("alice", ENTRY, "e1", {"n": 3}, None, T0 + 3).version == 2


def test_migrate_twice_applies_nothing_the_second_time(store: ServerStore):
    assert store.migrate() == 0  # the constructor already ran every migration
    assert store.migrate() == 0
    row = store.write("alice", ENTRY, "e1", {}, None, T0)
    assert row.seq == 1


def test_migrate_on_a_bare_database_runs_each_migration_once(tmp_path: Path):
    path = tmp_path / "bare.sqlite"
    sqlite3.connect(path).close()
    first = ServerStore(str(path))
    assert first.migrate() == 0
    first.close()
    db = sqlite3.connect(path)
    try:
        applied = [r[0] for r in db.execute("SELECT version FROM schema_migrations ORDER BY 1")]
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        counters = dict(db.execute("SELECT name, value FROM counters"))
    finally:
        db.close()
    assert applied and applied == list(range(1, len(applied) + 1))
    assert {"sync_data", "counters", "schema_migrations"} <= tables
    assert counters == {"seq": 0}


def test_a_file_backed_store_keeps_rows_and_the_seq_counter_across_reopen(tmp_path: Path):
    path = str(tmp_path / "sync.sqlite")
    store = ServerStore(path)
    a = store.write("alice", ENTRY, "a", {"id": "a", "n": 1}, "phone", T0)
    b = store.write("alice", ENTRY, "b", {"id": "b"}, "phone", T0 + 1)
    gone = store.write("alice", ENTRY, "b", {}, "phone", T0 + 2, deleted=True)
    store.close()

    reopened = ServerStore(path)
    try:
        assert reopened.migrate() == 0
        assert list(reopened.rows()) == [a, gone]
        assert reopened.get("alice", ENTRY, "b").deleted_at == T0 + 2
        nxt = reopened.write("alice", ENTRY, "a", {"id": "a", "n": 2}, "laptop", T0 + 3)
        assert nxt.version == 2
        assert nxt.seq == gone.seq + 1 > b.seq
    finally:
        reopened.close()


def test_two_stores_on_one_file_share_rows_and_never_reuse_a_seq(tmp_path: Path):
    path = str(tmp_path / "shared.sqlite")
    one, two = ServerStore(path), ServerStore(path)
    try:
        assert two.migrate() == 0
        seqs = []
        for i in range(6):
            writer = one if i % 2 else two
            seqs.append(writer.write("alice", ENTRY, f"e{i}", {"i": i}, None, T0 + i).seq)
        assert seqs == list(range(1, 7))
        assert [r.entity_id for r in one.rows("alice")] == [f"e{i}" for i in range(6)]
    finally:
        one.close()
        two.close()


def _committed(path: str) -> list[str]:
    """The entity ids another connection sees: what is committed."""
    db = sqlite3.connect(path)
    try:
        return [r[0] for r in db.execute("SELECT entity_id FROM sync_data ORDER BY seq")]
    finally:
        db.close()


def test_writes_after_begin_are_one_transaction_seen_elsewhere_only_once_committed(
    tmp_path: Path,
):
    path = str(tmp_path / "group.sqlite")
    store = ServerStore(path)
    try:
        store.write("alice", ENTRY, "before", {}, None, T0)
        store.begin()
        store.begin()  # already open: nothing changes
        a = store.write("alice", ENTRY, "a", {"n": 1}, None, T0 + 1)
        store.remember("alice", "msg:m1", a)
        store.write("bob", ENTRY, "b", {}, None, T0 + 2)
        assert store.in_transaction
        assert store.get("alice", ENTRY, "a") == a  # this store reads its own writes
        assert store.processed("alice", "msg:m1") is not None
        assert _committed(path) == ["before"]
        store.commit()
        assert not store.in_transaction
        assert _committed(path) == ["before", "a", "b"]
        store.commit()  # nothing open: nothing to do
    finally:
        store.close()
    reopened = ServerStore(path)
    try:
        assert reopened.processed("alice", "msg:m1") == Processed(ENTRY, "a", 1, a.seq)
    finally:
        reopened.close()


def test_a_rollback_drops_the_whole_transaction_and_a_failed_write_only_itself(
    tmp_path: Path,
):
    path = str(tmp_path / "group.sqlite")
    store = ServerStore(path)
    try:
        store.begin()
        store.write("alice", ENTRY, "gone", {}, None, T0)
        store.rollback()
        assert store.get("alice", ENTRY, "gone") is None and not store.in_transaction
        store.begin()
        kept = store.write("alice", ENTRY, "kept", {"n": 1}, None, T0)
        with pytest.raises(TypeError):
            store.write("alice", ENTRY, "bad", {"n": object()}, None, T0 + 1)
        assert store.in_transaction  # the failed write took back only its own part
        after = store.write("alice", ENTRY, "after", {}, None, T0 + 2)
        store.commit()
        assert _committed(path) == ["kept", "after"]
        assert after.seq == kept.seq + 1
    finally:
        store.close()


def test_a_deferred_sync_store_commits_without_the_disk_and_sync_fsyncs_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    synced: list[int] = []  # inodes of the files os.fsync was given
    fsync = os.fsync

    def noting(fd: int) -> None:
        synced.append(os.fstat(fd).st_ino)
        fsync(fd)

    monkeypatch.setattr(os, "fsync", noting)
    path = str(tmp_path / "deferred.sqlite")
    plain, deferred = (
        ServerStore(str(tmp_path / "plain.sqlite")),
        ServerStore(path, deferred_sync=True),
    )
    try:
        assert plain._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert deferred._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        plain.write("alice", ENTRY, "a", {}, None, T0)
        plain.sync()  # every commit was synced already: nothing to do
        assert synced == []
        deferred.begin()
        deferred.write("alice", ENTRY, "a", {}, None, T0)
        deferred.commit()
        assert _committed(path) == ["a"] and synced == []  # visible, not yet synced
        deferred.sync()
        assert synced == [os.stat(f"{path}-wal").st_ino]
    finally:
        plain.close()
        deferred.close()
    memory = ServerStore(":memory:", deferred_sync=True)
    memory.write("alice", ENTRY, "a", {}, None, T0)
    memory.sync()
    memory.close()
    assert len(synced) == 1
