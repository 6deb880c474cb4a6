"""The embedded session store: one SQLite file in WAL mode with ``synchronous=FULL``.

With FULL synchronisation in WAL mode a transaction is on disk when COMMIT returns, so a step
acknowledged to a client survives a crash of the process or the machine. Every thread keeps its
own connection; SQLite's file lock serialises writers across threads and worker processes.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import orjson

from service.errors import StoreUnavailable
from service.stores.base import Chunk, SessionRecord

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    spec BLOB NOT NULL,
    state BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    session_id TEXT NOT NULL,
    first_step INTEGER NOT NULL,
    last_step INTEGER NOT NULL,
    columns BLOB NOT NULL,
    PRIMARY KEY (session_id, first_step)
) WITHOUT ROWID;
"""


def sqlite_path(url: str) -> Path:
    """The file a ``sqlite:///relative`` or ``sqlite:////absolute`` URL names."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise ValueError(f"not a sqlite URL with a path: {url!r}")
    return Path(url[len(prefix) :])


class SQLiteStore:
    """Sessions in a SQLite file."""

    def __init__(self, path: Path, busy_timeout: float = 30.0) -> None:
        self._path = path
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        path.parent.mkdir(parents=True, exist_ok=True)
        self._connection().executescript(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            if self._closed:
                raise StoreUnavailable("the session store is closed")
            connection = sqlite3.connect(
                self._path,
                timeout=self._busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def create(self, record: SessionRecord, chunk: Chunk) -> None:
        """Stores a new session with its first trajectory chunk."""
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    record.version,
                    record.created_at,
                    record.updated_at,
                    orjson.dumps(record.spec),
                    orjson.dumps(record.state),
                ),
            )
            self._insert_chunk(db, record.id, chunk)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def get(self, session_id: str) -> SessionRecord | None:
        """The session, or None when there is none with this id."""
        row = (
            self._connection()
            .execute(
                "SELECT version, created_at, updated_at, spec, state FROM sessions WHERE id = ?",
                (session_id,),
            )
            .fetchone()
        )
        if row is None:
            return None
        version, created_at, updated_at, spec, state = row
        return SessionRecord(
            session_id, version, created_at, updated_at, orjson.loads(spec), orjson.loads(state)
        )

    def save(
        self, record: SessionRecord, expected_version: int, chunk: Chunk | None, reset: bool
    ) -> bool:
        """Compare-and-set on the version, with the trajectory change in the same transaction."""
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            cursor = db.execute(
                "UPDATE sessions SET version = ?, updated_at = ?, spec = ?, state = ? "
                "WHERE id = ? AND version = ?",
                (
                    record.version,
                    record.updated_at,
                    orjson.dumps(record.spec),
                    orjson.dumps(record.state),
                    record.id,
                    expected_version,
                ),
            )
            if cursor.rowcount != 1:
                db.execute("ROLLBACK")
                return False
            if reset:
                db.execute("DELETE FROM chunks WHERE session_id = ?", (record.id,))
            if chunk is not None:
                self._insert_chunk(db, record.id, chunk)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return True

    @staticmethod
    def _insert_chunk(db: sqlite3.Connection, session_id: str, chunk: Chunk) -> None:
        db.execute(
            "INSERT INTO chunks VALUES (?, ?, ?, ?)",
            (
                session_id,
                chunk.first_step,
                chunk.last_step,
                orjson.dumps(chunk.columns, option=orjson.OPT_SERIALIZE_NUMPY),
            ),
        )

    def delete(self, session_id: str) -> bool:
        """Removes the session and its trajectory; False when there was none."""
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            cursor = db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            db.execute("DELETE FROM chunks WHERE session_id = ?", (session_id,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return cursor.rowcount == 1

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
