"""Dataset losses: the data checked against the limits and the model, then the model built.

A request's data is refused with a 422 naming the field (``loss.X``, ``loss.y``, ``loss.generate``,
``loss.batch_size``, …) before anything is computed: ragged rows, labels that are not class
indices, batch normalisation on a one-example batch, more examples or features than the limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from core import models
from core.datasets import generate, standardize
from core.losses import Array, Loss
from core.minibatch import Minibatches, Stats
from core.models import DatasetLoss
from service.errors import InvalidSpecification, LimitExceeded
from service.settings import Settings
from service.specs import DatasetLossSpec

_CLASSIFIERS = {"logistic_regression", "softmax_regression"}
Task = Literal["regression", "classification"]
LossName = Literal["mse", "cross_entropy"]
_MLP_ONLY = ("hidden", "activation", "batch_norm", "task")


@dataclass(frozen=True)
class DatasetSetup:
    """A dataset loss with how it is cut into mini-batches and how its features were scaled."""

    loss: DatasetLoss
    batches: Minibatches
    features: int
    classes: int | None
    mean: Array | None
    scale: Array | None

    def describe(self, step: int, stats: Stats) -> dict[str, Any]:
        """What an answer reports about the data and the model at ``step`` (not the data)."""
        return {
            "examples": self.batches.size,
            "features": self.features,
            "classes": self.classes,
            "batch_size": self.batches.batch_size,
            "steps_per_epoch": self.batches.steps_per_epoch,
            "epoch": float(self.batches.epochs(np.array(step))),
            "standardization": None
            if self.mean is None or self.scale is None
            else {"mean": self.mean.tolist(), "scale": self.scale.tolist()},
            "hessian_method": self.loss.hessian_method,
            "model_state": None
            if not stats
            else {
                "running_mean": [leaf.tolist() for leaf in stats[0::2]],
                "running_var": [leaf.tolist() for leaf in stats[1::2]],
            },
        }


def hessian_method(loss: Loss) -> str:
    """How ``loss``'s Hessian is computed: exactly, or by differences of its exact gradient."""
    return loss.hessian_method if isinstance(loss, DatasetLoss) else "exact"


def build_dataset(spec: DatasetLossSpec, settings: Settings) -> DatasetSetup:
    """The model on the data ``spec`` gives, or a 422 naming what is wrong."""
    _refuse_foreign_fields(spec)
    X, y, source = _data(spec, settings)
    task = _task(spec)
    loss_name: LossName = spec.loss or ("cross_entropy" if task == "classification" else "mse")
    if task == "regression" and loss_name != "mse":
        raise InvalidSpecification.at(
            ("loss", "loss"), f"{spec.model} ({task}) is fitted with mse, not {loss_name}"
        )
    classes = _classes(spec, y, source) if task == "classification" else None
    _check_batches(spec, len(X))
    count = parameter_count(spec, X.shape[1], classes)
    if count > settings.max_model_params:
        raise LimitExceeded.at(
            ("loss",), f"the model has {count} parameters; the limit is {settings.max_model_params}"
        )
    mean = scale = None
    if spec.standardize:
        with np.errstate(over="ignore", invalid="ignore"):
            X, mean, scale = standardize(X)
        overflowed = ~(np.isfinite(mean) & np.isfinite(scale) & np.isfinite(X).all(axis=0))
        if overflowed.any():
            raise InvalidSpecification.at(
                ("loss", "X") if spec.X is not None else ("loss", "generate"),
                f"feature {int(np.argmax(overflowed))} is too large to standardize: its mean or "
                "spread overflows",
            )
    try:
        loss = _model(spec, X, y, loss_name, task, classes)
    except ValueError as error:
        raise InvalidSpecification.at(("loss",), str(error)) from error
    batches = Minibatches(len(X), min(spec.batch_size, len(X)), spec.shuffle, spec.seed)
    return DatasetSetup(loss, batches, X.shape[1], classes, mean, scale)


def parameter_count(spec: DatasetLossSpec, features: int, classes: int | None) -> int:
    """The length of θ, counted before the model is built so that a huge model is refused
    before anything is allocated."""
    outputs = 1 if classes is None or spec.model == "logistic_regression" else classes
    if spec.model != "mlp":
        return (features + 1) * outputs
    count, fan_in = 0, features
    for width in spec.hidden:
        # A batch-normalised layer trades its bias for a scale and a shift.
        count += fan_in * width + (2 * width if spec.batch_norm else width)
        fan_in = width
    return count + (fan_in + 1) * outputs


def _refuse_foreign_fields(spec: DatasetLossSpec) -> None:
    """Refuses an mlp-only field given another value than its default for another model.

    By value, not by whether the field was given: a stored session's spec holds every field,
    defaults included, and is read back as given."""
    if spec.model == "mlp":
        return
    for name in _MLP_ONLY:
        default = DatasetLossSpec.model_fields[name].get_default(call_default_factory=True)
        if getattr(spec, name) != default:
            raise InvalidSpecification.at(("loss", name), f"only for model mlp, not {spec.model}")


