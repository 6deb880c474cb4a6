"""Optimizer request models: agree with the catalogue, build, refuse, and resume exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import numpy as np
import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from core.catalogue import CATALOGUE, entry
from service.build import build_optimizer, build_schedule
from service.errors import InvalidSpecification
from service.runs import run_optimization
from service.sessions import SessionService
from service.settings import Settings
from service.specs import AdamSpec, OptimizerSpec, RunSpec, SGDSpec
from service.stores import SQLiteStore
from tests.helpers import InProcessCompiler

MODELS: dict[str, type[BaseModel]] = {
    get_args(model.model_fields["name"].annotation)[0]: model
    for model in get_args(get_args(OptimizerSpec)[0])
}
ADAPTER: TypeAdapter[Any] = TypeAdapter(OptimizerSpec)
ROSENBROCK = {"type": "expression", "expression": "(1 - x)**2 + 100*(y - x**2)**2"}

# A configuration of every optimizer (and form) that makes progress on Rosenbrock from (-1.2, 1).
CONFIGURED: dict[str, dict[str, Any]] = {
    "sgd": {"name": "sgd", "lr": 5e-4, "momentum": 0.9},
    "momentum_velocity": {"name": "momentum", "lr": 5e-4, "form": "velocity"},
    "momentum_accumulator": {"name": "momentum", "lr": 5e-4},
    "nesterov_torch": {"name": "nesterov", "lr": 5e-4},
    "nesterov_lookahead": {"name": "nesterov", "lr": 5e-4, "form": "lookahead"},
    "adagrad": {"name": "adagrad", "lr": 0.2, "lr_decay": 0.001},
    "rmsprop": {"name": "rmsprop", "lr": 1e-3, "momentum": 0.5, "centered": True},
    "adam": {"name": "adam", "lr": 0.02, "amsgrad": True},
    "adamw": {"name": "adamw", "lr": 0.02},
    "nadam": {"name": "nadam", "lr": 0.02, "decoupled_weight_decay": True, "weight_decay": 0.01},
    "radam": {"name": "radam", "lr": 1e-3},  # its first steps are un-adapted: −γ·m̂
    "adamax": {"name": "adamax", "lr": 0.02},
    "newton": {"name": "newton", "lr": 0.5, "damping": 1.0},
}


def bounds(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON-schema property's bounds in the catalogue's terms."""
    found: dict[str, Any] = {"minimum": None, "maximum": None}
    found["exclusive_minimum"] = "exclusiveMinimum" in schema
    found["exclusive_maximum"] = "exclusiveMaximum" in schema
    for key, side in (("minimum", "minimum"), ("exclusiveMinimum", "minimum")):
        if key in schema:
            found[side] = schema[key]
    for key, side in (("maximum", "maximum"), ("exclusiveMaximum", "maximum")):
        if key in schema:
            found[side] = schema[key]
    return found


def test_every_catalogue_optimizer_has_a_model() -> None:
    assert set(MODELS) == {item.name for item in CATALOGUE}


@pytest.mark.parametrize("name", [item.name for item in CATALOGUE])
def test_model_fields_agree_with_the_catalogue(name: str) -> None:
    model = MODELS[name]
    properties = model.model_json_schema()["properties"]
    fields = {key: value for key, value in model.model_fields.items() if key != "name"}
    hyper = {h.name: h for h in entry(name).hyperparameters}
    assert list(fields) == list(hyper) or set(fields) == set(hyper)
    for field_name, field in fields.items():
        h = hyper[field_name]
        assert field.default == h.default, field_name
        schema = properties[field_name]
        if h.type == "number":
            assert bounds(schema) == {
                "minimum": h.minimum,
                "maximum": h.maximum,
                "exclusive_minimum": h.exclusive_minimum,
                "exclusive_maximum": h.exclusive_maximum,
            }, field_name
        elif h.type == "string":
            assert set(schema["enum"]) == set(h.choices)
        else:
            assert schema["type"] == "boolean"
        if model not in (SGDSpec, AdamSpec):  # kept as they were, without descriptions
            assert schema["description"] == h.meaning


