"""Use cases without stored state: one optimization run, and the analysis of one point."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.analysis import Analysis, analyze, analyze_many
from core.losses import Array, Loss
from core.minibatch import Stats, run_minibatch
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
    check_hessian_size,
    check_point,
    hessian_work,
    internals_reader,
    problem_on,
)
from service.datasets import build_dataset
from service.errors import InvalidSpecification, LimitExceeded
from service.settings import Settings
from service.specs import BatchRunSpec, DatasetLossSpec, LossSpec, RecordSpec, RunSpec
from service.trajectory import Columns, Internals, row_columns, with_batches


@dataclass(frozen=True)
class RunOutcome:
    """A finished run: why it stopped, where it went and what the end point is (with a
    dataset loss's running statistics there)."""

    status: Status
    message: str
    steps: int
    names: tuple[str, ...]
    trajectory: Columns
    final: Iterate
    analysis: Analysis | None
    problem: Problem
    stats: Stats = ()


@dataclass(frozen=True)
class Stepped:
    """Steps taken from one start: the run's result, and for a dataset loss the running
    statistics at its end and the mini-batch losses of the recorded steps and the last one."""

    result: RunResult
    stats: Stats = ()
    batch_loss: Array | None = None
    last_batch_loss: float = math.nan

    def columns(self, problem: Problem, with_grad: bool, internals: Internals | None) -> Columns:
        """The recorded points ending with the last one, with ``epoch`` and ``batch_loss``
        for a dataset loss."""
        columns = row_columns(self.result, 0, with_grad, internals)
        if problem.data is None or self.batch_loss is None:
            return columns
        return with_batches(
            columns,
            self.result.trajectory.step,
            self.batch_loss,
            self.last_batch_loss,
            problem.data.batches,
        )


def advance(
    problem: Problem,
    start: Iterate,
    stats: Stats,
    *,
    steps: int,
    record: RecordSpec,
    record_start: bool = True,
    deadline: float | None = None,
) -> Stepped:
    """Up to ``steps`` steps of ``problem`` from one start: gradient steps on the loss, or
    mini-batch steps on a dataset loss."""
    if problem.data is None:
        result = run(
            problem.loss, problem.optimizer, start, problem.rule, steps=steps,
            every=record.every, record_start=record_start, record_grad=record.grad,
            record_state=record.state, deadline=deadline,
        )  # fmt: skip
        return Stepped(result)
    data = problem.data
    trained = run_minibatch(
        data.loss, problem.optimizer, start, stats, data.batches, problem.rule, steps=steps,
        every=record.every, record_start=record_start, record_grad=record.grad,
        record_state=record.state, deadline=deadline,
    )  # fmt: skip
    return Stepped(trained.result, trained.stats, trained.batch_loss, trained.last_batch_loss)


def run_message(problem: Problem, reason: Reason, step: int) -> str:
    """Why a run stopped at ``step``, in epochs too for a dataset loss."""
    message = stop_message(reason, step, problem.rule)
    if problem.data is None:
        return message
    epochs = float(problem.data.batches.epochs(np.array(step)))
    return f"{message} ({epochs:g} epochs of {problem.data.batches.steps_per_epoch} steps)"


def initial_stats(problem: Problem) -> Stats:
    """The running statistics a run starts from (none unless the model has them)."""
    return () if problem.data is None else problem.data.loss.init_stats()


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
    check_hessian_size(loss, settings)
    theta = check_point(point, loss, ("point",))
    try:
        return loss, analyze(loss, theta, gradient_tol, eigenvalue_rtol)
    except ArithmeticError as error:
        raise InvalidSpecification.at(("point",), str(error)) from error


def final_analysis(loss: Loss, final: Iterate, settings: Settings) -> Analysis | None:
    """The analysis at a run's last point, or None where the Hessian is not finite or the
    model has more parameters than a Hessian is computed for."""
    if len(loss.names) > settings.max_hessian_params or hessian_work(loss) > (
        settings.max_dataset_work
    ):
        return None
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


def _check_points(points: int, dimension: int, settings: Settings) -> None:
    if points > settings.max_trajectory_points:
        raise LimitExceeded.at(
            ("record", "every"),
            f"the answer could hold {points} trajectory points; the limit is "
            f"{settings.max_trajectory_points}: raise record.every or lower stop.max_steps",
        )
    if points * dimension > settings.max_trajectory_values:
        raise LimitExceeded.at(
            ("record", "every"),
            f"the answer could hold {points} points of {dimension} parameters; the limit is "
            f"{settings.max_trajectory_values} numbers: raise record.every or lower "
            "stop.max_steps",
        )


def _outcome(
    problem: Problem,
    stepped: Stepped,
    record: RecordSpec,
    internals: Internals | None,
    analysis: Analysis | None,
    own_limit: bool,
    settings: Settings,
    row: int = 0,
) -> RunOutcome:
    result = stepped.result
    reason, final = result.reasons[row], result.row(row)
    message = run_message(problem, reason, final.step)
    if reason is Reason.TIME_LIMIT and not own_limit:
        message = time_limit_message(final.step, settings)
    trajectory = (
        stepped.columns(problem, record.grad, internals)
        if problem.data is not None
        else row_columns(result, row, record.grad, internals)
    )
    return RunOutcome(
        status=status_of(reason),
        message=message,
        steps=final.step,
        names=problem.loss.names,
        trajectory=trajectory,
        final=final,
        analysis=analysis,
        problem=problem,
        stats=stepped.stats,
    )


def run_optimization(spec: RunSpec, compiler: LossCompiler, settings: Settings) -> RunOutcome:
    """Runs ``spec`` to its stopping rule and analyses where it ended."""
    problem = build_problem(spec, compiler, settings, settings.default_max_steps)
    _check_points(
        problem.rule.max_steps // spec.record.every + 2, len(problem.loss.names), settings
    )
    deadline, own_limit = request_deadline(settings, spec.stop.time_limit)
    return _run_one(
        problem,
        build_start(spec, problem),
        spec.record,
        spec.analysis,
        internals_of(spec),
        own_limit,
        deadline,
        settings,
    )


def _run_one(
    problem: Problem,
    start: Array,
    record: RecordSpec,
    analyse: bool,
    internals: Internals | None,
    own_limit: bool,
    deadline: float,
    settings: Settings,
) -> RunOutcome:
    """``problem`` run from ``start`` (1, n) to its stopping rule, analysed where it ended."""
    stepped = advance(
        problem,
        start_iterate(problem.loss, problem.optimizer, start),
        initial_stats(problem),
        steps=problem.rule.max_steps,
        record=record,
        deadline=deadline,
    )
    analysis = final_analysis(problem.loss, stepped.result.row(0), settings) if analyse else None
    return _outcome(problem, stepped, record, internals, analysis, own_limit, settings)


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
    data = build_dataset(spec.loss, settings) if isinstance(spec.loss, DatasetLossSpec) else None
    loss = build_loss(spec.loss, compiler, settings) if data is None else data.loss
    starts = np.stack(
        [check_point(start, loss, ("starts", i)) for i, start in enumerate(spec.starts)]
    )
    check_finite_starts(starts, loss, lambda i: ("starts", i))
    steps_per_epoch = None if data is None else data.batches.steps_per_epoch
    rule = build_stop(spec.stop, settings.default_max_steps, settings, steps_per_epoch)
    runs = len(spec.optimizers) * len(starts)
    _check_points(runs * (rule.max_steps // spec.record.every + 2), len(loss.names), settings)
    deadline, own_limit = request_deadline(settings, spec.stop.time_limit)
    outcomes: list[tuple[int, int, RunOutcome]] = []
    for index, optimizer in enumerate(spec.optimizers):
        problem = problem_on(loss, optimizer, spec.schedule, rule, data)
        internals = internals_reader(optimizer) if spec.record.state else None
        if data is not None:
            # Mini-batch runs step one start at a time; the starts share the batch order,
            # which follows from the seed.
            trained = (
                _run_one(
                    problem, start[np.newaxis], spec.record, spec.analysis, internals,
                    own_limit, deadline, settings,
                )
                for start in starts
            )  # fmt: skip
            outcomes.extend((index, row, outcome) for row, outcome in enumerate(trained))
            continue
        stepped = advance(
            problem,
            start_iterate(loss, problem.optimizer, starts),
            (),
            steps=rule.max_steps,
            record=spec.record,
            deadline=deadline,
        )
        analyses = (
            analyze_many(loss, stepped.result.final.params)
            if spec.analysis
            else [None] * len(starts)
        )
        outcomes.extend(
            (index, row, _outcome(
                problem, stepped, spec.record, internals, analyses[row], own_limit, settings, row
            ))
            for row in range(len(starts))
        )  # fmt: skip
    return outcomes
