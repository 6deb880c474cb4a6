"""Use cases for the shape of a loss: its landscape on a plane (``POST /v1/landscape``) and
every critical point in a box (``POST /v1/critical-points``), with their request specs."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from pydantic import Discriminator, Field, Tag

from core.analysis import DEFAULT_EIGENVALUE_RTOL, DEFAULT_GRADIENT_TOL
from core.critical_points import (
    DEFAULT_ITERATIONS,
    CriticalPoint,
    find_critical_points,
    grid_starts,
    random_starts,
)
from core.landscape import (
    DirectionError,
    GradientField,
    Grid,
    Plane,
    axis,
    coordinate_plane,
    evaluate_grid,
    gradient_field,
    hessian_directions,
    orthonormalize,
    random_directions,
)
from core.losses import Array, Loss
from core.models import DatasetLoss
from service.build import LossCompiler, build_loss, check_hessian_size, check_point
from service.datasets import hessian_method
from service.errors import InvalidSpecification, LimitExceeded
from service.settings import Settings
from service.specs import FiniteFloat, LossSpec, Spec

Bound = Annotated[
    list[FiniteFloat],
    Field(min_length=2, max_length=2, description="[low, high], low < high."),
]
GridCount = Annotated[int, Field(ge=2)]


class GradientGridSpec(Spec):
    """A coarser grid for a quiver plot of the gradient on the same plane and bounds."""

    resolution: list[GridCount] = Field(
        min_length=2,
        max_length=2,
        description="[mx, my]: points along x and along y.",
        examples=[[20, 20]],
    )


class RandomDirectionsSpec(Spec):
    """Two orthonormal directions drawn uniformly from the sphere, reproducible by seed."""

    type: Literal["random"]
    seed: Annotated[int, Field(ge=0)] = 0


class HessianDirectionsSpec(Spec):
    """The eigenvectors of the Hessian at the center with the largest |λ|, largest first."""

    type: Literal["hessian"]


def _directions_kind(value: object) -> str | None:
    """The union member ``directions`` holds: "given" for a list of vectors, else its type."""
    if isinstance(value, list):
        return "given"
    if isinstance(value, dict):
        kind = value.get("type")
        return kind if isinstance(kind, str) else None
    return getattr(value, "type", None)


GivenDirections = Annotated[
    list[list[FiniteFloat]],
    Tag("given"),
    Field(description="Two vectors of length n, orthonormalised by Gram–Schmidt."),
]
DirectionsSpec = Annotated[
    GivenDirections
    | Annotated[RandomDirectionsSpec, Tag("random")]
    | Annotated[HessianDirectionsSpec, Tag("hessian")],
    Discriminator(
        _directions_kind,
        custom_error_type="invalid_directions",
        custom_error_message='Input should be two vectors, {"type": "random", "seed": k} or '
        '{"type": "hessian"}',
    ),
]


class LandscapeSpec(Spec):
    """f on a grid of a plane: the plain x–y plane for two variables, or a plane through
    ``center`` spanned by two ``directions``."""

    loss: LossSpec
    bounds: list[Bound] = Field(
        min_length=2,
        max_length=2,
        description="[[xmin, xmax], [ymin, ymax]]: the plane coordinates covered.",
        examples=[[[-2, 2], [-1, 3]]],
    )
    resolution: list[GridCount] = Field(
        [100, 100],
        min_length=2,
        max_length=2,
        description="[nx, ny]: grid points along x and along y (bounds included).",
    )
    center: list[FiniteFloat] | None = Field(
        None,
        min_length=1,
        description="The plane's origin, one number per variable; required when the loss has "
        "more than 2 variables, the origin otherwise.",
    )
    directions: DirectionsSpec | None = Field(
        None,
        description="The plane's two directions: two vectors (orthonormalised), "
        '{"type": "random", "seed": k} or {"type": "hessian"} (the Hessian\'s eigenvectors at '
        "the center with the largest |λ|). The first two coordinate axes when omitted.",
    )
    gradient: GradientGridSpec | None = Field(
        None, description="Also return the gradient on a coarser grid (a quiver plot)."
    )


def _resolution_kind(value: object) -> str | None:
    """The union member ``resolution`` holds: "each" for a list, one number per variable;
    "all" for one number for every variable."""
    if isinstance(value, list):
        return "each"
    return "all" if isinstance(value, int) and not isinstance(value, bool) else None


ResolutionSpec = Annotated[
    Annotated[int, Tag("all"), Field(description="Cells along every variable (at least 1).")]
    | Annotated[
        list[Annotated[int, Field(ge=1)]],
        Tag("each"),
        Field(description="Cells along each variable."),
    ],
    Discriminator(
        _resolution_kind,
        custom_error_type="invalid_resolution",
        custom_error_message="Input should be a whole number or a list of them, one per variable",
    ),
]


class CriticalPointsSpec(Spec):
    """Find every critical point of a loss in a box by multi-start Newton."""

    loss: LossSpec
    bounds: list[Bound] = Field(
        min_length=1,
        description="The box: one [low, high] per variable.",
        examples=[[[-5, 5], [-5, 5]]],
    )
    resolution: ResolutionSpec | None = Field(
        None,
        description="Newton starts at the centres of a grid with this many cells per variable "
        "(one number for every variable, or one each).",
    )
    starts: Annotated[int, Field(ge=1)] | None = Field(
        None, description="Newton starts drawn uniformly from the box (seeded by `seed`)."
    )
    seed: Annotated[int, Field(ge=0)] = Field(0, description="Seed of the random starts.")
    iterations: Annotated[int, Field(ge=1, le=1000)] = Field(
        DEFAULT_ITERATIONS, description="Newton iterations from every start."
    )
    gradient_tol: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] = Field(
        DEFAULT_GRADIENT_TOL,
        description="A point is critical when ‖∇f‖ ≤ gradient_tol·max(1, ‖H‖₂).",
    )
    eigenvalue_rtol: Annotated[float, Field(ge=0.0, lt=1.0, allow_inf_nan=False)] = Field(
        DEFAULT_EIGENVALUE_RTOL,
        description="An eigenvalue counts as zero when |λ| ≤ eigenvalue_rtol·(the largest |λ| "
        "of the Hessian within the deduplication tolerance of the point).",
    )


# -- landscape ----------------------------------------------------------------------------------


DirectionsKind = Literal["axes", "given", "random", "hessian"]


@dataclass(frozen=True)
class Landscape:
    """A loss on a grid of a plane, and optionally its gradient field."""

    names: tuple[str, ...]
    plane: Plane
    kind: DirectionsKind
    direction_eigenvalues: Array | None
    grid: Grid
    field: GradientField | None


def compute_landscape(spec: LandscapeSpec, compiler: LossCompiler, settings: Settings) -> Landscape:
    """The values (and gradient field) of a loss on a grid of a plane."""
    nx, ny = spec.resolution
    _check_grid(nx, ny, settings.max_landscape_points, ("resolution",))
    if spec.gradient is not None:
        mx, my = spec.gradient.resolution
        _check_grid(mx, my, settings.max_gradient_field_points, ("gradient", "resolution"))
    (xlow, xhigh), (ylow, yhigh) = check_bounds(spec.bounds)
    loss = build_loss(spec.loss, compiler, settings)
    field_points = 0 if spec.gradient is None else math.prod(spec.gradient.resolution)
    _check_data_work(loss, nx * ny + field_points, settings)
    n = len(loss.names)
    if n < 2:
        raise InvalidSpecification.at(
            ("loss",),
            f"a landscape needs at least 2 variables; the loss has {n} ({', '.join(loss.names)})",
        )
    plane, kind, eigenvalues = _plane(spec, loss)
    rows = _rows_per_call(loss, nx, settings)
    grid = evaluate_grid(loss, plane, axis(xlow, xhigh, nx), axis(ylow, yhigh, ny), rows)
    field = None
    if spec.gradient is not None:
        mx, my = spec.gradient.resolution
        field = gradient_field(
            loss,
            plane,
            axis(xlow, xhigh, mx),
            axis(ylow, yhigh, my),
            _rows_per_call(loss, mx, settings),
        )
    return Landscape(loss.names, plane, kind, eigenvalues, grid, field)


def _check_data_work(loss: Loss, points: int, settings: Settings) -> None:
    """Refuses landscapes of a dataset loss whose evaluation would cost more than the limit
    (every grid point evaluates the model on every example)."""
    if not isinstance(loss, DatasetLoss):
        return
    work = points * loss.size * len(loss.names)
    if work > settings.max_dataset_work:
        raise LimitExceeded.at(
            ("resolution",),
            f"{points} grid points × {loss.size} examples × {len(loss.names)} parameters = "
            f"{work} operations; the limit is {settings.max_dataset_work}: lower the "
            "resolution or use fewer examples",
        )


def _rows_per_call(loss: Loss, width: int, settings: Settings) -> int | None:
    """Grid rows per vectorised call: all for a formula; for a dataset loss as many as keep
    the per-example temporaries within about 2²² numbers."""
    if not isinstance(loss, DatasetLoss):
        return None
    return max(1, 2**22 // (width * loss.size))


def _check_grid(nx: int, ny: int, limit: int, loc: tuple[str, ...]) -> None:
    if nx * ny > limit:
        raise LimitExceeded.at(loc, f"{nx}×{ny} = {nx * ny} grid points; the limit is {limit}")


def check_bounds(bounds: Sequence[Sequence[float]]) -> list[tuple[float, float]]:
    """The bounds as (low, high) pairs, refused unless low < high with a finite width."""
    checked = []
    for index, (low, high) in enumerate(bounds):
        if not low < high:
            raise InvalidSpecification.at(
                ("bounds", index), f"the low end ({low:g}) must be below the high end ({high:g})"
            )
        if not np.isfinite(high - low):
            raise InvalidSpecification.at(
                ("bounds", index), "the interval is too wide: its width overflows"
            )
        checked.append((low, high))
    return checked


def _plane(spec: LandscapeSpec, loss: Loss) -> tuple[Plane, DirectionsKind, Array | None]:
    n = len(loss.names)
    if spec.center is None:
        if n > 2:
            raise InvalidSpecification.at(
                ("center",),
                f"is required when the loss has more than 2 variables ({', '.join(loss.names)})",
            )
        center = np.zeros(n)
    else:
        center = check_point(spec.center, loss, ("center",))
    directions = spec.directions
    if directions is None:
        return Plane(center, coordinate_plane(n).directions), "axes", None
    if isinstance(directions, RandomDirectionsSpec):
        return Plane(center, random_directions(n, directions.seed)), "random", None
    if isinstance(directions, HessianDirectionsSpec):
        try:
            leading = hessian_directions(loss, center)
        except ArithmeticError as error:
            raise InvalidSpecification.at(("directions",), str(error)) from error
        return Plane(center, leading.directions), "hessian", leading.eigenvalues
    if len(directions) != 2:
        raise InvalidSpecification.at(
            ("directions",), f"needs exactly two vectors; got {len(directions)}"
        )
    for index, vector in enumerate(directions):
        if len(vector) != n:
            raise InvalidSpecification.at(
                ("directions", index),
                f"has {len(vector)} numbers but the loss has {n} variables "
                f"({', '.join(loss.names)})",
            )
    try:
        return Plane(center, orthonormalize(np.asarray(directions))), "given", None
    except DirectionError as error:
        raise InvalidSpecification.at(("directions", error.index), str(error)) from error


# -- critical points ----------------------------------------------------------------------------


DEFAULT_STARTS = 1024
"""The starts used when neither ``resolution`` nor ``starts`` is given (capped by the
setting): the finest grid that fits, with at least 3 cells per variable, else random starts."""


@dataclass(frozen=True)
class CriticalPoints:
    """The critical points found in a box, and how the search went."""

    names: tuple[str, ...]
    points: list[CriticalPoint]
    found: int
    truncated: bool
    resolution: list[int] | None
    random_starts: int
    starts: int
    converged: int
    iterations: int
    complete: bool
    message: str
    hessian_method: str


def critical_points(
    spec: CriticalPointsSpec, compiler: LossCompiler, settings: Settings
) -> CriticalPoints:
    """Every critical point multi-start Newton finds in the box, classified and sorted."""
    loss = build_loss(spec.loss, compiler, settings)
    check_hessian_size(loss, settings)
    n = len(loss.names)
    if len(spec.bounds) != n:
        raise InvalidSpecification.at(
            ("bounds",),
            f"has {len(spec.bounds)} intervals but the loss has {n} variables "
            f"({', '.join(loss.names)})",
        )
    box = check_bounds(spec.bounds)
    lower = np.array([low for low, _ in box])
    upper = np.array([high for _, high in box])
    resolution, random_count = _starts_plan(spec, n, settings)
    parts = []
    if resolution is not None:
        parts.append(grid_starts(lower, upper, resolution))
    if random_count:
        parts.append(random_starts(lower, upper, random_count, spec.seed))
    starts = np.concatenate(parts)
    deadline = time.perf_counter() + settings.request_time_limit
    search = find_critical_points(
        loss,
        lower,
        upper,
        starts,
        iterations=spec.iterations,
        gradient_tol=spec.gradient_tol,
        eigenvalue_rtol=spec.eigenvalue_rtol,
        deadline=deadline,
    )
    found = len(search.points)
    kept = search.points[: settings.max_critical_points]
    message = (
        f"Found {found} critical points from {search.starts} starts; "
        f"{search.converged} starts converged inside the box."
    )
    if not search.complete:
        message += (
            f" Stopped after {search.iterations} Newton iterations by the server's "
            f"per-request time limit of {settings.request_time_limit:g} s: the list may be "
            "incomplete."
        )
    if found > len(kept):
        message += f" Only the first {len(kept)} are listed (the server's limit)."
    return CriticalPoints(
        names=loss.names,
        points=kept,
        found=found,
        truncated=found > len(kept),
        resolution=resolution,
        random_starts=random_count,
        starts=search.starts,
        converged=search.converged,
        iterations=search.iterations,
        complete=search.complete,
        message=message,
        hessian_method=hessian_method(loss),
    )


def _starts_plan(
    spec: CriticalPointsSpec, n: int, settings: Settings
) -> tuple[list[int] | None, int]:
    """(grid cells per variable or None, number of random starts), within the limit."""
    limit = settings.max_critical_point_starts
    if spec.resolution is None and spec.starts is None:
        budget = min(DEFAULT_STARTS, limit)
        cells = 1
        while (cells + 1) ** n <= budget:
            cells += 1
        return ([cells] * n, 0) if cells >= 3 else (None, budget)
    resolution: list[int] | None = None
    grid = 0
    if spec.resolution is not None:
        if isinstance(spec.resolution, int):
            if spec.resolution < 1:
                raise InvalidSpecification.at(("resolution",), "must be at least 1")
            resolution = [spec.resolution] * n
        elif len(spec.resolution) != n:
            raise InvalidSpecification.at(
                ("resolution",),
                f"has {len(spec.resolution)} numbers but the loss has {n} variables",
            )
        else:
            resolution = list(spec.resolution)
        grid = 1
        for cells in resolution:
            grid *= cells
            if grid > limit:
                raise LimitExceeded.at(
                    ("resolution",),
                    f"the grid has more than {limit} starts, the limit; use fewer cells",
                )
    random_count = spec.starts or 0
    if grid + random_count > limit:
        raise LimitExceeded.at(
            ("starts",),
            f"{grid + random_count} starts in all ({grid} on the grid, {random_count} random); "
            f"the limit is {limit}",
        )
    return resolution, random_count
