"""Service results as response bodies (dicts of NumPy arrays, written by orjson)."""

from __future__ import annotations

from typing import Any

from core.analysis import Analysis
from core.schedules import Schedule
from service.datasets import hessian_method
from service.runs import RunOutcome
from service.sessions import Session
from service.trajectory import Columns


def analysis_body(names: tuple[str, ...], analysis: Analysis, method: str) -> dict[str, Any]:
    """The /v1/analyze answer; ``method`` says how the Hessian was computed."""
    momentum = analysis.optimal_momentum
    return {
        "variables": list(names),
        "point": analysis.point,
        "value": analysis.value,
        "gradient": analysis.gradient,
        "gradient_norm": analysis.gradient_norm,
        "hessian": analysis.hessian,
        "hessian_method": method,
        "eigenvalues": analysis.eigenvalues,
        "eigenvectors": analysis.eigenvectors,
        "curvature": analysis.curvature.value,
        "classification": analysis.classification.value,
        "escape_direction": analysis.escape_direction,
        "condition_number": analysis.condition_number,
        "stability_bound": analysis.stability_bound,
        "optimal_momentum": None
        if momentum is None
        else {"lr": momentum.lr, "momentum": momentum.momentum},
        "tolerances": {"gradient": analysis.gradient_tol, "eigenvalue": analysis.eigenvalue_tol},
    }


def trajectory_body(columns: Columns, schedule: Schedule, with_lr: bool) -> dict[str, Any]:
    """The columnar trajectory object."""
    return columns.to_json(schedule if with_lr else None)


def run_body(outcome: RunOutcome, with_lr: bool) -> dict[str, Any]:
    """The /v1/runs answer (with ``parameter_names`` and ``dataset`` for a dataset loss)."""
    final = outcome.final
    data = outcome.problem.data
    body = {
        "status": outcome.status.value,
        "message": outcome.message,
        "steps": outcome.steps,
        "variables": list(outcome.names),
        "trajectory": trajectory_body(outcome.trajectory, outcome.problem.schedule, with_lr),
        "final": {
            "params": final.params[0],
            "loss": float(final.loss[0]),
            "grad": final.grad[0],
            "grad_norm": float(outcome.trajectory.grad_norm[-1]),
        },
        "analysis": None
        if outcome.analysis is None
        else analysis_body(outcome.names, outcome.analysis, hessian_method(outcome.problem.loss)),
    }
    if data is not None:
        body["parameter_names"] = list(outcome.names)
        body["dataset"] = data.describe(outcome.steps, outcome.stats)
    return body


def session_body(session: Session) -> dict[str, Any]:
    """A session's configuration and current state."""
    record, state = session.record, session.state
    return {
        "id": record.id,
        "version": record.version,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "step": state["step"],
        "status": state["status"],
        "message": state["message"],
        "variables": state["variables"],
        "params": state["params"],
        "loss": state["loss"],
        "grad": state["grad"],
        "grad_norm": state["grad_norm"],
        "config": record.spec,
    } | (
        {"parameter_names": state["variables"], "dataset": state["dataset"]}
        if "dataset" in state
        else {}
    )
