"""The Redis store against a real ``redis-server``: the SQLite store's behaviours, durability
across a SIGKILL of Redis, and replicas (services, then uvicorn processes) sharing sessions."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import numpy as np
import orjson
import pytest
import redis

from service.errors import StoreUnavailable
from service.runs import run_optimization
from service.sessions import SessionService
from service.settings import Settings
from service.specs import RunSpec
from service.stores import Chunk, SaveResult, SessionRecord, open_store
from service.stores.redis import RedisStore
from tests.helpers import InProcessCompiler
from tests.redis_server import RedisServer, running_redis
from tests.server import Server, running_server

BASE = datetime.now(UTC)
NOW = BASE.isoformat(timespec="milliseconds")


def stamp(version: int) -> str:
    """A write time that increases with the version, now-ish (stores expire idle sessions)."""
    return (BASE + timedelta(milliseconds=version)).isoformat(timespec="milliseconds")


def record(version: int, step: int, session_id: str = "s1") -> SessionRecord:
    return SessionRecord(session_id, version, NOW, stamp(version), {"k": 1}, {"step": step})


def chunk(first: int, last: int) -> Chunk:
    return Chunk(first, last, {"step": list(range(first, last + 1))})


def spans(chunks: list[Chunk]) -> list[tuple[int, int]]:
    return [(c.first_step, c.last_step) for c in chunks]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with running_redis(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def store(redis_server: RedisServer) -> Iterator[RedisStore]:
    opened = RedisStore(redis_server.url)
    yield opened
    opened.close()


@pytest.fixture
def raw(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


# The SQLite store's behaviours.


def test_compare_and_set_applies_only_on_the_expected_version(store: RedisStore) -> None:
    store.create(record(1, 0), chunk(0, 0))
    assert SaveResult.SAVED is store.save(record(2, 3), 1, chunk(1, 3), reset=False)
    assert SaveResult.STALE is store.save(record(2, 9), 1, chunk(4, 9), reset=False)
    assert SaveResult.STALE is store.save(record(4, 9), 3, chunk(4, 9), reset=False)
    stored = store.get("s1")
    assert stored == record(2, 3)
    assert spans(store.chunks("s1", 0, None)) == [(0, 0), (1, 3)]


def test_a_save_with_the_same_spec_writes_only_the_rest(store: RedisStore) -> None:
    store.create(record(1, 0), chunk(0, 0))
    changed = SessionRecord("s1", 2, NOW, stamp(2), {"k": 2}, {"step": 1})
    assert SaveResult.SAVED is store.save(changed, 1, chunk(1, 1), reset=False, same_spec=True)
    stored = store.get("s1")
    assert stored is not None
    assert (stored.version, stored.spec, stored.state) == (2, {"k": 1}, {"step": 1})
    assert SaveResult.STALE is store.save(changed, 1, None, reset=False, same_spec=True)
    assert SaveResult.SAVED is store.save(record(3, 1), 2, None, reset=False)
    assert store.get("s1") == record(3, 1)


def test_chunks_overlapping_a_range(store: RedisStore) -> None:
    store.create(record(1, 0), chunk(0, 0))
    store.save(record(2, 10), 1, chunk(1, 10), reset=False)
    store.save(record(3, 20), 2, chunk(11, 20), reset=False)
    assert [c.first_step for c in store.chunks("s1", 5, 12)] == [1, 11]
    assert [c.first_step for c in store.chunks("s1", 15, None)] == [11]
    assert [c.first_step for c in store.chunks("s1", 10, 10)] == [1]
    assert [c.first_step for c in store.chunks("s1", 0, 0)] == [0]
    assert store.chunks("s1", 21, None) == []
    assert store.chunks("nobody", 0, None) == []


def test_a_long_chunk_is_found_from_deep_inside_it(store: RedisStore) -> None:
    store.create(record(1, 0), chunk(0, 0))
    store.save(record(2, 1000), 1, chunk(1, 1000), reset=False)
    for version in range(3, 8):
        step = 1000 + version - 2
        store.save(record(version, step), version - 1, chunk(step, step), reset=False)
    assert spans(store.chunks("s1", 999, 1002)) == [(1, 1000), (1001, 1001), (1002, 1002)]
    assert spans(store.chunks("s1", 1004, None)) == [(1004, 1004), (1005, 1005)]


def test_reset_replaces_the_trajectory(store: RedisStore) -> None:
    store.create(record(1, 0), chunk(0, 0))
    store.save(record(2, 5), 1, chunk(1, 5), reset=False)
    assert SaveResult.SAVED is store.save(record(3, 0), 2, Chunk(0, 0, {"step": [0]}), reset=True)
    assert spans(store.chunks("s1", 0, None)) == [(0, 0)]
    assert SaveResult.SAVED is store.save(record(4, 2), 3, chunk(1, 2), reset=False)
    assert spans(store.chunks("s1", 2, None)) == [(1, 2)]


def test_a_save_without_points_changes_only_the_record(store: RedisStore) -> None:
    store.create(record(1, 0), chunk(0, 0))
    assert SaveResult.SAVED is store.save(record(2, 0), 1, None, reset=False)
    assert store.get("s1") == record(2, 0)
    assert spans(store.chunks("s1", 0, None)) == [(0, 0)]


def test_a_chunk_stored_twice_is_refused_and_nothing_written(store: RedisStore) -> None:
    store.create(record(1, 0), chunk(0, 0))
    store.save(record(2, 3), 1, chunk(1, 3), reset=False)
    with pytest.raises(redis.exceptions.ResponseError, match="already stored"):
        store.save(record(3, 3), 2, chunk(1, 3), reset=False)
    assert store.get("s1") == record(2, 3)


def test_delete_and_missing_sessions(store: RedisStore, raw: redis.Redis) -> None:
    store.create(record(1, 0), chunk(0, 0))
    store.save(record(2, 4), 1, chunk(1, 4), reset=False)
    assert store.delete("s1")
    assert not store.delete("s1")
    assert store.get("s1") is None
    assert store.chunks("s1", 0, None) == []
    assert SaveResult.STALE is store.save(record(2, 1), 1, None, reset=False)
    assert raw.keys("*") == []


def test_create_refuses_an_existing_id(store: RedisStore) -> None:
    store.create(record(1, 0), chunk(0, 0))
    store.save(record(2, 3), 1, chunk(1, 3), reset=False)
    assert not store.create(record(1, 0), Chunk(0, 0, {"step": [7]}))
    assert store.get("s1") == record(2, 3)
    assert spans(store.chunks("s1", 0, None)) == [(0, 0), (1, 3)]


def test_a_retried_save_is_applied_once(store: RedisStore) -> None:
    """What redis-py's retry does after a lost reply: the same call, sent again."""
    store.create(record(1, 0), chunk(0, 0))
    assert SaveResult.SAVED is store.save_with_token(record(2, 3), 1, chunk(1, 3), False, "call-a")
    assert SaveResult.SAVED is store.save_with_token(record(2, 3), 1, chunk(1, 3), False, "call-a")
    assert SaveResult.STALE is store.save_with_token(record(2, 3), 1, chunk(1, 3), False, "call-b")
    assert store.get("s1") == record(2, 3)
    assert spans(store.chunks("s1", 0, None)) == [(0, 0), (1, 3)]


