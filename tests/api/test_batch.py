"""POST /v1/runs/batch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

LOSS = {"type": "builtin", "name": "himmelblau"}
OPTIMIZERS: list[dict[str, Any]] = [
    {"name": "adam", "lr": 0.05},
    {"name": "sgd", "lr": 0.01, "momentum": 0.5},
    {"name": "rmsprop", "lr": 0.01, "centered": True},
]
STARTS = [[0.0, 0.0], [-4.0, 4.0], [4.0, -4.0], [-3.0, -3.0], [3.5, 1.5]]


def batch(client: TestClient, **body: Any) -> Any:
    request = {"loss": LOSS, "optimizers": OPTIMIZERS, "starts": STARTS,
               "stop": {"max_steps": 300, "grad_tol": 1e-6}} | body  # fmt: skip
    return client.post("/v1/runs/batch", json=request)


def test_every_run_equals_the_single_run_from_its_start(client: TestClient) -> None:
    response = batch(client, record={"grad": True, "state": True, "lr": True})
    assert response.status_code == 200
    runs = response.json()["runs"]
    assert [(r["optimizer_index"], r["start_index"]) for r in runs] == [
        (i, j) for i in range(len(OPTIMIZERS)) for j in range(len(STARTS))
    ]
    for entry in runs:
        single = client.post(
            "/v1/runs",
            json={"loss": LOSS, "optimizer": OPTIMIZERS[entry["optimizer_index"]],
                  "start": STARTS[entry["start_index"]],
                  "stop": {"max_steps": 300, "grad_tol": 1e-6},
                  "record": {"grad": True, "state": True, "lr": True}},
        ).json()  # fmt: skip
        ours = {k: v for k, v in entry.items() if k not in ("optimizer_index", "start_index")}
        assert ours == single


def test_runs_reach_the_four_minima_of_himmelblau(client: TestClient) -> None:
    runs = batch(client, optimizers=[{"name": "adam", "lr": 0.05}],
                 stop={"max_steps": 3000, "grad_tol": 1e-8}).json()["runs"]  # fmt: skip
    ends = {tuple(np.round(r["final"]["params"], 4)) for r in runs[1:]}
    assert ends == {(-2.8051, 3.1313), (3.5844, -1.8481), (-3.7793, -3.2832), (3.0, 2.0)}
    assert all(r["analysis"]["classification"] == "local_minimum" for r in runs[1:])


def test_thinning_and_no_analysis(client: TestClient) -> None:
    runs = batch(client, record={"every": 100}, analysis=False,
                 stop={"max_steps": 300, "grad_tol": 0}).json()["runs"]  # fmt: skip
    assert all(r["trajectory"]["step"] == [0, 100, 200, 300] for r in runs)
    assert all(r["analysis"] is None for r in runs)


def test_a_thousand_starts(client: TestClient) -> None:
    starts = np.random.default_rng(3).uniform(-5, 5, size=(1000, 2)).tolist()
    response = batch(
        client,
        starts=starts,
        optimizers=[{"name": "adam", "lr": 0.05}],
        record={"every": 1000},
        stop={"max_steps": 1000, "grad_tol": 1e-8},
    )
    assert response.status_code == 200
    runs = response.json()["runs"]
    assert len(runs) == 1000
    values = [r["final"]["loss"] for r in runs]
    assert np.median(values) < 1e-10


@pytest.mark.parametrize(
    ("body", "loc", "fragment"),
    [
        ({"starts": [[0, 0], [1, 2, 3]]}, ["body", "starts", 1], "has 3 numbers"),
        ({"optimizers": []}, ["body", "optimizers"], "at least 1"),
        ({"starts": [[0.0, 0.0]] * 10_001}, ["body", "starts"], "limit is 10000"),
        ({"stop": {"max_steps": 100_000}}, ["body", "record", "every"], "limit is 100000"),
    ],
)
def test_refusals(client: TestClient, body: dict[str, Any], loc: list[Any], fragment: str) -> None:
    response = batch(client, **body)
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["loc"] == loc
    assert fragment in error["msg"]
