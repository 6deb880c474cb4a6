"""The session endpoints."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

BODY: dict[str, Any] = {
    "loss": {"type": "expression", "expression": "(1 - x)^2 + 100*(y - x^2)^2"},
    "optimizer": {"name": "adam", "lr": 0.05, "beta1": 0.8},
    "start": [-1.2, 1.0],
    "stop": {"grad_tol": 0},
}


def create(client: TestClient, **changes: Any) -> dict[str, Any]:
    response = client.post("/v1/sessions", json=BODY | changes)
    assert response.status_code == 201
    body: dict[str, Any] = response.json()
    assert response.headers["location"] == f"/v1/sessions/{body['id']}"
    return body


def whole_run(client: TestClient, steps: int) -> np.ndarray:
    body = BODY | {"stop": {"grad_tol": 0, "max_steps": steps}}
    return np.array(client.post("/v1/runs", json=body).json()["trajectory"]["params"])


def test_create_returns_the_state_at_step_zero(client: TestClient) -> None:
    body = create(client)
    assert body["step"] == 0
    assert body["status"] == "ready"
    assert body["version"] == 1
    assert body["params"] == [-1.2, 1.0]
    assert body["loss"] == pytest.approx(24.2)
    assert body["grad"] == pytest.approx([-215.6, -88.0])
    assert body["config"]["optimizer"] == {
        "name": "adam", "lr": 0.05, "beta1": 0.8, "beta2": 0.999, "eps": 1e-8,
        "weight_decay": 0.0, "amsgrad": False, "bias_correction": True,
    }  # fmt: skip


def test_step_get_trajectory_delete(client: TestClient) -> None:
    session_id = create(client)["id"]
    first = client.post(f"/v1/sessions/{session_id}/step", json={"steps": 4})
    assert first.status_code == 200
    assert first.json()["trajectory"]["step"] == [1, 2, 3, 4]
    second = client.post(f"/v1/sessions/{session_id}/step", json={})
    assert second.json()["step"] == 5
    assert second.json()["version"] == 3
    state = client.get(f"/v1/sessions/{session_id}")
    assert state.status_code == 200
    assert state.json()["params"] == second.json()["params"]

    whole = whole_run(client, 5)
    trajectory = client.get(f"/v1/sessions/{session_id}/trajectory").json()["trajectory"]
    assert trajectory["step"] == [0, 1, 2, 3, 4, 5]
    np.testing.assert_array_equal(trajectory["params"], whole)
    sliced = client.get(f"/v1/sessions/{session_id}/trajectory?start=1&end=4&every=2").json()
    assert sliced["trajectory"]["step"] == [2, 4]

    assert client.delete(f"/v1/sessions/{session_id}").status_code == 204
    for method, path in [("GET", ""), ("POST", "/step"), ("GET", "/trajectory"), ("DELETE", "")]:
        gone = client.request(method, f"/v1/sessions/{session_id}{path}", json={"steps": 1})
        assert gone.status_code == 404
        assert gone.json()["detail"] == f"no session with id '{session_id}'"


def test_a_stopped_session_answers_get_but_refuses_steps(client: TestClient) -> None:
    session_id = create(client, stop={"grad_tol": 0, "max_steps": 2})["id"]
    stepped = client.post(f"/v1/sessions/{session_id}/step", json={"steps": 5}).json()
    assert stepped["status"] == "max_steps"
    assert stepped["trajectory"]["step"] == [1, 2]
    refused = client.post(f"/v1/sessions/{session_id}/step", json={"steps": 1})
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert "PATCH its stopping rule or reset it" in refused.json()["detail"]
    assert client.get(f"/v1/sessions/{session_id}").json()["status"] == "max_steps"


def test_a_diverging_session_keeps_its_last_finite_point(client: TestClient) -> None:
    session_id = create(
        client, loss={"type": "expression", "expression": "x^2 + y^2"},
        optimizer={"name": "sgd", "lr": 5.0}, stop={"param_bound": 1000},
    )["id"]  # fmt: skip
    body = client.post(f"/v1/sessions/{session_id}/step", json={"steps": 100}).json()
    assert body["status"] == "diverged"
    assert body["step"] == 3  # θ ← −9θ: |θ| = 729 after 3 steps, 6561 after 4
    assert body["params"] == [-1.2 * -729, 1.0 * -729]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/sessions/abc/step", {"steps": 0}, 422),
        ("/v1/sessions/abc/step", {"steps": "many"}, 422),
        ("/v1/sessions/..%2Fetc/step", {"steps": 1}, 404),
        ("/v1/sessions/" + "a" * 65, None, 422),
    ],
)
def test_bad_session_requests(
    client: TestClient, path: str, body: dict[str, Any] | None, status: int
) -> None:
    response = client.request("GET" if body is None else "POST", path, json=body)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


def test_trajectory_query_is_validated(client: TestClient) -> None:
    session_id = create(client)["id"]
    response = client.get(f"/v1/sessions/{session_id}/trajectory?every=0")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "every"]


def test_recorded_internals_survive_storage(client: TestClient) -> None:
    record = {"state": True, "grad": True, "lr": True}
    session_id = create(client, record=record)["id"]
    client.post(f"/v1/sessions/{session_id}/step", json={"steps": 2})
    client.post(f"/v1/sessions/{session_id}/step", json={"steps": 3})
    stored = client.get(f"/v1/sessions/{session_id}/trajectory").json()["trajectory"]
    body = BODY | {"stop": {"grad_tol": 0, "max_steps": 5}, "record": record}
    whole = client.post("/v1/runs", json=body).json()["trajectory"]
    assert stored == whole
    assert set(stored["state"]) == {"exp_avg", "exp_avg_sq"}
    assert stored["update"][0] == [None, None]
