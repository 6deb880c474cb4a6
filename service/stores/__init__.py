"""Session stores behind one protocol, chosen by ``DESCENT_STORE_URL``."""

from __future__ import annotations

from service.settings import Settings
from service.stores.base import Chunk, SessionRecord, SessionStore
from service.stores.sqlite import SQLiteStore, sqlite_path

__all__ = ["Chunk", "SQLiteStore", "SessionRecord", "SessionStore", "open_store"]


def open_store(settings: Settings) -> SessionStore:
    """The store ``settings.store_url`` names."""
    url = settings.store_url
    if url.startswith("sqlite:"):
        return SQLiteStore(sqlite_path(url), settings.sqlite_busy_timeout)
    if url.startswith(("redis://", "rediss://")):
        from service.stores.redis import RedisStore  # noqa: PLC0415 (imports redis only when used)

        return RedisStore(url)
    raise ValueError(
        f"unsupported DESCENT_STORE_URL {url!r}: use sqlite:///path or redis://host:port/db"
    )
