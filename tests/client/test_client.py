"""The Python client against a real server process: same numbers as raw HTTP, sessions,
events, idempotent retries, problem errors, and the async client."""

from __future__ import annotations

import ast
import asyncio
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from descent_client import (
    AsyncDescent,
    Conflict,
    DatasetInfo,
    Descent,
    DescentConnectionError,
    DescentError,
    DescentException,
    End,
    NotFound,
    Points,
    PreconditionFailed,
    Session,
    Trajectory,
    Unauthorized,
    ValidationFailed,
    builtin,
    dataset,
    expression,
    generate,
    optimizer,
    schedule,
)
from descent_client._sse import SSEDecoder
from tests.server import Server, free_port, running_server

pytestmark = pytest.mark.slow

KEY, OTHER_KEY = "client-test-key", "other-key"
QUADRATIC = "x^2 + 3*y^2"
RUN_BODY: dict[str, Any] = {
    "loss": {"type": "expression", "expression": QUADRATIC},
    "optimizer": {"name": "adam", "lr": 0.1},
    "start": [1.0, 1.0],
    "stop": {"max_steps": 500},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder: Path = tmp_path_factory.mktemp("client")
    env = {
        "DESCENT_STORE_URL": f"sqlite:///{folder / 'c.db'}",
        "DESCENT_API_KEYS": f"{KEY},{OTHER_KEY}",
        # Streams end after a second, so every events test also exercises reconnection.
        "DESCENT_EVENTS_MAX_SECONDS": "1.0",
        "DESCENT_EVENTS_POLL_INTERVAL": "0.05",
    }
    with running_server(env) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[Descent]:
    with Descent(server.url, KEY) as descent:
        yield descent


@pytest.fixture(scope="module")
def raw(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
    ) as http:
        yield http


class Recording(httpx.HTTPTransport):
    """A real transport that records requests and can lose what the server sends back: the
    answer to the first ``lose_reply`` request (method, path suffix) after the server handled
    it, or the first event stream after its first ``points`` event."""

    def __init__(
        self, lose_reply: tuple[str, str] | None = None, break_stream: bool = False
    ) -> None:
        super().__init__()
        self.lose_reply = lose_reply
        self.break_stream = break_stream
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = super().handle_request(request)
        if self.lose_reply and (request.method, True) == (
            self.lose_reply[0],
            request.url.path.endswith(self.lose_reply[1]),
        ):
            self.lose_reply = None
            response.read()
            response.close()
            raise httpx.ReadError("simulated: the answer was lost", request=request)
        if self.break_stream and request.url.path.endswith("/events"):
            self.break_stream = False
            return httpx.Response(
                response.status_code,
                headers=response.headers,
                stream=BreaksAfterPoints(response.stream),
                request=request,
            )
        return response

    def paths(self, suffix: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith(suffix)]


class BreaksAfterPoints(httpx.SyncByteStream):
    """A response stream that drops the connection right after its first ``points`` event."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __iter__(self) -> Iterator[bytes]:
        seen = b""
        for chunk in self.inner:
            yield chunk
            seen += chunk
            if b"event: points" in seen and seen.endswith(b"\n\n"):
                raise httpx.ReadError("simulated: the connection dropped")

    def close(self) -> None:
        self.inner.close()


# -- stateless requests ---------------------------------------------------------------------------


def test_run_returns_what_raw_http_returns(client: Descent, raw: httpx.Client) -> None:
    expected = raw.post("/v1/runs", json=RUN_BODY).json()
    result = client.run(QUADRATIC, "adam", [1, 1], lr=0.1, stop={"max_steps": 500})
    assert result.raw == expected
    assert result.status == expected["status"] == "converged"
    assert result.steps == expected["steps"]
    assert result.message == expected["message"]
    assert result.trajectory.params == expected["trajectory"]["params"]
    assert result.trajectory.loss == expected["trajectory"]["loss"]
    assert result.trajectory.step == list(range(result.steps + 1))
    assert result.final.params == expected["final"]["params"]
    assert result.final.loss == expected["final"]["loss"]
    assert result.analysis is not None
    assert result.analysis.classification == "local_minimum"
    assert result.analysis.eigenvalues == expected["analysis"]["eigenvalues"]
    # The same request spelled as the API's dicts, or with the helpers.
    spelled = client.run(RUN_BODY["loss"], RUN_BODY["optimizer"], [1, 1], stop={"max_steps": 500})
    helped = client.run(expression(QUADRATIC), optimizer("adam", lr=0.1), [1, 1],
                        stop={"max_steps": 500})  # fmt: skip
    assert spelled == result
    assert helped.raw == expected


def test_run_options_reach_the_server(client: Descent, raw: httpx.Client) -> None:
    body = {
        "loss": {"type": "builtin", "name": "rosenbrock", "params": {"b": 10.0}},
        "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.9},
        "schedule": {"type": "cosine", "t_max": 100},
        "start": [-1.2, 1.0],
        "stop": {"max_steps": 100, "grad_tol": 0},
        "record": {"every": 10, "grad": True, "lr": True},
    }
    expected = raw.post("/v1/runs", json=body).json()
    result = client.run(
        builtin("rosenbrock", b=10.0),
        "sgd",
        [-1.2, 1.0],
        lr=0.01,
        momentum=0.9,
        schedule=schedule("cosine", t_max=100),
        stop={"max_steps": 100, "grad_tol": 0},
        record={"every": 10, "grad": True, "lr": True},
    )
    assert result.raw == expected
    assert result.status == "max_steps"
    assert result.trajectory.step == list(range(0, 101, 10))
    assert result.trajectory.grad == expected["trajectory"]["grad"]
    assert result.trajectory.lr is not None
    assert result.trajectory.lr[0] is None


def test_analyze_returns_what_raw_http_returns(client: Descent, raw: httpx.Client) -> None:
    body = {"loss": {"type": "expression", "expression": "x^2 - y^2"}, "point": [0, 0]}
    expected = raw.post("/v1/analyze", json=body).json()
    analysis = client.analyze("x^2 - y^2", [0, 0])
    assert analysis.raw == expected
    assert analysis.classification == "saddle_point"
    assert analysis.eigenvalues == [-2.0, 2.0]
    assert analysis.escape_direction == [0.0, 1.0]
    assert analysis.hessian == expected["hessian"]
    assert analysis.tolerances.gradient == expected["tolerances"]["gradient"]
    assert client.analyze("x^2 + y^2", [0, 0]).optimal_momentum is not None


def test_batch_returns_what_raw_http_returns(client: Descent, raw: httpx.Client) -> None:
    body = {
        "loss": {"type": "expression", "expression": "x^2"},
        "optimizers": [{"name": "sgd", "lr": 0.1}, {"name": "adam", "lr": 0.1}],
        "starts": [[1.0], [2.0], [-3.0]],
        "stop": {"max_steps": 50},
    }
    expected = raw.post("/v1/runs/batch", json=body).json()
    batch = client.run_batch(
        "x^2", [optimizer("sgd", lr=0.1), {"name": "adam", "lr": 0.1}], [1, 2, [-3]],
        stop={"max_steps": 50},
    )  # fmt: skip
    assert batch.raw == expected
    assert len(batch) == 6
    assert [(r.optimizer_index, r.start_index) for r in batch.runs] == [
        (o, s) for o in range(2) for s in range(3)
    ]
    assert batch.run(1, 2).final.params == expected["runs"][5]["final"]["params"]
    assert batch.run(0, 0).trajectory.params == expected["runs"][0]["trajectory"]["params"]


def test_catalogues(client: Descent) -> None:
    losses = {loss.name: loss for loss in client.losses()}
    assert "rosenbrock" in losses
    assert losses["rosenbrock"].variables == ["x", "y"]
    optimizers = {o.name: o for o in client.optimizers()}
    assert {"sgd", "adam", "newton"} <= set(optimizers)
    assert optimizers["adam"].defaults["lr"] == 0.001
    examples = client.examples()
    assert examples
    assert client.example(examples[0].id) == examples[0]
    assert client.health() == {"status": "ok"}


# -- sessions -------------------------------------------------------------------------------------


def test_a_stepped_session_matches_a_run(client: Descent) -> None:
    stop = {"max_steps": 50, "grad_tol": 0}
    session = client.session(QUADRATIC, "sgd", [1, 1], lr=0.05, momentum=0.9, stop=stop)
    assert (session.state.step, session.state.status, session.version) == (0, "ready", 1)
    first = session.step(7)
    assert first.trajectory.step == list(range(1, 8))
    for n in (1, 12, 30):
        session.step(n)
    assert session.state.step == 50
    assert session.state.status == "max_steps"
    assert session.version == 5
    run = client.run(QUADRATIC, "sgd", [1, 1], lr=0.05, momentum=0.9, stop=stop)
    stored = session.trajectory()
    assert stored.trajectory.params == run.trajectory.params
    assert stored.trajectory.loss == run.trajectory.loss
    assert session.state.params == run.final.params
    assert session.trajectory(start=10, end=20, every=5).trajectory.step == [10, 15, 20]
    fetched = client.get_session(session.id).state
    assert fetched.raw == {k: v for k, v in session.state.raw.items() if k != "trajectory"}


def test_run_patch_reset_and_delete(client: Descent) -> None:
    session = client.session(QUADRATIC, "adam", [1, 1], lr=0.1, stop={"max_steps": 40})
    ran = session.run(max_steps=25, chunk=10)
    assert (ran.steps_taken, ran.step, ran.status) == (25, 25, "ready")
    session.run()
    assert session.state.status == "max_steps"
    patched = session.patch(lr=0.01, stop={"max_steps": 60}, schedule="inverse_sqrt")
    assert patched.config["optimizer"]["lr"] == 0.01
    assert patched.config["schedule"]["type"] == "inverse_sqrt"
    assert patched.status == "ready"
    assert session.patch(schedule=None).config["schedule"] is None
    assert session.step(5).step == 45
    reset = session.reset(start=[2, -1])
    assert (reset.step, reset.params, reset.status) == (0, [2.0, -1.0], "ready")
    assert session.trajectory().trajectory.step == [0]
    session.delete()
    with pytest.raises(NotFound):
        session.refresh()


def test_if_match_refuses_a_stale_version(client: Descent) -> None:
    session = client.session(QUADRATIC, "sgd", [1, 1], lr=0.1)
    session.step(2, check_version=True)
    client.get_session(session.id).step(1)  # someone else moves it on
    with pytest.raises(PreconditionFailed) as caught:
        session.step(1, check_version=True)
    assert caught.value.status == 412
    assert "version 3" in caught.value.detail
    session.refresh()
    assert session.step(1, check_version=True).step == 4


def test_a_repeated_step_with_one_key_steps_once(client: Descent) -> None:
    session = client.session(QUADRATIC, "sgd", [1, 1], lr=0.1)
    first = session.step(3, idempotency_key="step-once")
    again = session.step(3, idempotency_key="step-once")
    assert again == first
    assert again.trajectory.step == [1, 2, 3]
    assert session.refresh().step == 3
    with pytest.raises(ValidationFailed) as caught:  # the same key for another request
        session.step(4, idempotency_key="step-once")
    assert caught.value.errors[0].loc == ("header", "Idempotency-Key")


def test_a_step_whose_answer_is_lost_is_retried_and_taken_once(server: Server) -> None:
    transport = Recording(lose_reply=("POST", "/step"))
    with Descent(server.url, KEY, transport=transport) as lossy:
        session = lossy.session(QUADRATIC, "sgd", [1, 1], lr=0.1)
        result = session.step(5)
        assert result.step == 5
        assert result.trajectory.step == [1, 2, 3, 4, 5]
        sent = transport.paths("/step")
        assert len(sent) == 2
        assert sent[0].headers["Idempotency-Key"] == sent[1].headers["Idempotency-Key"]
        assert session.refresh().step == 5
        assert session.trajectory().trajectory.step == list(range(6))


def test_a_create_whose_answer_is_lost_makes_one_session(server: Server) -> None:
    transport = Recording(lose_reply=("POST", "/v1/sessions"))
    with Descent(server.url, OTHER_KEY, transport=transport) as lossy:
        before = len(list(lossy.sessions()))
        session = lossy.session("x^2", "sgd", [1])
        assert [r.method for r in transport.paths("/v1/sessions")].count("POST") == 2
        ids = [s.id for s in lossy.sessions()]
        assert len(ids) == before + 1
        assert ids[-1] == session.id
        session.delete()


def test_sessions_iterates_every_page_of_one_key(server: Server, client: Descent) -> None:
    with Descent(server.url, OTHER_KEY) as other:
        made = [other.session("x^2", "sgd", [float(i)]).id for i in range(5)]
        assert [s.id for s in other.sessions(page_size=2)] == made
        with pytest.raises(NotFound):
            client.get_session(made[0])  # another key's session is invisible
        for session_id in made:
            other.get_session(session_id).delete()
        assert list(other.sessions()) == []


# -- events ---------------------------------------------------------------------------------------


def step_later(session: Session, chunks: int, size: int, pause: float) -> threading.Thread:
    def work() -> None:
        for _ in range(chunks):
            time.sleep(pause)
            session.step(size)

    thread = threading.Thread(target=work)
    thread.start()
    return thread


def test_events_yield_every_point_then_end_across_reconnections(server: Server) -> None:
    transport = Recording(break_stream=True)
    with Descent(server.url, KEY, transport=transport) as watcher:
        session = watcher.session(QUADRATIC, "sgd", [1, 1], lr=0.1, stop={"max_steps": 30})
        stepper = step_later(watcher.get_session(session.id), chunks=6, size=5, pause=0.5)
        events = list(session.events(after=0))
        stepper.join()
    points = [e for e in events if isinstance(e, Points)]
    assert isinstance(events[-1], End)
    assert all(isinstance(e, Points) for e in events[:-1])
    assert [s for p in points for s in p.steps] == list(range(1, 31))
    end = events[-1]
    assert (end.status, end.step) == ("max_steps", 30)
    assert end.params == points[-1].params[-1]
    # The first stream was cut after its first points (the client waits the server's retry of
    # 1 s); the server ends the others after 1 s (the client reconnects at once).
    connections = transport.paths("/events")
    assert len(connections) >= 3
    assert connections[0].url.params["after"] == "0"
    assert connections[1].headers["Last-Event-ID"] == points[0].id
    assert all("Last-Event-ID" in c.headers for c in connections[1:])


def test_events_of_a_stopped_or_missing_session(client: Descent) -> None:
    session = client.session(QUADRATIC, "sgd", [1, 1], lr=0.1, stop={"max_steps": 4})
    session.step(4)
    points, end = list(session.events(after=2))
    assert isinstance(points, Points)
    assert isinstance(end, End)
    assert points.steps == [3, 4]
    assert (end.status, end.step, end.params) == ("max_steps", 4, points.params[-1])
    assert list(session.events()) == [end]  # from now on: it has stopped
    session.delete()
    with pytest.raises(NotFound):
        list(session.events())


# -- errors ---------------------------------------------------------------------------------------


def test_problem_answers_raise_their_errors(server: Server, client: Descent) -> None:
    with pytest.raises(NotFound) as missing:
        client.get_session("no-such-session")
    assert missing.value.status == 404
    assert missing.value.type == "/problems/not-found"
    assert missing.value.title == "Not found"
    assert "no-such-session" in missing.value.detail
    assert missing.value.errors == ()

    with pytest.raises(ValidationFailed) as invalid:
        client.run("x^2", "adam", [1], lr=-1)
    assert invalid.value.status == 422
    assert [(e.loc, e.where) for e in invalid.value.errors] == [
        (("body", "optimizer", "lr"), "body.optimizer.lr")
    ]
    assert invalid.value.raw["errors"][0]["msg"] == invalid.value.errors[0].msg

    with pytest.raises(ValidationFailed) as formula:
        client.analyze("x^2 +", [1])
    assert formula.value.errors[0].loc == ("body", "loss", "expression")
    assert "syntax" in formula.value.detail

    session = client.session("x^2", "sgd", [1], stop={"max_steps": 1})
    session.step()
    with pytest.raises(Conflict) as stopped:
        session.step()
    assert stopped.value.status == 409
    assert "max_steps" in stopped.value.detail
    assert isinstance(stopped.value, DescentError)
    assert isinstance(stopped.value, DescentException)

    with Descent(server.url) as keyless, pytest.raises(Unauthorized) as refused:
        keyless.losses()
    assert refused.value.status == 401

    closed = f"http://127.0.0.1:{free_port()}"
    with Descent(closed, retries=1) as nowhere, pytest.raises(DescentConnectionError) as down:
        nowhere.losses()
    assert down.value.url == closed
    assert "cannot connect" in str(down.value)
    assert not isinstance(down.value, DescentError)


# -- dataset losses -------------------------------------------------------------------------------

LINEAR_DATA = dataset("linear_regression", generate=generate("linear", n=40, seed=3), batch_size=16)
"""A regression on 2 generated features: 3 steps an epoch (16, 16 and 8 examples)."""


def test_a_dataset_run_reports_the_data_the_layout_and_the_epochs(
    client: Descent, raw: httpx.Client
) -> None:
    stop = {"max_epochs": 5, "grad_tol": 0}
    body = {"loss": LINEAR_DATA, "optimizer": {"name": "sgd", "lr": 0.05}, "stop": stop}
    expected = raw.post("/v1/runs", json=body).json()
    run = client.run(LINEAR_DATA, "sgd", lr=0.05, stop=stop)  # no start: the service's zeros
    assert run.raw == expected
    assert run.parameter_names == ["w[0]", "w[1]", "b"]
    assert run.trajectory.params[0] == [0.0, 0.0, 0.0]
    assert (run.status, run.steps) == ("max_steps", 15)
    assert run.dataset == DatasetInfo(
        examples=40, features=2, classes=None, batch_size=16, steps_per_epoch=3, epoch=5.0,
        standardization=None, hessian_method="exact", model_state=None, raw={},
    )  # fmt: skip
    assert run.trajectory.epoch is not None
    assert run.trajectory.epoch[:4] == pytest.approx([0.0, 0.4, 0.8, 1.0])
    assert run.trajectory.epoch[-1] == 5.0
    assert run.trajectory.batch_loss is not None
    assert run.trajectory.batch_loss[0] is None
    assert all(isinstance(b, float) and b > 0 for b in run.trajectory.batch_loss[1:])
    assert len(run.trajectory.batch_loss) == len(run.trajectory) == 16
    assert run.final.loss < run.trajectory.loss[0]
    assert run.analysis is not None
    assert run.analysis.hessian_method == "exact"
    # A start given positionally still works, and analysis=False skips the analysis.
    quiet = client.run(LINEAR_DATA, "sgd", [0, 0, 0], lr=0.05, stop=stop, analysis=False)
    assert quiet.analysis is None
    assert quiet.trajectory == run.trajectory


def test_dataset_losses_take_numpy_arrays_and_send_only_the_fields_given(
    client: Descent, raw: httpx.Client
) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 2)) * np.array([1.0, 100.0])
    y = (X[:, 0] > 0).astype(np.int64)
    spec = dataset("logistic_regression", X, y.reshape(-1, 1), standardize=True, batch_size=4)
    assert spec == {
        "type": "dataset", "model": "logistic_regression", "X": X.tolist(), "y": y.tolist(),
        "standardize": True, "batch_size": 4,
    }  # fmt: skip
    assert all(type(label) is int for label in spec["y"])
    body = {"loss": spec, "optimizer": {"name": "adam", "lr": 0.1}, "stop": {"max_epochs": 2}}
    run = client.run(spec, "adam", lr=0.1, stop={"max_epochs": 2})
    assert run.raw == raw.post("/v1/runs", json=body).json()
    assert run.dataset is not None
    assert run.dataset.classes == 2
    assert run.dataset.standardization is not None
    assert run.dataset.standardization.mean == pytest.approx(X.mean(axis=0).tolist())
    assert run.dataset.standardization.scale == pytest.approx(X.std(axis=0).tolist())
    mlp = dataset("mlp", generate=generate("moons", n=40), hidden=[3], batch_norm=True,
                  task="classification")  # fmt: skip
    net = client.run(mlp, "adam", lr=0.05, stop={"max_epochs": 2})
    assert net.parameter_names is not None
    assert net.parameter_names[6:9] == ["gamma1[0]", "gamma1[1]", "gamma1[2]"]
    assert net.dataset is not None
    assert net.dataset.hessian_method == "central_differences"
    assert net.dataset.model_state is not None
    assert len(net.dataset.model_state.running_var[0]) == 3
    assert net.analysis is not None
    assert net.analysis.hessian_method == "central_differences"
    assert generate("blobs", 90, classes=3) == {"kind": "blobs", "n": 90, "classes": 3}
    with pytest.raises(TypeError, match="reshape"):
        dataset("linear_regression", np.arange(3.0), np.arange(3.0))
    with pytest.raises(TypeError, match="one target per example"):
        dataset("linear_regression", [[1.0], [2.0]], [[1.0, 2.0], [3.0, 4.0]])


def test_a_dataset_session_stepped_twice_equals_one_run(client: Descent) -> None:
    stop = {"max_epochs": 2, "grad_tol": 0}
    session = client.session(LINEAR_DATA, "adam", lr=0.05, stop=stop)
    assert session.state.parameter_names == ["w[0]", "w[1]", "b"]
    assert session.state.dataset is not None
    assert session.state.dataset.epoch == 0.0
    first = session.step(4)
    assert first.trajectory.epoch == pytest.approx([0.4, 0.8, 1.0, 1.4])
    assert first.dataset is not None
    assert first.dataset.epoch == pytest.approx(1.4)
    second = session.step(2)
    assert (second.step, second.status) == (6, "max_steps")
    run = client.run(LINEAR_DATA, "adam", lr=0.05, stop=stop)
    assert second.params == run.final.params
    assert second.dataset == run.dataset
    stored = session.trajectory().trajectory
    assert stored.params == run.trajectory.params
    assert stored.epoch == run.trajectory.epoch
    assert stored.batch_loss == run.trajectory.batch_loss
    assert run.trajectory.epoch is not None
    assert run.trajectory.batch_loss is not None
    points = [e for e in session.events(after=0) if isinstance(e, Points)]
    assert [s for p in points for s in p.steps] == list(range(1, 7))
    assert [b for p in points for b in p.batch_loss or []] == run.trajectory.batch_loss[1:]
    assert [x for p in points for x in p.epoch or []] == run.trajectory.epoch[1:]


def test_a_formula_without_a_start_is_refused_naming_start(client: Descent) -> None:
    with pytest.raises(ValidationFailed) as refused:
        client.run("x^2 + y^2", "adam", lr=0.1)
    assert refused.value.status == 422
    assert [e.loc for e in refused.value.errors] == [("body", "start")]
    assert "start" in refused.value.detail
    with pytest.raises(ValidationFailed) as session:
        client.session("x^2 + y^2", "adam")
    assert session.value.errors[0].loc == ("body", "start")
    formula = client.run("x^2", "sgd", [1.0], lr=0.1, stop={"max_steps": 3})
    assert (formula.parameter_names, formula.dataset) == (None, None)
    assert (formula.trajectory.epoch, formula.trajectory.batch_loss) == (None, None)
    assert Trajectory.from_json(formula.trajectory.raw) == formula.trajectory


# -- the async client -----------------------------------------------------------------------------


def test_the_async_client_does_the_same(server: Server, raw: httpx.Client) -> None:
    expected_run = raw.post("/v1/runs", json=RUN_BODY).json()

    async def flow() -> None:
        async with AsyncDescent(server.url, KEY) as client:
            run = await client.run(QUADRATIC, "adam", [1, 1], lr=0.1, stop={"max_steps": 500})
            assert run.raw == expected_run
            assert (await client.analyze("x^2 - y^2", [0, 0])).classification == "saddle_point"
            batch = await client.run_batch("x^2", ["sgd", "adam"], [[1], [2]])
            assert len(batch) == 4
            assert {o.name for o in await client.optimizers()} >= {"sgd", "adam"}

            session = await client.session(
                QUADRATIC, "sgd", [1, 1], lr=0.05, momentum=0.9, stop={"max_steps": 20}
            )
            watched: list[Any] = []

            async def watch() -> None:
                async for event in session.events(after=0):
                    watched.append(event)

            watcher = asyncio.create_task(watch())
            stepper = await client.get_session(session.id)
            first = await stepper.step(8, idempotency_key="async-once")
            assert await stepper.step(8, idempotency_key="async-once") == first
            await asyncio.sleep(0.3)
            await stepper.run()
            await asyncio.wait_for(watcher, timeout=20)
            assert [s for e in watched[:-1] for s in e.steps] == list(range(1, 21))
            assert isinstance(watched[-1], End)
            assert watched[-1].status == "max_steps"

            same = await client.run(
                QUADRATIC, "sgd", [1, 1], lr=0.05, momentum=0.9, stop={"max_steps": 20}
            )
            stored = await session.trajectory()
            assert stored.trajectory.params == same.trajectory.params
            assert (await session.refresh()).step == 20
            listed = [s.id async for s in client.sessions(page_size=1)]
            assert session.id in listed
            await session.reset()
            await session.delete()
            with pytest.raises(NotFound):
                await session.refresh()
            with pytest.raises(ValidationFailed):
                await client.run("x^2", "adam", [1], lr=-1)
            with pytest.raises(ValidationFailed) as no_start:
                await client.run("x^2", "adam")
            assert no_start.value.errors[0].loc == ("body", "start")

            stop = {"max_epochs": 2, "grad_tol": 0}
            on_data = await client.run(LINEAR_DATA, "adam", lr=0.05, stop=stop)
            assert on_data.parameter_names == ["w[0]", "w[1]", "b"]
            assert on_data.dataset is not None
            assert on_data.dataset.steps_per_epoch == 3
            assert on_data.trajectory.epoch is not None
            assert on_data.trajectory.epoch[-1] == 2.0
            assert on_data.trajectory.batch_loss is not None
            assert on_data.trajectory.batch_loss[-1] is not None
            assert on_data.final.loss < on_data.trajectory.loss[0]
            data_session = await client.session(LINEAR_DATA, "adam", lr=0.05, stop=stop)
            await data_session.step(4)
            stepped = await data_session.step(2)
            assert stepped.params == on_data.final.params
            assert stepped.dataset == on_data.dataset
            await data_session.delete()

    asyncio.run(flow())


# -- pieces that need no server -------------------------------------------------------------------


def test_the_sse_decoder_follows_the_format() -> None:
    decoder = SSEDecoder()
    lines = ["retry: 1000", "", ": keep-alive", "", "id: 7", "event: points", "data: {",
             "data: }", "", "data: x", ""]  # fmt: skip
    events = [e for e in map(decoder.feed, lines) if e is not None]
    assert [(e.event, e.id, e.data) for e in events] == [
        ("points", "7", "{\n}"),
        ("message", "7", "x"),
    ]
    assert decoder.retry == 1000


def test_the_client_imports_only_httpx_and_the_standard_library() -> None:
    package = Path(__file__).resolve().parents[2] / "descent_client"
    allowed = set(sys.stdlib_module_names) | {"httpx", "descent_client", "__future__"}
    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"
    assert (package / "py.typed").exists()
