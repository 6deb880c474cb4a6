"""The session store protocol: what the session use cases need from any backend.

A session is one JSON document (its spec and its state) with a version, plus its trajectory as
a list of chunks, one per request that stepped it. Writes are compare-and-set on the version,
so concurrent steps (threads, workers or replicas) are serialised and each applied exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class SessionRecord:
    """A stored session. ``spec`` and ``state`` are JSON objects; ``version`` counts writes."""

    id: str
    version: int
    created_at: str
    updated_at: str
    spec: dict[str, Any]
    state: dict[str, Any]


@dataclass(frozen=True)
class Chunk:
    """Consecutive trajectory points ``first_step``..``last_step`` in columnar JSON."""

    first_step: int
    last_step: int
    columns: dict[str, Any]


class SessionStore(Protocol):
    """Durable storage for sessions; every method is safe to call from several threads."""

    def create(self, record: SessionRecord, chunk: Chunk) -> None:
        """Stores a new session with its first trajectory chunk."""
        ...

    def get(self, session_id: str) -> SessionRecord | None:
        """The session, or None when there is none with this id."""
        ...

    def save(
        self, record: SessionRecord, expected_version: int, chunk: Chunk | None, reset: bool
    ) -> bool:
        """Replaces the session if its stored version is ``expected_version``, appending
        ``chunk`` (after dropping the whole trajectory when ``reset``), atomically and durably.
        False, and nothing written, when the version has moved on or the session is gone."""
        ...

    def delete(self, session_id: str) -> bool:
        """Removes the session and its trajectory; False when there was none."""
        ...

    def chunks(self, session_id: str, start: int, end: int | None) -> list[Chunk]:
        """The chunks holding any step in [start, end], in step order."""
        ...

    def ping(self) -> None:
        """Raises ``StoreUnavailable`` unless the store answers."""
        ...

    def close(self) -> None:
        """Releases connections; idempotent."""
        ...
