"""The synchronous client: :class:`Descent` and its :class:`Session`."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self

import httpx

from descent_client import _base
from descent_client._base import UNSET, Unset
from descent_client._errors import connection_error, problem_error
from descent_client._models import (
    Analysis,
    BatchResult,
    End,
    Event,
    Example,
    LossInfo,
    OptimizerInfo,
    RunResult,
    SessionRunResult,
    SessionState,
    SessionTrajectory,
    StepResult,
)
from descent_client._specs import (
    LossLike,
    OptimizerLike,
    ScheduleLike,
    Vector,
    loss_spec,
    run_body,
    vector,
)
from descent_client._sse import Resume, SSEDecoder

__all__ = ["Descent", "Session"]


class Descent:
    """A client of a Descent service.

    ``base_url`` defaults to ``$DESCENT_URL`` (else ``http://127.0.0.1:8000``) and ``api_key``
    to ``$DESCENT_API_KEY``. ``timeout`` is in seconds (or an ``httpx.Timeout``). Requests that
    are safe to repeat (reads, runs, analyses, and session creation and steps, which carry an
    Idempotency-Key) are retried ``retries`` times after a transport error. Use it as a context
    manager, or call :meth:`close`.

    >>> with Descent("http://127.0.0.1:8000") as descent:  # doctest: +SKIP
    ...     result = descent.run("x^2 + 3*y^2", "adam", [1, 1], lr=0.1)
    ...     result.status, result.final.loss
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = _base.DEFAULT_TIMEOUT,
        retries: int = 2,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = _base.resolve_url(base_url)
        self.retries = retries
        self._timeout = _base.timeout_of(timeout)
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=_base.default_headers(_base.resolve_key(api_key), headers),
            timeout=self._timeout,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"Descent({self.base_url!r})"

    def close(self) -> None:
        """Closes the connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    # -- transport ------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool = False,
    ) -> Any:
        """Sends one request and returns the answer's JSON (None for 204).

        A problem answer raises its :class:`DescentError`; no answer raises
        :class:`DescentConnectionError`, after ``retries`` more tries when ``retry`` is true
        (the same request each time, headers included)."""
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method, path, json=json, params=params, headers=headers
                )
            except httpx.TransportError as error:
                if not retry or attempt >= self.retries:
                    raise connection_error(error, self.base_url) from error
                attempt += 1
                time.sleep(_base.backoff(attempt))
                continue
            return _base.decode(response)

    # -- catalogues -----------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """``GET /healthz``: ``{"status": "ok"}`` while the server answers."""
        answer: dict[str, Any] = self.request("GET", "/healthz", retry=True)
        return answer

    def losses(self) -> list[LossInfo]:
        """Every builtin loss: formula, dimensions, parameters, known minima, plot domain."""
        answer = self.request("GET", "/v1/losses", retry=True)
        return [LossInfo.from_json(item) for item in answer["losses"]]

    def optimizers(self) -> list[OptimizerInfo]:
        """Every optimizer: update rule, hyperparameters with defaults and ranges."""
        answer = self.request("GET", "/v1/optimizers", retry=True)
        return [OptimizerInfo.from_json(item) for item in answer["optimizers"]]

    def examples(self) -> list[Example]:
        """Every ready-made lesson: a request to send and what to look for in its answer."""
        answer = self.request("GET", "/v1/examples", retry=True)
        return [Example.from_json(item) for item in answer["examples"]]

    def example(self, example_id: str) -> Example:
        """One ready-made lesson by id."""
        return Example.from_json(self.request("GET", f"/v1/examples/{example_id}", retry=True))

    # -- computations ---------------------------------------------------------------------------

    def analyze(
        self,
        loss: LossLike,
        point: Vector,
        *,
        gradient_tol: float | None = None,
        eigenvalue_rtol: float | None = None,
    ) -> Analysis:
        """Value, gradient, Hessian spectrum and classification of ``loss`` at ``point``.

        >>> descent.analyze("x^2 - y^2", [0, 0]).classification  # doctest: +SKIP
        'saddle_point'
        """
        body: dict[str, Any] = {"loss": loss_spec(loss), "point": vector(point)}
        if gradient_tol is not None:
            body["gradient_tol"] = gradient_tol
        if eigenvalue_rtol is not None:
            body["eigenvalue_rtol"] = eigenvalue_rtol
        return Analysis.from_json(self.request("POST", "/v1/analyze", json=body, retry=True))

    def run(
        self,
        loss: LossLike,
        optimizer: OptimizerLike,
        start: Vector | None = None,
        *,
        schedule: ScheduleLike | None = None,
        stop: Mapping[str, Any] | None = None,
        record: Mapping[str, Any] | None = None,
        analysis: bool = True,
        **hyperparameters: Any,
    ) -> RunResult:
        """Runs ``optimizer`` on ``loss`` from ``start`` until its stopping rule.

        ``loss`` is a formula or a loss object (e.g. :func:`dataset`); ``optimizer`` a name or
        an optimizer object, with hyperparameters as keyword arguments (``lr=0.1,
        beta2=0.99``); ``schedule`` a type or a schedule object; ``stop`` and ``record`` the
        API's objects (``stop={"max_steps": 500, "grad_tol": 1e-10}``). ``start`` may be left
        out for a dataset loss (the service's initialisation); a formula without one is refused
        (:class:`ValidationFailed`). ``analysis=False`` skips analysing the final point."""
        body = run_body(loss, optimizer, start, schedule, stop, record, hyperparameters, analysis)
        return RunResult.from_json(self.request("POST", "/v1/runs", json=body, retry=True))

    def run_batch(
        self,
        loss: LossLike,
        optimizers: Sequence[OptimizerLike],
        starts: Sequence[Vector],
        *,
        schedule: ScheduleLike | None = None,
        stop: Mapping[str, Any] | None = None,
        record: Mapping[str, Any] | None = None,
        analysis: bool = True,
    ) -> BatchResult:
        """Runs every optimizer from every start (vectorised over starts); the runs come
        optimizer-major. ``analysis=False`` skips analysing the final points."""
        body = _base.batch_body(loss, optimizers, starts, schedule, stop, record, analysis)
        return BatchResult.from_json(self.request("POST", "/v1/runs/batch", json=body, retry=True))

    def landscape(
        self,
        loss: LossLike,
        bounds: Sequence[Sequence[float]],
        resolution: Sequence[int],
        **options: Any,
    ) -> dict[str, Any]:
        """``POST /v1/landscape``: the loss on a grid (``x``, ``y``, ``z``); ``options`` are the
        API's other fields (``center``, ``directions``, ``gradient``). Returns the JSON."""
        body = {"loss": loss_spec(loss), "bounds": bounds, "resolution": resolution, **options}
        answer: dict[str, Any] = self.request("POST", "/v1/landscape", json=body, retry=True)
        return answer

    def critical_points(
        self, loss: LossLike, bounds: Sequence[Sequence[float]], **options: Any
    ) -> dict[str, Any]:
        """``POST /v1/critical-points``: every critical point in the box, each analysed;
        ``options`` are the API's other fields (``resolution``, ``starts``, …). Returns the JSON."""
        body = {"loss": loss_spec(loss), "bounds": bounds, **options}
        answer: dict[str, Any] = self.request("POST", "/v1/critical-points", json=body, retry=True)
        return answer

    # -- sessions -------------------------------------------------------------------------------

    def session(
        self,
        loss: LossLike,
        optimizer: OptimizerLike,
        start: Vector | None = None,
        *,
        schedule: ScheduleLike | None = None,
        stop: Mapping[str, Any] | None = None,
        record: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        **hyperparameters: Any,
    ) -> Session:
        """Creates a session at step 0 (arguments as for :meth:`run`).

        The request carries ``idempotency_key`` (a fresh one when None), so a retry after a lost
        answer gets the session the first try made instead of a second one."""
        body = run_body(loss, optimizer, start, schedule, stop, record, hyperparameters)
        headers = {"Idempotency-Key": idempotency_key or _base.new_key()}
        answer = self.request("POST", "/v1/sessions", json=body, headers=headers, retry=True)
        return Session(self, SessionState.from_json(answer))

    def get_session(self, session_id: str) -> Session:
        """The session with this id (:class:`NotFound` if there is none)."""
        return Session(self, SessionState.from_json(self._get_session(session_id)))

    def sessions(self, *, page_size: int = 50) -> Iterator[Session]:
        """Every session (of this API key), oldest first, fetching page after page."""
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": page_size}
            if cursor is not None:
                params["cursor"] = cursor
            page = self.request("GET", "/v1/sessions", params=params, retry=True)
            for item in page["sessions"]:
                yield Session(self, SessionState.from_json(item))
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def _get_session(self, session_id: str) -> Any:
        return self.request("GET", f"/v1/sessions/{session_id}", retry=True)

    @contextmanager
    def _stream(
        self, path: str, params: Mapping[str, Any], headers: Mapping[str, str]
    ) -> Iterator[httpx.Response]:
        """One streaming GET (the events of a session), raising a problem answer's error."""
        timeout = _base.events_timeout(self._timeout)
        with self._http.stream(
            "GET", path, params=params, headers=headers, timeout=timeout
        ) as response:
            if response.status_code >= 400:
                response.read()
                raise problem_error(response)
            yield response


class Session:
    """A session on the server: a run kept between requests, stepped over HTTP.

    ``state`` is the latest answer about it (a :class:`SessionState`, or the
    :class:`StepResult` / :class:`SessionRunResult` of the last step or run); every method
    updates it. With ``check_version`` (here, or per call) writes send ``If-Match`` with the
    known version, so a change someone else made in between raises :class:`PreconditionFailed`
    instead of being stepped over."""

    def __init__(self, client: Descent, state: SessionState, *, check_version: bool = False):
        self.client = client
        self.state = state
        self.check_version = check_version

    @property
    def id(self) -> str:
        """The session's id."""
        return self.state.id

    @property
    def version(self) -> int:
        """The last known version (it counts writes)."""
        return self.state.version

    @property
    def path(self) -> str:
        """The session's path on the server."""
        return f"/v1/sessions/{self.id}"

    def __repr__(self) -> str:
        state = self.state
        return (
            f"Session(id={state.id!r}, version={state.version}, step={state.step}, "
            f"status={state.status!r})"
        )

    def _if_match(self, check_version: bool | None) -> dict[str, str]:
        check = self.check_version if check_version is None else check_version
        return {"If-Match": _base.etag(self.version)} if check else {}

    def refresh(self) -> SessionState:
        """Fetches the current state."""
        self.state = SessionState.from_json(self.client._get_session(self.id))
        return self.state

    def step(
        self, n: int = 1, *, check_version: bool | None = None, idempotency_key: str | None = None
    ) -> StepResult:
        """Takes ``n`` steps (fewer if the stopping rule ends them); returns the new points and
        the state after them.

        The request carries an Idempotency-Key (``idempotency_key``, else a fresh one) that a
        retry after a transport error sends again: the server answers a repeat with its first
        answer, so a step is never taken twice."""
        headers = {"Idempotency-Key": idempotency_key or _base.new_key()}
        headers |= self._if_match(check_version)
        answer = self.client.request(
            "POST", f"{self.path}/step", json={"steps": n}, headers=headers, retry=True
        )
        result = StepResult.from_json(answer)
        self.state = result
        return result

    def run(self, max_steps: int | None = None, chunk: int | None = None) -> SessionRunResult:
        """Steps until the stopping rule, or ``max_steps`` more steps, committing every
        ``chunk`` steps (watchers of :meth:`events` get points that often)."""
        body = _base.run_session_body(max_steps, chunk)
        result = SessionRunResult.from_json(
            self.client.request("POST", f"{self.path}/run", json=body)
        )
        self.state = result
        return result

    def trajectory(
        self, start: int = 0, end: int | None = None, every: int = 1
    ) -> SessionTrajectory:
        """The stored points with ``start`` ≤ step ≤ ``end``, every ``every``-th (the last one
        always kept)."""
        params = _base.trajectory_params(start, end, every)
        answer = self.client.request("GET", f"{self.path}/trajectory", params=params, retry=True)
        return SessionTrajectory.from_json(answer)

    def patch(
        self,
        optimizer: Mapping[str, Any] | None = None,
        *,
        schedule: ScheduleLike | Unset | None = UNSET,
        stop: Mapping[str, Any] | None = None,
        record: Mapping[str, Any] | None = None,
        check_version: bool | None = None,
        **hyperparameters: Any,
    ) -> SessionState:
        """Changes the steps to come: hyperparameters (``lr=0.01`` or ``optimizer={...}``),
        ``stop`` and ``record`` fields are merged in; ``schedule`` replaces the schedule (None
        removes it)."""
        body = _base.patch_body(optimizer, schedule, stop, record, hyperparameters)
        answer = self.client.request(
            "PATCH", self.path, json=body, headers=self._if_match(check_version)
        )
        self.state = SessionState.from_json(answer)
        return self.state

    def reset(
        self, start: Vector | None = None, *, check_version: bool | None = None
    ) -> SessionState:
        """Back to step 0, from ``start`` when given; the trajectory starts over."""
        answer = self.client.request(
            "POST",
            f"{self.path}/reset",
            json=_base.reset_body(start),
            headers=self._if_match(check_version),
        )
        self.state = SessionState.from_json(answer)
        return self.state

    def delete(self, *, check_version: bool | None = None) -> None:
        """Deletes the session and its trajectory."""
        self.client.request("DELETE", self.path, headers=self._if_match(check_version))

    def events(self, after: int | None = None, *, max_reconnects: int = 5) -> Iterator[Event]:
        """The session's points as they are stored (:class:`Points`), then :class:`End` once it
        stops (or is deleted), from the Server-Sent Events stream.

        ``after`` asks for the points after that step (default: from now on). When the
        connection drops, or the server closes it on its time limit, the client reconnects
        with ``Last-Event-ID`` and carries on where it was; ``max_reconnects`` transport
        failures in a row raise :class:`DescentConnectionError`. Stop early with ``break``."""
        resume = Resume(after, max_reconnects)
        while True:
            params, headers = resume.request()
            try:
                with self.client._stream(f"{self.path}/events", params, headers) as response:
                    decoder = SSEDecoder()
                    reconnect_now = False
                    for line in response.iter_lines():
                        event = resume.feed(decoder, line)
                        if event == "reconnect":
                            reconnect_now = True
                            break
                        if isinstance(event, End):
                            yield event
                            return
                        if event is not None and not isinstance(event, str):
                            yield event
                if not reconnect_now:
                    time.sleep(resume.delay)
            except httpx.TransportError as error:
                if resume.failed():
                    raise connection_error(error, self.client.base_url) from error
                time.sleep(resume.delay)