def test_numpy_columns_are_stored_as_json(store: RedisStore, raw: redis.Redis) -> None:
    columns = {"step": np.arange(1, 4), "params": np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 1e-300]])}
    store.create(record(1, 0), chunk(0, 0))
    store.save(record(2, 3), 1, Chunk(1, 3, columns), reset=False)
    (found,) = store.chunks("s1", 2, 2)
    assert found.columns == {"step": [1, 2, 3], "params": [[0.1, 0.2], [0.3, 0.4], [0.5, 1e-300]]}
    session_key, chunks_key = store.keys("s1")
    assert (session_key, chunks_key) == ("descent:session:{s1}", "descent:chunks:{s1}")
    fields = cast(dict[bytes, bytes], raw.hgetall(session_key))
    assert sorted(fields) == [b"created_at", b"owner", b"span", b"spec", b"state", b"token",
                              b"updated_at", b"version"]  # fmt: skip
    assert orjson.loads(fields[b"spec"]) == {"k": 1}
    assert orjson.loads(fields[b"state"]) == {"step": 3}
    members = cast(list[tuple[bytes, float]], raw.zrange(chunks_key, 0, -1, withscores=True))
    assert [score for _, score in members] == [0.0, 1.0]
    assert orjson.loads(members[1][0])["last_step"] == 3


def test_prefixes_keep_deployments_apart(redis_server: RedisServer) -> None:
    blue, green = RedisStore(redis_server.url, "blue"), RedisStore(redis_server.url, "green")
    blue.create(record(1, 0), chunk(0, 0))
    assert green.get("s1") is None
    green.create(record(1, 5), chunk(0, 0))
    assert blue.get("s1") == record(1, 0)
    blue.close()
    green.close()


