"""Second-order analysis at a point: Hessian spectrum, curvature and critical-point class.

Tolerances (documented in the README):
- the gradient counts as zero when ‖∇f‖ ≤ gradient_tol · max(1, ‖H‖₂): near a nondegenerate
  critical point ‖∇f‖ ≈ ‖H‖·distance, so this reads "within about gradient_tol of a critical
  point" whatever the scale of f;
- an eigenvalue counts as zero when |λ| ≤ eigenvalue_rtol · max|λᵢ|, relative to the largest, so
  the verdict does not change when f is multiplied by a constant. A Hessian that is exactly zero
  has every eigenvalue zero.
"""

from __future__ import annotations

import math
import sys
from enum import StrEnum
from typing import NamedTuple

import numpy as np

from core.losses import Array, Loss

DEFAULT_GRADIENT_TOL = 1e-6
DEFAULT_EIGENVALUE_RTOL = 1e-8


class Curvature(StrEnum):
    """The definiteness of the Hessian."""

    POSITIVE_DEFINITE = "positive_definite"
    NEGATIVE_DEFINITE = "negative_definite"
    INDEFINITE = "indefinite"
    POSITIVE_SEMIDEFINITE = "positive_semidefinite"
    NEGATIVE_SEMIDEFINITE = "negative_semidefinite"


class Classification(StrEnum):
    """What kind of point the second-order test says θ is."""

    LOCAL_MINIMUM = "local_minimum"
    LOCAL_MAXIMUM = "local_maximum"
    SADDLE_POINT = "saddle_point"
    DEGENERATE = "degenerate"
    NOT_CRITICAL = "not_critical"


class MomentumSettings(NamedTuple):
    """Goh's optimal (Distill, 2017) step size α* and momentum β* on a quadratic model."""

    lr: float
    momentum: float


class Analysis(NamedTuple):
    """Everything the second-order test knows about f at θ."""

    point: Array
    value: float
    gradient: Array
    gradient_norm: float
    hessian: Array
    eigenvalues: Array
    eigenvectors: Array
    curvature: Curvature
    classification: Classification
    escape_direction: Array | None
    condition_number: float | None
    stability_bound: float | None
    optimal_momentum: MomentumSettings | None
    gradient_tol: float
    eigenvalue_tol: float


def curvature_of(eigenvalues: Array, tol: float) -> Curvature:
    """Definiteness from eigenvalues, treating |λ| ≤ tol as zero."""
    positive = bool((eigenvalues > tol).any())
    negative = bool((eigenvalues < -tol).any())
    zero = bool((np.abs(eigenvalues) <= tol).any())
    if positive and negative:
        return Curvature.INDEFINITE
    if positive:
        return Curvature.POSITIVE_SEMIDEFINITE if zero else Curvature.POSITIVE_DEFINITE
    if negative:
        return Curvature.NEGATIVE_SEMIDEFINITE if zero else Curvature.NEGATIVE_DEFINITE
    return Curvature.POSITIVE_SEMIDEFINITE


def classify_critical_point(critical: bool, curvature: Curvature) -> Classification:
    """The second-order test: definite → extremum, indefinite → saddle, else inconclusive."""
    if not critical:
        return Classification.NOT_CRITICAL
    return {
        Curvature.POSITIVE_DEFINITE: Classification.LOCAL_MINIMUM,
        Curvature.NEGATIVE_DEFINITE: Classification.LOCAL_MAXIMUM,
        Curvature.INDEFINITE: Classification.SADDLE_POINT,
    }.get(curvature, Classification.DEGENERATE)


def _representable_momentum(smallest: float, largest: float) -> MomentumSettings | None:
    """``optimal_momentum``, or None where its numbers overflow (λ near the ends of the float
    range): an answer holds no ±inf."""
    try:
        settings = optimal_momentum(smallest, largest)
    except ArithmeticError:
        return None
    return settings if math.isfinite(settings.lr) and math.isfinite(settings.momentum) else None


def optimal_momentum(smallest: float, largest: float) -> MomentumSettings:
    """α* = (2/(√λ₁ + √λₙ))², β* = ((√κ − 1)/(√κ + 1))² for 0 < λ₁ ≤ λₙ, κ = λₙ/λ₁."""
    root_kappa = math.sqrt(largest / smallest)
    lr = (2.0 / (math.sqrt(smallest) + math.sqrt(largest))) ** 2
    return MomentumSettings(lr, ((root_kappa - 1.0) / (root_kappa + 1.0)) ** 2)


