"""Stateful sessions stepped over HTTP.

The handlers are coroutines that hand the use case (store I/O and steps) to the ``Offload``
pool in one hop; FastAPI would run a plain function in its own thread pool, which costs the
event loop more per request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Path, Query, Response, status
from fastapi.responses import StreamingResponse

from api.deps import Offload, OffloadDep, OwnerDep, SessionsDep, SettingsDep
from api.observability import STEPS
from api.render import session_body, trajectory_body
from api.responses import NumpyJSONResponse
from api.schemas import (
    RunSessionOut,
    RunSessionRequest,
    SessionList,
    SessionOut,
    SessionTrajectoryOut,
    StepOut,
    StepRequest,
)
from service.errors import InvalidSpecification, NotFound
from service.sessions import Session, SessionService
from service.settings import Settings
from service.specs import MAX_INTEGER, ResetRequest, RunSpec, SessionPatch

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])

SessionId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
IfMatch = Annotated[
    str | None,
    Header(
        max_length=64,
        description='The session version the change is meant for, as its ETag ("7"); a stale '
        "one answers 412.",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Retries with the same key get the first answer; nothing is done twice.",
    ),
]
SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "description": "One event: `points` (data: the new trajectory points, id: the last step), "
    "`end` (data: the final status) or `timeout` (reconnect to go on).",
    "properties": {
        "event": {"type": "string", "enum": ["points", "end", "timeout"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
}
PRECONDITION: dict[int | str, dict[str, Any]] = {
    412: {"description": "If-Match names a stale version"}
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "The session cannot do this now (stopped, or full)"}
}


def expected_version(if_match: str | None) -> int | None:
    """The version an If-Match header names (``"7"``, ``W/"7"`` or ``*`` for any)."""
    if if_match is None or if_match.strip() == "*":
        return None
    tag = if_match.strip().removeprefix("W/").strip('"')
    if not (tag.isascii() and tag.isdigit()):
        raise InvalidSpecification.at(("header", "If-Match"), 'expected an ETag such as "7"')
    return int(tag)


def answer(
    session: Session, body: dict[str, Any] | None = None, code: int = 200
) -> NumpyJSONResponse:
    """A session answer with its version as the ETag."""
    return NumpyJSONResponse(
        session_body(session) if body is None else body,
        status_code=code,
        headers={"ETag": f'"{session.record.version}"'},
    )


@router.post(
    "",
    response_model=SessionOut,
    status_code=status.HTTP_201_CREATED,
    responses={429: {"description": "The maximum number of sessions is reached"}},
)
async def create_session(
    body: RunSpec,
    sessions: SessionsDep,
    owner: OwnerDep,
    offload: OffloadDep,
    idempotency_key: IdempotencyKey = None,
) -> NumpyJSONResponse:
    """Create a session at step 0 from the body of a run."""
    session = await offload(sessions.create, body, owner, idempotency_key)
    response = answer(session, code=status.HTTP_201_CREATED)
    response.headers["Location"] = f"/v1/sessions/{session.record.id}"
    return response


@router.get("", response_model=SessionList)
async def list_sessions(
    sessions: SessionsDep,
    owner: OwnerDep,
    offload: OffloadDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> NumpyJSONResponse:
    """Your sessions, oldest first, a page at a time (pass next_cursor back as cursor)."""
    page = await offload(sessions.page, owner, cursor, limit)
    return NumpyJSONResponse(
        {"sessions": [session_body(s) for s in page.sessions], "next_cursor": page.next_cursor}
    )


@router.get("/{session_id}", response_model=SessionOut)
async def get_session(
    session_id: SessionId, sessions: SessionsDep, owner: OwnerDep, offload: OffloadDep
) -> NumpyJSONResponse:
    """A session's configuration and current state."""
    return answer(await offload.quick(sessions.get, session_id, owner))


@router.patch("/{session_id}", response_model=SessionOut, responses=PRECONDITION)
async def patch_session(
    session_id: SessionId,
    body: SessionPatch,
    sessions: SessionsDep,
    owner: OwnerDep,
    offload: OffloadDep,
    if_match: IfMatch = None,
) -> NumpyJSONResponse:
    """Change hyperparameters, schedule, stopping rule or recording for the steps to come."""
    version = expected_version(if_match)
    return answer(await offload(sessions.patch, session_id, body, owner, version))