@pytest.mark.parametrize(
    "body",
    [
        {"name": "momentum", "form": "heavy"},
        {"name": "momentum", "momentum": 1.5},
        {"name": "nesterov", "form": "sutskever"},
        {"name": "adagrad", "lr": 0},
        {"name": "adagrad", "lr_decay": -1},
        {"name": "rmsprop", "alpha": 1.0},
        {"name": "rmsprop", "momentum": -0.1},
        {"name": "adamw", "beta1": 1.0},
        {"name": "nadam", "momentum_decay": -1e-3},
        {"name": "radam", "beta2": -0.5},
        {"name": "adamax", "eps": -1e-8},
        {"name": "newton", "damping": -1},
        {"name": "newton", "momentum": 0.9},
        {"name": "lbfgs"},
    ],
)
def test_models_refuse_bad_hyperparameters(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ADAPTER.validate_python(body)


@pytest.mark.parametrize("case", CONFIGURED)
def test_every_optimizer_runs_and_descends(case: str) -> None:
    body = {"loss": ROSENBROCK, "optimizer": CONFIGURED[case], "start": [-1.2, 1.0]}
    body["stop"] = {"grad_tol": 0, "max_steps": 100}
    outcome = run_optimization(RunSpec.model_validate(body), InProcessCompiler(), Settings())
    loss = np.asarray(outcome.trajectory.loss)
    assert len(loss) == 101
    assert loss[-1] < loss[0]


@pytest.mark.parametrize("case", CONFIGURED)
def test_sessions_resume_every_optimizer_exactly(case: str, tmp_path: Path) -> None:
    body = {"loss": ROSENBROCK, "optimizer": CONFIGURED[case], "start": [-1.2, 1.0]}
    body["stop"] = {"grad_tol": 0}
    sessions = SessionService(SQLiteStore(tmp_path / "s.db"), InProcessCompiler(), Settings())
    session = sessions.create(RunSpec.model_validate(body))
    first = sessions.step(session.record.id, 7).points.params
    second = sessions.step(session.record.id, 8).points.params
    body["stop"] = {"grad_tol": 0, "max_steps": 15}
    whole = run_optimization(RunSpec.model_validate(body), InProcessCompiler(), Settings())
    stepped = np.concatenate([np.asarray(first), np.asarray(second)])
    np.testing.assert_array_equal(stepped, np.asarray(whole.trajectory.params)[1:])


class _WideLoss:
    """Just enough of a loss for building: 51 parameters."""

    names = tuple(f"x{i}" for i in range(51))

    def value_and_grad(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (theta * theta).sum(axis=-1), 2 * theta

    def hessian(self, theta: np.ndarray) -> np.ndarray:
        return np.zeros((*theta.shape, 51)) + 2 * np.eye(51)


def test_newton_refuses_a_loss_beyond_its_dimension_limit() -> None:
    spec = ADAPTER.validate_python({"name": "newton"})
    with pytest.raises(InvalidSpecification) as caught:
        build_optimizer(spec, build_schedule(1.0, None), _WideLoss())  # type: ignore[arg-type]
    assert "limited to 50" in str(caught.value)
    assert caught.value.errors[0].loc == ("optimizer",)


def test_build_optimizer_needs_the_loss_for_lookahead_and_newton() -> None:
    loss = InProcessCompiler().compile("x**2 - y**2", None)
    start = np.array([[1.0, 1.0]])
    spec = ADAPTER.validate_python({"name": "newton"})
    newton = build_optimizer(spec, build_schedule(spec.lr, None), loss)
    _, grad = loss.value_and_grad(start)
    updates, _ = newton.update(grad, newton.init(start), start)
    np.testing.assert_allclose(start + updates, [[0.0, 0.0]], atol=1e-15)
    spec = ADAPTER.validate_python({"name": "nesterov", "form": "lookahead", "lr": 0.1})
    lookahead = build_optimizer(spec, build_schedule(spec.lr, None), loss)
    updates, _ = lookahead.update(np.full((1, 2), np.nan), lookahead.init(start), start)
    np.testing.assert_allclose(updates, [[-0.2, 0.2]])  # −γ∇f(θ), ignoring the gradient passed
