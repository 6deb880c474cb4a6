"""Every critical point of a loss in a box: multi-start Newton on ∇f = 0.

Method:
1. Starts: a grid of cell centres (``grid_starts``) and/or seeded uniform points in the box.
2. Newton's method on ∇f = 0 from all starts at once: θ ← θ − H⁺∇f, with H⁺ the pseudo-inverse
   of the symmetrised Hessian from one batched eigendecomposition (eigenvalues below
   ``SINGULAR_RTOL``·max|λ| count as zero, so a singular Hessian gives a least-squares step
   instead of a failure). The Hessian is not modified, so saddles and maxima attract as well as
   minima. Steps are capped at a quarter of the box diagonal; a start is dropped once it is
   not finite or wanders more than a box diagonal outside the box, and frozen once its step is
   below rounding or 1e-20 of the box diagonal (Newton converges only linearly to a degenerate
   point and must get far closer than the deduplication tolerance, see step 4). ``deadline``
   is checked between iterations.
3. A start is accepted when it ends inside the box (closed, up to rounding) with
   ‖∇f‖ ≤ gradient_tol·max(1, ‖H‖₂) — the criterion of ``core.analysis`` — and
   ‖∇f‖ ≤ ``GRADIENT_RTOL``·(median ‖∇f‖ over the starts), which keeps a loss multiplied by 1e-9
   from passing the absolute test everywhere. Degenerate points (x⁴ + y⁴ at 0), where Newton
   converges only linearly, pass after the fixed number of iterations.
4. Accepted points closer than ``DEDUP_RTOL`` of the box (per coordinate, relative to its
   width) are one point; the one with the smallest gradient represents it. Each representative
   gets ``REFINE_ITERATIONS`` more Newton steps, then ``analyze_many`` classifies them, with
   eigenvalues compared to the largest |λ| at the point and a deduplication tolerance away:
   where the Hessian vanishes (x⁴ + y⁴ at 0) Newton ends a rounding error away, where the
   Hessian is tiny but definite, and the point is reported ``degenerate`` all the same.
5. Sorted by classification (minima, maxima, saddles, degenerate), then value, then
   coordinates, with values and coordinates rounded to their tolerances so rounding noise does
   not reorder them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from core.analysis import (
    DEFAULT_EIGENVALUE_RTOL,
    DEFAULT_GRADIENT_TOL,
    Analysis,
    Classification,
    analyze_many,
)
from core.losses import Array, Loss

Mask = NDArray[np.bool_]

DEFAULT_ITERATIONS = 100
REFINE_ITERATIONS = 10
SINGULAR_RTOL = 1e-12
GRADIENT_RTOL = 1e-8
DEDUP_RTOL = 1e-6
BOX_RTOL = 1e-9
STEP_CAP = 0.25
WANDER = 1.0
FROZEN_RTOL = 1e-20
CHUNK_ENTRIES = 1 << 21
"""Hessian entries evaluated at once (16 MiB of float64), to bound memory for large n."""

_ORDER = {
    Classification.LOCAL_MINIMUM: 0,
    Classification.LOCAL_MAXIMUM: 1,
    Classification.SADDLE_POINT: 2,
    Classification.DEGENERATE: 3,
    Classification.NOT_CRITICAL: 4,
}


class CriticalPoint(NamedTuple):
    """One critical point, its analysis and how many starts converged to it."""

    analysis: Analysis
    starts: int


class Search(NamedTuple):
    """The outcome of a search."""

    points: list[CriticalPoint]
    starts: int
    converged: int
    iterations: int
    complete: bool


@np.errstate(all="ignore")  # a box near the float range overflows: such starts are dropped
def grid_starts(lower: Array, upper: Array, resolution: Sequence[int]) -> Array:
    """The centres of a grid of ``resolution[k]`` cells along axis k, shape (∏ resolution, n)."""
    axes = [
        low + (np.arange(count) + 0.5) * (high - low) / count
        for low, high, count in zip(lower, upper, resolution, strict=True)
    ]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.reshape(-1) for m in mesh], axis=-1)


def random_starts(lower: Array, upper: Array, count: int, seed: int) -> Array:
    """``count`` points drawn uniformly from the box, reproducibly from ``seed``."""
    rng = np.random.default_rng(seed)
    return lower + rng.random((count, len(lower))) * (upper - lower)


class _Newton(NamedTuple):
    theta: Array
    gradient_norm: Array
    spectral_norm: Array
    alive: Mask


def _chunks(rows: int, entries_per_row: int) -> list[slice]:
    """Slices of rows holding at most ``CHUNK_ENTRIES`` Hessian entries, to bound memory."""
    size = max(1, CHUNK_ENTRIES // entries_per_row)
    return [slice(start, min(start + size, rows)) for start in range(0, rows, size)]


def _newton_step(loss: Loss, theta: Array) -> tuple[Array, Array, Array, Mask]:
    """(step, ‖∇f‖, ‖H‖₂, finite) at each row of ``theta``; rows that are not finite get a
    zero step."""
    parts = [_newton_chunk(loss, theta[rows]) for rows in _chunks(len(theta), theta.shape[-1] ** 2)]
    if len(parts) == 1:
        return parts[0]
    step, gradient_norm, spectral_norm, finite = zip(*parts, strict=True)
    return (
        np.concatenate(step),
        np.concatenate(gradient_norm),
        np.concatenate(spectral_norm),
        np.concatenate(finite),
    )


def _newton_chunk(loss: Loss, theta: Array) -> tuple[Array, Array, Array, Mask]:
    with np.errstate(all="ignore"):
        _, gradient = loss.value_and_grad(theta)
        hessian = loss.hessian(theta)
    finite: Mask = np.asarray(
        np.isfinite(gradient).all(axis=-1) & np.isfinite(hessian).all(axis=(-2, -1))
    )
    step = np.zeros_like(theta)
    gradient_norm = np.full(len(theta), np.inf)
    spectral_norm = np.full(len(theta), np.inf)
    if finite.any():
        g = gradient[finite]
        h = hessian[finite]
        eigenvalues, eigenvectors = np.linalg.eigh(h / 2 + np.swapaxes(h, -1, -2) / 2)
        scale = np.abs(eigenvalues).max(axis=-1)
        usable = np.abs(eigenvalues) > SINGULAR_RTOL * scale[:, np.newaxis]
        inverse = np.where(usable, 1.0 / np.where(usable, eigenvalues, 1.0), 0.0)
        # H⁺g = V diag(1/λ) Vᵀ g, for every row at once.
        coefficients = np.einsum("bji,bj->bi", eigenvectors, g) * inverse
        step[finite] = -np.einsum("bij,bj->bi", eigenvectors, coefficients)
        gradient_norm[finite] = np.linalg.norm(g, axis=-1)
        spectral_norm[finite] = scale
    return step, gradient_norm, spectral_norm, finite


def _iterate(
    loss: Loss,
    theta: Array,
    lower: Array,
    upper: Array,
    iterations: int,
    deadline: float | None,
    clock: Callable[[], float],
) -> tuple[_Newton, int, bool]:
    """Newton's method from every row of ``theta``; (state, iterations done, finished)."""
    theta = theta.copy()
    width = upper - lower
    diagonal = float(np.linalg.norm(width))
    alive = np.ones(len(theta), dtype=bool)
    moving = alive.copy()
    done = 0
    finished = True
    for _ in range(iterations):
        if deadline is not None and clock() >= deadline:
            finished = False
            break
        rows = np.flatnonzero(moving)
        if rows.size == 0:
            break
        step, _, _, finite = _newton_step(loss, theta[rows])
        alive[rows[~finite]] = False
        length = np.linalg.norm(step, axis=-1)
        cap = STEP_CAP * diagonal
        with np.errstate(all="ignore"):
            shrink = np.where(length > cap, cap / length, 1.0)
        theta[rows] += step * shrink[:, np.newaxis]
        outside = np.maximum(lower - theta[rows], theta[rows] - upper).max(axis=-1)
        lost = ~np.isfinite(theta[rows]).all(axis=-1) | (outside > WANDER * diagonal)
        alive[rows[lost]] = False
        # A step below rounding (or negligible on the box's scale) moves no more.
        rounding = 4 * np.finfo(np.float64).eps * np.abs(theta[rows]).max(axis=-1)
        still = length > np.maximum(rounding, FROZEN_RTOL * diagonal)
        moving[rows] = alive[rows] & still
        done += 1
    _, gradient_norm, spectral_norm, finite = _newton_step(loss, theta)
    alive &= finite
    return _Newton(theta, gradient_norm, spectral_norm, alive), done, finished


