"""Use cases without stored state: one optimization run, and the analysis of one point."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.analysis import Analysis, analyze, analyze_many
from core.losses import Loss
from core.run import (
    Iterate,
    Reason,
    RunResult,
    Status,
    run,
    start_iterate,
    status_of,
    stop_message,
)
from service.build import (
    LossCompiler,
    Problem,
    build_loss,
    build_problem,
    build_start,
    build_stop,
    check_finite_starts,
    check_point,
    internals_reader,
    problem_on,
)
from service.errors import InvalidSpecification, LimitExceeded
from service.settings import Settings
from service.specs import BatchRunSpec, LossSpec, RecordSpec, RunSpec
from service.trajectory import Columns, Internals, row_columns


@dataclass(frozen=True)
class RunOutcome:
    """A finished run: why it stopped, where it went and what the end point is."""

    status: Status
    message: str
    steps: int
    names: tuple[str, ...]
    trajectory: Columns
    final: Iterate
    analysis: Analysis | None
    problem: Problem


def analyze_point(
    spec: LossSpec,
    point: Sequence[float],
    compiler: LossCompiler,
    settings: Settings,
    gradient_tol: float,
    eigenvalue_rtol: float,
) -> tuple[Loss, Analysis]:
    """The second-order analysis of a loss at a point."""
    loss = build_loss(spec, compiler, settings)
    theta = check_point(point, loss, ("point",))
    try:
        return loss, analyze(loss, theta, gradient_tol, eigenvalue_rtol)
    except ArithmeticError as error:
        raise InvalidSpecification.at(("point",), str(error)) from error


def final_analysis(loss: Loss, final: Iterate) -> Analysis | None:
    """The analysis at a run's last point, or None where the Hessian is not finite."""
    try:
        return analyze(loss, final.params[0])
    except ArithmeticError:
        return None


def request_deadline(settings: Settings, time_limit: float | None) -> tuple[float, bool]:
    """The clock reading at which to stop, and whether it is the client's own limit."""
    own = time_limit is not None and time_limit < settings.request_time_limit
    budget = time_limit if own and time_limit is not None else settings.request_time_limit
    return time.perf_counter() + budget, own


def time_limit_message(step: int, settings: Settings) -> str:
    """Why a request stopped at the server's per-request time limit."""
    return (
        f"Stopped after {step} steps by the server's per-request time limit of "
        f"{settings.request_time_limit:g} s."
    )


def internals_of(spec: RunSpec) -> Internals | None:
    """The reader of optimizer internals when the spec records them."""
    return internals_reader(spec.optimizer) if spec.record.state else None


def _check_points(points: int, settings: Settings) -> None:
    if points > settings.max_trajectory_points:
        raise LimitExceeded.at(
            ("record", "every"),
            f"the answer could hold {points} trajectory points; the limit is "
            f"{settings.max_trajectory_points}: raise record.every or lower stop.max_steps",
        )


def _outcome(
    problem: Problem,
    result: RunResult,
    row: int,
    record: RecordSpec,
    internals: Internals | None,
    analysis: Analysis | None,
    own_limit: bool,
    settings: Settings,
) -> RunOutcome:
    reason, final = result.reasons[row], result.row(row)
    message = stop_message(reason, final.step, problem.rule)
    if reason is Reason.TIME_LIMIT and not own_limit:
        message = time_limit_message(final.step, settings)
    return RunOutcome(
        status=status_of(reason),
        message=message,
        steps=final.step,
        names=problem.loss.names,
        trajectory=row_columns(result, row, record.grad, internals),
        final=final,
        analysis=analysis,
        problem=problem,
    )


def run_optimization(spec: RunSpec, compiler: LossCompiler, settings: Settings) -> RunOutcome:
    """Runs ``spec`` to its stopping rule and analyses where it ended."""
    problem = build_problem(spec, compiler, settings, settings.default_max_steps)
    _check_points(problem.rule.max_steps // spec.record.every + 2, settings)
    start = start_iterate(problem.loss, problem.optimizer, build_start(spec, problem.loss))
    deadline, own_limit = request_deadline(settings, spec.stop.time_limit)
    result = _run(problem, start, spec.record, deadline)
    analysis = final_analysis(problem.loss, result.row(0))
    return _outcome(
        problem, result, 0, spec.record, internals_of(spec), analysis, own_limit, settings
    )


def _run(problem: Problem, start: Iterate, record: RecordSpec, deadline: float) -> RunResult:
    return run(
        problem.loss,
        problem.optimizer,
        start,
        problem.rule,
        steps=problem.rule.max_steps,
        every=record.every,
        record_grad=record.grad,
        record_state=record.state,
        deadline=deadline,
    )


def run_batch(
    spec: BatchRunSpec, compiler: LossCompiler, settings: Settings
) -> list[tuple[int, int, RunOutcome]]:
    """Every optimizer from every start, vectorised over the starts; optimizer-major
    (optimizer index, start index, outcome) triples."""
    if len(spec.starts) > settings.max_batch_starts:
        raise LimitExceeded.at(
            ("starts",), f"{len(spec.starts)} starts; the limit is {settings.max_batch_starts}"
        )
    if len(spec.optimizers) > settings.max_batch_optimizers:
        raise LimitExceeded.at(
            ("optimizers",),
            f"{len(spec.optimizers)} optimizers; the limit is {settings.max_batch_optimizers}",
        )
    loss = build_loss(spec.loss, compiler, settings)
    starts = np.stack(
        [check_point(start, loss, ("starts", i)) for i, start in enumerate(spec.starts)]
    )
    check_finite_starts(starts, loss, lambda i: ("starts", i))
    rule = build_stop(spec.stop, settings.default_max_steps, settings)
    runs = len(spec.optimizers) * len(starts)
    _check_points(runs * (rule.max_steps // spec.record.every + 2), settings)
    deadline, own_limit = request_deadline(settings, spec.stop.time_limit)
    outcomes: list[tuple[int, int, RunOutcome]] = []
    for index, optimizer in enumerate(spec.optimizers):
        problem = problem_on(loss, optimizer, spec.schedule, rule)
        result = _run(
            problem, start_iterate(loss, problem.optimizer, starts), spec.record, deadline
        )
        finals = result.final.params
        analyses = analyze_many(loss, finals) if spec.analysis else [None] * len(starts)
        internals = internals_reader(optimizer) if spec.record.state else None
        outcomes.extend(
            (index, row, _outcome(
                problem, result, row, spec.record, internals, analyses[row], own_limit, settings
            ))
            for row in range(len(starts))
        )  # fmt: skip
    return outcomes
