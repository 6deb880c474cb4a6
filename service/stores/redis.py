"""The shared session store: Redis, so several replicas of the service can step one session.

Layout, for a session ``ID`` under the key prefix ``P`` ("descent" unless given):

- ``P:session:{ID}``, a hash: ``version``, ``created_at``, ``updated_at``, ``spec`` and
  ``state`` (JSON), ``span`` (the longest chunk's ``last_step - first_step``, so a range query
  knows how far back a chunk overlapping its start can begin) and ``token`` (which ``save`` or
  ``create`` call wrote it, so a call retried after a lost reply is recognised as done).
- ``P:chunks:{ID}``, a sorted set: one member per trajectory chunk, scored by its
  ``first_step``, the member being the chunk as JSON (orjson, NumPy arrays serialised).

The braces make ``ID`` the Redis Cluster hash tag, so both keys of a session share a slot and
every script below touches keys of one slot only. ``create``, ``save``, ``delete`` and the range
read are Lua scripts: each is one round trip and runs atomically on the server, so the
compare-and-set on the version, dropping the trajectory on reset and appending the new chunk
happen all together or not at all, whichever replica sends them. Nothing is pickled.

Durability is the operator's to configure; Redis acknowledges a write when it is in memory:

- ``appendonly yes`` with ``appendfsync always``: the AOF is fsynced before Redis replies, so a
  step acknowledged to a client survives a crash of Redis or of the machine (as with the
  SQLite store). Every write pays an fsync.
- ``appendonly yes`` with ``appendfsync everysec`` (Redis's default once AOF is on): a crash of
  the machine loses up to about one second of acknowledged steps (two when the disk is slow);
  a crash of Redis alone normally loses nothing, the writes being in the kernel's page cache.
  Much higher write throughput.
- RDB snapshots alone (``save ...``, Redis's default without AOF) are not enough: a snapshot is
  taken every few minutes at best, so a crash loses every step acknowledged since the last one,
  and a session restored from an old snapshot resumes from a stale version.

A replica fed by asynchronous replication can also lack the last writes when it is promoted;
with Redis 7.2+ ``WAITAOF`` can make a write wait for replicas' fsyncs, which this store does
not do. Keep the data directory on a persistent volume.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import orjson
import redis
import redis.exceptions
from redis.backoff import EqualJitterBackoff
from redis.retry import Retry

from service.errors import Conflict, StoreUnavailable
from service.stores.base import Chunk, SessionRecord

# KEYS: session, chunks. ARGV: version, created_at, updated_at, spec, state, token,
# first_step, span, member. 1 when stored (or already stored by this very call), 0 when the id
# is taken.
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
    if redis.call('HGET', KEYS[1], 'token') == ARGV[6] then return 1 end
    return 0
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'created_at', ARGV[2], 'updated_at', ARGV[3],
    'spec', ARGV[4], 'state', ARGV[5], 'token', ARGV[6], 'span', ARGV[8])
redis.call('ZADD', KEYS[2], ARGV[7], ARGV[9])
return 1
"""

# KEYS: session, chunks. ARGV: expected_version, version, updated_at, spec, state, token,
# reset ("1"/"0"), first_step ("" for no chunk), span, member. 1 when written (or already
# written by this very call), 0 when the version moved or the session is gone. Every check
# comes before the first write: a script that errors keeps what it already wrote.
_SAVE = """
local stored = redis.call('HMGET', KEYS[1], 'version', 'token', 'span')
if not stored[1] then return 0 end
if stored[1] ~= ARGV[1] then
    if stored[1] == ARGV[2] and stored[2] == ARGV[6] then return 1 end
    return 0
end
local span = tonumber(stored[3]) or 0
local has_chunk = ARGV[8] ~= ''
if ARGV[7] == '1' then
    span = 0
elseif has_chunk and redis.call('ZCOUNT', KEYS[2], ARGV[8], ARGV[8]) > 0 then
    return redis.error_reply('a chunk starting at step ' .. ARGV[8] .. ' is already stored')
end
if ARGV[7] == '1' then redis.call('DEL', KEYS[2]) end
if has_chunk then
    span = math.max(span, tonumber(ARGV[9]))
    redis.call('ZADD', KEYS[2], ARGV[8], ARGV[10])
end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'updated_at', ARGV[3], 'spec', ARGV[4],
    'state', ARGV[5], 'token', ARGV[6], 'span', span)
return 1
"""

# KEYS: session, chunks. 1 when the session was there.
_DELETE = """
local removed = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
return removed
"""

# KEYS: session, chunks. ARGV: start, end ("+inf" for none). Chunks with
# start - span <= first_step <= end: a superset of those reaching start, never the whole past.
_CHUNKS = """
local span = tonumber(redis.call('HGET', KEYS[1], 'span') or '0')
return redis.call('ZRANGE', KEYS[2], tonumber(ARGV[1]) - span, ARGV[2], 'BYSCORE')
"""

_UNAVAILABLE = (
    redis.exceptions.ConnectionError,  # also refused connections, loading, authentication
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,  # a replica, e.g. during a failover
    redis.exceptions.OutOfMemoryError,
)
# Error replies meaning Redis cannot accept or persist writes right now.
_UNAVAILABLE_REPLIES = ("MISCONF", "NOREPLICAS", "MASTERDOWN", "LOADING", "BUSY", "TRYAGAIN")


