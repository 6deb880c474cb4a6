"""Request vocabulary: the API's JSON objects, and shortcuts that build them.

Every argument that takes a loss, an optimizer or a schedule takes the API's JSON as a dict, or
a shortcut: a formula string is an expression loss, an optimizer name takes its hyperparameters
as keyword arguments, a schedule name its fields."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "LossLike",
    "OptimizerLike",
    "ScheduleLike",
    "builtin",
    "expression",
    "optimizer",
    "quadratic",
    "schedule",
]

LossLike = str | Mapping[str, Any]
"""A formula (``"x^2 + 3*y^2"``) or a loss object (``{"type": "builtin", ...}``)."""
OptimizerLike = str | Mapping[str, Any]
"""An optimizer name (``"adam"``) or an optimizer object (``{"name": "adam", "lr": 0.1}``)."""
ScheduleLike = str | Mapping[str, Any]
"""A schedule type (``"inverse_sqrt"``) or a schedule object (``{"type": "cosine", ...}``)."""
Vector = float | Sequence[float]
"""A parameter vector; a bare number is a vector of one."""


def expression(text: str, variables: Sequence[str] | None = None) -> dict[str, Any]:
    """An expression loss: ``expression("x^2 - y^2")``; ``variables`` fixes their order."""
    spec: dict[str, Any] = {"type": "expression", "expression": text}
    if variables is not None:
        spec["variables"] = list(variables)
    return spec


def builtin(name: str, dim: int | None = None, **params: float) -> dict[str, Any]:
    """A builtin loss of the catalogue: ``builtin("rosenbrock", b=10)``."""
    spec: dict[str, Any] = {"type": "builtin", "name": name}
    if dim is not None:
        spec["dim"] = dim
    if params:
        spec["params"] = dict(params)
    return spec


def quadratic(
    A: Sequence[Sequence[float]], b: Sequence[float] | None = None, c: float = 0.0
) -> dict[str, Any]:
    """The quadratic loss ½θᵀAθ + bᵀθ + c (as the service defines it)."""
    spec: dict[str, Any] = {"type": "quadratic", "A": [list(row) for row in A], "c": c}
    if b is not None:
        spec["b"] = list(b)
    return spec


def optimizer(name: str, **hyperparameters: Any) -> dict[str, Any]:
    """An optimizer object: ``optimizer("adam", lr=0.1, beta2=0.99)``."""
    return {"name": name, **hyperparameters}


def schedule(type: str, **fields: Any) -> dict[str, Any]:
    """A schedule object: ``schedule("cosine", t_max=100)``."""
    return {"type": type, **fields}


def loss_spec(loss: LossLike) -> dict[str, Any]:
    """The loss object for a shortcut or an object."""
    if isinstance(loss, str):
        return expression(loss)
    if isinstance(loss, Mapping):
        return dict(loss)
    raise TypeError(f"a loss is a formula string or a dict, not {type(loss).__name__}")


def optimizer_spec(spec: OptimizerLike, hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
    """The optimizer object for a name or an object, with ``hyperparameters`` merged in."""
    if isinstance(spec, str):
        return optimizer(spec, **hyperparameters)
    if isinstance(spec, Mapping):
        return {**spec, **hyperparameters}
    raise TypeError(f"an optimizer is a name or a dict, not {type(spec).__name__}")


def schedule_spec(spec: ScheduleLike) -> dict[str, Any]:
    """The schedule object for a type name or an object."""
    if isinstance(spec, str):
        return schedule(spec)
    if isinstance(spec, Mapping):
        return dict(spec)
    raise TypeError(f"a schedule is a type name or a dict, not {type(spec).__name__}")


def vector(values: Vector) -> list[float]:
    """A JSON number list for a vector (a bare number is a vector of one)."""
    if isinstance(values, int | float):
        return [float(values)]
    return [float(v) for v in values]


def run_body(
    loss: LossLike,
    optimizer: OptimizerLike,
    start: Vector,
    schedule: ScheduleLike | None,
    stop: Mapping[str, Any] | None,
    record: Mapping[str, Any] | None,
    hyperparameters: Mapping[str, Any],
) -> dict[str, Any]:
    """The body of ``POST /v1/runs`` (and of ``POST /v1/sessions``)."""
    body: dict[str, Any] = {
        "loss": loss_spec(loss),
        "optimizer": optimizer_spec(optimizer, hyperparameters),
        "start": vector(start),
    }
    if schedule is not None:
        body["schedule"] = schedule_spec(schedule)
    if stop is not None:
        body["stop"] = dict(stop)
    if record is not None:
        body["record"] = dict(record)
    return body
