"""Second-order analysis of a loss at a point."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CompilerDep, SettingsDep
from api.render import analysis_body
from api.responses import NumpyJSONResponse
from api.schemas import AnalysisOut, AnalyzeRequest
from service.datasets import hessian_method
from service.runs import analyze_point

router = APIRouter(prefix="/v1", tags=["analysis"])


@router.post("/analyze", response_model=AnalysisOut)
def analyze(
    body: AnalyzeRequest, compiler: CompilerDep, settings: SettingsDep
) -> NumpyJSONResponse:
    """Value, gradient, Hessian eigenvalues and critical-point class of a loss at a point."""
    loss, analysis = analyze_point(
        body.loss, body.point, compiler, settings, body.gradient_tol, body.eigenvalue_rtol
    )
    return NumpyJSONResponse(analysis_body(loss.names, analysis, hessian_method(loss)))
