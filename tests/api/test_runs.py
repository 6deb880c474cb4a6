"""POST /v1/runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

FIXTURES = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "torch_trajectories.json").read_text()
)["cases"]
QUADRATIC = {"type": "expression", "expression": "x^2 + 3*y^2"}


def strict_json(text: str) -> Any:
    """Parses JSON, refusing the NaN/Infinity extensions Python would accept."""

    def refuse(constant: str) -> None:
        raise ValueError(f"invalid JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def run(client: TestClient, **body: Any) -> Any:
    request = {"loss": QUADRATIC, "optimizer": {"name": "sgd", "lr": 0.1}, "start": [1, 1]}
    return client.post("/v1/runs", json=request | body)


@pytest.mark.parametrize(
    "name", ["adam_amsgrad_rosenbrock", "sgd_nesterov_cosine_quadratic", "adam_step_smooth3"]
)
def test_trajectory_over_http_equals_torch(client: TestClient, name: str) -> None:
    case = next(c for c in FIXTURES if c["name"] == name)
    response = client.post(
        "/v1/runs",
        json={k: case[k] for k in ("loss", "optimizer", "schedule", "start")}
        | {"stop": {"max_steps": case["steps"], "grad_tol": 0}},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "max_steps"
    assert body["steps"] == case["steps"]
    assert body["trajectory"]["step"] == list(range(case["steps"] + 1))
    expected = np.array(case["params"])
    np.testing.assert_allclose(
        body["trajectory"]["params"], expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max()
    )
    assert body["final"]["params"] == body["trajectory"]["params"][-1]


def test_answer_shape_and_final_analysis(client: TestClient) -> None:
    response = run(client, stop={"grad_tol": 1e-6})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "converged"
    assert body["message"].startswith("Converged: the gradient norm fell to 1e-06")
    steps = body["steps"]
    trajectory = body["trajectory"]
    assert set(trajectory) == {"step", "params", "loss", "grad_norm"}
    assert trajectory["step"] == list(range(steps + 1))
    assert trajectory["params"][0] == [1.0, 1.0]
    assert trajectory["loss"][0] == 4.0
    assert trajectory["grad_norm"][-1] <= 1e-6 < trajectory["grad_norm"][-2]
    # GD on x² + 3y² with lr 0.1: x ← 0.8x, y ← 0.4y, so y dies first and x sets the pace.
    x = np.array(trajectory["params"])[:, 0]
    np.testing.assert_allclose(x, 0.8 ** np.arange(steps + 1), rtol=1e-12)
    assert body["final"]["grad_norm"] == trajectory["grad_norm"][-1]
    assert body["variables"] == ["x", "y"]
    assert body["analysis"]["classification"] == "local_minimum"


def test_record_columns_and_thinning(client: TestClient) -> None:
    response = run(
        client,
        schedule={"type": "step", "step_size": 3, "gamma": 0.5},
        stop={"max_steps": 10, "grad_tol": 0},
        record={"every": 4, "grad": True, "lr": True},
    )
    body = response.json()
    trajectory = body["trajectory"]
    assert trajectory["step"] == [0, 4, 8, 10]
    assert trajectory["lr"] == [None, 0.05, 0.025, 0.0125]
    grad = np.array(trajectory["grad"])
    params = np.array(trajectory["params"])
    np.testing.assert_allclose(grad, params * [2.0, 6.0])


def test_divergence_stops_before_non_finite_values(client: TestClient) -> None:
    response = run(client, optimizer={"name": "sgd", "lr": 2.0}, stop={"max_steps": 5000})
    assert response.status_code == 200
    body = strict_json(response.text)
    assert body["status"] == "diverged"
    assert "Try a smaller learning rate" in body["message"]
    params = np.array(body["trajectory"]["params"])
    assert np.abs(params).max() <= 1e12
    assert body["steps"] == len(params) - 1 < 5000


def test_overflow_to_infinity_is_never_emitted(client: TestClient) -> None:
    response = run(
        client,
        loss={"type": "expression", "expression": "-exp(x) + y^2"},
        optimizer={"name": "sgd", "lr": 1.0},
        start=[0.0, 0.0],
        stop={"max_steps": 100, "param_bound": 1e300, "loss_bound": 1e300},
    )
    body = strict_json(response.text)
    assert body["status"] == "diverged"
    assert "non-finite" in body["message"]
    assert np.isfinite(body["trajectory"]["loss"]).all()
    assert body["trajectory"]["params"][1] == [1.0, 0.0]


def test_momentum_and_adam_settings_reach_the_core(client: TestClient) -> None:
    plain = run(client, stop={"max_steps": 3, "grad_tol": 0}).json()
    heavy = run(
        client, optimizer={"name": "sgd", "lr": 0.1, "momentum": 0.9},
        stop={"max_steps": 3, "grad_tol": 0},
    ).json()  # fmt: skip
    # b₁ = g₁; b₂ = 0.9·g₁ + g₂: the second step differs by 0.9·0.1·g₁.
    x_plain = plain["trajectory"]["params"][2][0]
    x_heavy = heavy["trajectory"]["params"][2][0]
    assert x_heavy == pytest.approx(x_plain - 0.9 * 0.1 * 2.0)
    unbiased = run(
        client, optimizer={"name": "adam", "lr": 0.1, "bias_correction": False},
        stop={"max_steps": 1, "grad_tol": 0},
    ).json()  # fmt: skip
    assert unbiased["trajectory"]["params"][1][0] == pytest.approx(1 - 0.1 * 0.1 / 0.001**0.5)


@pytest.mark.parametrize(
    ("body", "loc", "fragment"),
    [
        ({"optimizer": {"name": "sgd", "lr": 0}}, ["body", "optimizer", "lr"],
         "greater than 0"),
        ({"optimizer": {"name": "adam", "beta1": 1.0}}, ["body", "optimizer", "beta1"],
         "less than 1"),
        ({"optimizer": {"name": "sgd", "nesterov": True}}, ["body", "optimizer"],
         "nesterov requires momentum > 0"),
        ({"optimizer": {"name": "lbfgs"}}, ["body", "optimizer"], "'sgd', 'adam'"),
        ({"start": [1, 2, 3]}, ["body", "start"], "has 3 numbers but the loss has 2 variables"),
        ({"stop": {"max_steps": 10**9}}, ["body", "stop", "max_steps"],
         "exceeds the limit of 100000"),
        ({"stop": {"max_steps": 100000}}, ["body", "record", "every"], "limit is 100000"),
        ({"schedule": {"type": "step"}}, ["body", "schedule", "step_size"], "required"),
        ({"start": "1,1"}, ["body", "start"], "valid list"),
    ],
)  # fmt: skip
def test_refusals_name_the_field(
    client: TestClient, body: dict[str, Any], loc: list[Any], fragment: str
) -> None:
    response = run(client, **body)
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"][0]["loc"] == loc
    assert fragment in problem["errors"][0]["msg"]


def test_record_state_gives_internals_and_updates(client: TestClient) -> None:
    body = {
        "loss": QUADRATIC,
        "optimizer": {"name": "adam", "lr": 0.1, "amsgrad": True},
        "start": [1, 1],
        "stop": {"max_steps": 7, "grad_tol": 0},
    }
    full = client.post("/v1/runs", json=body | {"record": {"state": True}}).json()["trajectory"]
    params = np.array(full["params"])
    update = np.array(full["update"], dtype=float)
    assert np.isnan(update[0]).all()
    np.testing.assert_allclose(update[1:], np.diff(params, axis=0), rtol=1e-12, atol=1e-15)
    state = {k: np.array(v) for k, v in full["state"].items()}
    assert set(state) == {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    np.testing.assert_array_equal(state["exp_avg"][0], [0, 0])
    g0 = np.array([2.0, 6.0])  # ∇(x² + 3y²) at (1, 1)
    np.testing.assert_allclose(state["exp_avg"][1], 0.1 * g0, rtol=1e-12)
    np.testing.assert_allclose(state["exp_avg_sq"][1], 0.001 * g0**2, rtol=1e-12)
    assert (state["max_exp_avg_sq"] >= state["exp_avg_sq"]).all()

    thinned = client.post("/v1/runs", json=body | {"record": {"state": True, "every": 3}}).json()[
        "trajectory"
    ]
    assert thinned["step"] == [0, 3, 6, 7]
    np.testing.assert_array_equal(np.array(thinned["update"][1:]), update[[3, 6, 7]])
    np.testing.assert_array_equal(thinned["state"]["exp_avg"], state["exp_avg"][[0, 3, 6, 7]])


def test_plain_gradient_descent_has_no_internals(client: TestClient) -> None:
    trajectory = run(client, stop={"max_steps": 2}, record={"state": True}).json()["trajectory"]
    assert trajectory["state"] == {}
    np.testing.assert_allclose(trajectory["update"][1], [-0.2, -0.6])
