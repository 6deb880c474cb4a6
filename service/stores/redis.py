"""The shared session store: Redis, so several replicas of the service can step one session.

Layout, for a session ``ID`` under the key prefix ``P`` ("descent" unless given):

- ``P:session:{ID}``, a hash: ``version``, ``created_at``, ``updated_at``, ``spec`` and
  ``state`` (JSON), ``owner``, ``span`` (the longest chunk's ``last_step - first_step``, so a
  range query knows how far back a chunk overlapping its start can begin) and ``token`` (which
  ``save`` or ``create`` call wrote it, so a call retried after a lost reply is recognised).
- ``P:chunks:{ID}``, a sorted set: one member per trajectory chunk, scored by its
  ``first_step``, the member being the chunk as JSON (orjson, NumPy arrays serialised).
- ``P:replay:{ID}:KEY``, the stored answer to an idempotent request (JSON), and
  ``P:replays:{ID}``, the set of those keys.
- ``P:owner:OWNER``, a sorted set of the owner's session ids scored by creation time (for
  listing), and ``P:activity``, every session id scored by its last write (for counting).

Sessions expire by Redis's own key expiry: every write sets the idle TTL on the session's keys;
the two indexes drop expired ids lazily. ``create``, ``save``, ``delete``, the range read and the
page read are Lua scripts: each is one round trip and runs atomically on the server, so the
compare-and-set on the version, the trajectory change, the replay and the indexes are written
all together or not at all, whichever replica sends them. Nothing is pickled. The scripts touch
a session's keys and the shared indexes, so they need one Redis (or a primary with replicas),
not Redis Cluster.

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

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

import orjson
import redis
import redis.exceptions
from redis.backoff import EqualJitterBackoff
from redis.retry import Retry

from service.errors import StoreUnavailable
from service.stores.base import Chunk, Replay, SaveResult, SessionRecord

# KEYS: session, chunks, owner index, activity, replay, replay set.
# ARGV: version, created_at, updated_at, spec, state, token, first_step, span, member, owner,
# created_ms, updated_ms, idle_ttl_ms, session id, replay JSON ("" for none), replay_ttl_ms.
# 1 when stored (or already stored by this very call), 0 when the id is taken.
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
    if redis.call('HGET', KEYS[1], 'token') == ARGV[6] then return 1 end
    return 0
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'created_at', ARGV[2], 'updated_at', ARGV[3],
    'spec', ARGV[4], 'state', ARGV[5], 'token', ARGV[6], 'span', ARGV[8], 'owner', ARGV[10])
redis.call('ZADD', KEYS[2], ARGV[7], ARGV[9])
redis.call('PEXPIRE', KEYS[1], ARGV[13])
redis.call('PEXPIRE', KEYS[2], ARGV[13])
redis.call('ZADD', KEYS[3], ARGV[11], ARGV[14])
redis.call('ZADD', KEYS[4], ARGV[12], ARGV[14])
if ARGV[15] ~= '' then
    redis.call('SET', KEYS[5], ARGV[15], 'PX', ARGV[16])
    redis.call('SADD', KEYS[6], KEYS[5])
    redis.call('PEXPIRE', KEYS[6], ARGV[13])
end
return 1
"""

# KEYS: session, chunks, activity, replay, replay set. ARGV: expected_version, version,
# updated_at, spec ("" to keep the stored one), state, token, reset ("1"/"0"), first_step ("" for
# no chunk), span, member, updated_ms, idle_ttl_ms, session id, replay JSON ("" for none),
# replay_ttl_ms.
# 1 when written (or already written by this very call), 0 when the version moved or the session
# is gone, 2 when the replay key is already stored. Every check comes before the first write: a
# script that errors keeps what it already wrote.
_SAVE = """
local stored = redis.call('HMGET', KEYS[1], 'version', 'token', 'span')
if not stored[1] then return 0 end
if stored[1] ~= ARGV[1] then
    if stored[1] == ARGV[2] and stored[2] == ARGV[6] then return 1 end
    return 0
end
if ARGV[14] ~= '' and redis.call('EXISTS', KEYS[4]) == 1 then return 2 end
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
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'updated_at', ARGV[3], 'state', ARGV[5],
    'token', ARGV[6], 'span', span)
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'spec', ARGV[4]) end
redis.call('PEXPIRE', KEYS[1], ARGV[12])
redis.call('PEXPIRE', KEYS[2], ARGV[12])
redis.call('ZADD', KEYS[3], ARGV[11], ARGV[13])
if ARGV[14] ~= '' then
    redis.call('SET', KEYS[4], ARGV[14], 'PX', ARGV[15])
    redis.call('SADD', KEYS[5], KEYS[4])
    redis.call('PEXPIRE', KEYS[5], ARGV[12])
end
return 1
"""