def analyze(
    loss: Loss,
    point: Array,
    gradient_tol: float = DEFAULT_GRADIENT_TOL,
    eigenvalue_rtol: float = DEFAULT_EIGENVALUE_RTOL,
) -> Analysis:
    """Value, gradient, Hessian spectrum and class of ``loss`` at ``point`` (shape (n,))."""
    analysis = analyze_many(loss, point[np.newaxis], gradient_tol, eigenvalue_rtol)[0]
    if analysis is None:
        raise ArithmeticError("the loss or its derivatives are not finite at this point")
    return analysis


def analyze_many(
    loss: Loss,
    points: Array,
    gradient_tol: float = DEFAULT_GRADIENT_TOL,
    eigenvalue_rtol: float = DEFAULT_EIGENVALUE_RTOL,
) -> list[Analysis | None]:
    """``analyze`` at each row of ``points`` (shape (B, n)), with one vectorised evaluation and
    eigendecomposition; None for a row where f or its derivatives are not finite."""
    with np.errstate(all="ignore"):
        values, gradients = loss.value_and_grad(points)
        hessians = loss.hessian(points)
        # ‖∇f‖ can overflow where every component is finite; the answer must hold no ±inf.
        norms = np.linalg.norm(gradients, axis=-1)
    hessians = hessians / 2 + np.swapaxes(hessians, -1, -2) / 2  # halves: no overflow
    finite = (
        np.isfinite(values)
        & np.isfinite(gradients).all(axis=-1)
        & np.isfinite(norms)
        & np.isfinite(hessians).all(axis=(-2, -1))
    )
    rows = np.flatnonzero(finite)
    with np.errstate(all="ignore"):  # huge entries can give eigenvalues beyond the float range
        spectra = np.linalg.eigh(hessians[rows]) if rows.size else None
    analyses: list[Analysis | None] = [None] * len(points)
    for local, row in enumerate(rows):
        assert spectra is not None
        if not np.isfinite(spectra.eigenvalues[local]).all():
            continue
        analyses[row] = _classify(
            points[row],
            float(values[row]),
            gradients[row],
            hessians[row],
            spectra.eigenvalues[local],
            spectra.eigenvectors[local],
            gradient_tol,
            eigenvalue_rtol,
        )
    return analyses


def _classify(
    point: Array,
    value: float,
    gradient: Array,
    hessian: Array,
    eigenvalues: Array,
    eigenvectors: Array,
    gradient_tol: float,
    eigenvalue_rtol: float,
) -> Analysis:
    scale = float(np.abs(eigenvalues).max()) if eigenvalues.size else 0.0
    eigenvalue_tol = eigenvalue_rtol * scale
    gradient_norm = float(np.linalg.norm(gradient))
    # A huge tolerance times a huge ‖H‖ overflows; the largest float means the same here.
    grad_tol = min(gradient_tol * max(1.0, scale), sys.float_info.max)
    curvature = curvature_of(eigenvalues, eigenvalue_tol)
    classification = classify_critical_point(gradient_norm <= grad_tol, curvature)

    escape = None
    if classification is Classification.SADDLE_POINT:
        direction = eigenvectors[:, 0]
        # Eigenvectors have no inherent sign; fix one so answers are reproducible.
        pivot = np.argmax(np.abs(direction))
        escape = direction if direction[pivot] > 0 else -direction

    smallest, largest = float(eigenvalues[0]), float(eigenvalues[-1])
    nonzero = np.abs(eigenvalues) > eigenvalue_tol
    with np.errstate(over="ignore"):
        ratio = (
            float(np.abs(eigenvalues).max() / np.abs(eigenvalues).min()) if nonzero.all() else None
        )
    condition = ratio if ratio is not None and math.isfinite(ratio) else None
    definite = curvature is Curvature.POSITIVE_DEFINITE
    return Analysis(
        point=point,
        value=value,
        gradient=gradient,
        gradient_norm=gradient_norm,
        hessian=hessian,
        eigenvalues=eigenvalues,
        eigenvectors=eigenvectors,
        curvature=curvature,
        classification=classification,
        escape_direction=escape,
        condition_number=condition,
        stability_bound=2.0 / largest if largest > eigenvalue_tol else None,
        optimal_momentum=_representable_momentum(smallest, largest) if definite else None,
        gradient_tol=grad_tol,
        eigenvalue_tol=eigenvalue_tol,
    )
