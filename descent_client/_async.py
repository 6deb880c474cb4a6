"""The asynchronous client: :class:`AsyncDescent` and its :class:`AsyncSession`, the same
methods as :class:`Descent` and :class:`Session`, as coroutines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
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

__all__ = ["AsyncDescent", "AsyncSession"]


class AsyncDescent:
    """The asynchronous client of a Descent service; see :class:`Descent` for the arguments.

    >>> async with AsyncDescent() as descent:  # doctest: +SKIP
    ...     session = await descent.session("x^2 + 3*y^2", "sgd", [1, 1], lr=0.1)
    ...     async for event in session.events(after=0):
    ...         print(event)
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = _base.DEFAULT_TIMEOUT,
        retries: int = 2,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = _base.resolve_url(base_url)
        self.retries = retries
        self._timeout = _base.timeout_of(timeout)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=_base.default_headers(_base.resolve_key(api_key), headers),
            timeout=self._timeout,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"AsyncDescent({self.base_url!r})"

    async def aclose(self) -> None:
        """Closes the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- transport ------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool = False,
    ) -> Any:
        """Sends one request and returns the answer's JSON; see :meth:`Descent.request`."""
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    method, path, json=json, params=params, headers=headers
                )
            except httpx.TransportError as error:
                if not retry or attempt >= self.retries:
                    raise connection_error(error, self.base_url) from error
                attempt += 1
                await asyncio.sleep(_base.backoff(attempt))
                continue
            return _base.decode(response)

    # -- catalogues -----------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        """``GET /healthz``: ``{"status": "ok"}`` while the server answers."""
        answer: dict[str, Any] = await self.request("GET", "/healthz", retry=True)
        return answer

    async def losses(self) -> list[LossInfo]:
        """Every builtin loss: formula, dimensions, parameters, known minima, plot domain."""
        answer = await self.request("GET", "/v1/losses", retry=True)
        return [LossInfo.from_json(item) for item in answer["losses"]]

    async def optimizers(self) -> list[OptimizerInfo]:
        """Every optimizer: update rule, hyperparameters with defaults and ranges."""
        answer = await self.request("GET", "/v1/optimizers", retry=True)
        return [OptimizerInfo.from_json(item) for item in answer["optimizers"]]

    async def examples(self) -> list[Example]:
        """Every ready-made lesson: a request to send and what to look for in its answer."""
        answer = await self.request("GET", "/v1/examples", retry=True)
        return [Example.from_json(item) for item in answer["examples"]]

    async def example(self, example_id: str) -> Example:
        """One ready-made lesson by id."""
        answer = await self.request("GET", f"/v1/examples/{example_id}", retry=True)
        return Example.from_json(answer)

    # -- computations ---------------------------------------------------------------------------

    async def analyze(
        self,
        loss: LossLike,
        point: Vector,
        *,
        gradient_tol: float | None = None,
        eigenvalue_rtol: float | None = None,
    ) -> Analysis:
        """Value, gradient, Hessian spectrum and classification of ``loss`` at ``point``."""
        body: dict[str, Any] = {"loss": loss_spec(loss), "point": vector(point)}
        if gradient_tol is not None:
            body["gradient_tol"] = gradient_tol
        if eigenvalue_rtol is not None:
            body["eigenvalue_rtol"] = eigenvalue_rtol
        return Analysis.from_json(await self.request("POST", "/v1/analyze", json=body, retry=True))

    async def run(
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
        """Runs ``optimizer`` on ``loss`` from ``start``; see :meth:`Descent.run`."""
        body = run_body(loss, optimizer, start, schedule, stop, record, hyperparameters, analysis)
        return RunResult.from_json(await self.request("POST", "/v1/runs", json=body, retry=True))

    async def run_batch(
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
        """Runs every optimizer from every start; see :meth:`Descent.run_batch`."""
        body = _base.batch_body(loss, optimizers, starts, schedule, stop, record, analysis)
        answer = await self.request("POST", "/v1/runs/batch", json=body, retry=True)
        return BatchResult.from_json(answer)

    async def landscape(
        self,
        loss: LossLike,
        bounds: Sequence[Sequence[float]],
        resolution: Sequence[int],
        **options: Any,
    ) -> dict[str, Any]:
        """``POST /v1/landscape``; see :meth:`Descent.landscape`."""
        body = {"loss": loss_spec(loss), "bounds": bounds, "resolution": resolution, **options}
        answer: dict[str, Any] = await self.request("POST", "/v1/landscape", json=body, retry=True)
        return answer

    async def critical_points(
        self, loss: LossLike, bounds: Sequence[Sequence[float]], **options: Any
    ) -> dict[str, Any]:
        """``POST /v1/critical-points``; see :meth:`Descent.critical_points`."""
        body = {"loss": loss_spec(loss), "bounds": bounds, **options}
        answer: dict[str, Any] = await self.request(
            "POST", "/v1/critical-points", json=body, retry=True
        )
        return answer

    # -- sessions -------------------------------------------------------------------------------

    async def session(
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
    ) -> AsyncSession:
        """Creates a session at step 0; see :meth:`Descent.session`."""
        body = run_body(loss, optimizer, start, schedule, stop, record, hyperparameters)
        headers = {"Idempotency-Key": idempotency_key or _base.new_key()}
        answer = await self.request("POST", "/v1/sessions", json=body, headers=headers, retry=True)
        return AsyncSession(self, SessionState.from_json(answer))

    async def get_session(self, session_id: str) -> AsyncSession:
        """The session with this id (:class:`NotFound` if there is none)."""
        return AsyncSession(self, SessionState.from_json(await self._get_session(session_id)))

    async def sessions(self, *, page_size: int = 50) -> AsyncIterator[AsyncSession]:
        """Every session (of this API key), oldest first: ``async for s in client.sessions()``."""
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": page_size}
            if cursor is not None:
                params["cursor"] = cursor
            page = await self.request("GET", "/v1/sessions", params=params, retry=True)
            for item in page["sessions"]:
                yield AsyncSession(self, SessionState.from_json(item))
            cursor = page.get("next_cursor")
            if not cursor:
                return

    async def _get_session(self, session_id: str) -> Any:
        return await self.request("GET", f"/v1/sessions/{session_id}", retry=True)

    @asynccontextmanager
    async def _stream(
        self, path: str, params: Mapping[str, Any], headers: Mapping[str, str]
    ) -> AsyncIterator[httpx.Response]:
        timeout = _base.events_timeout(self._timeout)
        async with self._http.stream(
            "GET", path, params=params, headers=headers, timeout=timeout
        ) as response:
            if response.status_code >= 400:
                await response.aread()
                raise problem_error(response)
            yield response


class AsyncSession:
    """A session on the server, with coroutine methods; see :class:`Session`."""

    def __init__(
        self, client: AsyncDescent, state: SessionState, *, check_version: bool = False
    ) -> None:
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
            f"AsyncSession(id={state.id!r}, version={state.version}, step={state.step}, "
            f"status={state.status!r})"
        )

    def _if_match(self, check_version: bool | None) -> dict[str, str]:
        check = self.check_version if check_version is None else check_version
        return {"If-Match": _base.etag(self.version)} if check else {}

    async def refresh(self) -> SessionState:
        """Fetches the current state."""
        self.state = SessionState.from_json(await self.client._get_session(self.id))
        return self.state

    async def step(
        self, n: int = 1, *, check_version: bool | None = None, idempotency_key: str | None = None
    ) -> StepResult:
        """Takes ``n`` steps, never twice on a retry; see :meth:`Session.step`."""
        headers = {"Idempotency-Key": idempotency_key or _base.new_key()}
        headers |= self._if_match(check_version)
        answer = await self.client.request(
            "POST", f"{self.path}/step", json={"steps": n}, headers=headers, retry=True
        )
        result = StepResult.from_json(answer)
        self.state = result
        return result

    async def run(self, max_steps: int | None = None, chunk: int | None = None) -> SessionRunResult:
        """Steps until the stopping rule or ``max_steps``; see :meth:`Session.run`."""
        body = _base.run_session_body(max_steps, chunk)
        answer = await self.client.request("POST", f"{self.path}/run", json=body)
        result = SessionRunResult.from_json(answer)
        self.state = result
        return result

    async def trajectory(
        self, start: int = 0, end: int | None = None, every: int = 1
    ) -> SessionTrajectory:
        """The stored points with ``start`` ≤ step ≤ ``end``, every ``every``-th."""
        params = _base.trajectory_params(start, end, every)
        answer = await self.client.request(
            "GET", f"{self.path}/trajectory", params=params, retry=True
        )
        return SessionTrajectory.from_json(answer)

    async def patch(
        self,
        optimizer: Mapping[str, Any] | None = None,
        *,
        schedule: ScheduleLike | Unset | None = UNSET,
        stop: Mapping[str, Any] | None = None,
        record: Mapping[str, Any] | None = None,
        check_version: bool | None = None,
        **hyperparameters: Any,
    ) -> SessionState:
        """Changes the steps to come; see :meth:`Session.patch`."""
        body = _base.patch_body(optimizer, schedule, stop, record, hyperparameters)
        answer = await self.client.request(
            "PATCH", self.path, json=body, headers=self._if_match(check_version)
        )
        self.state = SessionState.from_json(answer)
        return self.state

    async def reset(
        self, start: Vector | None = None, *, check_version: bool | None = None
    ) -> SessionState:
        """Back to step 0, from ``start`` when given."""
        answer = await self.client.request(
            "POST",
            f"{self.path}/reset",
            json=_base.reset_body(start),
            headers=self._if_match(check_version),
        )
        self.state = SessionState.from_json(answer)
        return self.state

    async def delete(self, *, check_version: bool | None = None) -> None:
        """Deletes the session and its trajectory."""
        await self.client.request("DELETE", self.path, headers=self._if_match(check_version))

    async def events(
        self, after: int | None = None, *, max_reconnects: int = 5
    ) -> AsyncIterator[Event]:
        """Points as they are stored, then :class:`End`, reconnecting with ``Last-Event-ID``
        when the stream drops; see :meth:`Session.events`."""
        resume = Resume(after, max_reconnects)
        while True:
            params, headers = resume.request()
            try:
                async with self.client._stream(f"{self.path}/events", params, headers) as response:
                    decoder = SSEDecoder()
                    reconnect_now = False
                    async for line in response.aiter_lines():
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
                    await asyncio.sleep(resume.delay)
            except httpx.TransportError as error:
                if resume.failed():
                    raise connection_error(error, self.client.base_url) from error
                await asyncio.sleep(resume.delay)
