"""Loss landscapes on a plane: a grid of values for contour plots and a gradient field for
quiver plots.

A plane is a center c ∈ Rⁿ and two orthonormal directions d₁, d₂; the plane coordinates (x, y)
name the point c + x·d₁ + y·d₂. For n = 2 the plain x–y plane is c = 0, d₁ = e₁, d₂ = e₂.
Grids put rows along y and columns along x: ``z[i, j] = f(x[j], y[i])``, as contour plotting
libraries expect. Values that are not finite (the log of a negative, an overflow) are NaN.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from core.losses import Array, Loss

PARALLEL_RTOL = 1e-10
"""A direction counts as parallel to the first when less than this fraction of it is left
after removing its component along the first."""


class Plane(NamedTuple):
    """A 2-D affine slice of Rⁿ: the point ``center + x·directions[0] + y·directions[1]``."""

    center: Array
    directions: Array


class Grid(NamedTuple):
    """f on a grid of the plane: ``z[i, j] = f(x[j], y[i])``; NaN where f is not finite."""

    x: Array
    y: Array
    z: Array


class GradientField(NamedTuple):
    """The gradient of the slice on a grid: ``gx[i, j]`` and ``gy[i, j]`` are the derivatives
    of f along ``directions[0]`` and ``directions[1]`` at (x[j], y[i]); NaN where not finite."""

    x: Array
    y: Array
    gx: Array
    gy: Array


class DirectionError(ValueError):
    """A given direction is zero, not finite or parallel to the first; ``index`` says which."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


def coordinate_plane(n: int) -> Plane:
    """The plane of the first two coordinates through the origin (the x–y plane when n = 2)."""
    if n < 2:
        raise ValueError(f"a plane needs at least 2 variables; the loss has {n}")
    return Plane(np.zeros(n), np.eye(2, n))


def orthonormalize(vectors: Array) -> Array:
    """Gram–Schmidt on two vectors (shape (2, n)): d₁ = v₁/‖v₁‖, d₂ = the unit part of v₂
    orthogonal to d₁. Raises :class:`DirectionError` for a zero, non-finite or parallel one."""
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim != 2 or vectors.shape[0] != 2:
        raise ValueError(f"need two direction vectors; got shape {vectors.shape}")
    first = _unit(vectors[0], 0)
    second = _unit(vectors[1], 1)
    residual = second - (second @ first) * first
    norm = float(np.linalg.norm(residual))
    if norm <= PARALLEL_RTOL:
        raise DirectionError(1, "is parallel to the first direction; the plane needs two")
    residual = residual / norm
    # One more pass removes what rounding left of the first direction.
    residual = residual - (residual @ first) * first
    # + 0.0 turns -0.0 into 0.0.
    return np.stack([first, residual / np.linalg.norm(residual)]) + 0.0


def _unit(vector: Array, index: int) -> Array:
    if not np.isfinite(vector).all():
        raise DirectionError(index, "is not finite")
    # Scaling by the largest entry first keeps the norm from overflowing (1e200 entries).
    largest = float(np.abs(vector).max()) if vector.size else 0.0
    if largest == 0.0:
        raise DirectionError(index, "is the zero vector")
    scaled = vector / largest
    return scaled / np.linalg.norm(scaled)


def random_directions(n: int, seed: int) -> Array:
    """Two orthonormal directions drawn from the uniform distribution on the sphere (standard
    normal vectors, orthonormalised); the same ``seed`` always gives the same pair."""
    if n < 2:
        raise ValueError(f"a plane needs at least 2 variables; got {n}")
    rng = np.random.default_rng(seed)
    while True:
        try:
            return orthonormalize(rng.standard_normal((2, n)))
        except DirectionError:  # pragma: no cover - probability zero
            continue


class HessianDirections(NamedTuple):
    """The two leading eigenvectors of the Hessian and their eigenvalues."""

    directions: Array
    eigenvalues: Array


def hessian_directions(loss: Loss, center: Array) -> HessianDirections:
    """The eigenvectors of the (symmetrised) Hessian at ``center`` whose eigenvalues are
    largest in absolute value, in that order (ties keep ascending-eigenvalue order); each sign
    is fixed so its largest-magnitude component is positive. Raises ArithmeticError when the
    Hessian is not finite there."""
    with np.errstate(all="ignore"):
        hessian = np.asarray(loss.hessian(center), dtype=np.float64)
    if not np.isfinite(hessian).all():
        raise ArithmeticError("the Hessian is not finite at the center")
    hessian = hessian / 2 + hessian.T / 2  # halves: a sum of huge entries would overflow
    eigenvalues, eigenvectors = np.linalg.eigh(hessian)
    order = np.argsort(-np.abs(eigenvalues), kind="stable")[:2]
    directions = eigenvectors[:, order].T.copy()
    pivots = np.argmax(np.abs(directions), axis=-1)
    signs = np.where(directions[np.arange(2), pivots] < 0, -1.0, 1.0)
    directions = directions * signs[:, np.newaxis]
    # + 0.0 turns -0.0 into 0.0.
    return HessianDirections(directions + 0.0, eigenvalues[order])


def axis(low: float, high: float, count: int) -> Array:
    """``count`` evenly spaced coordinates from ``low`` to ``high``, both included."""
    return np.linspace(low, high, count)


def plane_points(plane: Plane, x: Array, y: Array) -> Array:
    """The points of the grid, shape (len(y), len(x), n): row i, column j is
    center + x[j]·d₁ + y[i]·d₂."""
    first, second = plane.directions
    with np.errstate(all="ignore"):
        points: Array = (
            plane.center
            + x[np.newaxis, :, np.newaxis] * first
            + y[:, np.newaxis, np.newaxis] * second
        )
    return points


def _finite_or_nan(values: Array) -> Array:
    values = np.asarray(values, dtype=np.float64)
    result: Array = np.where(np.isfinite(values), values, np.nan)
    return result


def evaluate_grid(
    loss: Loss, plane: Plane, x: Array, y: Array, rows_per_call: int | None = None
) -> Grid:
    """f on the grid, with vectorised calls on (rows, len(x), n) arrays: every row of the grid
    at once, or ``rows_per_call`` rows at a time (bounding the memory of losses whose value
    holds a temporary per point, such as a model's predictions on every example)."""
    points = plane_points(plane, x, y)
    with np.errstate(all="ignore"):
        z = np.concatenate([loss.value(part) for part in _row_chunks(points, rows_per_call)])
    return Grid(x, y, _finite_or_nan(z))


def gradient_field(
    loss: Loss, plane: Plane, x: Array, y: Array, rows_per_call: int | None = None
) -> GradientField:
    """The gradient of the slice (x, y) ↦ f(c + x·d₁ + y·d₂) on the grid: ∇f·d₁ and ∇f·d₂."""
    points = plane_points(plane, x, y)
    with np.errstate(all="ignore"):
        gradient = np.concatenate(
            [loss.value_and_grad(part)[1] for part in _row_chunks(points, rows_per_call)]
        )
        gx = gradient @ plane.directions[0]
        gy = gradient @ plane.directions[1]
    return GradientField(x, y, _finite_or_nan(gx), _finite_or_nan(gy))


def _row_chunks(points: Array, rows: int | None) -> list[Array]:
    if rows is None or rows >= len(points):
        return [points]
    return [points[i : i + rows] for i in range(0, len(points), max(rows, 1))]
