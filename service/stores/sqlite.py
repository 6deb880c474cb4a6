"""The embedded session store: one SQLite file in WAL mode with ``synchronous=FULL``.

With FULL synchronisation in WAL mode a transaction is on disk when COMMIT returns, so a step
acknowledged to a client survives a crash of the process or the machine. Every thread keeps its
own connection. Expired sessions are invisible at once and deleted when the next session is
created.

Writes are group-committed. Each is a function of a connection; the threads of a process queue
theirs, and one of them (the leader) applies every write queued so far in one transaction,
each within a savepoint of its own (a write that fails is undone alone), commits, and then
wakes the others with their results: one fsync for the batch instead of one per write. The
fsync is what bounds SQLite's write rate (about 0.4 ms here, more when the disk is busy), so
batching is what lets concurrent steps go past it. No write is acknowledged before the COMMIT
of its batch returns. Values are serialised before a write is queued, so the transaction holds
the SQL and the fsync only.

Across worker processes, leaders take turns by an ``flock`` on a file beside the database. A
leader waiting there wakes the moment it is free, whereas one waiting for SQLite's own lock
polls it with sleeps of 1 to 100 ms (its busy handler), which under steady writes left requests
waiting up to a second while the lock stood free. Reads take no lock (WAL readers never wait).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from service.errors import StoreUnavailable
from service.stores.base import Chunk, Replay, SaveResult, SessionRecord

_SCHEMA_VERSION = 3
# A session's spec has a table of its own: SQLite rewrites a whole row on every UPDATE, and a
# spec with inline data can be megabytes, written once, whereas the state changes every step.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    state BLOB NOT NULL,
    owner TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS specs (
    session_id TEXT PRIMARY KEY,
    spec BLOB NOT NULL
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
_SELECT = (
    "SELECT s.id, s.version, s.created_at, s.updated_at, p.spec, s.state, s.owner "
    "FROM sessions AS s JOIN specs AS p ON p.session_id = s.id "
)


def sqlite_path(url: str) -> Path:
    """The file a ``sqlite:///relative`` or ``sqlite:////absolute`` URL names."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise ValueError(f"not a sqlite URL with a path: {url!r}")
    return Path(url[len(prefix) :])


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)


_INSERT_CHUNK = "INSERT INTO chunks VALUES (?, ?, ?, ?)"
_INSERT_REPLAY = "INSERT OR REPLACE INTO replays VALUES (?, ?, ?, ?, ?)"


def _chunk_row(session_id: str, chunk: Chunk) -> tuple[Any, ...]:
    return (session_id, chunk.first_step, chunk.last_step, _dumps(chunk.columns))


def _replay_row(session_id: str, replay: Replay) -> tuple[Any, ...]:
    created = datetime.now(UTC).isoformat(timespec="milliseconds")
    return (session_id, replay.key, replay.fingerprint, _dumps(replay.answer), created)