# KEYS: session, chunks, replay set, activity. ARGV: owner index prefix, session id.
# 1 when the session was there.
_DELETE = """
local owner = redis.call('HGET', KEYS[1], 'owner')
local removed = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
for _, key in ipairs(redis.call('SMEMBERS', KEYS[3])) do redis.call('DEL', key) end
redis.call('DEL', KEYS[3])
redis.call('ZREM', KEYS[4], ARGV[2])
if owner then redis.call('ZREM', ARGV[1] .. owner, ARGV[2]) end
return removed
"""

# KEYS: session, chunks. ARGV: start, end ("+inf" for none). Chunks with
# start - span <= first_step <= end: a superset of those reaching start, never the whole past.
_CHUNKS = """
local span = tonumber(redis.call('HGET', KEYS[1], 'span') or '0')
return redis.call('ZRANGE', KEYS[2], tonumber(ARGV[1]) - span, ARGV[2], 'BYSCORE')
"""

# KEYS: owner index. ARGV: session key prefix, cursor score ("-inf" for none), cursor id, limit.
# The fields of up to ``limit`` live sessions after the cursor; expired ids leave the index.
_PAGE = """
local found = {}
local from = ARGV[2]
while #found < tonumber(ARGV[4]) do
    local batch = redis.call('ZRANGE', KEYS[1], from, '+inf', 'BYSCORE', 'LIMIT', 0, 64,
        'WITHSCORES')
    if #batch == 0 then break end
    local progressed = false
    for i = 1, #batch, 2 do
        local id, score = batch[i], batch[i + 1]
        local after = ARGV[2] == '-inf' or tonumber(score) > tonumber(ARGV[2])
            or (tonumber(score) == tonumber(ARGV[2]) and id > ARGV[3])
        if after then
            local fields = redis.call('HMGET', ARGV[1] .. id, 'version', 'created_at',
                'updated_at', 'spec', 'state', 'owner')
            if fields[1] then
                if #found < tonumber(ARGV[4]) then
                    table.insert(found, id)
                    for _, value in ipairs(fields) do table.insert(found, value) end
                end
            else
                redis.call('ZREM', KEYS[1], id)
            end
        end
        if after then progressed = true end
        ARGV[2], ARGV[3] = score, id
    end
    if not progressed then break end
    from = ARGV[2]
end
return found
"""

# KEYS: activity. ARGV: cutoff_ms. Live sessions, after dropping expired ids.
_COUNT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
return redis.call('ZCARD', KEYS[1])
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


def _milliseconds(timestamp: str) -> int:
    return int(datetime.fromisoformat(timestamp).timestamp() * 1000)


