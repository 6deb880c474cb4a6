"""Liveness and readiness probes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Response

from api.deps import CompilerDep, SettingsDep, StoreDep
from api.observability import LiveReading, metrics_text
from api.schemas import Health, Readiness
from service.errors import StoreUnavailable

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


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics(store: StoreDep, compiler: CompilerDep) -> Response:
    """Prometheus metrics: requests, latency, steps computed, live sessions, compile cache."""

    def live() -> Iterator[LiveReading]:
        try:
            yield ("gauge", "descent_live_sessions", "Sessions not yet expired.", store.count())
        except StoreUnavailable:
            yield ("gauge", "descent_store_up", "Whether the session store answers.", 0.0)
        else:
            yield ("gauge", "descent_store_up", "Whether the session store answers.", 1.0)
        yield ("counter", "descent_compile_cache_hits", "Compiled-loss cache hits (this "
               "process).", compiler.hits)  # fmt: skip
        yield ("counter", "descent_compile_cache_misses", "Expressions compiled (this "
               "process).", compiler.misses)  # fmt: skip

    body, media_type = metrics_text(live)
    return Response(body, media_type=media_type)