def _data(spec: DatasetLossSpec, settings: Settings) -> tuple[Array, Array, tuple[str, ...]]:
    """X (m, d), y (m,) and the field they came from."""
    if spec.generate is not None:
        g = spec.generate
        features = 2 if g.kind in ("moons", "badly_scaled") else g.features
        _check_size(g.n, features, settings, ("loss", "generate"))
        if g.kind == "blobs" and g.classes > g.n:
            raise InvalidSpecification.at(
                ("loss", "generate", "classes"),
                f"{g.classes} blobs cannot be drawn from {g.n} examples",
            )
        options: dict[str, Any] = {"features": features, "classes": g.classes}
        if g.noise is not None:
            options["noise"] = g.noise
        data = generate(g.kind, n=g.n, seed=g.seed, **options)
        return data.X, data.y, ("loss", "generate")
    assert spec.X is not None
    assert spec.y is not None
    width = len(spec.X[0])
    for i, row in enumerate(spec.X):
        if len(row) != width:
            raise InvalidSpecification.at(
                ("loss", "X", i), f"has {len(row)} features but row 0 has {width}"
            )
    if width == 0:
        raise InvalidSpecification.at(("loss", "X", 0), "a row needs at least one feature")
    if len(spec.y) != len(spec.X):
        raise InvalidSpecification.at(
            ("loss", "y"), f"has {len(spec.y)} targets but X has {len(spec.X)} rows"
        )
    _check_size(len(spec.X), width, settings, ("loss", "X"))
    X = np.asarray(spec.X, dtype=np.float64)
    return X, np.asarray(spec.y, dtype=np.float64), ("loss", "y")


def _check_size(rows: int, features: int, settings: Settings, loc: tuple[str, ...]) -> None:
    if rows > settings.max_dataset_rows:
        raise LimitExceeded.at(loc, f"{rows} examples; the limit is {settings.max_dataset_rows}")
    if features > settings.max_dataset_features:
        raise LimitExceeded.at(
            loc, f"{features} features; the limit is {settings.max_dataset_features}"
        )
    if rows * features > settings.max_dataset_values:
        raise LimitExceeded.at(
            loc,
            f"{rows} × {features} = {rows * features} values; the limit is "
            f"{settings.max_dataset_values}",
        )


def _task(spec: DatasetLossSpec) -> Task:
    if spec.model == "mlp":
        if spec.task is not None:
            return spec.task
        return "classification" if spec.loss == "cross_entropy" else "regression"
    return "classification" if spec.model in _CLASSIFIERS else "regression"


def _classes(spec: DatasetLossSpec, y: Array, source: tuple[str, ...]) -> int:
    """The number of classes, after checking every label is a class index."""
    largest = int(y.max()) if y.size else 0
    classes = spec.classes if spec.classes is not None else max(largest + 1, 2)
    if spec.model == "logistic_regression" and classes != 2:
        raise InvalidSpecification.at(
            ("loss", "classes") if spec.classes is not None else source,
            f"logistic regression has 2 classes (labels 0 and 1), not {classes}",
        )
    bad = np.flatnonzero((y != np.round(y)) | (y < 0) | (y >= classes))
    if bad.size:
        i = int(bad[0])
        where: tuple[str | int, ...] = (*source, i) if source[-1] == "y" else source
        raise InvalidSpecification.at(
            where, f"label {y[i]:g} is not a class index 0..{classes - 1}"
        )
    return classes


def _check_batches(spec: DatasetLossSpec, examples: int) -> None:
    if not (spec.model == "mlp" and spec.batch_norm):
        return
    size = min(spec.batch_size, examples)
    if size == 1 or examples % size == 1:
        raise InvalidSpecification.at(
            ("loss", "batch_size"),
            f"batch normalisation needs at least 2 examples in every mini-batch; with "
            f"{examples} examples and batch_size {spec.batch_size} one batch has 1",
        )


def _model(
    spec: DatasetLossSpec, X: Array, y: Array, loss: LossName, task: Task, classes: int | None
) -> DatasetLoss:
    match spec.model:
        case "linear_regression":
            return models.linear_regression(X, y, l2=spec.l2)
        case "logistic_regression":
            return models.logistic_regression(X, y, loss=loss, l2=spec.l2)
        case "softmax_regression":
            assert classes is not None
            return models.softmax_regression(X, y, classes=classes, loss=loss, l2=spec.l2)
        case "mlp":
            return models.mlp(
                X,
                y,
                hidden=spec.hidden,
                activation=spec.activation,
                batch_norm=spec.batch_norm,
                task=task,
                classes=classes,
                loss=loss,
                l2=spec.l2,
            )
    raise AssertionError(spec.model)
