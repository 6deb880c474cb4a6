"""Session use cases: an optimization stored between requests and stepped over HTTP.

A session's state is JSON holding everything needed to resume bit for bit: θ, f(θ), ∇f(θ),
the optimizer state's leaves and the step count. Each step request is read–compute–write with a
compare-and-set on the version, retried on conflict, so concurrent requests are applied exactly
once each; a per-process lock keeps requests in one process from computing the same step twice.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from core.run import Iterate, Reason, RunResult, Status, run, status_of, stop_message
from core.tree import tree_leaves, tree_unflatten
from service.build import LossCompiler, Problem, build_problem, build_start
from service.errors import Conflict, LimitExceeded, NotFound
from service.runs import internals_of, time_limit_message
from service.settings import Settings
from service.specs import RunSpec
from service.stores.base import Chunk, SessionRecord, SessionStore
from service.trajectory import Columns, concatenate, row_columns, thin

_LOCK_STRIPES = 64
_MAX_ATTEMPTS = 100


@dataclass(frozen=True)
class Session:
    """A session as stored, with its spec parsed."""

    record: SessionRecord
    spec: RunSpec

    @property
    def state(self) -> dict[str, Any]:
        """The JSON state: step, status, message, params, loss, grad, grad_norm, ..."""
        return self.record.state


@dataclass(frozen=True)
class StepOutcome:
    """A session after a step request, with the points that request added."""

    session: Session
    points: Columns
    problem: Problem


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _encode_leaf(leaf: Any) -> Any:
    return leaf.tolist() if isinstance(leaf, np.ndarray) else leaf


def _decode_leaf(template: Any, stored: Any) -> Any:
    if isinstance(template, np.ndarray):
        leaf = np.asarray(stored, dtype=np.float64)
        if leaf.shape != template.shape:
            raise ValueError(f"stored state leaf has shape {leaf.shape}, expected {template.shape}")
        return leaf
    return type(template)(stored)


def _state_of(
    problem: Problem, iterate: Iterate, status: Status, message: str, elapsed: float
) -> dict[str, Any]:
    return {
        "variables": list(problem.loss.names),
        "step": iterate.step,
        "status": status.value,
        "message": message,
        "params": iterate.params[0].tolist(),
        "loss": float(iterate.loss[0]),
        "grad": iterate.grad[0].tolist(),
        "grad_norm": float(np.sqrt(np.einsum("i,i->", iterate.grad[0], iterate.grad[0]))),
        "opt_state": [_encode_leaf(leaf) for leaf in tree_leaves(iterate.opt_state)],
        "elapsed": elapsed,
    }


class SessionService:
    """Create, read, step, page through and delete sessions."""

    def __init__(self, store: SessionStore, compiler: LossCompiler, settings: Settings) -> None:
        self._store = store
        self._compiler = compiler
        self._settings = settings
        self._locks = [threading.Lock() for _ in range(_LOCK_STRIPES)]

    def _problem(self, spec: RunSpec) -> Problem:
        return build_problem(spec, self._compiler, self._settings, self._settings.max_steps)

    def _iterate(self, problem: Problem, state: dict[str, Any]) -> Iterate:
        params = np.asarray([state["params"]], dtype=np.float64)
        template = tree_leaves(problem.optimizer.init(params))
        leaves = [_decode_leaf(t, s) for t, s in zip(template, state["opt_state"], strict=True)]
        return Iterate(
            params=params,
            loss=np.asarray([state["loss"]], dtype=np.float64),
            grad=np.asarray([state["grad"]], dtype=np.float64),
            opt_state=tree_unflatten(problem.optimizer.init(params), leaves),
            step=int(state["step"]),
        )

    def create(self, spec: RunSpec) -> Session:
        """A new session at step 0 (already converged if the start is critical)."""
        problem = self._problem(spec)
        params = build_start(spec, problem.loss)
        value, grad = problem.loss.value_and_grad(params)
        start = Iterate(params, value, grad, problem.optimizer.init(params), 0)
        result = run(
            problem.loss, problem.optimizer, start, problem.rule, steps=0,
            record_grad=spec.record.grad, record_state=spec.record.state,
        )  # fmt: skip
        reason = result.reasons[0]
        status = Status.READY if reason is Reason.STEPS_DONE else status_of(reason)
        message = (
            "Created at step 0; ready to step."
            if status is Status.READY
            else stop_message(reason, 0, problem.rule)
        )
        now = _now()
        record = SessionRecord(
            id=uuid.uuid4().hex,
            version=1,
            created_at=now,
            updated_at=now,
            spec=spec.model_dump(mode="json"),
            state=_state_of(problem, start, status, message, 0.0),
        )
        columns = row_columns(result, 0, spec.record.grad, internals_of(spec))
        self._store.create(record, Chunk(0, 0, columns.to_json()))
        return Session(record, spec)

    def get(self, session_id: str) -> Session:
        """The session, or NotFound."""
        record = self._store.get(session_id)
        if record is None:
            raise NotFound(f"no session with id {session_id!r}")
        return Session(record, RunSpec.model_validate(record.spec))

    def step(self, session_id: str, steps: int) -> StepOutcome:
        """Takes up to ``steps`` steps, stopping early where the session's stopping rule says."""
        if steps > self._settings.max_steps_per_request:
            raise LimitExceeded.at(
                ("steps",),
                f"{steps} exceeds the limit of {self._settings.max_steps_per_request} per request",
            )
        with self._locks[hash(session_id) % _LOCK_STRIPES]:
            for _ in range(_MAX_ATTEMPTS):
                session = self.get(session_id)
                state = session.state
                if state["status"] != Status.READY:
                    raise Conflict(
                        f"session {session_id} has status {state['status']}: {state['message']} "
                        "PATCH its stopping rule or reset it to step again."
                    )
                outcome = self._advance(session, steps)
                if self._store.save(
                    outcome.session.record,
                    session.record.version,
                    self._chunk(outcome.points),
                    reset=False,
                ):
                    return outcome
        raise Conflict(f"session {session_id} kept changing; try again")

    @staticmethod
    def _chunk(points: Columns) -> Chunk | None:
        if not len(points):
            return None
        return Chunk(int(points.step[0]), int(points.step[-1]), points.to_json())

    def _advance(self, session: Session, steps: int) -> StepOutcome:
        spec, state = session.spec, session.state
        problem = self._problem(spec)
        start = self._iterate(problem, state)
        budget = self._settings.request_time_limit
        own_limit = spec.stop.time_limit is not None
        if spec.stop.time_limit is not None:
            remaining = spec.stop.time_limit - float(state["elapsed"])
            own_limit = remaining <= budget
            budget = min(budget, remaining)
        began = time.perf_counter()
        result: RunResult = run(
            problem.loss,
            problem.optimizer,
            start,
            problem.rule,
            steps=steps,
            record_start=False,
            record_grad=spec.record.grad,
            record_state=spec.record.state,
            deadline=began + budget,
        )
        elapsed = float(state["elapsed"]) + time.perf_counter() - began
        reason, final = result.reasons[0], result.final[0]
        status = status_of(reason)
        message = stop_message(reason, final.step, problem.rule)
        if reason is Reason.TIME_LIMIT and not own_limit:
            status, message = Status.READY, time_limit_message(final.step, self._settings)
        points = row_columns(result, 0, spec.record.grad, internals_of(spec))
        points = points.select(points.step > start.step)
        record = SessionRecord(
            id=session.record.id,
            version=session.record.version + 1,
            created_at=session.record.created_at,
            updated_at=_now(),
            spec=session.record.spec,
            state=_state_of(problem, final, status, message, elapsed),
        )
        return StepOutcome(Session(record, spec), points, problem)

    def trajectory(
        self, session_id: str, start: int, end: int | None, every: int
    ) -> tuple[Session, Columns, Problem]:
        """Stored points with start ≤ step ≤ end, thinned to multiples of ``every``."""
        session = self.get(session_id)
        last = int(session.state["step"])
        upper = last if end is None else min(end, last)
        points = (upper - start) // every + 2 if upper >= start else 0
        if points > self._settings.max_trajectory_points:
            raise LimitExceeded.at(
                ("query", "every"),
                f"the slice holds up to {points} points; the limit is "
                f"{self._settings.max_trajectory_points}: raise every or narrow start..end",
            )
        parts = [Columns.from_json(c.columns) for c in self._store.chunks(session_id, start, end)]
        problem = self._problem(session.spec)
        if not parts:
            n = len(problem.loss.names)
            empty = Columns(
                np.zeros(0, dtype=np.int64), np.zeros((0, n)), np.zeros(0), np.zeros(0), None
            )
            return session, empty, problem
        return session, thin(concatenate(parts), start, end, every), problem

    def delete(self, session_id: str) -> None:
        """Removes the session, or NotFound."""
        if not self._store.delete(session_id):
            raise NotFound(f"no session with id {session_id!r}")