def _member(chunk: Chunk) -> bytes:
    return orjson.dumps(
        {"first_step": chunk.first_step, "last_step": chunk.last_step, "columns": chunk.columns},
        option=orjson.OPT_SERIALIZE_NUMPY,
    )


class RedisStore:
    """Sessions in Redis, shared by every process and replica that opens the same URL."""

    def __init__(
        self,
        url: str,
        prefix: str = "descent",
        socket_timeout: float = 5.0,
        connect_timeout: float = 2.0,
        health_check_interval: float = 15.0,
        retries: int = 2,
    ) -> None:
        """Connects lazily: the first command opens a connection from a thread-safe pool.

        Connection errors are retried ``retries`` times with a short backoff; the write
        scripts are idempotent per call (the ``token``), so a retry after a lost reply neither
        fails nor applies a step twice."""
        self._prefix = prefix
        self._closed = False
        self._client: redis.Redis = redis.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=connect_timeout,
            health_check_interval=health_check_interval,
            retry=Retry(EqualJitterBackoff(cap=0.5, base=0.05), retries),
            client_name="descent",
        )
        self._create = self._client.register_script(_CREATE)
        self._save = self._client.register_script(_SAVE)
        self._delete = self._client.register_script(_DELETE)
        self._chunks = self._client.register_script(_CHUNKS)

    def keys(self, session_id: str) -> tuple[str, str]:
        """The session's hash and its chunks' sorted set."""
        return (
            f"{self._prefix}:session:{{{session_id}}}",
            f"{self._prefix}:chunks:{{{session_id}}}",
        )

    @contextmanager
    def _answering(self) -> Iterator[None]:
        if self._closed:
            raise StoreUnavailable("the session store is closed")
        try:
            yield
        except _UNAVAILABLE as error:
            raise StoreUnavailable(f"Redis does not answer: {error}") from error
        except redis.exceptions.ResponseError as error:
            if str(error).startswith(_UNAVAILABLE_REPLIES):
                raise StoreUnavailable(f"Redis cannot take writes: {error}") from error
            raise

    def create(self, record: SessionRecord, chunk: Chunk) -> None:
        """Stores a new session with its first trajectory chunk; Conflict if the id is taken."""
        args = (
            record.version,
            record.created_at,
            record.updated_at,
            orjson.dumps(record.spec),
            orjson.dumps(record.state),
            uuid.uuid4().hex,
            chunk.first_step,
            chunk.last_step - chunk.first_step,
            _member(chunk),
        )
        with self._answering():
            created = self._create(keys=self.keys(record.id), args=args)
        if created != 1:
            raise Conflict(f"a session with id {record.id!r} already exists")

    def get(self, session_id: str) -> SessionRecord | None:
        """The session, or None when there is none with this id."""
        fields = ("version", "created_at", "updated_at", "spec", "state")
        with self._answering():
            values = cast(list[bytes | None], self._client.hmget(self.keys(session_id)[0], fields))
        if values[0] is None:
            return None
        version, created_at, updated_at, spec, state = cast(list[bytes], values)
        return SessionRecord(
            session_id,
            int(version),
            created_at.decode(),
            updated_at.decode(),
            orjson.loads(spec),
            orjson.loads(state),
        )

    def save(
        self, record: SessionRecord, expected_version: int, chunk: Chunk | None, reset: bool
    ) -> bool:
        """Compare-and-set on the version, with the trajectory change in the same script."""
        return self.save_with_token(record, expected_version, chunk, reset, uuid.uuid4().hex)

    def save_with_token(
        self,
        record: SessionRecord,
        expected_version: int,
        chunk: Chunk | None,
        reset: bool,
        token: str,
    ) -> bool:
        """``save``, naming the call: sent again with the same token after it was applied, it
        answers True and writes nothing (what a retry after a lost reply does)."""
        args = (
            expected_version,
            record.version,
            record.updated_at,
            orjson.dumps(record.spec),
            orjson.dumps(record.state),
            token,
            "1" if reset else "0",
            "" if chunk is None else chunk.first_step,
            0 if chunk is None else chunk.last_step - chunk.first_step,
            b"" if chunk is None else _member(chunk),
        )
        with self._answering():
            saved = self._save(keys=self.keys(record.id), args=args)
        return bool(saved == 1)

    def delete(self, session_id: str) -> bool:
        """Removes the session and its trajectory; False when there was none."""
        with self._answering():
            removed = self._delete(keys=self.keys(session_id))
        return bool(removed == 1)

    def chunks(self, session_id: str, start: int, end: int | None) -> list[Chunk]:
        """The chunks holding any step in [start, end], in step order."""
        upper = "+inf" if end is None else end
        with self._answering():
            members = cast(
                list[bytes], self._chunks(keys=self.keys(session_id), args=(start, upper))
            )
        found = []
        for member in members:
            decoded: dict[str, Any] = orjson.loads(member)
            if decoded["last_step"] >= start:
                found.append(Chunk(decoded["first_step"], decoded["last_step"], decoded["columns"]))
        return found

    def ping(self) -> None:
        """Raises ``StoreUnavailable`` unless Redis answers."""
        with self._answering():
            self._client.ping()

    def close(self) -> None:
        """Closes the pool's connections; idempotent. Later calls raise StoreUnavailable."""
        if not self._closed:
            self._closed = True
            self._client.close()
