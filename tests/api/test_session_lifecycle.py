"""PATCH, reset, listing, ETag/If-Match, Idempotency-Key, limits and tenants on sessions."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from service.settings import Settings

BODY: dict[str, Any] = {
    "loss": {"type": "expression", "expression": "x^2 + 10*y^2"},
    "optimizer": {"name": "sgd", "lr": 0.02, "momentum": 0.5},
    "start": [3.0, 1.0],
    "stop": {"grad_tol": 0},
}


def create(client: TestClient, **changes: Any) -> dict[str, Any]:
    response = client.post("/v1/sessions", json=BODY | changes)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def step(client: TestClient, session_id: str, steps: int, **headers: str) -> Any:
    return client.post(f"/v1/sessions/{session_id}/step", json={"steps": steps}, headers=headers)


def test_patch_changes_the_steps_to_come_and_the_count_carries_on(client: TestClient) -> None:
    session_id = create(client)["id"]
    step(client, session_id, 5)
    patched = client.patch(
        f"/v1/sessions/{session_id}",
        json={"optimizer": {"lr": 0.01}, "schedule": {"type": "exponential", "gamma": 0.9}},
    )
    assert patched.status_code == 200
    assert patched.json()["step"] == 5
    assert patched.json()["config"]["optimizer"]["lr"] == 0.01
    assert patched.json()["version"] == 3
    step(client, session_id, 4)
    stored = client.get(f"/v1/sessions/{session_id}/trajectory").json()["trajectory"]
    # The same path by hand: heavy-ball momentum with lr 0.02 for 5 steps, then 0.01·0.9^k.
    theta, buffer = np.array([3.0, 1.0]), None
    for k in range(9):
        grad = np.array([2.0, 20.0]) * theta
        buffer = grad if buffer is None else 0.5 * buffer + grad
        lr = 0.02 if k < 5 else 0.01 * 0.9**k
        theta = theta + -lr * buffer
    np.testing.assert_allclose(stored["params"][-1], theta, rtol=1e-12)
    assert stored["step"] == list(range(10))


def test_patch_loosening_the_stopping_rule_frees_a_stopped_session(client: TestClient) -> None:
    session_id = create(client, stop={"grad_tol": 0, "max_steps": 3})["id"]
    assert step(client, session_id, 10).json()["status"] == "max_steps"
    assert step(client, session_id, 1).status_code == 409
    freed = client.patch(f"/v1/sessions/{session_id}", json={"stop": {"max_steps": 10}})
    assert freed.json()["status"] == "ready"
    assert step(client, session_id, 5).json()["step"] == 8
    tightened = client.patch(f"/v1/sessions/{session_id}", json={"stop": {"grad_tol": 1e9}})
    assert tightened.json()["status"] == "converged"


@pytest.mark.parametrize(
    ("patch", "loc", "fragment"),
    [
        ({"optimizer": {"name": "adam"}}, ["body", "optimizer", "name"], "cannot change kind"),
        ({"optimizer": {"lr": -1}}, ["body", "optimizer", "lr"], "greater than 0"),
        ({"optimizer": {"momentum": 0}}, ["body", "optimizer"], "different state"),
        ({"stop": {"max_steps": "many"}}, ["body", "stop", "max_steps"], "integer"),
    ],
)
def test_bad_patches(
    client: TestClient, patch: dict[str, Any], loc: list[Any], fragment: str
) -> None:
    session_id = create(client)["id"]
    response = client.patch(f"/v1/sessions/{session_id}", json=patch)
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["loc"] == loc
    assert fragment in error["msg"]
    assert client.get(f"/v1/sessions/{session_id}").json()["version"] == 1


def test_reset_starts_over_optionally_elsewhere(client: TestClient) -> None:
    session_id = create(client)["id"]
    step(client, session_id, 7)
    reset = client.post(f"/v1/sessions/{session_id}/reset", json={"start": [1.0, -1.0]})
    assert reset.status_code == 200
    assert (reset.json()["step"], reset.json()["params"]) == (0, [1.0, -1.0])
    assert client.get(f"/v1/sessions/{session_id}/trajectory").json()["trajectory"]["step"] == [0]
    again = client.post(f"/v1/sessions/{session_id}/reset")
    assert again.json()["params"] == [1.0, -1.0]
    assert step(client, session_id, 2).json()["trajectory"]["step"] == [1, 2]


def test_etag_and_if_match(client: TestClient) -> None:
    created = client.post("/v1/sessions", json=BODY)
    assert created.headers["etag"] == '"1"'
    session_id = created.json()["id"]
    stepped = step(client, session_id, 1, **{"If-Match": '"1"'})
    assert stepped.status_code == 200
    assert stepped.headers["etag"] == '"2"'
    stale = step(client, session_id, 1, **{"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["detail"] == "the session is at version 2, not 1"
    assert step(client, session_id, 1, **{"If-Match": 'W/"2"'}).status_code == 200
    assert step(client, session_id, 1, **{"If-Match": "*"}).status_code == 200
    assert step(client, session_id, 1, **{"If-Match": "yesterday"}).status_code == 422
    stale_delete = client.delete(f"/v1/sessions/{session_id}", headers={"If-Match": '"2"'})
    assert stale_delete.status_code == 412
    assert client.get(f"/v1/sessions/{session_id}").headers["etag"] == '"4"'


def test_idempotency_key_steps_once(client: TestClient) -> None:
    session_id = create(client)["id"]
    first = step(client, session_id, 3, **{"Idempotency-Key": "k-1"})
    retried = step(client, session_id, 3, **{"Idempotency-Key": "k-1"})
    assert retried.status_code == 200
    assert retried.json() == first.json()
    assert client.get(f"/v1/sessions/{session_id}").json()["step"] == 3
    reused = step(client, session_id, 4, **{"Idempotency-Key": "k-1"})
    assert reused.status_code == 422
    assert reused.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert step(client, session_id, 3, **{"Idempotency-Key": "k-2"}).json()["step"] == 6


def test_concurrent_retries_of_one_key_step_once(client: TestClient) -> None:
    session_id = create(client)["id"]
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(
            pool.map(lambda _: step(client, session_id, 2, **{"Idempotency-Key": "same"}), range(6))
        )
    assert {a.status_code for a in answers} == {200}
    assert len({a.text for a in answers}) == 1
    assert client.get(f"/v1/sessions/{session_id}").json()["step"] == 2


def test_idempotent_create(client: TestClient) -> None:
    first = client.post("/v1/sessions", json=BODY, headers={"Idempotency-Key": "create-1"})
    session_id = first.json()["id"]
    step(client, session_id, 2)
    retried = client.post("/v1/sessions", json=BODY, headers={"Idempotency-Key": "create-1"})
    assert retried.status_code == 201
    assert retried.json() == first.json()
    other = client.post(
        "/v1/sessions", json=BODY | {"start": [0, 1]}, headers={"Idempotency-Key": "create-1"}
    )
    assert other.status_code == 422
    assert len(client.get("/v1/sessions").json()["sessions"]) == 1


def test_listing_pages_through_every_session(client: TestClient) -> None:
    made = [create(client)["id"] for _ in range(7)]
    seen, cursor = [], None
    while True:
        page = client.get(
            "/v1/sessions", params={"limit": 3} | ({"cursor": cursor} if cursor else {})
        )
        assert page.status_code == 200
        seen += [s["id"] for s in page.json()["sessions"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == made
    bad = client.get("/v1/sessions", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["query", "cursor"]


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'd.db'}", max_sessions=2, max_session_points=6
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_session_count_and_points_limits(limited: TestClient) -> None:
    first = create(limited)["id"]
    create(limited)
    full = limited.post("/v1/sessions", json=BODY)
    assert full.status_code == 429
    assert "maximum of 2 sessions" in full.json()["detail"]
    too_many = step(limited, first, 6)
    assert too_many.status_code == 409
    assert "can store 5 more points" in too_many.json()["detail"]
    assert step(limited, first, 5).status_code == 200
    assert "stores its maximum of 6 points" in step(limited, first, 1).json()["detail"]
    limited.delete(f"/v1/sessions/{first}")
    assert limited.post("/v1/sessions", json=BODY).status_code == 201


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(store_url=f"sqlite:///{tmp_path / 'd.db'}", api_keys="alpha, beta")
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_api_keys_guard_v1_and_keep_tenants_apart(keyed: TestClient) -> None:
    anonymous = keyed.post("/v1/sessions", json=BODY)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert keyed.get("/healthz").status_code == 200
    assert keyed.post("/v1/sessions", json=BODY, headers={"X-API-Key": "gamma"}).status_code == 401
    alpha = {"Authorization": "Bearer alpha"}
    session_id = keyed.post("/v1/sessions", json=BODY, headers=alpha).json()["id"]
    assert keyed.get(f"/v1/sessions/{session_id}", headers=alpha).status_code == 200
    beta = {"X-API-Key": "beta"}
    assert keyed.get(f"/v1/sessions/{session_id}", headers=beta).status_code == 404
    assert keyed.post(f"/v1/sessions/{session_id}/step", json={}, headers=beta).status_code == 404
    assert keyed.delete(f"/v1/sessions/{session_id}", headers=beta).status_code == 404
    assert keyed.get("/v1/sessions", headers=beta).json()["sessions"] == []
    assert len(keyed.get("/v1/sessions", headers=alpha).json()["sessions"]) == 1


def test_cors_for_configured_origins(tmp_path: Path) -> None:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'd.db'}", cors_origins="https://viz.example"
    )
    with TestClient(create_app(settings)) as client:
        preflight = client.options(
            "/v1/runs",
            headers={"Origin": "https://viz.example", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://viz.example"
        other = client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
