"""Stateful sessions stepped over HTTP."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from api.deps import SessionsDep
from api.render import session_body, trajectory_body
from api.responses import NumpyJSONResponse
from api.schemas import SessionOut, SessionTrajectoryOut, StepOut, StepRequest
from service.specs import RunSpec

router = APIRouter(prefix="/v1/sessions", tags=["sessions"])

SessionId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


@router.post("", response_model=SessionOut, status_code=status.HTTP_201_CREATED)
def create_session(body: RunSpec, sessions: SessionsDep) -> NumpyJSONResponse:
    """Create a session at step 0 from the body of a run."""
    session = sessions.create(body)
    return NumpyJSONResponse(
        session_body(session),
        status_code=status.HTTP_201_CREATED,
        headers={"Location": f"/v1/sessions/{session.record.id}"},
    )


@router.get("/{session_id}", response_model=SessionOut)
def get_session(session_id: SessionId, sessions: SessionsDep) -> NumpyJSONResponse:
    """A session's configuration and current state."""
    return NumpyJSONResponse(session_body(sessions.get(session_id)))


@router.post("/{session_id}/step", response_model=StepOut)
def step_session(
    session_id: SessionId, body: StepRequest, sessions: SessionsDep
) -> NumpyJSONResponse:
    """Take steps; return the new trajectory points and the state after them."""
    outcome = sessions.step(session_id, body.steps)
    answer = session_body(outcome.session)
    answer["trajectory"] = trajectory_body(
        outcome.points, outcome.problem.schedule, outcome.session.spec.record.lr
    )
    return NumpyJSONResponse(answer)


@router.get("/{session_id}/trajectory", response_model=SessionTrajectoryOut)
def get_session_trajectory(
    session_id: SessionId,
    sessions: SessionsDep,
    start: Annotated[int, Query(ge=0)] = 0,
    end: Annotated[int | None, Query(ge=0)] = None,
    every: Annotated[int, Query(ge=1)] = 1,
) -> NumpyJSONResponse:
    """Stored points with start ≤ step ≤ end, every k-th step (the last always kept)."""
    session, columns, problem = sessions.trajectory(session_id, start, end, every)
    return NumpyJSONResponse(
        {
            "id": session.record.id,
            "version": session.record.version,
            "step": session.state["step"],
            "trajectory": trajectory_body(columns, problem.schedule, session.spec.record.lr),
        }
    )


@router.delete("/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_session(session_id: SessionId, sessions: SessionsDep) -> Response:
    """Delete a session and its trajectory."""
    sessions.delete(session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