def test_data_survives_reopening(redis_server: RedisServer) -> None:
    first = RedisStore(redis_server.url)
    first.create(record(1, 0), chunk(0, 0))
    first.close()
    again = RedisStore(redis_server.url)
    stored = again.get("s1")
    assert stored is not None
    assert stored.spec == {"k": 1}
    again.close()


def test_acknowledged_writes_survive_a_sigkill_of_redis(redis_server: RedisServer) -> None:
    """With appendfsync always, what Redis acknowledged is in the AOF on disk."""
    store = RedisStore(redis_server.url)
    store.create(record(1, 0), chunk(0, 0))
    for version in range(2, 12):
        saved = store.save(record(version, version), version - 1, chunk(version, version), False)
        assert saved is SaveResult.SAVED
    redis_server.kill()
    redis_server.start()
    assert store.get("s1") == record(11, 11)
    assert len(store.chunks("s1", 0, None)) == 11
    store.close()


def test_closed_store_is_unavailable(store: RedisStore) -> None:
    store.ping()
    store.close()
    store.close()
    with pytest.raises(StoreUnavailable, match="closed"):
        store.ping()
    with pytest.raises(StoreUnavailable):
        store.get("s1")


def test_a_stopped_server_is_unavailable_and_recovers(redis_server: RedisServer) -> None:
    store = RedisStore(redis_server.url)
    store.create(record(1, 0), chunk(0, 0))
    redis_server.stop()
    began = time.monotonic()
    calls: list[Callable[[], object]] = [
        store.ping,
        lambda: store.get("s1"),
        lambda: store.create(record(1, 0, "s2"), chunk(0, 0)),
        lambda: store.save(record(2, 1), 1, chunk(1, 1), reset=False),
        lambda: store.chunks("s1", 0, None),
        lambda: store.delete("s1"),
    ]
    for call in calls:
        with pytest.raises(StoreUnavailable, match="Redis does not answer"):
            call()
    assert time.monotonic() - began < 10
    redis_server.start()
    store.ping()
    assert SaveResult.SAVED is store.save(record(2, 1), 1, chunk(1, 1), reset=False)
    store.close()


def test_open_store_dispatches_redis_urls(redis_server: RedisServer) -> None:
    opened = open_store(Settings(store_url=redis_server.url))
    assert isinstance(opened, RedisStore)
    opened.ping()
    opened.close()
    with pytest.raises(ValueError, match="redis://host:port/db"):
        open_store(Settings(store_url="mongodb://localhost"))


# Replicas sharing one Redis, through the session use cases.

ROSENBROCK: dict[str, Any] = {
    "loss": {"type": "expression", "expression": "(1 - x)**2 + 100*(y - x**2)**2"},
    "optimizer": {"name": "adam", "lr": 0.02, "amsgrad": True},
    "start": [-1.2, 1.0],
    "stop": {"grad_tol": 0},
}


def reference(steps: int) -> np.ndarray:
    body = ROSENBROCK | {"stop": {"grad_tol": 0, "max_steps": steps}}
    outcome = run_optimization(RunSpec.model_validate(body), InProcessCompiler(), Settings())
    return np.asarray(outcome.trajectory.params)


@pytest.fixture
def replicas(redis_server: RedisServer) -> Iterator[list[SessionService]]:
    stores = [RedisStore(redis_server.url) for _ in "ab"]
    yield [SessionService(store, InProcessCompiler(), Settings()) for store in stores]
    for store in stores:
        store.close()


def test_two_replicas_stepping_alternately_equal_one_run(replicas: list[SessionService]) -> None:
    session_id = replicas[0].create(RunSpec.model_validate(ROSENBROCK)).record.id
    for turn, size in enumerate((3, 1, 7, 2, 5, 4, 8)):
        outcome = replicas[turn % 2].step(session_id, size)
        assert outcome.session.record.version == turn + 2
    session, columns, _ = replicas[1].trajectory(session_id, 0, None, 1)
    assert (session.state["step"], session.record.version) == (30, 8)
    np.testing.assert_array_equal(columns.step, np.arange(31))
    np.testing.assert_array_equal(columns.params, reference(30))


def test_two_replicas_stepping_concurrently_apply_each_step_once(
    replicas: list[SessionService],
) -> None:
    session_id = replicas[0].create(RunSpec.model_validate(ROSENBROCK)).record.id

    def step(replica: SessionService) -> list[int]:
        taken: list[int] = []
        for _ in range(4):
            taken.extend(int(s) for s in replica.step(session_id, 2).points.step)
        return taken

    with ThreadPoolExecutor(max_workers=6) as pool:
        answered = list(pool.map(step, [replica for replica in replicas for _ in range(3)]))
    assert sorted(s for taken in answered for s in taken) == list(range(1, 49))
    session, columns, _ = replicas[0].trajectory(session_id, 0, None, 1)
    assert (session.state["step"], session.record.version) == (48, 1 + 24)
    np.testing.assert_array_equal(columns.step, np.arange(49))
    np.testing.assert_array_equal(columns.params, reference(48))