class _Write:
    """A write queued for the next group commit, and then its outcome."""

    __slots__ = ("apply", "error", "lead", "ready", "result")

    def __init__(self, apply: Callable[[sqlite3.Connection], Any]) -> None:
        self.apply = apply
        self.ready = threading.Event()
        self.lead = False
        self.result: Any = None
        self.error: BaseException | None = None


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
        self._queue: list[_Write] = []
        self._queue_lock = threading.Lock()  # guards _queue and _leading
        self._leading = False
        self._closed = False
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        with self._transaction() as db:
            self._migrate(db)

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        (version,) = db.execute("PRAGMA user_version").fetchone()
        if version < _SCHEMA_VERSION:
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
            columns = {row[1] for row in db.execute("PRAGMA table_info(sessions)")}
            if "sessions" in tables and "owner" not in columns:  # version 1
                db.execute("ALTER TABLE sessions ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            if "spec" in columns:  # versions 1 and 2 kept the spec in the session's row
                db.execute("INSERT INTO specs SELECT id, spec FROM sessions")
                db.execute("ALTER TABLE sessions DROP COLUMN spec")
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
        """A write transaction; only one thread of the process runs one at a time (the
        constructor, then the leader of each group commit)."""
        db = self._connection()
        # Blocks until the leader in another worker process commits; the kernel releases the
        # lock of a process that dies.
        fcntl.flock(self._lock_file, fcntl.LOCK_EX)
        try:
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
        finally:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    def _write(self, apply: Callable[[sqlite3.Connection], Any]) -> Any:
        """``apply(db)`` in the next group commit; its result once the batch is committed."""
        write = _Write(apply)
        with self._queue_lock:
            self._queue.append(write)
            if not self._leading:
                self._leading = write.lead = True
        if not write.lead:
            write.ready.wait()  # for the outcome, or to lead the next batch
        if write.lead:
            self._commit_queued()
        if write.error is not None:
            raise write.error
        return write.result

    def _commit_queued(self) -> None:
        """Applies and commits every queued write, then hands the lead to a write queued
        meanwhile (whose thread wakes to commit the next batch) or gives it up."""
        with self._queue_lock:
            batch, self._queue = self._queue, []
        try:
            with self._transaction() as db:
                for write in batch:
                    db.execute("SAVEPOINT write")
                    try:
                        write.result = write.apply(db)
                    except Exception as error:  # undone alone; the others still commit
                        db.execute("ROLLBACK TO write")
                        write.error = error
                    db.execute("RELEASE write")
        except Exception as error:  # BEGIN or COMMIT failed: nothing of the batch was written
            for write in batch:
                write.result, write.error = None, error
        finally:
            with self._queue_lock:
                if self._queue:
                    self._queue[0].lead = True
                    self._queue[0].ready.set()
                else:
                    self._leading = False
            for write in batch:
                write.lead = False
                write.ready.set()

    def _cutoff(self, ttl: timedelta) -> str:
        return (datetime.now(UTC) - ttl).isoformat(timespec="milliseconds")

    def create(self, record: SessionRecord, chunk: Chunk, replay: Replay | None = None) -> bool:
        """Stores a new session with its first chunk (and replay); False when the id is taken."""
        row = (
            record.id,
            record.version,
            record.created_at,
            record.updated_at,
            _dumps(record.state),
            record.owner,
        )
        spec_row = (record.id, _dumps(record.spec))
        chunk_row = _chunk_row(record.id, chunk)
        replay_row = None if replay is None else _replay_row(record.id, replay)

        def apply(db: sqlite3.Connection) -> bool:
            self._purge(db)
            taken = db.execute("SELECT 1 FROM sessions WHERE id = ?", (record.id,)).fetchone()
            if taken:
                return False
            db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)", row)
            db.execute("INSERT OR REPLACE INTO specs VALUES (?, ?)", spec_row)
            db.execute(_INSERT_CHUNK, chunk_row)
            if replay_row is not None:
                db.execute(_INSERT_REPLAY, replay_row)
            return True

        created: bool = self._write(apply)
        return created

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
                f"{_SELECT}WHERE s.id = ? AND s.updated_at >= ?",
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
        *,
        same_spec: bool = False,
    ) -> SaveResult:
        """Compare-and-set on the version, with the trajectory change in the same transaction."""
        update = (
            record.version,
            record.updated_at,
            _dumps(record.state),
            record.id,
            expected_version,
            self._cutoff(self._idle_ttl),
        )
        spec_row = None if same_spec else (_dumps(record.spec), record.id)
        chunk_row = None if chunk is None else _chunk_row(record.id, chunk)
        replay_row = None if replay is None else _replay_row(record.id, replay)

        def apply(db: sqlite3.Connection) -> SaveResult:
            if (
                replay is not None
                and db.execute(
                    "SELECT 1 FROM replays WHERE session_id = ? AND key = ? AND created_at >= ?",
                    (record.id, replay.key, self._cutoff(self._replay_ttl)),
                ).fetchone()
            ):
                return SaveResult.DUPLICATE
            cursor = db.execute(
                "UPDATE sessions SET version = ?, updated_at = ?, state = ? "
                "WHERE id = ? AND version = ? AND updated_at >= ?",
                update,
            )
            if cursor.rowcount != 1:
                return SaveResult.STALE
            if spec_row is not None:
                db.execute("UPDATE specs SET spec = ? WHERE session_id = ?", spec_row)
            if reset:
                db.execute("DELETE FROM chunks WHERE session_id = ?", (record.id,))
            if chunk_row is not None:
                db.execute(_INSERT_CHUNK, chunk_row)
            if replay_row is not None:
                db.execute(_INSERT_REPLAY, replay_row)
            return SaveResult.SAVED

        saved: SaveResult = self._write(apply)
        return saved

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

        def apply(db: sqlite3.Connection) -> bool:
            live = db.execute(
                "SELECT 1 FROM sessions WHERE id = ? AND updated_at >= ?",
                (session_id, self._cutoff(self._idle_ttl)),
            ).fetchone()
            self._remove(db, session_id)
            return live is not None

        removed: bool = self._write(apply)
        return removed

    @staticmethod
    def _remove(db: sqlite3.Connection, session_id: str) -> None:
        db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        db.execute("DELETE FROM specs WHERE session_id = ?", (session_id,))
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
                f"{_SELECT}WHERE s.owner = ? AND s.updated_at >= ? "
                "AND (s.created_at, s.id) > (?, ?) ORDER BY s.created_at, s.id LIMIT ?",
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
            if self._closed:
                return
            self._closed = True
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
        os.close(self._lock_file)