@router.post("/{session_id}/step", response_model=StepOut, responses=PRECONDITION | CONFLICT)
async def step_session(
    session_id: SessionId,
    body: StepRequest,
    sessions: SessionsDep,
    owner: OwnerDep,
    offload: OffloadDep,
    settings: SettingsDep,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> NumpyJSONResponse:
    """Take steps; return the new trajectory points and the state after them."""
    version = expected_version(if_match)
    return await take_steps(
        sessions, offload, settings, session_id, body, owner, version, idempotency_key
    )


async def take_steps(
    sessions: SessionService,
    offload: Offload,
    settings: Settings,
    session_id: str,
    body: StepRequest,
    owner: str,
    version: int | None = None,
    idempotency_key: str | None = None,
) -> NumpyJSONResponse:
    """The answer to a step request, once its parameters are validated: shared by the route
    above and the lean path in front of the router (``api.fastpath``)."""
    run = offload.quick if body.steps <= settings.quick_steps else offload
    outcome = await run(sessions.step, session_id, body.steps, owner, version, idempotency_key)
    STEPS.labels("session").inc(len(outcome.points))
    body_out = session_body(outcome.session)
    body_out["trajectory"] = trajectory_body(
        outcome.points, outcome.problem.schedule, outcome.session.spec.record.lr
    )
    return answer(outcome.session, body_out)


@router.post("/{session_id}/run", response_model=RunSessionOut, responses=CONFLICT)
async def run_session(
    session_id: SessionId,
    body: RunSessionRequest,
    sessions: SessionsDep,
    owner: OwnerDep,
    offload: OffloadDep,
) -> NumpyJSONResponse:
    """Step until the stopping rule (or the step cap), committing chunk by chunk."""
    outcome, taken = await offload(sessions.run, session_id, body.max_steps, body.chunk, owner)
    STEPS.labels("session").inc(taken)
    return answer(outcome.session, session_body(outcome.session) | {"steps_taken": taken})


@router.get(
    "/{session_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"itemSchema": SSE_EVENT}}}},
)
async def session_events(
    session_id: SessionId,
    sessions: SessionsDep,
    owner: OwnerDep,
    settings: SettingsDep,
    offload: OffloadDep,
    after: Annotated[
        int | None,
        Query(ge=0, le=MAX_INTEGER, description="Send points after this step (default: now)."),
    ] = None,
    last_event_id: Annotated[str | None, Header(max_length=16)] = None,
) -> StreamingResponse:
    """Server-Sent Events: new points as they are stored, then the status once it stops."""
    session = await offload.quick(sessions.get, session_id, owner)
    resume = last_event_id or ""
    if after is None and resume.isascii() and resume.isdigit():
        after = int(resume)
    start = int(session.state["step"]) if after is None else after
    events = session_event_stream(sessions, offload, session_id, owner, start, settings)
    return StreamingResponse(
        events, media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )


async def session_event_stream(
    sessions: SessionService,
    offload: Offload,
    session_id: str,
    owner: str,
    after: int,
    settings: Settings,
) -> AsyncIterator[bytes]:
    """``points`` events (id: last step) until the session stops, then ``end``."""
    yield b"retry: 1000\n\n"
    began = last_beat = time.monotonic()
    while True:
        try:
            session, points = await offload.quick(sessions.points_after, session_id, after, owner)
        except NotFound:
            yield _event("end", {"status": "deleted", "step": after})
            return
        if points is not None:
            after = int(points.step[-1])
            yield _event("points", points.to_json(), event_id=after)
            last_beat = time.monotonic()
        state = session.state
        if state["status"] != "ready" and after >= int(state["step"]):
            end = {k: state[k] for k in ("status", "message", "step", "params", "loss")}
            yield _event("end", end)
            return
        now = time.monotonic()
        if now - began > settings.events_max_seconds:
            yield _event("timeout", {"step": after})
            return
        if now - last_beat > 15:
            yield b": keep-alive\n\n"
            last_beat = now
        await asyncio.sleep(settings.events_poll_interval)


def _event(name: str, data: dict[str, Any], event_id: int | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    payload = orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    return f"{head}event: {name}\ndata: {payload}\n\n".encode()


@router.post("/{session_id}/reset", response_model=SessionOut, responses=PRECONDITION)
async def reset_session(
    session_id: SessionId,
    sessions: SessionsDep,
    owner: OwnerDep,
    offload: OffloadDep,
    body: ResetRequest | None = None,
    if_match: IfMatch = None,
) -> NumpyJSONResponse:
    """Go back to step 0, optionally from a new start; the trajectory starts over."""
    request = body if body is not None else ResetRequest()
    version = expected_version(if_match)
    return answer(await offload(sessions.reset, session_id, request, owner, version))


@router.get("/{session_id}/trajectory", response_model=SessionTrajectoryOut)
async def get_session_trajectory(
    session_id: SessionId,
    sessions: SessionsDep,
    owner: OwnerDep,
    offload: OffloadDep,
    start: Annotated[int, Query(ge=0, le=MAX_INTEGER)] = 0,
    end: Annotated[int | None, Query(ge=0, le=MAX_INTEGER)] = None,
    every: Annotated[int, Query(ge=1, le=MAX_INTEGER)] = 1,
) -> NumpyJSONResponse:
    """Stored points with start ≤ step ≤ end, every k-th step (the last always kept)."""
    session, columns, problem = await offload(
        sessions.trajectory, session_id, start, end, every, owner
    )
    return answer(
        session,
        {
            "id": session.record.id,
            "version": session.record.version,
            "step": session.state["step"],
            "trajectory": trajectory_body(columns, problem.schedule, session.spec.record.lr),
        },
    )


@router.delete("/{session_id}", status_code=status.HTTP_204_NO_CONTENT, responses=PRECONDITION)
async def delete_session(
    session_id: SessionId,
    sessions: SessionsDep,
    owner: OwnerDep,
    offload: OffloadDep,
    if_match: IfMatch = None,
) -> Response:
    """Delete a session and its trajectory."""
    await offload.quick(sessions.delete, session_id, owner, expected_version(if_match))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
