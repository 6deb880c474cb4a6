"""Small synthetic datasets for the model losses of :mod:`core.models`, and feature scaling.

Every dataset is a pure function of its arguments: all randomness comes from
``numpy.random.default_rng(seed)``. Class labels are stored as float64 integers 0, …, k−1.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np

from core.losses import Array

__all__ = ["DEFAULT_NOISE", "KINDS", "Dataset", "Kind", "generate", "standardize"]

Kind = Literal["linear", "blobs", "moons", "badly_scaled"]

KINDS: tuple[Kind, ...] = ("linear", "blobs", "moons", "badly_scaled")

DEFAULT_NOISE: dict[Kind, float] = {
    "linear": 0.1,
    "blobs": 1.0,
    "moons": 0.1,
    "badly_scaled": 0.1,
}
"""The noise each kind uses when none is given (see :func:`generate` for what it scales)."""

BLOB_CENTER_BOX = 10.0
"""Blob centres are uniform in [−10, 10] per feature, as in scikit-learn's ``make_blobs``."""

BADLY_SCALED_SCALE = 100.0
"""The standard deviation of the second feature of ``badly_scaled`` (the first has 1)."""


class Dataset(NamedTuple):
    """m examples: inputs ``X`` of shape (m, d) and targets ``y`` of shape (m,), float64."""

    X: Array
    y: Array


def generate(
    kind: Kind,
    *,
    n: int,
    seed: int,
    features: int = 2,
    classes: int = 3,
    noise: float | None = None,
) -> Dataset:
    """n examples of ``kind``, drawn from ``default_rng(seed)``; ``noise`` defaults per kind
    (:data:`DEFAULT_NOISE`).

    - ``linear`` (noise 0.1): xᵢ ~ N(0, I) in ``features`` dimensions; w* ~ N(0, I) and
      b* ~ N(0, 1) are drawn first, then X, then ε ~ N(0, 1); yᵢ = w*·xᵢ + b* + noise·εᵢ.
    - ``blobs`` (noise 1.0): ``classes`` centres uniform in [−10, 10]^features; labels are
      0, 1, …, k−1 repeated (as balanced as n allows) in a random order; xᵢ = centre(yᵢ) +
      noise·N(0, I), so noise is each cluster's standard deviation.
    - ``moons`` (noise 0.1), always 2-D: label 0 on the upper half circle (cos t, sin t) and
      label 1 on the lower one (1 − cos t, ½ − sin t), t evenly spaced in [0, π] (⌈n/2⌉ points
      on the upper one, ⌊n/2⌋ on the lower), plus noise·N(0, I), rows shuffled — scikit-learn's
      ``make_moons``.
    - ``badly_scaled`` (noise 0.1), always 2-D: x₁ ~ N(0, 1), x₂ ~ 100·N(0, 1), and
      y = a₁x₁ + a₂x₂/100 + c + noise·ε with a₁, a₂, c ~ N(0, 1) drawn first. Both features
      matter equally once standardised, but on the raw features the MSE's curvature along w₂
      is 10⁴ times that along w₁: gradient descent needs a learning rate below ~10⁻⁴ and then
      crawls along w₁.

    ``features`` is used by ``linear`` and ``blobs``, ``classes`` by ``blobs`` only.
    """
    assert n >= 1, "n must be positive"
    rng = np.random.default_rng(seed)
    spread = DEFAULT_NOISE[kind] if noise is None else float(noise)
    if kind == "linear":
        return _linear(rng, n, features, spread)
    if kind == "blobs":
        return _blobs(rng, n, features, classes, spread)
    if kind == "moons":
        return _moons(rng, n, spread)
    if kind == "badly_scaled":
        return _badly_scaled(rng, n, spread)
    raise AssertionError(f"unknown dataset kind {kind!r}")


def standardize(X: Array) -> tuple[Array, Array, Array]:
    """(X − μ)/s per feature, with μ, s the mean and population (ddof = 0) standard deviation.

    Returns ``(X_scaled, mean, scale)``. A constant feature gets scale 1 and mean equal to its
    value, so it becomes exactly 0 rather than a division by zero (a computed standard
    deviation of a constant column can be a rounding residue such as 1e-17, not 0).
    """
    X = np.asarray(X, dtype=np.float64)
    assert X.ndim == 2, "X must be an (m, d) matrix"
    assert X.shape[0] >= 1, "X must have at least one row"
    constant = X.max(axis=0) == X.min(axis=0)
    mean = np.where(constant, X[0], X.mean(axis=0))
    scale = np.where(constant, 1.0, X.std(axis=0))
    return (X - mean) / scale, mean, scale


def _linear(rng: np.random.Generator, n: int, features: int, noise: float) -> Dataset:
    weights = rng.standard_normal(features)
    bias = rng.standard_normal()
    X = rng.standard_normal((n, features))
    y = X @ weights + bias + noise * rng.standard_normal(n)
    return Dataset(X, y)


def _blobs(rng: np.random.Generator, n: int, features: int, classes: int, noise: float) -> Dataset:
    centres = rng.uniform(-BLOB_CENTER_BOX, BLOB_CENTER_BOX, size=(classes, features))
    labels = rng.permutation(np.arange(n) % classes)
    X = centres[labels] + noise * rng.standard_normal((n, features))
    return Dataset(X, labels.astype(np.float64))


def _moons(rng: np.random.Generator, n: int, noise: float) -> Dataset:
    upper = n - n // 2
    t_upper = np.linspace(0.0, np.pi, upper)
    t_lower = np.linspace(0.0, np.pi, n // 2)
    X = np.concatenate(
        [
            np.column_stack([np.cos(t_upper), np.sin(t_upper)]),
            np.column_stack([1.0 - np.cos(t_lower), 0.5 - np.sin(t_lower)]),
        ]
    )
    labels = np.concatenate([np.zeros(upper), np.ones(n // 2)])
    X += noise * rng.standard_normal((n, 2))
    order = rng.permutation(n)
    return Dataset(X[order], labels[order])


def _badly_scaled(rng: np.random.Generator, n: int, noise: float) -> Dataset:
    a1, a2, c = rng.standard_normal(3)
    X = rng.standard_normal((n, 2)) * np.array([1.0, BADLY_SCALED_SCALE])
    y = a1 * X[:, 0] + a2 * X[:, 1] / BADLY_SCALED_SCALE + c + noise * rng.standard_normal(n)
    return Dataset(X, y)