@np.errstate(all="ignore")  # non-finite values are handled: rows holding them stop
def find_critical_points(
    loss: Loss,
    lower: Array,
    upper: Array,
    starts: Array,
    *,
    iterations: int = DEFAULT_ITERATIONS,
    gradient_tol: float = DEFAULT_GRADIENT_TOL,
    eigenvalue_rtol: float = DEFAULT_EIGENVALUE_RTOL,
    deadline: float | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Search:
    """Every critical point Newton's method reaches from ``starts`` (shape (B, n)) inside the box
    ``lower ≤ θ ≤ upper``, classified and sorted (see the module docstring)."""
    lower = np.asarray(lower, dtype=np.float64)
    upper = np.asarray(upper, dtype=np.float64)
    starts = np.asarray(starts, dtype=np.float64)
    if starts.ndim != 2 or starts.shape[1] != len(lower) or len(upper) != len(lower):
        raise ValueError("starts must have shape (B, n) and the box n lower and upper bounds")
    if not (upper > lower).all():
        raise ValueError("every lower bound must be below its upper bound")
    if len(starts) == 0:
        return Search([], 0, 0, 0, True)

    with np.errstate(all="ignore"):
        start_gradients = np.linalg.norm(loss.value_and_grad(starts)[1], axis=-1)
    finite_starts = start_gradients[np.isfinite(start_gradients)]
    typical = float(np.median(finite_starts)) if finite_starts.size else 0.0

    state, done, finished = _iterate(loss, starts, lower, upper, iterations, deadline, clock)
    accepted = _accepted(state, lower, upper, gradient_tol, typical)
    candidates = np.flatnonzero(accepted)
    kept, hits = _deduplicate(
        state.theta[candidates], state.gradient_norm[candidates], lower, upper
    )
    points: list[CriticalPoint] = []
    if kept.size:
        representatives = state.theta[candidates[kept]]
        refined, _, _ = _iterate(
            loss, representatives, lower, upper, REFINE_ITERATIONS, None, clock
        )
        # Refinement should only polish; where it made a point worse, keep the original.
        better = _accepted(refined, lower, upper, gradient_tol, typical) & (
            refined.gradient_norm <= state.gradient_norm[candidates[kept]]
        )
        # + 0.0 turns -0.0 into 0.0.
        final = np.where(better[:, np.newaxis], refined.theta, representatives) + 0.0
        rtols = _eigenvalue_rtols(loss, final, lower, upper, eigenvalue_rtol)
        for point, rtol, count in zip(final, rtols, hits, strict=True):
            (analysis,) = analyze_many(loss, point[np.newaxis], gradient_tol, float(rtol))
            if analysis is not None and analysis.classification is not Classification.NOT_CRITICAL:
                points.append(CriticalPoint(analysis, count))
    points = _sorted(points, lower, upper)
    return Search(points, len(starts), int(accepted.sum()), done, finished)


def _accepted(
    state: _Newton, lower: Array, upper: Array, gradient_tol: float, typical: float
) -> Mask:
    slack = BOX_RTOL * (upper - lower)
    inside = ((state.theta >= lower - slack) & (state.theta <= upper + slack)).all(axis=-1)
    critical = state.gradient_norm <= gradient_tol * np.maximum(1.0, state.spectral_norm)
    small = state.gradient_norm <= GRADIENT_RTOL * typical
    exact = state.gradient_norm == 0.0
    result: Mask = state.alive & inside & critical & (small | exact)
    return result


def _eigenvalue_rtols(
    loss: Loss, points: Array, lower: Array, upper: Array, eigenvalue_rtol: float
) -> Array:
    """The relative eigenvalue tolerance for each point that makes the absolute one
    eigenvalue_rtol·(the largest ‖H‖₂ at the point and a deduplication tolerance away).

    Newton reaches a point where the Hessian vanishes (x⁴ + y⁴ at 0) only to within rounding,
    where the Hessian is tiny but definite; measured against the Hessian a deduplication
    tolerance away it is zero, and the point is reported degenerate. At a non-degenerate point
    the Hessian hardly changes over that distance and the tolerance is analyze's own. The
    neighbours lie along ± two fixed generic directions, scaled to the box."""
    count, n = points.shape
    directions = np.random.default_rng(0).standard_normal((2, n))
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    offsets = np.concatenate([directions, -directions]) * (DEDUP_RTOL * (upper - lower))
    rtols = np.empty(count)
    for rows in _chunks(count, (1 + len(offsets)) * n * n):
        chunk = points[rows]
        around = (chunk[:, np.newaxis, :] + offsets[np.newaxis]).reshape(-1, n)
        with np.errstate(all="ignore"):
            own = _spectral_norms(loss.hessian(chunk))
            nearby = _spectral_norms(loss.hessian(around)).reshape(len(chunk), len(offsets))
            nearby = np.where(np.isfinite(nearby), nearby, 0.0).max(axis=-1)
            scale = np.maximum(own, nearby)
            ratio = np.where(own > 0, scale / np.where(own > 0, own, 1.0), 1.0)
        rtols[rows] = eigenvalue_rtol * np.where(np.isfinite(ratio), ratio, 1.0)
    return rtols


def _spectral_norms(hessians: Array) -> Array:
    """max|λ| of each symmetrised Hessian; NaN where it is not finite."""
    finite = np.isfinite(hessians).all(axis=(-2, -1))
    norms = np.full(len(hessians), np.nan)
    if finite.any():
        h = hessians[finite]
        norms[finite] = np.abs(np.linalg.eigvalsh(h / 2 + np.swapaxes(h, -1, -2) / 2)).max(axis=-1)
    return norms


def _deduplicate(
    points: Array, gradient_norms: Array, lower: Array, upper: Array
) -> tuple[NDArray[np.intp], list[int]]:
    """The row of one representative (the smallest gradient) per cluster of nearby points,
    and how many points each cluster holds."""
    if len(points) == 0:
        return np.empty(0, dtype=np.intp), []
    scaled = (points - lower) / (upper - lower)
    order = np.argsort(gradient_norms, kind="stable")
    kept: list[int] = []
    hits: list[int] = []
    kept_scaled = np.empty_like(scaled)
    for index in order:
        if kept:
            distance = np.abs(kept_scaled[: len(kept)] - scaled[index]).max(axis=-1)
            nearest = int(np.argmin(distance))
            if distance[nearest] <= DEDUP_RTOL:
                hits[nearest] += 1
                continue
        kept_scaled[len(kept)] = scaled[index]
        kept.append(int(index))
        hits.append(1)
    return np.array(kept, dtype=np.intp), hits


def _sorted(points: list[CriticalPoint], lower: Array, upper: Array) -> list[CriticalPoint]:
    if not points:
        return points
    values = np.array([p.analysis.value for p in points])
    value_scale = max(1.0, float(np.abs(values).max()))
    width = upper - lower

    def key(point: CriticalPoint) -> tuple[float, ...]:
        analysis = point.analysis
        coordinates = np.round((analysis.point - lower) / width / DEDUP_RTOL)
        return (
            _ORDER[analysis.classification],
            round(analysis.value / value_scale, 9),
            *(float(c) for c in coordinates),
        )

    return sorted(points, key=key)
