"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import SettingsDep, StoreDep
from api.schemas import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> dict[str, Any]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, responses={503: {"description": "Store down"}})
def readyz(store: StoreDep, settings: SettingsDep) -> dict[str, Any]:
    """Readiness: the session store answers."""
    store.ping()
    return {"status": "ready", "store": settings.store_url.split(":", 1)[0]}