def _record(session_id: str, fields: list[bytes]) -> SessionRecord:
    version, created_at, updated_at, spec, state, owner = fields
    return SessionRecord(
        session_id,
        int(version),
        created_at.decode(),
        updated_at.decode(),
        orjson.loads(spec),
        orjson.loads(state),
        owner.decode(),
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
        idle_ttl: float = 7 * 24 * 3600.0,
        replay_ttl: float = 24 * 3600.0,
    ) -> None:
        """Connects lazily: the first command opens a connection from a thread-safe pool.

        Connection errors are retried ``retries`` times with a short backoff; the write
        scripts are idempotent per call (the ``token``), so a retry after a lost reply neither
        fails nor applies a step twice."""
        self._prefix = prefix
        self._closed = False
        self._idle_ttl_ms = int(idle_ttl * 1000)
        self._replay_ttl_ms = int(replay_ttl * 1000)
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
        self._page = self._client.register_script(_PAGE)
        self._count = self._client.register_script(_COUNT)

    def keys(self, session_id: str) -> tuple[str, str]:
        """The session's hash and its chunks' sorted set."""
        return (
            f"{self._prefix}:session:{{{session_id}}}",
            f"{self._prefix}:chunks:{{{session_id}}}",
        )

    def _replay_keys(self, session_id: str, key: str) -> tuple[str, str]:
        return (
            f"{self._prefix}:replay:{{{session_id}}}:{key}",
            f"{self._prefix}:replays:{{{session_id}}}",
        )

    @property
    def _activity(self) -> str:
        return f"{self._prefix}:activity"

    def _owner_index(self, owner: str) -> str:
        return f"{self._prefix}:owner:{owner}"

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

    @staticmethod
    def _replay_json(replay: Replay | None) -> bytes:
        if replay is None:
            return b""
        return orjson.dumps(
            {"fingerprint": replay.fingerprint, "answer": replay.answer},
            option=orjson.OPT_SERIALIZE_NUMPY,
        )

    def create(self, record: SessionRecord, chunk: Chunk, replay: Replay | None = None) -> bool:
        """Stores a new session with its first chunk (and replay); False when the id is taken."""
        replay_keys = self._replay_keys(record.id, replay.key if replay else "")
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
            record.owner,
            _milliseconds(record.created_at),
            _milliseconds(record.updated_at),
            self._idle_ttl_ms,
            record.id,
            self._replay_json(replay),
            self._replay_ttl_ms,
        )
        keys = (*self.keys(record.id), self._owner_index(record.owner), self._activity)
        with self._answering():
            created = self._create(keys=(*keys, *replay_keys), args=args)
        return bool(created == 1)

    def get(self, session_id: str) -> SessionRecord | None:
        """The session, or None when there is none with this id (or it expired)."""
        fields = ("version", "created_at", "updated_at", "spec", "state", "owner")
        with self._answering():
            values = cast(list[bytes | None], self._client.hmget(self.keys(session_id)[0], fields))
        if values[0] is None:
            return None
        return _record(session_id, cast(list[bytes], values))

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
        """Compare-and-set on the version, with the trajectory change in the same script."""
        return self.save_with_token(
            record, expected_version, chunk, reset, uuid.uuid4().hex, replay, same_spec=same_spec
        )

    def save_with_token(
        self,
        record: SessionRecord,
        expected_version: int,
        chunk: Chunk | None,
        reset: bool,
        token: str,
        replay: Replay | None = None,
        *,
        same_spec: bool = False,
    ) -> SaveResult:
        """``save``, naming the call: sent again with the same token after it was applied, it
        answers SAVED and writes nothing (what a retry after a lost reply does)."""
        args = (
            expected_version,
            record.version,
            record.updated_at,
            b"" if same_spec else orjson.dumps(record.spec),
            orjson.dumps(record.state),
            token,
            "1" if reset else "0",
            "" if chunk is None else chunk.first_step,
            0 if chunk is None else chunk.last_step - chunk.first_step,
            b"" if chunk is None else _member(chunk),
            _milliseconds(record.updated_at),
            self._idle_ttl_ms,
            record.id,
            self._replay_json(replay),
            self._replay_ttl_ms,
        )
        keys = (
            *self.keys(record.id),
            self._activity,
            *self._replay_keys(record.id, replay.key if replay else ""),
        )
        with self._answering():
            saved = self._save(keys=keys, args=args)
        return {1: SaveResult.SAVED, 2: SaveResult.DUPLICATE}.get(int(saved), SaveResult.STALE)

    def replay(self, session_id: str, key: str) -> Replay | None:
        """The stored answer for ``key`` on this session, if any (and not expired)."""
        with self._answering():
            stored = cast(bytes | None, self._client.get(self._replay_keys(session_id, key)[0]))
        if stored is None:
            return None
        decoded: dict[str, Any] = orjson.loads(stored)
        return Replay(key, decoded["fingerprint"], decoded["answer"])

    def delete(self, session_id: str) -> bool:
        """Removes the session, its trajectory and replays; False when there was none."""
        keys = (*self.keys(session_id), self._replay_keys(session_id, "")[1], self._activity)
        with self._answering():
            removed = self._delete(keys=keys, args=(f"{self._prefix}:owner:", session_id))
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

    def page(self, owner: str, after: tuple[str, str] | None, limit: int) -> list[SessionRecord]:
        """Up to ``limit`` of ``owner``'s live sessions in (created_at, id) order."""
        score = "-inf" if after is None else str(_milliseconds(after[0]))
        args = (f"{self._prefix}:session:", score, "" if after is None else after[1], limit)
        with self._answering():
            flat = cast(list[bytes], self._page(keys=(self._owner_index(owner),), args=args))
        records = [_record(flat[i].decode(), flat[i + 1 : i + 7]) for i in range(0, len(flat), 7)]
        return sorted(records, key=lambda r: (r.created_at, r.id))

    def count(self) -> int:
        """How many live sessions there are."""
        cutoff = int(time.time() * 1000) - self._idle_ttl_ms
        with self._answering():
            return int(self._count(keys=(self._activity,), args=(cutoff,)))

    def ping(self) -> None:
        """Raises ``StoreUnavailable`` unless Redis answers."""
        with self._answering():
            self._client.ping()

    def close(self) -> None:
        """Closes the pool's connections; idempotent. Later calls raise StoreUnavailable."""
        if not self._closed:
            self._closed = True
            self._client.close()
