"""Session stores behind one protocol, chosen by ``DESCENT_STORE_URL``."""

from __future__ import annotations

from service.settings import Settings
from service.stores.base import Chunk, Replay, SaveResult, SessionRecord, SessionStore
from service.stores.sqlite import SQLiteStore, sqlite_path

__all__ = [
    "Chunk",
    "Replay",
    "SQLiteStore",
    "SaveResult",
    "SessionRecord",
    "SessionStore",
    "open_store",
]


def open_store(settings: Settings) -> SessionStore:
    """The store ``settings.store_url`` names."""
    url = settings.store_url
    idle_ttl, replay_ttl = settings.session_idle_ttl, settings.idempotency_ttl
    if url.startswith("sqlite:"):
        return SQLiteStore(
            sqlite_path(url), settings.sqlite_busy_timeout, idle_ttl=idle_ttl, replay_ttl=replay_ttl
        )
    if url.startswith(("redis://", "rediss://")):
        from service.stores.redis import RedisStore  # noqa: PLC0415 (imports redis only when used)

        return RedisStore(
            url, prefix=settings.redis_prefix, idle_ttl=idle_ttl, replay_ttl=replay_ttl
        )
    raise ValueError(
        f"unsupported DESCENT_STORE_URL {url!r}: use sqlite:///path or redis://host:port/db"
    )
