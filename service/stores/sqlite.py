"""The embedded session store: one SQLite file in WAL mode with ``synchronous=FULL``.

With FULL synchronisation in WAL mode a transaction is on disk when COMMIT returns, so a step
acknowledged to a client survives a crash of the process or the machine. Every thread keeps its
own connection; SQLite's file lock serialises writers across threads and worker processes.
Expired sessions are invisible at once and deleted when the next session is created.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from service.errors import StoreUnavailable
from service.stores.base import Chunk, Replay, SaveResult, SessionRecord

_SCHEMA_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    spec BLOB NOT NULL,
    state BLOB NOT NULL,
    owner TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS chunks (
    session_id TEXT NOT NULL,
    first_step INTEGER NOT NULL,
    last_step INTEGER NOT NULL,
    columns BLOB NOT NULL,
    PRIMARY KEY (session_id, first_step)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS replays (
    session_id TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    answer BLOB NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (session_id, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_by_owner ON sessions (owner, created_at, id);
CREATE INDEX IF NOT EXISTS sessions_by_activity ON sessions (updated_at);
"""
_COLUMNS = "id, version, created_at, updated_at, spec, state, owner"


def sqlite_path(url: str) -> Path:
    """The file a ``sqlite:///relative`` or ``sqlite:////absolute`` URL names."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise ValueError(f"not a sqlite URL with a path: {url!r}")
    return Path(url[len(prefix) :])


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)


def _record(row: tuple[Any, ...]) -> SessionRecord:
    session_id, version, created_at, updated_at, spec, state, owner = row
    return SessionRecord(
        session_id, version, created_at, updated_at, orjson.loads(spec), orjson.loads(state), owner
    )


class SQLiteStore:
    """Sessions in a SQLite file."""

    def __init__(
        self,
        path: Path,
        busy_timeout: float = 30.0,
        idle_ttl: float = 7 * 24 * 3600.0,
        replay_ttl: float = 24 * 3600.0,
    ) -> None:
        self._path = path
        self._busy_timeout = busy_timeout
        self._idle_ttl = timedelta(seconds=idle_ttl)
        self._replay_ttl = timedelta(seconds=replay_ttl)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._transaction() as db:
            self._migrate(db)

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        (version,) = db.execute("PRAGMA user_version").fetchone()
        if version < _SCHEMA_VERSION:
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
            if "sessions" in tables:
                columns = {row[1] for row in db.execute("PRAGMA table_info(sessions)")}
                if "owner" not in columns:
                    db.execute("ALTER TABLE sessions ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            if self._closed:
                raise StoreUnavailable("the session store is closed")
            try:
                connection = sqlite3.connect(
                    self._path,
                    timeout=self._busy_timeout,
                    isolation_level=None,
                    check_same_thread=False,
                )
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=FULL")
            except sqlite3.Error as error:
                raise StoreUnavailable(f"SQLite does not answer: {error}") from error
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._connection()
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            raise StoreUnavailable(f"SQLite does not answer: {error}") from error
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _cutoff(self, ttl: timedelta) -> str:
        return (datetime.now(UTC) - ttl).isoformat(timespec="milliseconds")

    def create(self, record: SessionRecord, chunk: Chunk, replay: Replay | None = None) -> bool:
        """Stores a new session with its first chunk (and replay); False when the id is taken."""
        with self._transaction() as db:
            self._purge(db)
            taken = db.execute("SELECT 1 FROM sessions WHERE id = ?", (record.id,)).fetchone()
            if taken:
                return False
            db.execute(
                f"INSERT INTO sessions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    record.version,
                    record.created_at,
                    record.updated_at,
                    _dumps(record.spec),
                    _dumps(record.state),
                    record.owner,
                ),
            )
            self._insert_chunk(db, record.id, chunk)
            if replay is not None:
                self._insert_replay(db, record.id, replay)
        return True

    def _purge(self, db: sqlite3.Connection) -> None:
        expired = [
            session_id
            for (session_id,) in db.execute(
                "SELECT id FROM sessions WHERE updated_at < ?", (self._cutoff(self._idle_ttl),)
            )
        ]
        for session_id in expired:
            self._remove(db, session_id)
        db.execute("DELETE FROM replays WHERE created_at < ?", (self._cutoff(self._replay_ttl),))

    def get(self, session_id: str) -> SessionRecord | None:
        """The session, or None when there is none with this id (or it expired)."""
        row = (
            self._connection()
            .execute(
                f"SELECT {_COLUMNS} FROM sessions WHERE id = ? AND updated_at >= ?",
                (session_id, self._cutoff(self._idle_ttl)),
            )
            .fetchone()
        )
        return None if row is None else _record(row)

    def save(
        self,
        record: SessionRecord,
        expected_version: int,
        chunk: Chunk | None,
        reset: bool,
        replay: Replay | None = None,
    ) -> SaveResult:
        """Compare-and-set on the version, with the trajectory change in the same transaction."""
        with self._transaction() as db:
            if (
                replay is not None
                and db.execute(
                    "SELECT 1 FROM replays WHERE session_id = ? AND key = ? AND created_at >= ?",
                    (record.id, replay.key, self._cutoff(self._replay_ttl)),
                ).fetchone()
            ):
                return SaveResult.DUPLICATE
            cursor = db.execute(
                "UPDATE sessions SET version = ?, updated_at = ?, spec = ?, state = ? "
                "WHERE id = ? AND version = ? AND updated_at >= ?",
                (
                    record.version,
                    record.updated_at,
                    _dumps(record.spec),
                    _dumps(record.state),
                    record.id,
                    expected_version,
                    self._cutoff(self._idle_ttl),
                ),
            )
            if cursor.rowcount != 1:
                return SaveResult.STALE
            if reset:
                db.execute("DELETE FROM chunks WHERE session_id = ?", (record.id,))
            if chunk is not None:
                self._insert_chunk(db, record.id, chunk)
            if replay is not None:
                self._insert_replay(db, record.id, replay)
        return SaveResult.SAVED

    @staticmethod
    def _insert_chunk(db: sqlite3.Connection, session_id: str, chunk: Chunk) -> None:
        db.execute(
            "INSERT INTO chunks VALUES (?, ?, ?, ?)",
            (session_id, chunk.first_step, chunk.last_step, _dumps(chunk.columns)),
        )

    @staticmethod
    def _insert_replay(db: sqlite3.Connection, session_id: str, replay: Replay) -> None:
        db.execute(
            "INSERT OR REPLACE INTO replays VALUES (?, ?, ?, ?, ?)",
            (
                session_id,
                replay.key,
                replay.fingerprint,
                _dumps(replay.answer),
                datetime.now(UTC).isoformat(timespec="milliseconds"),
            ),
        )

    def replay(self, session_id: str, key: str) -> Replay | None:
        """The stored answer for ``key`` on this session, if any (and not expired)."""
        row = (
            self._connection()
            .execute(
                "SELECT fingerprint, answer FROM replays "
                "WHERE session_id = ? AND key = ? AND created_at >= ?",
                (session_id, key, self._cutoff(self._replay_ttl)),
            )
            .fetchone()
        )
        return None if row is None else Replay(key, row[0], orjson.loads(row[1]))

    def delete(self, session_id: str) -> bool:
        """Removes the session, its trajectory and replays; False when there was none."""
        with self._transaction() as db:
            live = self.get(session_id) is not None
            self._remove(db, session_id)
        return live

    @staticmethod
    def _remove(db: sqlite3.Connection, session_id: str) -> None:
        db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        db.execute("DELETE FROM chunks WHERE session_id = ?", (session_id,))
        db.execute("DELETE FROM replays WHERE session_id = ?", (session_id,))

    def chunks(self, session_id: str, start: int, end: int | None) -> list[Chunk]:
        """The chunks holding any step in [start, end], in step order."""
        rows = (
            self._connection()
            .execute(
                "SELECT first_step, last_step, columns FROM chunks WHERE session_id = ? "
                "AND last_step >= ? AND first_step <= ? ORDER BY first_step",
                (session_id, start, end if end is not None else 2**62),
            )
            .fetchall()
        )
        return [Chunk(first, last, orjson.loads(columns)) for first, last, columns in rows]

    def page(self, owner: str, after: tuple[str, str] | None, limit: int) -> list[SessionRecord]:
        """Up to ``limit`` of ``owner``'s live sessions in (created_at, id) order."""
        created, last_id = after if after is not None else ("", "")
        rows = (
            self._connection()
            .execute(
                f"SELECT {_COLUMNS} FROM sessions WHERE owner = ? AND updated_at >= ? "
                "AND (created_at, id) > (?, ?) ORDER BY created_at, id LIMIT ?",
                (owner, self._cutoff(self._idle_ttl), created, last_id, limit),
            )
            .fetchall()
        )
        return [_record(row) for row in rows]

    def count(self) -> int:
        """How many live sessions there are."""
        (live,) = (
            self._connection()
            .execute(
                "SELECT COUNT(*) FROM sessions WHERE updated_at >= ?",
                (self._cutoff(self._idle_ttl),),
            )
            .fetchone()
        )
        return int(live)

    def ping(self) -> None:
        """Raises ``StoreUnavailable`` unless the database answers."""
        try:
            self._connection().execute("SELECT 1").fetchone()
        except sqlite3.Error as error:
            raise StoreUnavailable(f"SQLite does not answer: {error}") from error

    def close(self) -> None:
        """Closes every thread's connection; idempotent."""
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
