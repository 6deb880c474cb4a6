"""Request vocabulary: the API's JSON objects, and shortcuts that build them.

Every argument that takes a loss, an optimizer or a schedule takes the API's JSON as a dict, or
a shortcut: a formula string is an expression loss, an optimizer name takes its hyperparameters
as keyword arguments, a schedule name its fields. :func:`dataset` builds a model-on-data loss
(from NumPy arrays or lists, or data made by :func:`generate`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "LossLike",
    "OptimizerLike",
    "ScheduleLike",
    "builtin",
    "dataset",
    "expression",
    "generate",
    "optimizer",
    "quadratic",
    "schedule",
]

LossLike = str | Mapping[str, Any]
"""A formula (``"x^2 + 3*y^2"``) or a loss object (``{"type": "builtin", ...}``, or one made by
:func:`builtin`, :func:`quadratic`, :func:`dataset`)."""
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


def _number(value: Any) -> int | float:
    """A JSON number: integers (labels) stay integers, everything else is a float."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return float(value)


def _listed(values: Any) -> Any:
    """Nested lists of an array-like (a NumPy array's ``tolist()``, else the value itself)."""
    tolist = getattr(values, "tolist", None)
    return tolist() if callable(tolist) else values


def _rows(X: Any) -> list[list[int | float]]:
    """X as one list of numbers per example (a 2-D array or a sequence of sequences)."""
    rows = [_listed(row) for row in _listed(X)]
    if any(isinstance(row, int | float | str | bytes) for row in rows):
        raise TypeError("X is one row of features per example (reshape a 1-D X to (-1, 1))")
    return [[_number(v) for v in row] for row in rows]


def _targets(y: Any) -> list[int | float]:
    """y as one number per example (a 1-D array, or a column of one value per row)."""
    values = [_listed(value) for value in _listed(y)]
    if any(isinstance(value, list | tuple) and len(value) != 1 for value in values):
        raise TypeError("y is one target per example (a 1-D array or one column)")
    return [_number(v[0] if isinstance(v, list | tuple) else v) for v in values]


def generate(
    kind: str,
    n: int | None = None,
    *,
    features: int | None = None,
    classes: int | None = None,
    noise: float | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """Seeded synthetic data for :func:`dataset`: ``generate("blobs", n=90, classes=3)``
    (``kind`` is ``linear``, ``blobs``, ``moons`` or ``badly_scaled``); fields left out take
    the service's defaults."""
    spec: dict[str, Any] = {"kind": kind}
    for name, value in (
        ("n", n),
        ("features", features),
        ("classes", classes),
        ("noise", noise),
        ("seed", seed),
    ):
        if value is not None:
            spec[name] = value
    return spec


def dataset(
    model: str,
    X: Any = None,
    y: Any = None,
    *,
    generate: Mapping[str, Any] | None = None,
    loss: str | None = None,
    standardize: bool | None = None,
    l2: float | None = None,
    batch_size: int | None = None,
    shuffle: bool | None = None,
    seed: int | None = None,
    classes: int | None = None,
    task: str | None = None,
    hidden: Sequence[int] | None = None,
    activation: str | None = None,
    batch_norm: bool | None = None,
) -> dict[str, Any]:
    """A model on data: ``dataset("linear_regression", X, y, batch_size=16)`` or
    ``dataset("softmax_regression", generate=generate("blobs", n=90))``.

    ``model`` is ``linear_regression``, ``logistic_regression``, ``softmax_regression`` or
    ``mlp``; ``X`` (rows of features) and ``y`` (targets, or class indices) may be NumPy arrays
    or lists. Only the fields given are sent: the others take the service's defaults. One
    optimizer step is one mini-batch of ``batch_size`` examples."""
    spec: dict[str, Any] = {"type": "dataset", "model": model}
    if X is not None:
        spec["X"] = _rows(X)
    if y is not None:
        spec["y"] = _targets(y)
    if generate is not None:
        spec["generate"] = dict(generate)
    for name, value in (
        ("loss", loss),
        ("standardize", standardize),
        ("l2", l2),
        ("batch_size", batch_size),
        ("shuffle", shuffle),
        ("seed", seed),
        ("classes", classes),
        ("task", task),
        ("activation", activation),
        ("batch_norm", batch_norm),
    ):
        if value is not None:
            spec[name] = value
    if hidden is not None:
        spec["hidden"] = [int(size) for size in hidden]
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
    start: Vector | None,
    schedule: ScheduleLike | None,
    stop: Mapping[str, Any] | None,
    record: Mapping[str, Any] | None,
    hyperparameters: Mapping[str, Any],
    analysis: bool = True,
) -> dict[str, Any]:
    """The body of ``POST /v1/runs`` (and of ``POST /v1/sessions``); no ``start`` leaves the
    default start to the service (dataset losses have one; a formula is refused)."""
    body: dict[str, Any] = {
        "loss": loss_spec(loss),
        "optimizer": optimizer_spec(optimizer, hyperparameters),
    }
    if start is not None:
        body["start"] = vector(start)
    if schedule is not None:
        body["schedule"] = schedule_spec(schedule)
    if stop is not None:
        body["stop"] = dict(stop)
    if record is not None:
        body["record"] = dict(record)
    if not analysis:
        body["analysis"] = False
    return body
