"""Dataset losses over HTTP: runs, sessions, analysis, landscapes and bad data."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from service.settings import Settings

X = [[0.5, -1.0], [1.5, 0.25], [-0.75, 2.0], [2.0, 1.0], [-1.25, -0.5], [0.0, 0.75]]
Y = [1.0, 2.5, -0.5, 3.0, -1.0, 0.75]


def linear(**changes: Any) -> dict[str, Any]:
    return {"type": "dataset", "model": "linear_regression", "X": X, "y": Y} | changes


def run(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/runs", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_full_batch_sgd_on_a_dataset_equals_the_loss_written_as_an_expression(
    client: TestClient,
) -> None:
    terms = " + ".join(
        f"(w0*({a}) + w1*({b}) + bias - ({t}))**2" for (a, b), t in zip(X, Y, strict=True)
    )
    expression = {
        "type": "expression",
        "expression": f"({terms}) / {len(X)}",
        "variables": ["w0", "w1", "bias"],
    }
    common = {"optimizer": {"name": "sgd", "lr": 0.05}, "start": [0.3, -0.2, 0.1]}
    stop = {"max_steps": 200, "grad_tol": 0}
    on_data = run(client, common | {"loss": linear(batch_size=6), "stop": stop})
    on_formula = run(client, common | {"loss": expression, "stop": stop})
    np.testing.assert_allclose(
        on_data["trajectory"]["params"], on_formula["trajectory"]["params"], rtol=1e-12
    )
    np.testing.assert_allclose(
        on_data["trajectory"]["loss"], on_formula["trajectory"]["loss"], rtol=1e-12
    )
    assert on_data["parameter_names"] == ["w[0]", "w[1]", "b"]
    assert on_data["dataset"]["steps_per_epoch"] == 1
    assert on_data["trajectory"]["epoch"][:3] == [0.0, 1.0, 2.0]
    # Full batch: the batch loss of step t is the full loss at point t − 1.
    assert on_data["trajectory"]["batch_loss"][0] is None
    np.testing.assert_allclose(
        on_data["trajectory"]["batch_loss"][1:], on_data["trajectory"]["loss"][:-1], rtol=1e-14
    )


def test_full_batch_gradient_descent_reaches_the_least_squares_solution(
    client: TestClient,
) -> None:
    body = {
        "loss": linear(batch_size=100),
        "optimizer": {"name": "sgd", "lr": 0.1},
        "stop": {"max_steps": 20_000, "grad_tol": 1e-10},
    }
    answer = run(client, body)
    design = np.hstack([np.array(X), np.ones((len(X), 1))])
    solution = np.linalg.lstsq(design, np.array(Y), rcond=None)[0]
    assert answer["status"] == "converged"
    assert answer["trajectory"]["params"][0] == [0.0, 0.0, 0.0]
    np.testing.assert_allclose(answer["final"]["params"], solution, atol=1e-9)
    analysis = answer["analysis"]
    assert analysis["classification"] == "local_minimum"
    assert analysis["hessian_method"] == "exact"
    # The MSE's Hessian is 2·XᵀX/m for the augmented design.
    np.testing.assert_allclose(analysis["hessian"], 2 * design.T @ design / len(X), rtol=1e-12)


def _minibatch_body(seed: int) -> dict[str, Any]:
    return {
        "loss": {
            "type": "dataset",
            "model": "softmax_regression",
            "generate": {"kind": "blobs", "n": 90, "classes": 3, "seed": 1},
            "batch_size": 16,
            "seed": seed,
        },
        "optimizer": {"name": "adam", "lr": 0.05},
        "stop": {"max_epochs": 3, "grad_tol": 0},
    }


def test_mini_batches_are_reproducible_by_seed_and_differ_across_seeds(
    client: TestClient,
) -> None:
    first = run(client, _minibatch_body(seed=4))
    again = run(client, _minibatch_body(seed=4))
    other = run(client, _minibatch_body(seed=5))
    assert first["trajectory"] == again["trajectory"]
    assert first["trajectory"]["params"] != other["trajectory"]["params"]
    assert first["status"] == "max_steps"
    assert first["message"].endswith("(3 epochs of 6 steps)")
    assert first["steps"] == 3 * 6  # ⌈90/16⌉ = 6 steps an epoch
    assert first["trajectory"]["epoch"][-1] == 3.0
    np.testing.assert_allclose(first["trajectory"]["epoch"][:7], [0, 16 / 90, 32 / 90, 48 / 90,
                               64 / 90, 80 / 90, 1.0])  # fmt: skip
    assert first["dataset"]["classes"] == 3
    assert first["dataset"]["epoch"] == 3.0
    assert first["final"]["loss"] < first["trajectory"]["loss"][0] == pytest.approx(np.log(3))


def test_a_session_resumed_mid_epoch_after_a_restart_continues_exactly(
    settings: Settings,
) -> None:
    body = _minibatch_body(seed=9)
    body["loss"]["model"] = "mlp"
    body["loss"] |= {"hidden": [6], "batch_norm": True, "task": "classification"}
    with TestClient(create_app(settings)) as client:
        whole = run(client, body)
        created = client.post("/v1/sessions", json=body)
        assert created.status_code == 201, created.text
        session_id = created.json()["id"]
        assert created.json()["dataset"]["model_state"]["running_var"][0] == [1.0] * 6
        client.post(f"/v1/sessions/{session_id}/step", json={"steps": 4})
    with TestClient(create_app(settings)) as client:  # a restarted service, the same store
        for steps in (5, 9):
            answer = client.post(f"/v1/sessions/{session_id}/step", json={"steps": steps})
            assert answer.status_code == 200, answer.text
        session = client.get(f"/v1/sessions/{session_id}").json()
        stored = client.get(f"/v1/sessions/{session_id}/trajectory").json()["trajectory"]
    assert session["step"] == 18
    assert session["status"] == "max_steps"
    assert session["params"] == whole["final"]["params"]
    assert session["dataset"]["model_state"] == whole["dataset"]["model_state"]
    assert stored["params"] == whole["trajectory"]["params"]
    assert stored["batch_loss"] == whole["trajectory"]["batch_loss"]
    assert stored["epoch"] == whole["trajectory"]["epoch"]
    assert whole["analysis"]["hessian_method"] == "central_differences"
    with TestClient(create_app(settings)) as client:
        reset = client.post(f"/v1/sessions/{session_id}/reset", json={})
        assert reset.json()["params"] == whole["trajectory"]["params"][0]
        assert reset.json()["dataset"]["model_state"]["running_mean"][0] == [0.0] * 6
        again = client.post(f"/v1/sessions/{session_id}/step", json={"steps": 18}).json()
    assert again["trajectory"]["params"] == whole["trajectory"]["params"][1:]


def test_standardize_reports_the_scaling_and_epoch_schedules_count_epochs(
    client: TestClient,
) -> None:
    body = {
        "loss": linear(standardize=True, batch_size=4),
        "optimizer": {"name": "sgd", "lr": 0.1},
        "schedule": {"type": "step", "step_size": 1, "gamma": 0.5, "unit": "epoch"},
        "stop": {"max_epochs": 3, "grad_tol": 0},
        "record": {"lr": True},
    }
    answer = run(client, body)
    scaling = answer["dataset"]["standardization"]
    np.testing.assert_allclose(scaling["mean"], np.mean(X, axis=0), rtol=1e-15)
    np.testing.assert_allclose(scaling["scale"], np.std(X, axis=0), rtol=1e-15)
    # 6 examples in batches of 4: 2 steps an epoch, the rate halves after each epoch.
    assert answer["trajectory"]["lr"] == [None, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025]


def test_analysis_landscape_and_batch_runs_accept_dataset_losses(client: TestClient) -> None:
    one_feature = {
        "type": "dataset",
        "model": "linear_regression",
        "X": [[x[0]] for x in X],
        "y": Y,
    }
    analysis = client.post("/v1/analyze", json={"loss": one_feature, "point": [1.0, 0.0]})
    assert analysis.status_code == 200
    assert analysis.json()["variables"] == ["w[0]", "b"]
    landscape = client.post(
        "/v1/landscape",
        json={"loss": one_feature, "bounds": [[-1, 3], [-2, 2]], "resolution": [5, 4]},
    )
    assert landscape.status_code == 200, landscape.text
    z = np.array(landscape.json()["z"], dtype=float)
    features = np.array([x[0] for x in X])
    w, b = 3.0, 2.0  # the grid's last corner
    assert z[-1, -1] == pytest.approx(np.mean((features * w + b - np.array(Y)) ** 2))
    batch = client.post(
        "/v1/runs/batch",
        json={
            "loss": one_feature | {"batch_size": 2},
            "optimizers": [{"name": "sgd", "lr": 0.05}, {"name": "adam", "lr": 0.05}],
            "starts": [[0, 0], [1, 1]],
            "stop": {"max_steps": 12, "grad_tol": 0},
        },
    )
    assert batch.status_code == 200, batch.text
    runs = batch.json()["runs"]
    assert [(r["optimizer_index"], r["start_index"]) for r in runs] == [
        (0, 0), (0, 1), (1, 0), (1, 1)
    ]  # fmt: skip
    single = run(
        client,
        {
            "loss": one_feature | {"batch_size": 2},
            "optimizer": {"name": "adam", "lr": 0.05},
            "start": [1, 1],
            "stop": {"max_steps": 12, "grad_tol": 0},
        },
    )
    assert runs[3]["trajectory"] == single["trajectory"]


BAD_DATA = [
    ({"X": [[1.0, 2.0], [3.0]], "y": [1.0, 2.0]}, ["body", "loss", "X", 1], "features"),
    ({"X": [[1.0], [2.0]], "y": [1.0]}, ["body", "loss", "y"], "targets"),
    ({"X": [], "y": []}, ["body", "loss", "X"], "at least 1"),
    ({"X": [[1.0], [float("nan")]], "y": [1.0, 2.0]}, None, None),
    (
        {"model": "logistic_regression", "X": [[1.0], [2.0]], "y": [0.0, 2.0]},
        ["body", "loss", "y"],
        "2 classes",
    ),
    (
        {"model": "softmax_regression", "X": [[1.0], [2.0]], "y": [0.0, 1.5]},
        ["body", "loss", "y", 1],
        "not a class index",
    ),
    (
        {"model": "softmax_regression", "classes": 2, "X": [[1.0], [2.0]], "y": [0.0, 2.0]},
        ["body", "loss", "y", 1],
        "not a class index",
    ),
    ({"X": [[1.0]] * 5, "y": [0.0] * 5, "hidden": [3]}, ["body", "loss", "hidden"], "only"),
    (
        {"model": "mlp", "batch_norm": True, "batch_size": 2, "X": [[1.0]] * 5, "y": [0.0] * 5},
        ["body", "loss", "batch_size"],
        "batch normalisation",
    ),
    ({"loss": "cross_entropy"}, ["body", "loss", "loss"], "mse"),
    (
        {"X": [[1.0, 1e308], [2.0, -1e308], [3.0, 1.0]], "y": [1.0, 2.0, 3.0], "standardize": True},
        ["body", "loss", "X"],
        "feature 1 is too large to standardize",
    ),
]


@pytest.mark.parametrize(("changes", "loc", "message"), BAD_DATA)
def test_bad_data_is_refused_naming_the_field(
    client: TestClient, changes: dict[str, Any], loc: list[Any] | None, message: str | None
) -> None:
    body = {"loss": linear(**changes), "optimizer": {"name": "sgd"}}
    response = client.post(
        "/v1/runs",
        content=json.dumps(body, allow_nan=True),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    if loc is not None:
        assert problem["errors"][0]["loc"] == loc
        assert message is not None
        assert message in problem["errors"][0]["msg"]


def test_data_beyond_the_limits_is_refused(tmp_path: Any) -> None:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'd.db'}",
        max_dataset_rows=4,
        max_dataset_features=3,
        max_model_params=20,
    )
    with TestClient(create_app(settings)) as client:
        cases = [
            (linear(), ["body", "loss", "X"], "6 examples; the limit is 4"),
            (
                {
                    "type": "dataset",
                    "model": "linear_regression",
                    "generate": {"kind": "linear", "n": 3, "features": 5},
                },
                ["body", "loss", "generate"],
                "5 features",
            ),
            (
                {
                    "type": "dataset",
                    "model": "mlp",
                    "hidden": [8],
                    "generate": {"kind": "linear", "n": 4},
                },
                ["body", "loss"],
                "33 parameters; the limit is 20",
            ),
        ]
        for loss, loc, message in cases:
            response = client.post("/v1/runs", json={"loss": loss, "optimizer": {"name": "sgd"}})
            assert response.status_code == 422, response.text
            assert response.json()["errors"][0]["loc"] == loc
            assert message in response.json()["errors"][0]["msg"]


def test_options_that_need_data_are_refused_on_formulas(client: TestClient) -> None:
    formula = {"type": "expression", "expression": "x**2"}
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"stop": {"max_epochs": 2}}, ["body", "stop", "max_epochs"]),
        ({"schedule": {"type": "exponential", "gamma": 0.9, "unit": "epoch"}},
         ["body", "schedule", "unit"]),
    ]  # fmt: skip
    for changes, loc in cases:
        body = {"loss": formula, "optimizer": {"name": "sgd"}, "start": [1.0]} | changes
        response = client.post("/v1/runs", json=body)
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == loc


def test_optimizers_that_evaluate_the_loss_need_full_batches(client: TestClient) -> None:
    for optimizer, loc in [
        ({"name": "newton"}, ["body", "optimizer", "name"]),
        ({"name": "nesterov", "form": "lookahead"}, ["body", "optimizer", "form"]),
    ]:
        body = {"loss": linear(batch_size=2), "optimizer": optimizer}
        response = client.post("/v1/runs", json=body)
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == loc
    newton = run(client, {"loss": linear(batch_size=6), "optimizer": {"name": "newton"},
                          "stop": {"max_steps": 3}})  # fmt: skip
    unanalysed = run(client, {"loss": linear(), "optimizer": {"name": "sgd"}, "analysis": False})
    assert unanalysed["analysis"] is None
    assert newton["status"] == "converged"  # a quadratic: one Newton step lands on the minimum
    assert newton["steps"] == 1


def test_huge_models_are_refused_before_anything_is_allocated(client: TestClient) -> None:
    generated = {"type": "dataset", "generate": {"kind": "moons", "n": 50}}
    cases = [
        (
            generated | {"model": "mlp", "hidden": [10**9, 10**9], "task": "classification"},
            ["body", "loss"],
            "parameters; the limit is 100000",
        ),
        (
            {"type": "dataset", "model": "softmax_regression", "classes": 10**12,
             "X": [[1.0]], "y": [0.0]},
            ["body", "loss"],
            "parameters; the limit is 100000",
        ),
        (
            {"type": "dataset", "model": "softmax_regression",
             "generate": {"kind": "blobs", "n": 5, "classes": 6}},
            ["body", "loss", "generate", "classes"],
            "6 blobs cannot be drawn from 5 examples",
        ),
    ]  # fmt: skip
    for loss, loc, message in cases:
        response = client.post("/v1/runs", json={"loss": loss, "optimizer": {"name": "sgd"}})
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["loc"] == loc
        assert message in response.json()["errors"][0]["msg"]


def test_second_order_work_on_data_is_bounded(tmp_path: Any) -> None:
    settings = Settings(store_url=f"sqlite:///{tmp_path / 'd.db'}", max_dataset_work=10_000)
    mlp = {"type": "dataset", "model": "mlp", "hidden": [8], "task": "classification",
           "generate": {"kind": "moons", "n": 100}}  # fmt: skip
    with TestClient(create_app(settings)) as client:
        answer = run(client, {"loss": mlp, "optimizer": {"name": "sgd"}, "stop": {"max_steps": 2}})
        assert answer["analysis"] is None  # 42 parameters: 2·100·42² operations
        assert len(answer["parameter_names"]) == 42
        point = [0.1] * 42
        analysis = client.post("/v1/analyze", json={"loss": mlp, "point": point})
        assert analysis.status_code == 422
        assert "352800 operations; the limit is 10000" in analysis.json()["detail"]
        landscape = client.post(
            "/v1/landscape",
            json={"loss": mlp, "bounds": [[-1, 1], [-1, 1]], "resolution": [10, 10],
                  "center": point},
        )  # fmt: skip
        assert landscape.status_code == 422
        assert landscape.json()["errors"][0]["loc"] == ["body", "resolution"]
