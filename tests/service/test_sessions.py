"""Session use cases: lifecycle, exact resumption and exactly-once concurrent steps."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from core.datasets import Kind, generate
from service.errors import Conflict, LimitExceeded, NotFound
from service.runs import run_optimization
from service.sessions import SessionService
from service.settings import Settings
from service.specs import RunSpec, SessionPatch
from service.stores import SQLiteStore
from tests.helpers import InProcessCompiler

ROSENBROCK: dict[str, Any] = {
    "loss": {"type": "expression", "expression": "(1 - x)**2 + 100*(y - x**2)**2"},
    "optimizer": {"name": "adam", "lr": 0.02, "amsgrad": True},
    "start": [-1.2, 1.0],
    "stop": {"grad_tol": 0},
}


def spec(**changes: Any) -> RunSpec:
    return RunSpec.model_validate(ROSENBROCK | changes)


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(tmp_path / "sessions.db")


@pytest.fixture
def sessions(store: SQLiteStore) -> SessionService:
    return SessionService(store, InProcessCompiler(), Settings())


def reference(steps: int) -> np.ndarray:
    body = ROSENBROCK | {"stop": {"grad_tol": 0, "max_steps": steps}}
    outcome = run_optimization(RunSpec.model_validate(body), InProcessCompiler(), Settings())
    return np.asarray(outcome.trajectory.params)


def test_create_step_read_and_delete(sessions: SessionService) -> None:
    session = sessions.create(spec())
    assert session.state["step"] == 0
    assert session.state["status"] == "ready"
    assert session.state["variables"] == ["x", "y"]
    assert session.record.version == 1
    outcome = sessions.step(session.record.id, 5)
    np.testing.assert_array_equal(outcome.points.step, [1, 2, 3, 4, 5])
    assert outcome.session.state["step"] == 5
    assert outcome.session.record.version == 2
    again = sessions.get(session.record.id)
    assert again.state == outcome.session.state
    sessions.delete(session.record.id)
    with pytest.raises(NotFound):
        sessions.get(session.record.id)
    with pytest.raises(NotFound):
        sessions.step(session.record.id, 1)


def test_stepping_in_pieces_equals_one_run(sessions: SessionService) -> None:
    session_id = sessions.create(spec()).record.id
    for size in (7, 1, 12, 30):
        sessions.step(session_id, size)
    _, columns, _ = sessions.trajectory(session_id, 0, None, 1)
    np.testing.assert_array_equal(columns.step, np.arange(51))
    np.testing.assert_array_equal(columns.params, reference(50))


def test_trajectory_slices_and_thinning(sessions: SessionService) -> None:
    session_id = sessions.create(spec()).record.id
    sessions.step(session_id, 10)
    sessions.step(session_id, 10)
    _, columns, _ = sessions.trajectory(session_id, 3, 17, 5)
    np.testing.assert_array_equal(columns.step, [5, 10, 15, 17])
    np.testing.assert_array_equal(columns.params, reference(20)[[5, 10, 15, 17]])


def test_concurrent_steps_are_each_applied_once(sessions: SessionService) -> None:
    session_id = sessions.create(spec()).record.id
    errors: list[BaseException] = []

    def step() -> None:
        try:
            for _ in range(3):
                sessions.step(session_id, 2)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=step) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    session = sessions.get(session_id)
    assert session.state["step"] == 48
    assert session.record.version == 1 + 24
    _, columns, _ = sessions.trajectory(session_id, 0, None, 1)
    np.testing.assert_array_equal(columns.step, np.arange(49))
    np.testing.assert_array_equal(columns.params, reference(48))


def test_two_services_on_one_file_serialise_their_steps(tmp_path: Path) -> None:
    """Two workers (separate stores and locks) sharing one database apply every step once."""
    path = tmp_path / "shared.db"
    workers = [SessionService(SQLiteStore(path), InProcessCompiler(), Settings()) for _ in "ab"]
    session_id = workers[0].create(spec()).record.id

    def step(worker: SessionService) -> None:
        for _ in range(10):
            worker.step(session_id, 1)

    threads = [threading.Thread(target=step, args=(w,)) for w in workers for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert workers[1].get(session_id).state["step"] == 40
    _, columns, _ = workers[1].trajectory(session_id, 0, None, 1)
    np.testing.assert_array_equal(columns.params, reference(40))


@pytest.fixture
def workers(tmp_path: Path) -> list[SessionService]:
    """Two workers' services on one file: each remembers the sessions it last stepped."""
    path = tmp_path / "shared.db"
    return [SessionService(SQLiteStore(path), InProcessCompiler(), Settings()) for _ in "ab"]


def test_a_step_from_a_remembered_session_changed_elsewhere_starts_from_the_store(
    workers: list[SessionService],
) -> None:
    a, b = workers
    session_id = a.create(spec()).record.id
    for turn, size in enumerate((3, 1, 7, 2, 5)):
        outcome = (a, b)[turn % 2].step(session_id, size)
        assert outcome.session.record.version == turn + 2
        assert outcome.points.step[0] == sum((3, 1, 7, 2, 5)[:turn]) + 1
    _, columns, _ = b.trajectory(session_id, 0, None, 1)
    np.testing.assert_array_equal(columns.params, reference(18))
    # a remembers version 6; b is at 6 too after a's last step, then steps to 7
    b.step(session_id, 1)
    outcome = a.step(session_id, 1, if_match=7)  # not refused for a's remembered version
    assert (outcome.session.record.version, outcome.session.state["step"]) == (8, 20)
    # found changed elsewhere, it is no longer kept: its steps come from both
    assert session_id not in a._recent
    a.step(session_id, 1)
    assert session_id not in a._recent


