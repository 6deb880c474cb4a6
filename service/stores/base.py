"""The session store protocol: what the session use cases need from any backend.

A session is one JSON document (its spec and its state) with a version, plus its trajectory as
a list of chunks, one per request that stepped it. Writes are compare-and-set on the version,
so concurrent steps (threads, workers or replicas) are serialised and each applied exactly once.
A write may carry a ``Replay``: the answer to an idempotent request, stored in the same atomic
write, so a retry of that request finds the answer instead of stepping again. Sessions untouched
for longer than the store's idle TTL are gone; so are replays older than their TTL.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol


@dataclass(frozen=True)
class SessionRecord:
    """A stored session. ``spec`` and ``state`` are JSON objects; ``version`` counts writes;
    ``owner`` is the tenant (API key id) that created it, "" when keys are off."""

    id: str
    version: int
    created_at: str
    updated_at: str
    spec: dict[str, Any]
    state: dict[str, Any]
    owner: str = ""


@dataclass(frozen=True)
class Chunk:
    """Consecutive trajectory points ``first_step``..``last_step`` in columnar JSON."""

    first_step: int
    last_step: int
    columns: dict[str, Any]


@dataclass(frozen=True)
class Replay:
    """The first answer to a request sent with an Idempotency-Key, kept for its retries.

    ``fingerprint`` identifies the request (operation and body), so the same key sent with a
    different request is recognised and refused."""

    key: str
    fingerprint: str
    answer: dict[str, Any]


class SaveResult(Enum):
    """What a compare-and-set write did."""

    SAVED = "saved"
    STALE = "stale"
    """Nothing written: the version moved on, or the session is gone."""
    DUPLICATE = "duplicate"
    """Nothing written: a replay with this key is already stored for the session."""


class SessionStore(Protocol):
    """Durable storage for sessions; every method is safe to call from several threads."""

    def create(self, record: SessionRecord, chunk: Chunk, replay: Replay | None = None) -> bool:
        """Stores a new session with its first chunk (and replay); False when the id is taken."""
        ...

    def get(self, session_id: str) -> SessionRecord | None:
        """The session, or None when there is none with this id (or it expired)."""
        ...

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
        """Replaces the session if its stored version is ``expected_version``, appending
        ``chunk`` (after dropping the whole trajectory when ``reset``) and storing ``replay``,
        atomically and durably; nothing is written unless the result is SAVED. With
        ``same_spec`` the caller vouches that ``record.spec`` is the stored one, which is then
        not written again (a step's spec is unchanged, and inline data can be megabytes)."""
        ...

    def replay(self, session_id: str, key: str) -> Replay | None:
        """The stored answer for ``key`` on this session, if any (and not expired)."""
        ...

    def delete(self, session_id: str) -> bool:
        """Removes the session, its trajectory and replays; False when there was none."""
        ...

    def chunks(self, session_id: str, start: int, end: int | None) -> list[Chunk]:
        """The chunks holding any step in [start, end], in step order."""
        ...

    def page(self, owner: str, after: tuple[str, str] | None, limit: int) -> list[SessionRecord]:
        """Up to ``limit`` of ``owner``'s live sessions ordered by (created_at, id), those
        after the cursor ``after`` = (created_at, id) when given."""
        ...

    def count(self) -> int:
        """How many live sessions there are, all owners together."""
        ...

    def ping(self) -> None:
        """Raises ``StoreUnavailable`` unless the store answers."""
        ...

    def close(self) -> None:
        """Releases connections; idempotent."""
        ...
