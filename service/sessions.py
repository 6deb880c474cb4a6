"""Session use cases: an optimization stored between requests and stepped over HTTP.

A session's state is JSON holding everything needed to resume bit for bit: θ, f(θ), ∇f(θ),
the optimizer state's leaves and the step count. Each write is read–compute–write with a
compare-and-set on the version, retried on conflict, so concurrent requests are applied exactly
once each; a per-process lock keeps requests in one process from computing the same step twice.

Requests may carry an idempotency key: the first answer is stored in the same atomic write as
the change it reports, and a retry gets that answer back instead of changing anything again.
Every method takes the caller's ``owner`` (API key id, "" when keys are off): another owner's
session is reported as not found, never shown.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
from pydantic import ValidationError

from core.minibatch import Stats
from core.run import Iterate, Reason, Status, grad_norm, status_of, stop_message
from core.tree import tree_leaves, tree_unflatten
from service.build import LossCompiler, Problem, build_problem, build_start
from service.errors import (
    Conflict,
    FieldError,
    InvalidSpecification,
    LimitExceeded,
    NotFound,
    PreconditionFailed,
    TooManySessions,
    json_path,
)
from service.runs import advance, initial_stats, internals_of, run_message, time_limit_message
from service.settings import Settings
from service.specs import DatasetLossSpec, ResetRequest, RunSpec, SessionPatch
from service.stores.base import Chunk, Replay, SaveResult, SessionRecord, SessionStore
from service.trajectory import Columns, concatenate, thin

_LOCK_STRIPES = 64
_MAX_ATTEMPTS = 100
_STOPPED = {Status.CONVERGED, Status.DIVERGED, Status.TIME_LIMIT, Status.MAX_STEPS}
_DIVERGED = {Reason.NON_FINITE, Reason.PARAM_BOUND, Reason.LOSS_BOUND}
_CACHED_SPEC_CHARACTERS = 65_536
"""Specs (as JSON) up to this size are parsed and built once and cached; inline datasets are
usually larger, and are parsed per request rather than held in memory."""
_IDENTITY_CACHE = 64  # as many as ``_built`` keeps
_DATA_CACHE = 4  # problems on data, each holding its data
_LARGE_SPECS = 2
"""Specs larger than ``_CACHED_SPEC_CHARACTERS`` (inline data) kept parsed, so that their
problems are found by identity: a step of such a session would otherwise parse and build its
data again."""
_RECENT_SESSIONS = 4_096
"""Sessions this process last stepped, kept to step again without reading the store first."""
_RECENT_PARAMETERS = 64
"""Only sessions of at most this many parameters are kept (a model's state is far larger)."""


@dataclass(frozen=True)
class _ByJson:
    """A cache key: ``value`` with its JSON text, which alone decides equality."""

    json: str | bytes
    value: Any = field(compare=False)


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


@dataclass(frozen=True)
class SessionPage:
    """One page of a listing and the cursor of the next (None on the last page)."""

    sessions: list[Session]
    next_cursor: str | None


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
    problem: Problem,
    iterate: Iterate,
    reason: Reason,
    status: Status,
    message: str,
    elapsed: float,
    stats: Stats = (),
) -> dict[str, Any]:
    state = {
        "variables": list(problem.loss.names),
        "step": iterate.step,
        "status": status.value,
        "reason": reason.value,
        "message": message,
        "params": iterate.params[0].tolist(),
        "loss": float(iterate.loss[0]),
        "grad": iterate.grad[0].tolist(),
        "grad_norm": float(grad_norm(iterate.grad)[0]),
        "opt_state": [_encode_leaf(leaf) for leaf in tree_leaves(iterate.opt_state)],
        "elapsed": elapsed,
    }
    if problem.data is not None:
        # The sampler's state is the seed (in the spec) and the step: the batches to come
        # follow from them, so only the model's running statistics need storing.
        state["stats"] = [leaf.tolist() for leaf in stats]
        state["dataset"] = problem.data.describe(iterate.step, stats)
    return state


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _encode_cursor(record: SessionRecord) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([record.created_at, record.id])).decode()


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        created_at, session_id = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, orjson.JSONDecodeError, ValueError, TypeError):
        raise InvalidSpecification.at(
            ("query", "cursor"), "not a cursor this service gave"
        ) from None
    if not (isinstance(created_at, str) and isinstance(session_id, str)):
        raise InvalidSpecification.at(("query", "cursor"), "not a cursor this service gave")
    return created_at, session_id


