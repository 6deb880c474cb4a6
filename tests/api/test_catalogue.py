"""GET /v1/losses and GET /v1/optimizers, and runs on the catalogue's losses."""

from __future__ import annotations

from typing import get_args

import numpy as np
import pytest
from fastapi.testclient import TestClient

from core.builtins import CATALOGUE
from service.specs import BuiltinName


def test_builtin_names_in_the_schema_match_the_catalogue() -> None:
    assert list(get_args(BuiltinName)) == list(CATALOGUE)


def test_losses_catalogue(client: TestClient) -> None:
    response = client.get("/v1/losses")
    assert response.status_code == 200
    losses = {entry["name"]: entry for entry in response.json()["losses"]}
    assert list(losses) == list(CATALOGUE)
    himmelblau = losses["himmelblau"]
    assert himmelblau["variables"] == ["x", "y"]
    assert len(himmelblau["minima"]) == 4
    assert all(m["value"] == pytest.approx(0.0, abs=1e-12) for m in himmelblau["minima"])
    rosenbrock = losses["rosenbrock"]
    assert rosenbrock["dims"] == {"min": 2, "max": None, "default": 2}
    assert rosenbrock["params"]["a"]["default"] == 1.0
    assert rosenbrock["minima"] == [{"point": [1.0, 1.0], "value": 0.0}]


@pytest.mark.parametrize("name", ["himmelblau", "rosenbrock", "saddle", "goldstein_price"])
def test_the_expression_in_the_catalogue_is_the_same_function(
    client: TestClient, name: str
) -> None:
    entry = next(e for e in client.get("/v1/losses").json()["losses"] if e["name"] == name)
    low, high = np.array(entry["domain"]).T
    point = list(low + (high - low) * np.array([0.3, 0.7]))
    builtin = client.post(
        "/v1/analyze", json={"loss": {"type": "builtin", "name": name}, "point": point}
    ).json()
    written = client.post(
        "/v1/analyze",
        json={"loss": {"type": "expression", "expression": entry["expression"],
                       "variables": entry["variables"]}, "point": point},
    ).json()  # fmt: skip
    assert builtin["value"] == pytest.approx(written["value"], rel=1e-12)
    np.testing.assert_allclose(builtin["gradient"], written["gradient"], rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(builtin["hessian"], written["hessian"], rtol=1e-10, atol=1e-9)


def test_optimizers_catalogue(client: TestClient) -> None:
    response = client.get("/v1/optimizers")
    assert response.status_code == 200
    optimizers = {entry["name"]: entry for entry in response.json()["optimizers"]}
    assert {"sgd", "adam", "momentum", "nesterov", "newton"} <= set(optimizers)
    adam = {h["name"]: h for h in optimizers["adam"]["hyperparameters"]}
    assert adam["beta1"]["default"] == 0.9
    assert adam["beta1"]["range"] == "[0, 1)"
    assert optimizers["adam"]["matches_torch"] is True


def test_runs_on_a_builtin_and_a_quadratic(client: TestClient) -> None:
    builtin = client.post(
        "/v1/runs",
        json={"loss": {"type": "builtin", "name": "rosenbrock", "dim": 3},
              "optimizer": {"name": "adam", "lr": 0.02}, "start": [0, 0, 0],
              "stop": {"max_steps": 20000, "grad_tol": 1e-6}},
    ).json()  # fmt: skip
    assert builtin["status"] == "converged"
    np.testing.assert_allclose(builtin["final"]["params"], [1, 1, 1], atol=1e-5)
    assert builtin["variables"] == ["x1", "x2", "x3"]
    quadratic = client.post(
        "/v1/runs",
        json={"loss": {"type": "quadratic", "A": [[2, 1], [0, 4]], "b": [1, -1]},
              "optimizer": {"name": "sgd", "lr": 0.2}, "start": [0, 0],
              "stop": {"max_steps": 500, "grad_tol": 1e-10}},
    ).json()  # fmt: skip
    symmetric = np.array([[2.0, 0.5], [0.5, 4.0]])
    np.testing.assert_allclose(
        quadratic["final"]["params"], np.linalg.solve(symmetric, [-1, 1]), atol=1e-9
    )
    assert quadratic["analysis"]["condition_number"] == pytest.approx(
        np.linalg.cond(symmetric), rel=1e-9
    )


@pytest.mark.parametrize(
    ("loss", "fragment"),
    [
        ({"type": "builtin", "name": "rosenbrock", "dim": 1}, "dim"),
        ({"type": "builtin", "name": "rosenbrock", "params": {"c": 1}}, "c"),
        ({"type": "builtin", "name": "rosenbrock", "dim": 64}, "limit is 32"),
        ({"type": "quadratic", "A": [[1, 2]]}, "A"),
        ({"type": "quadratic", "A": [[1, 0], [0, 1]], "b": [1]}, "b"),
    ],
)
def test_bad_catalogue_losses(client: TestClient, loss: dict[str, object], fragment: str) -> None:
    response = client.post(
        "/v1/runs", json={"loss": loss, "optimizer": {"name": "sgd"}, "start": [0, 0]}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "loss"]
    assert fragment in response.json()["errors"][0]["msg"]
