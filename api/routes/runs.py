"""Whole optimization runs."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CompilerDep, SettingsDep
from api.observability import STEPS
from api.render import run_body
from api.responses import NumpyJSONResponse
from api.schemas import BatchOut, RunOut
from service.runs import run_batch, run_optimization
from service.specs import BatchRunSpec, RunSpec

router = APIRouter(prefix="/v1/runs", tags=["runs"])


@router.post("", response_model=RunOut)
def create_run(body: RunSpec, compiler: CompilerDep, settings: SettingsDep) -> NumpyJSONResponse:
    """Run an optimizer from a start until its stopping rule; return the trajectory."""
    outcome = run_optimization(body, compiler, settings)
    STEPS.labels("run").inc(outcome.steps)
    return NumpyJSONResponse(run_body(outcome, body.record.lr))


@router.post("/batch", response_model=BatchOut)
def create_batch_run(
    body: BatchRunSpec, compiler: CompilerDep, settings: SettingsDep
) -> NumpyJSONResponse:
    """Run several optimizers from many starts at once, vectorised over the starts."""
    outcomes = run_batch(body, compiler, settings)
    STEPS.labels("batch").inc(sum(outcome.steps for _, _, outcome in outcomes))
    runs = [
        run_body(outcome, body.record.lr) | {"optimizer_index": i, "start_index": j}
        for i, j, outcome in outcomes
    ]
    return NumpyJSONResponse({"runs": runs})
