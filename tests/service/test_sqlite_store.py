"""The SQLite store's compare-and-set, trajectory chunks and lifecycle."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.errors import StoreUnavailable
from service.stores import Chunk, SaveResult, SessionRecord, SQLiteStore
from service.stores.sqlite import sqlite_path

BASE = datetime.now(UTC)
NOW = BASE.isoformat(timespec="milliseconds")


def stamp(version: int) -> str:
    """A write time that increases with the version, now-ish (stores expire idle sessions)."""
    return (BASE + timedelta(milliseconds=version)).isoformat(timespec="milliseconds")


def record(version: int, step: int) -> SessionRecord:
    return SessionRecord("s1", version, NOW, stamp(version), {"k": 1}, {"step": step})


def chunk(first: int, last: int) -> Chunk:
    return Chunk(first, last, {"step": list(range(first, last + 1))})


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(tmp_path / "nested" / "s.db")


def test_compare_and_set_applies_only_on_the_expected_version(store: SQLiteStore) -> None:
    store.create(record(1, 0), chunk(0, 0))
    assert SaveResult.SAVED is store.save(record(2, 3), 1, chunk(1, 3), reset=False)
    assert SaveResult.STALE is store.save(record(2, 9), 1, chunk(4, 9), reset=False)
    stored = store.get("s1")
    assert stored is not None
    assert (stored.version, stored.state) == (2, {"step": 3})
    assert [(c.first_step, c.last_step) for c in store.chunks("s1", 0, None)] == [(0, 0), (1, 3)]


def test_a_save_with_the_same_spec_writes_only_the_rest(store: SQLiteStore) -> None:
    store.create(record(1, 0), chunk(0, 0))
    changed = SessionRecord("s1", 2, NOW, stamp(2), {"k": 2}, {"step": 1})
    assert SaveResult.SAVED is store.save(changed, 1, chunk(1, 1), reset=False, same_spec=True)
    stored = store.get("s1")
    assert stored is not None
    assert (stored.version, stored.spec, stored.state) == (2, {"k": 1}, {"step": 1})
    assert SaveResult.STALE is store.save(changed, 1, None, reset=False, same_spec=True)
    assert SaveResult.SAVED is store.save(record(3, 1), 2, None, reset=False)
    assert store.get("s1") == record(3, 1)


def test_chunks_overlapping_a_range(store: SQLiteStore) -> None:
    store.create(record(1, 0), chunk(0, 0))
    store.save(record(2, 10), 1, chunk(1, 10), reset=False)
    store.save(record(3, 20), 2, chunk(11, 20), reset=False)
    assert [c.first_step for c in store.chunks("s1", 5, 12)] == [1, 11]
    assert [c.first_step for c in store.chunks("s1", 15, None)] == [11]
    assert store.chunks("s1", 21, None) == []


def test_reset_replaces_the_trajectory(store: SQLiteStore) -> None:
    store.create(record(1, 0), chunk(0, 0))
    store.save(record(2, 5), 1, chunk(1, 5), reset=False)
    assert SaveResult.SAVED is store.save(record(3, 0), 2, Chunk(0, 0, {"step": [0]}), reset=True)
    assert [(c.first_step, c.last_step) for c in store.chunks("s1", 0, None)] == [(0, 0)]


def test_delete_and_missing_sessions(store: SQLiteStore) -> None:
    store.create(record(1, 0), chunk(0, 0))
    assert store.delete("s1")
    assert not store.delete("s1")
    assert store.get("s1") is None
    assert store.chunks("s1", 0, None) == []
    assert SaveResult.STALE is store.save(record(2, 1), 1, None, reset=False)


def test_data_survives_reopening(tmp_path: Path) -> None:
    first = SQLiteStore(tmp_path / "s.db")
    first.create(record(1, 0), chunk(0, 0))
    first.close()
    again = SQLiteStore(tmp_path / "s.db")
    stored = again.get("s1")
    assert stored is not None
    assert stored.spec == {"k": 1}


def test_a_version_2_file_is_migrated_with_its_sessions(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE sessions (id TEXT PRIMARY KEY, version INTEGER NOT NULL, "
            "created_at TEXT NOT NULL, updated_at TEXT NOT NULL, spec BLOB NOT NULL, "
            "state BLOB NOT NULL, owner TEXT NOT NULL DEFAULT '')"
        )
        db.execute(
            "CREATE TABLE chunks (session_id TEXT NOT NULL, first_step INTEGER NOT NULL, "
            "last_step INTEGER NOT NULL, columns BLOB NOT NULL, "
            "PRIMARY KEY (session_id, first_step)) WITHOUT ROWID"
        )
        old = record(3, 7)
        db.execute(
            "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?)",
            (old.id, old.version, old.created_at, old.updated_at, b'{"k": 1}', b'{"step": 7}',
             "k1"),
        )  # fmt: skip
        db.execute("INSERT INTO chunks VALUES ('s1', 0, 7, ?)", (b'{"step": [0]}',))
        db.execute("PRAGMA user_version = 2")
    db.close()
    store = SQLiteStore(path)
    assert store.get("s1") == SessionRecord("s1", 3, NOW, stamp(3), {"k": 1}, {"step": 7}, "k1")
    assert [(c.first_step, c.last_step) for c in store.chunks("s1", 0, None)] == [(0, 7)]
    assert SaveResult.SAVED is store.save(record(4, 8), 3, chunk(8, 8), reset=False)
    assert store.get("s1") == SessionRecord("s1", 4, NOW, stamp(4), {"k": 1}, {"step": 8}, "k1")
    store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (3,)
        assert "spec" not in {row[1] for row in db.execute("PRAGMA table_info(sessions)")}
    db.close()


def test_closed_store_is_unavailable(store: SQLiteStore) -> None:
    store.ping()
    store.close()
    store.close()
    with pytest.raises(StoreUnavailable):
        store.ping()


@pytest.mark.parametrize(
    ("url", "path"),
    [("sqlite:///descent.db", "descent.db"), ("sqlite:////var/lib/d.db", "/var/lib/d.db")],
)
def test_sqlite_urls(url: str, path: str) -> None:
    assert sqlite_path(url) == Path(path)


def test_bad_sqlite_url() -> None:
    with pytest.raises(ValueError, match="not a sqlite URL"):
        sqlite_path("sqlite://")