def test_a_remembered_status_does_not_decide_whether_a_session_steps(
    workers: list[SessionService],
) -> None:
    a, b = workers
    session_id = a.create(spec(stop={"grad_tol": 0, "max_steps": 4})).record.id
    a.step(session_id, 4)  # a remembers it stopped at max_steps
    b.patch(session_id, SessionPatch(stop={"max_steps": 10}))
    assert a.step(session_id, 2).session.state["step"] == 6
    b.step(session_id, 4)  # stopped again at 10, which a does not know
    with pytest.raises(Conflict, match="max_steps"):
        a.step(session_id, 1)
    assert b.get(session_id).state["step"] == 10


def test_a_remembered_session_is_not_stepped_after_it_is_deleted_elsewhere(
    workers: list[SessionService],
) -> None:
    a, b = workers
    session_id = a.create(spec()).record.id
    a.step(session_id, 1)
    b.delete(session_id)
    with pytest.raises(NotFound):
        a.step(session_id, 1)


def test_a_remembered_session_is_only_stepped_for_its_owner(sessions: SessionService) -> None:
    session_id = sessions.create(spec(), owner="k1").record.id
    sessions.step(session_id, 1, owner="k1")
    with pytest.raises(NotFound):
        sessions.step(session_id, 1, owner="k2")
    assert sessions.get(session_id, owner="k1").state["step"] == 1


def test_a_remembered_session_expires_all_the_same(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "sessions.db", idle_ttl=0.2)
    sessions = SessionService(store, InProcessCompiler(), Settings())
    session_id = sessions.create(spec()).record.id
    sessions.step(session_id, 1)
    time.sleep(0.3)
    with pytest.raises(NotFound):
        sessions.step(session_id, 1)


@pytest.mark.parametrize(
    ("model", "kind"),
    [("linear_regression", "linear"), ("logistic_regression", "moons"),
     ("softmax_regression", "blobs")],
)  # fmt: skip
@pytest.mark.parametrize("inline", [False, True])
def test_a_model_session_steps_on_in_another_process(
    model: str, kind: Kind, inline: bool, workers: list[SessionService]
) -> None:
    """Every model's stored spec builds again where it was not made (a restart, a replica),
    also with data inline and too large to keep parsed as the small specs are."""
    loss: dict[str, Any] = {
        "type": "dataset", "model": model, "generate": {"kind": kind, "n": 40, "seed": 3},
        "batch_size": 8, "seed": 5,
    }  # fmt: skip
    if inline:
        x, y = generate(kind, n=40, seed=3)
        repeats = 1 + 70_000 // len(orjson.dumps(x.tolist()))  # past the 64 KB kept parsed
        del loss["generate"]
        loss |= {"X": np.tile(x, (repeats, 1)).tolist(), "y": np.tile(y, repeats).tolist()}
    body = spec(loss=loss, start=None, optimizer={"name": "sgd", "lr": 0.1})
    a, b = workers
    session_id = a.create(body).record.id
    a.step(session_id, 3)
    for _ in range(2):
        b.step(session_id, 2)
    whole = run_optimization(
        spec(loss=loss, start=None, optimizer={"name": "sgd", "lr": 0.1},
             stop={"grad_tol": 0, "max_steps": 7}),
        InProcessCompiler(), Settings(),
    )  # fmt: skip
    _, columns, _ = a.trajectory(session_id, 0, None, 1)
    np.testing.assert_array_equal(columns.params, whole.trajectory.params)


def test_only_small_sessions_are_remembered(sessions: SessionService) -> None:
    small = sessions.create(spec()).record.id
    model = {
        "type": "dataset",
        "model": "linear_regression",
        "generate": {"kind": "linear", "n": 20, "features": 70},
    }
    large = sessions.create(spec(loss=model, start=None)).record.id
    for session_id in (small, large):
        sessions.step(session_id, 1)
    assert set(sessions._recent) == {small}
    assert len(sessions.get(large).state["params"]) == 71


def test_a_stopped_session_refuses_steps(sessions: SessionService) -> None:
    body = spec(stop={"grad_tol": 0, "max_steps": 3})
    session_id = sessions.create(body).record.id
    outcome = sessions.step(session_id, 10)
    assert outcome.session.state["status"] == "max_steps"
    assert len(outcome.points) == 3
    with pytest.raises(Conflict, match="max_steps"):
        sessions.step(session_id, 1)


def test_a_session_starting_at_a_critical_point_is_converged(sessions: SessionService) -> None:
    session = sessions.create(spec(start=[1.0, 1.0], stop={"grad_tol": 1e-9}))
    assert session.state["status"] == "converged"
    assert session.state["message"].startswith("Converged: the gradient norm fell to 1e-09")


def test_the_server_time_limit_pauses_without_ending_the_session(store: SQLiteStore) -> None:
    sessions = SessionService(store, InProcessCompiler(), Settings(request_time_limit=1e-9))
    session_id = sessions.create(spec()).record.id
    outcome = sessions.step(session_id, 1000)
    assert outcome.session.state["status"] == "ready"
    assert "per-request time limit" in outcome.session.state["message"]
    assert 1 <= outcome.session.state["step"] < 1000


def test_the_session_time_budget_ends_it(sessions: SessionService) -> None:
    session_id = sessions.create(spec(stop={"grad_tol": 0, "time_limit": 1e-9})).record.id
    assert sessions.step(session_id, 1000).session.state["status"] == "time_limit"


def test_steps_per_request_are_limited(store: SQLiteStore) -> None:
    sessions = SessionService(store, InProcessCompiler(), Settings(max_steps_per_request=5))
    session_id = sessions.create(spec()).record.id
    with pytest.raises(LimitExceeded, match="steps: 6 exceeds the limit of 5"):
        sessions.step(session_id, 6)
