"""What the sync and async clients share: settings, headers, answers and request bodies."""

from __future__ import annotations

import enum
import os
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final

import httpx

from descent_client._errors import problem_error
from descent_client._specs import (
    LossLike,
    OptimizerLike,
    ScheduleLike,
    Vector,
    loss_spec,
    optimizer_spec,
    schedule_spec,
    vector,
)

__version__ = "0.1.0"

DEFAULT_URL: Final = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT: Final = 60.0
EVENTS_READ_TIMEOUT: Final = 60.0
"""Seconds an event stream may stay silent before the client reconnects (the server sends a
keep-alive comment every 15 s)."""


class Unset(enum.Enum):
    """The type of :data:`UNSET`."""

    UNSET = enum.auto()


UNSET: Final = Unset.UNSET
"""An argument left out (where None means something: "remove the schedule")."""


def resolve_url(base_url: str | None) -> str:
    """The base URL: the argument, else ``DESCENT_URL``, else ``http://127.0.0.1:8000``."""
    url = base_url or os.environ.get("DESCENT_URL") or DEFAULT_URL
    return url.rstrip("/")


def resolve_key(api_key: str | None) -> str | None:
    """The API key: the argument, else ``DESCENT_API_KEY``, else none."""
    return api_key or os.environ.get("DESCENT_API_KEY") or None


def default_headers(api_key: str | None, extra: Mapping[str, str] | None) -> dict[str, str]:
    """Headers sent with every request."""
    headers = {"User-Agent": f"descent-client/{__version__}", "Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    if extra:
        headers.update(extra)
    return headers


def timeout_of(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    """An httpx timeout for a number of seconds (connecting gets at most 10 s)."""
    if isinstance(timeout, httpx.Timeout):
        return timeout
    seconds = DEFAULT_TIMEOUT if timeout is None else timeout
    return httpx.Timeout(seconds, connect=min(seconds, 10.0))


def events_timeout(timeout: httpx.Timeout) -> httpx.Timeout:
    """The timeout of an event stream: the client's, but reads may wait for keep-alives."""
    read = max(timeout.read or 0.0, EVENTS_READ_TIMEOUT)
    return httpx.Timeout(timeout.connect, read=read, write=timeout.write, pool=timeout.pool)


def backoff(attempt: int) -> float:
    """Seconds to wait before retry number ``attempt`` (1, 2, …)."""
    return float(min(0.1 * 2 ** (attempt - 1), 2.0))


def decode(response: httpx.Response) -> Any:
    """The JSON of a successful answer (None for 204); a problem answer raises its error."""
    if response.status_code >= 400:
        raise problem_error(response)
    if response.status_code == 204 or not response.content:
        return None
    return response.json()


def new_key() -> str:
    """A fresh Idempotency-Key."""
    return uuid.uuid4().hex


def etag(version: int) -> str:
    """The ETag of a session version, for If-Match: ``"7"``."""
    return f'"{version}"'


def patch_body(
    optimizer: Mapping[str, Any] | None,
    schedule: ScheduleLike | Unset | None,
    stop: Mapping[str, Any] | None,
    record: Mapping[str, Any] | None,
    hyperparameters: Mapping[str, Any],
) -> dict[str, Any]:
    """The body of ``PATCH /v1/sessions/{id}``."""
    body: dict[str, Any] = {}
    if optimizer is not None or hyperparameters:
        body["optimizer"] = optimizer_spec(dict(optimizer or {}), hyperparameters)
    if schedule is not UNSET:
        body["schedule"] = None if schedule is None else schedule_spec(schedule)
    if stop is not None:
        body["stop"] = dict(stop)
    if record is not None:
        body["record"] = dict(record)
    return body


def reset_body(start: Vector | None) -> dict[str, Any]:
    """The body of ``POST /v1/sessions/{id}/reset``."""
    return {} if start is None else {"start": vector(start)}


def run_session_body(max_steps: int | None, chunk: int | None) -> dict[str, Any]:
    """The body of ``POST /v1/sessions/{id}/run``."""
    body: dict[str, Any] = {}
    if max_steps is not None:
        body["max_steps"] = max_steps
    if chunk is not None:
        body["chunk"] = chunk
    return body


def trajectory_params(start: int, end: int | None, every: int) -> dict[str, Any]:
    """The query of ``GET /v1/sessions/{id}/trajectory``."""
    params: dict[str, Any] = {"start": start, "every": every}
    if end is not None:
        params["end"] = end
    return params


def batch_body(
    loss: LossLike,
    optimizers: Sequence[OptimizerLike],
    starts: Sequence[Vector],
    schedule: ScheduleLike | None,
    stop: Mapping[str, Any] | None,
    record: Mapping[str, Any] | None,
    analysis: bool,
) -> dict[str, Any]:
    """The body of ``POST /v1/runs/batch``."""
    body: dict[str, Any] = {
        "loss": loss_spec(loss),
        "optimizers": [optimizer_spec(o, {}) for o in optimizers],
        "starts": [vector(s) for s in starts],
    }
    if schedule is not None:
        body["schedule"] = schedule_spec(schedule)
    if stop is not None:
        body["stop"] = dict(stop)
    if record is not None:
        body["record"] = dict(record)
    if not analysis:
        body["analysis"] = False
    return body