# Two uvicorn processes, one Redis.

BODY: dict[str, Any] = {
    "loss": {"type": "expression", "expression": "(1 - x)^2 + 100*(y - x^2)^2 + 0.1*sin(x*y)"},
    "optimizer": {"name": "adam", "lr": 0.03, "amsgrad": True, "weight_decay": 0.01},
    "schedule": {"type": "cosine", "t_max": 20, "eta_min": 0.001},
    "start": [-1.2, 1.0],
    "stop": {"grad_tol": 0},
}


def uninterrupted(url: str, steps: int) -> list[list[float]]:
    body = BODY | {"stop": {"grad_tol": 0, "max_steps": steps}}
    answer = httpx.post(f"{url}/v1/runs", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    params: list[list[float]] = answer.json()["trajectory"]["params"]
    return params


def stored_trajectory(url: str, session_id: str) -> dict[str, Any]:
    answer = httpx.get(f"{url}/v1/sessions/{session_id}/trajectory", timeout=30)
    assert answer.status_code == 200, answer.text
    trajectory: dict[str, Any] = answer.json()
    return trajectory


def step_until_refused(url: str, session_id: str, acknowledged: list[dict[str, Any]]) -> None:
    """Steps through ``url`` until the server goes away; at most 20 requests."""
    with httpx.Client(base_url=url, timeout=30) as http:
        for _ in range(20):
            try:
                answer = http.post(f"/v1/sessions/{session_id}/step", json={"steps": 5})
            except httpx.TransportError:
                return
            assert answer.status_code == 200, answer.text
            acknowledged.append(answer.json())


@pytest.mark.slow
def test_two_app_servers_share_sessions_and_survive_a_replica_kill(
    redis_server: RedisServer,
) -> None:
    env = {"DESCENT_STORE_URL": redis_server.url}
    with running_server(env) as survivor:
        doomed = Server(env)
        try:
            created = httpx.post(f"{doomed.url}/v1/sessions", json=BODY, timeout=30)
            assert created.status_code == 201, created.text
            session_id = created.json()["id"]
            acknowledged: list[dict[str, Any]] = []
            for turn in range(8):
                server = (doomed, survivor)[turn % 2]
                answer = httpx.post(
                    f"{server.url}/v1/sessions/{session_id}/step", json={"steps": 3}, timeout=30
                )
                assert answer.status_code == 200, answer.text
                acknowledged.append(answer.json())
            assert [a["version"] for a in acknowledged] == list(range(2, 10))
            stored = stored_trajectory(doomed.url, session_id)
            assert stored["trajectory"]["step"] == list(range(25))
            np.testing.assert_array_equal(
                stored["trajectory"]["params"], uninterrupted(survivor.url, 24)
            )

            # SIGKILL the replica while it is answering a stream of step requests.
            with ThreadPoolExecutor(max_workers=1) as pool:
                stepping = pool.submit(step_until_refused, doomed.url, session_id, acknowledged)
                deadline = time.monotonic() + 20
                while len(acknowledged) < 11 and time.monotonic() < deadline:
                    time.sleep(0.005)
                doomed.kill()
                stepping.result()
        finally:
            doomed.stop()

        state = httpx.get(f"{survivor.url}/v1/sessions/{session_id}", timeout=30).json()
        applied = state["version"] - 1
        assert state["version"] >= acknowledged[-1]["version"]
        assert state["step"] == 3 * 8 + 5 * (applied - 8)
        kept = stored_trajectory(survivor.url, session_id)["trajectory"]
        for acked in acknowledged:  # every acknowledged point is stored as it was answered
            points = acked["trajectory"]
            indices = points["step"]
            assert [kept["step"][i] for i in indices] == indices
            assert [kept["params"][i] for i in indices] == points["params"]

        total = 200
        more = httpx.post(
            f"{survivor.url}/v1/sessions/{session_id}/step",
            json={"steps": total - state["step"]},
            timeout=30,
        )
        assert more.status_code == 200, more.text
        assert more.json()["step"] == total
        final = stored_trajectory(survivor.url, session_id)
        assert final["trajectory"]["step"] == list(range(total + 1))
        np.testing.assert_array_equal(
            final["trajectory"]["params"], uninterrupted(survivor.url, total)
        )