def _merged(current: dict[str, Any], changes: dict[str, Any] | None) -> dict[str, Any]:
    return current if changes is None else current | changes


class SessionService:
    """Create, read, step, change, reset, list, page through and delete sessions."""

    def __init__(self, store: SessionStore, compiler: LossCompiler, settings: Settings) -> None:
        self._store = store
        self._compiler = compiler
        self._settings = settings
        self._locks = [threading.Lock() for _ in range(_LOCK_STRIPES)]
        # Specs are frozen and a Problem keeps no state of a run, so both are made once per
        # distinct spec rather than on every request (the steps of a session share them).
        # Many small specs are kept; a dataset Problem holds its data (up to
        # max_dataset_values floats, generated ones from a small spec), so few of those, and
        # fewer large (inline data) specs.
        self._parsed = functools.lru_cache(256)(lambda key: RunSpec.model_validate(key.value))
        self._parsed_large = functools.lru_cache(_LARGE_SPECS)(
            lambda key: RunSpec.model_validate(key.value)
        )
        self._built = functools.lru_cache(_IDENTITY_CACHE)(self._build)
        self._built_on_data = functools.lru_cache(_DATA_CACHE)(self._build)
        # The parsed spec objects are shared (``_parsed``), so a step finds its Problem and
        # its optimizer state's layout by the spec's and the problem's identity, without
        # dumping the spec to JSON or initialising an optimizer state each time. Each entry
        # holds its key object, so an id is not reused while its entry lives.
        self._by_spec: dict[int, tuple[RunSpec, Problem]] = {}
        self._by_data_spec: dict[int, tuple[RunSpec, Problem]] = {}
        self._templates: dict[int, tuple[Problem, tuple[int, ...], Any, list[Any]]] = {}
        # A step saves with a compare-and-set on the version it read, so it may start from
        # the session as this process last saved it: if another process (or a patch, reset
        # or delete) changed it since, or it expired, the save fails and the step starts
        # again from the store. Most steps then skip one read of the store. A session once
        # found changed elsewhere is not kept again: its steps come from several processes,
        # and starting from this one's last save would mostly compute a step for nothing.
        self._recent: dict[str, Session] = {}
        self._shared: set[str] = set()
        self._recent_lock = threading.Lock()

    def _build(self, key: _ByJson) -> Problem:
        spec: RunSpec = key.value
        return build_problem(spec, self._compiler, self._settings, self._settings.max_steps)

    def _problem(self, spec: RunSpec) -> Problem:
        on_data = isinstance(spec.loss, DatasetLossSpec)
        by_spec, most = (
            (self._by_data_spec, _DATA_CACHE) if on_data else (self._by_spec, _IDENTITY_CACHE)
        )
        known = by_spec.get(id(spec))
        if known is not None and known[0] is spec:
            return known[1]
        key = _ByJson(spec.model_dump_json(), spec)
        problem: Problem
        if len(key.json) > _CACHED_SPEC_CHARACTERS:
            problem = self._build(key)  # kept by the identity of its spec only
        else:
            problem = self._built_on_data(key) if on_data else self._built(key)
        if len(by_spec) >= most:
            by_spec.clear()
        by_spec[id(spec)] = (spec, problem)
        return problem

    def _template(self, problem: Problem, params: np.ndarray) -> tuple[Any, list[Any]]:
        """A fresh optimizer state for ``params``'s shape, and its leaves: the layout a stored
        state is read into (only shapes and types are used)."""
        known = self._templates.get(id(problem))
        if known is not None and known[0] is problem and known[1] == params.shape:
            return known[2], known[3]
        template = problem.optimizer.init(params)
        leaves = tree_leaves(template)
        if problem.data is not None:
            return template, leaves  # not kept: the entry would keep the problem's data alive
        if len(self._templates) >= _IDENTITY_CACHE:
            self._templates.clear()
        self._templates[id(problem)] = (problem, params.shape, template, leaves)
        return template, leaves

    @staticmethod
    def _stats(problem: Problem, state: dict[str, Any]) -> Stats:
        """The running statistics stored with ``state``, checked against the model's."""
        template = initial_stats(problem)
        stored = state.get("stats", [])
        if len(stored) != len(template):
            raise ValueError(f"state has {len(stored)} statistics, expected {len(template)}")
        return tuple(_decode_leaf(t, s) for t, s in zip(template, stored, strict=True))

    def _iterate(self, problem: Problem, state: dict[str, Any]) -> Iterate:
        params = np.asarray([state["params"]], dtype=np.float64)
        template, template_leaves = self._template(problem, params)
        leaves = [
            _decode_leaf(t, s) for t, s in zip(template_leaves, state["opt_state"], strict=True)
        ]
        return Iterate(
            params=params,
            loss=np.asarray([state["loss"]], dtype=np.float64),
            grad=np.asarray([state["grad"]], dtype=np.float64),
            opt_state=tree_unflatten(template, leaves),
            step=int(state["step"]),
        )

    def _at_start(self, spec: RunSpec, problem: Problem) -> tuple[dict[str, Any], Chunk]:
        """The state at step 0 and its one-point chunk (converged if the start is critical)."""
        params = build_start(spec, problem)
        value, grad = problem.loss.value_and_grad(params)
        start = Iterate(params, value, grad, problem.optimizer.init(params), 0)
        stats = initial_stats(problem)
        stepped = advance(problem, start, stats, steps=0, record=spec.record)
        reason = stepped.result.reasons[0]
        status = Status.READY if reason is Reason.STEPS_DONE else status_of(reason)
        message = (
            "At step 0; ready to step."
            if status is Status.READY
            else stop_message(reason, 0, problem.rule)
        )
        columns = stepped.columns(problem, spec.record.grad, internals_of(spec))
        state = _state_of(problem, start, reason, status, message, 0.0, stats)
        return state, Chunk(0, 0, columns.to_json())

    def create(self, spec: RunSpec, owner: str = "", idempotency_key: str | None = None) -> Session:
        """A new session at step 0. With an idempotency key, a retry returns the first answer."""
        fingerprint = _fingerprint("create", spec.model_dump(mode="json"))
        session_id = uuid.uuid4().hex
        if idempotency_key is not None:
            # The id follows from the key, so a retry finds the session its first try made.
            session_id = _fingerprint("session", owner, idempotency_key)[:32]
            replayed = self._replayed(session_id, idempotency_key, fingerprint)
            if replayed is not None:
                return Session(SessionRecord(**replayed["record"]), spec)
        if self._store.count() >= self._settings.max_sessions:
            raise TooManySessions(
                f"the service holds its maximum of {self._settings.max_sessions} sessions: "
                "delete some, or wait for idle ones to expire"
            )
        problem = self._problem(spec)
        state, chunk = self._at_start(spec, problem)
        now = _now()
        record = SessionRecord(session_id, 1, now, now, spec.model_dump(mode="json"), state, owner)
        replay = (
            None
            if idempotency_key is None
            else Replay(idempotency_key, fingerprint, {"record": asdict(record)})
        )
        if not self._store.create(record, chunk, replay):
            assert idempotency_key is not None
            replayed = self._replayed(session_id, idempotency_key, fingerprint)
            if replayed is None:
                raise Conflict("this Idempotency-Key created a session whose answer expired")
            return Session(SessionRecord(**replayed["record"]), spec)
        return Session(record, spec)

    def _replayed(self, session_id: str, key: str, fingerprint: str) -> dict[str, Any] | None:
        replay = self._store.replay(session_id, key)
        if replay is None:
            return None
        if replay.fingerprint != fingerprint:
            raise InvalidSpecification.at(
                ("header", "Idempotency-Key"), "this key was already used with a different request"
            )
        return replay.answer

    def get(self, session_id: str, owner: str = "") -> Session:
        """The session, or NotFound (also for another owner's session)."""
        return self._read(session_id, owner)[0]

    def _read(self, session_id: str, owner: str) -> tuple[Session, bool]:
        """The session as stored, and whether its spec is small enough to keep in memory."""
        record = self._store.get(session_id)
        if record is None or record.owner != owner:
            raise NotFound(f"no session with id {session_id!r}")
        text = orjson.dumps(record.spec)
        if len(text) > _CACHED_SPEC_CHARACTERS:
            large: RunSpec = self._parsed_large(_ByJson(text, record.spec))
            return Session(record, large), False
        spec: RunSpec = self._parsed(_ByJson(text, record.spec))
        return Session(record, spec), True

    def _recall(self, session_id: str, owner: str) -> Session | None:
        session = self._recent.get(session_id)
        return session if session is not None and session.record.owner == owner else None

    def _remember(self, session: Session) -> None:
        if len(session.state["params"]) > _RECENT_PARAMETERS or session.record.id in self._shared:
            return
        with self._recent_lock:
            self._recent.pop(session.record.id, None)
            self._recent[session.record.id] = session
            if len(self._recent) > _RECENT_SESSIONS:
                del self._recent[next(iter(self._recent))]  # the least recently stepped

    def _forget(self, session_id: str, *, shared: bool = False) -> None:
        """Drops the kept session; ``shared``: it was changed elsewhere, do not keep it again."""
        with self._recent_lock:
            self._recent.pop(session_id, None)
            if shared:
                if len(self._shared) >= _RECENT_SESSIONS:
                    self._shared.clear()
                self._shared.add(session_id)

    @staticmethod
    def _check_version(session: Session, if_match: int | None) -> None:
        if if_match is not None and if_match != session.record.version:
            raise PreconditionFailed(
                f"the session is at version {session.record.version}, not {if_match}"
            )

    def step(
        self,
        session_id: str,
        steps: int,
        owner: str = "",
        if_match: int | None = None,
        idempotency_key: str | None = None,
    ) -> StepOutcome:
        """Takes up to ``steps`` steps, stopping early where the session's stopping rule says."""
        if steps > self._settings.max_steps_per_request:
            raise LimitExceeded.at(
                ("steps",),
                f"{steps} exceeds the limit of {self._settings.max_steps_per_request} per request",
            )
        fingerprint = "" if idempotency_key is None else _fingerprint("step", session_id, steps)
        with self._locks[hash(session_id) % _LOCK_STRIPES]:
            recalled = (
                self._recall(session_id, owner)
                if idempotency_key is None and if_match is None
                else None
            )
            for _ in range(_MAX_ATTEMPTS):
                if recalled is not None:  # asked for with neither key nor If-Match
                    session, keep, recalled = recalled, True, None
                    if not self._steppable(session, steps):
                        continue  # it may have changed since: the store decides
                else:
                    session, keep = self._read(session_id, owner)
                    if idempotency_key is not None:
                        replayed = self._replayed(session_id, idempotency_key, fingerprint)
                        if replayed is not None:
                            return self._replay_step(session, replayed)
                    self._check_version(session, if_match)
                    self._check_steppable(session, steps)
                outcome = self._advance(session, steps)
                replay = None
                if idempotency_key is not None:
                    answer = {
                        "record": asdict(outcome.session.record),
                        "points": outcome.points.to_json(),
                    }
                    replay = Replay(idempotency_key, fingerprint, answer)
                saved = self._store.save(
                    outcome.session.record,
                    session.record.version,
                    self._chunk(outcome.points),
                    reset=False,
                    replay=replay,
                    same_spec=True,
                )
                if saved is SaveResult.SAVED:
                    if keep:
                        self._remember(outcome.session)
                    return outcome
                # Steps of this process take turns on the session's lock: another process
                # (or an expiry) changed it.
                self._forget(session_id, shared=True)
        raise Conflict(f"session {session_id} kept changing; try again")

    def _replay_step(self, session: Session, answer: dict[str, Any]) -> StepOutcome:
        record = SessionRecord(**answer["record"])
        spec = RunSpec.model_validate(record.spec)
        return StepOutcome(
            Session(record, spec), Columns.from_json(answer["points"]), self._problem(spec)
        )

    def _steppable(self, session: Session, steps: int) -> bool:
        try:
            self._check_steppable(session, steps)
        except Conflict:
            return False
        return True

    def _check_steppable(self, session: Session, steps: int) -> None:
        state = session.state
        if state["status"] != Status.READY:
            raise Conflict(
                f"session {session.record.id} has status {state['status']}: {state['message']} "
                "PATCH its stopping rule or reset it to step again."
            )
        room = self._settings.max_session_points - 1 - int(state["step"])
        if room <= 0:
            raise Conflict(
                f"session {session.record.id} stores its maximum of "
                f"{self._settings.max_session_points} points; reset it or start a new one"
            )
        if steps > room:
            raise Conflict(
                f"session {session.record.id} can store {room} more points; ask for at most "
                f"{room} steps, or reset it"
            )

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
        stepped = advance(
            problem,
            start,
            self._stats(problem, state),
            steps=steps,
            record=spec.record,
            record_start=False,
            deadline=began + budget,
        )
        result = stepped.result
        elapsed = float(state["elapsed"]) + time.perf_counter() - began
        reason, final = result.reasons[0], result.row(0)
        status = status_of(reason)
        message = run_message(problem, reason, final.step)
        if reason is Reason.TIME_LIMIT and not own_limit:
            status, message = Status.READY, time_limit_message(final.step, self._settings)
        points = stepped.columns(problem, spec.record.grad, internals_of(spec))
        points = points.select(points.step > start.step)
        state = _state_of(problem, final, reason, status, message, elapsed, stepped.stats)
        record = self._next(session, state)
        return StepOutcome(Session(record, spec), points, problem)

    @staticmethod
    def _next(
        session: Session, state: dict[str, Any], spec: dict[str, Any] | None = None
    ) -> SessionRecord:
        record = session.record
        return SessionRecord(
            record.id,
            record.version + 1,
            record.created_at,
            _now(),
            record.spec if spec is None else spec,
            state,
            record.owner,
        )

    def patch(
        self, session_id: str, changes: SessionPatch, owner: str = "", if_match: int | None = None
    ) -> Session:
        """Changes hyperparameters, schedule, stopping rule or recording for the steps to come."""
        with self._locks[hash(session_id) % _LOCK_STRIPES]:
            self._forget(session_id)
            for _ in range(_MAX_ATTEMPTS):
                session = self.get(session_id, owner)
                self._check_version(session, if_match)
                spec = self._patched_spec(session, changes)
                problem = self._problem(spec)
                self._check_state_fits(problem, session.state)
                dynamics = (
                    spec.optimizer != session.spec.optimizer
                    or spec.schedule != session.spec.schedule
                    or (spec.stop.param_bound, spec.stop.loss_bound)
                    != (session.spec.stop.param_bound, session.spec.stop.loss_bound)
                )
                state = self._restatus(session, spec, problem, dynamics)
                record = self._next(session, state, spec.model_dump(mode="json"))
                if self._store.save(record, session.record.version, None, reset=False) is (
                    SaveResult.SAVED
                ):
                    return Session(record, spec)
        raise Conflict(f"session {session_id} kept changing; try again")

    @staticmethod
    def _patched_spec(session: Session, changes: SessionPatch) -> RunSpec:
        current = session.record.spec
        optimizer = changes.optimizer or {}
        if "name" in optimizer and optimizer["name"] != current["optimizer"]["name"]:
            raise InvalidSpecification.at(
                ("optimizer", "name"),
                "a session's optimizer cannot change kind; create a new session",
            )
        body = current | {
            "optimizer": _merged(current["optimizer"], changes.optimizer),
            "stop": _merged(current["stop"], changes.stop),
            "record": _merged(current["record"], changes.record),
        }
        if "schedule" in changes.model_fields_set:
            body["schedule"] = (
                None if changes.schedule is None else changes.schedule.model_dump(mode="json")
            )
        try:
            return RunSpec.model_validate(body)
        except ValidationError as error:
            errors = [
                FieldError(tuple(json_path(e["loc"], body)), e["msg"])
                for e in error.errors(include_url=False)
            ]
            first = errors[0]
            raise InvalidSpecification(
                f"{'.'.join(str(p) for p in first.loc)}: {first.msg}", errors
            ) from None

    def _check_state_fits(self, problem: Problem, state: dict[str, Any]) -> None:
        try:
            self._iterate(problem, state)
            self._stats(problem, state)
        except (ValueError, TypeError):
            raise InvalidSpecification.at(
                ("optimizer",),
                "this change gives the optimizer a different state (e.g. momentum from 0 to "
                "non-zero); reset the session or create a new one",
            ) from None

    @staticmethod
    def _restatus(
        session: Session, spec: RunSpec, problem: Problem, dynamics: bool
    ) -> dict[str, Any]:
        """The state's status under the changed rules: a rule that no longer holds frees it."""
        state = session.state
        rule, step, norm = problem.rule, int(state["step"]), float(state["grad_norm"])
        old_reason = Reason(state.get("reason", Reason.STEPS_DONE.value))
        if step >= rule.max_steps:
            reason = Reason.MAX_STEPS
        elif rule.grad_tol > 0 and norm <= rule.grad_tol:
            reason = Reason.GRAD_TOL
        elif spec.stop.time_limit is not None and float(state["elapsed"]) >= spec.stop.time_limit:
            reason = Reason.TIME_LIMIT
        elif (old_reason in _DIVERGED and not dynamics) or (
            old_reason is Reason.LOSS_TOL and 0 < session.spec.stop.loss_tol <= spec.stop.loss_tol
        ):
            reason = old_reason
        else:
            reason = Reason.STEPS_DONE
        if reason is Reason.STEPS_DONE:
            status, message = Status.READY, f"Changed at step {step}; ready to step."
        else:
            status = status_of(reason)
            message = state["message"] if reason is old_reason else stop_message(reason, step, rule)
        return state | {"status": status.value, "reason": reason.value, "message": message}

    def reset(
        self,
        session_id: str,
        request: ResetRequest,
        owner: str = "",
        if_match: int | None = None,
    ) -> Session:
        """Back to step 0 (from a new start if given): the trajectory starts over."""
        with self._locks[hash(session_id) % _LOCK_STRIPES]:
            self._forget(session_id)
            for _ in range(_MAX_ATTEMPTS):
                session = self.get(session_id, owner)
                self._check_version(session, if_match)
                spec = session.spec
                if request.start is not None:
                    spec = spec.model_copy(update={"start": request.start})
                problem = self._problem(spec)
                state, chunk = self._at_start(spec, problem)
                record = self._next(session, state, spec.model_dump(mode="json"))
                if self._store.save(record, session.record.version, chunk, reset=True) is (
                    SaveResult.SAVED
                ):
                    return Session(record, spec)
        raise Conflict(f"session {session_id} kept changing; try again")

    def trajectory(
        self, session_id: str, start: int, end: int | None, every: int, owner: str = ""
    ) -> tuple[Session, Columns, Problem]:
        """Stored points with start ≤ step ≤ end, thinned to multiples of ``every``."""
        session = self.get(session_id, owner)
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
            empty = Columns(np.zeros(0, dtype=np.int64), np.zeros((0, n)), np.zeros(0), np.zeros(0))
            return session, empty, problem
        return session, thin(concatenate(parts), start, end, every), problem

    def run(
        self, session_id: str, max_steps: int, chunk: int, owner: str = ""
    ) -> tuple[StepOutcome, int]:
        """Steps until the stopping rule fires or ``max_steps`` are taken, committing every
        ``chunk`` steps (so watchers see points as they come); the last outcome and the steps
        taken. The per-request time limit bounds the whole call."""
        if max_steps > self._settings.max_run_steps:
            raise LimitExceeded.at(
                ("max_steps",),
                f"{max_steps} exceeds the limit of {self._settings.max_run_steps} per request",
            )
        deadline = time.perf_counter() + self._settings.request_time_limit
        taken, outcome = 0, None
        while True:
            session = self.get(session_id, owner)
            room = self._settings.max_session_points - 1 - int(session.state["step"])
            size = min(chunk, max_steps - taken, max(room, 0))
            if outcome is not None and (
                size <= 0
                or session.state["status"] != Status.READY
                or time.perf_counter() >= deadline
            ):
                return outcome, taken
            outcome = self.step(session_id, max(size, 1), owner)
            taken += len(outcome.points)

    def points_after(
        self, session_id: str, after: int, owner: str = ""
    ) -> tuple[Session, Columns | None]:
        """The session and its stored points with step > ``after`` (None when there are none)."""
        session = self.get(session_id, owner)
        if int(session.state["step"]) <= after:
            return session, None
        chunks = self._store.chunks(session_id, after + 1, None)
        if not chunks:
            return session, None
        points = concatenate([Columns.from_json(c.columns) for c in chunks])
        points = points.select(points.step > after)
        return session, points if len(points) else None

    def page(self, owner: str, cursor: str | None, limit: int) -> SessionPage:
        """The owner's sessions in creation order, ``limit`` at a time."""
        after = None if cursor is None else _decode_cursor(cursor)
        records = self._store.page(owner, after, limit + 1)
        sessions = [Session(r, RunSpec.model_validate(r.spec)) for r in records[:limit]]
        following = _encode_cursor(records[limit - 1]) if len(records) > limit else None
        return SessionPage(sessions, following)

    def delete(self, session_id: str, owner: str = "", if_match: int | None = None) -> None:
        """Removes the session, or NotFound."""
        self._forget(session_id)
        session = self.get(session_id, owner)
        self._check_version(session, if_match)
        if not self._store.delete(session_id):
            raise NotFound(f"no session with id {session_id!r}")
