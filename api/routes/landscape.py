"""The shape of a loss: its landscape on a plane, and every critical point in a box."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter

from api.deps import CompilerDep, SettingsDep
from api.render import analysis_body
from api.responses import NumpyJSONResponse
from api.schemas import CriticalPointsOut, LandscapeOut
from core.analysis import Classification
from core.landscape import GradientField
from service.landscape import (
    CriticalPoints,
    CriticalPointsSpec,
    Landscape,
    LandscapeSpec,
    compute_landscape,
    critical_points,
)

router = APIRouter(prefix="/v1", tags=["landscape"])


@router.post("/landscape", response_model=LandscapeOut)
def landscape(
    body: LandscapeSpec, compiler: CompilerDep, settings: SettingsDep
) -> NumpyJSONResponse:
    """Values of a loss on a grid of a plane (contour plots), optionally its gradient field."""
    return NumpyJSONResponse(landscape_body(compute_landscape(body, compiler, settings)))


@router.post("/critical-points", response_model=CriticalPointsOut)
def find_critical_points(
    body: CriticalPointsSpec, compiler: CompilerDep, settings: SettingsDep
) -> NumpyJSONResponse:
    """Every critical point of a loss in a box, each with its /v1/analyze answer."""
    return NumpyJSONResponse(critical_points_body(critical_points(body, compiler, settings)))


def landscape_body(result: Landscape) -> dict[str, Any]:
    """The /v1/landscape answer; NaN (f not finite) is written as null by orjson."""
    z = result.grid.z
    finite = z[np.isfinite(z)]
    return {
        "variables": list(result.names),
        "x": result.grid.x,
        "y": result.grid.y,
        "z": z,
        "z_min": float(finite.min()) if finite.size else None,
        "z_max": float(finite.max()) if finite.size else None,
        "center": result.plane.center,
        "directions": result.plane.directions,
        "directions_source": result.kind,
        "direction_eigenvalues": result.direction_eigenvalues,
        "gradient": None if result.field is None else _field_body(result.field),
    }


def _field_body(field: GradientField) -> dict[str, Any]:
    return {"x": field.x, "y": field.y, "gx": field.gx, "gy": field.gy}


def critical_points_body(result: CriticalPoints) -> dict[str, Any]:
    """The /v1/critical-points answer."""
    counts = dict.fromkeys(
        (
            Classification.LOCAL_MINIMUM,
            Classification.LOCAL_MAXIMUM,
            Classification.SADDLE_POINT,
            Classification.DEGENERATE,
        ),
        0,
    )
    for point in result.points:
        counts[point.analysis.classification] += 1
    return {
        "variables": list(result.names),
        "status": "complete" if result.complete else "time_limit",
        "message": result.message,
        "count": result.found,
        "truncated": result.truncated,
        "counts": {kind.value: count for kind, count in counts.items()},
        "starts": result.starts,
        "resolution": result.resolution,
        "random_starts": result.random_starts,
        "converged": result.converged,
        "iterations": result.iterations,
        "points": [
            analysis_body(result.names, point.analysis, result.hessian_method)
            | {"starts": point.starts}
            for point in result.points
        ],
    }
