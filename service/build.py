"""Turns validated specs into core objects, checking what depends on settings or on the loss."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from core import optimizers, schedules
from core.builtins import make_builtin
from core.internals import optimizer_internals
from core.losses import Array, Loss
from core.minibatch import per_epoch
from core.models import DatasetLoss
from core.quadratic import QuadraticLoss
from core.run import StopRule, grad_norm
from core.schedules import Schedule
from core.transforms import GradientTransformation
from service.datasets import DatasetSetup, build_dataset
from service.errors import InvalidSpecification, LimitExceeded
from service.settings import Settings
from service.specs import (
    AdagradSpec,
    AdamaxSpec,
    AdamSpec,
    AdamWSpec,
    BuiltinLossSpec,
    ConstantSchedule,
    CosineSchedule,
    DatasetLossSpec,
    ExponentialSchedule,
    ExpressionLossSpec,
    InverseSqrtSchedule,
    LossSpec,
    MomentumSpec,
    NAdamSpec,
    NesterovSpec,
    NewtonSpec,
    OptimizerSpec,
    QuadraticLossSpec,
    RAdamSpec,
    RMSpropSpec,
    RunSpec,
    ScheduleSpec,
    SGDSpec,
    StepSchedule,
    StopSpec,
)
from service.trajectory import Internals


class LossCompiler(Protocol):
    """Compiles an expression into a loss (``service.expressions.ExpressionCompiler``)."""

    def compile(self, text: str, variables: Sequence[str] | None) -> Loss: ...


@dataclass(frozen=True)
class Problem:
    """A run spec made executable: loss, schedule, optimizer and stopping rule; for a dataset
    loss also its mini-batches and scaling (``data``)."""

    loss: Loss
    schedule: Schedule
    optimizer: GradientTransformation
    rule: StopRule
    data: DatasetSetup | None = None


def build_loss(spec: LossSpec, compiler: LossCompiler, settings: Settings) -> Loss:
    """The loss a spec names, within the dimension limit."""
    loss: Loss
    match spec:
        case DatasetLossSpec():
            return build_dataset(spec, settings).loss
        case ExpressionLossSpec():
            if spec.variables is not None and len(set(spec.variables)) != len(spec.variables):
                raise InvalidSpecification.at(
                    ("loss", "variables"), "variable names must be unique"
                )
            loss = compiler.compile(spec.expression, spec.variables)
        case BuiltinLossSpec():
            if spec.dim is not None and spec.dim > settings.max_dimension:
                raise _too_many_dimensions(spec.dim, settings)
            try:
                loss = make_builtin(spec.name, spec.dim, spec.params)
            except ValueError as error:
                raise InvalidSpecification.at(("loss",), str(error)) from error
        case QuadraticLossSpec():
            if len(spec.A) > settings.max_dimension:
                raise _too_many_dimensions(len(spec.A), settings)
            try:
                loss = QuadraticLoss(spec.A, spec.b, spec.c)
            except ValueError as error:
                raise InvalidSpecification.at(("loss",), str(error)) from error
    if len(loss.names) > settings.max_dimension:
        raise _too_many_dimensions(len(loss.names), settings)
    return loss


def _too_many_dimensions(dim: int, settings: Settings) -> LimitExceeded:
    return LimitExceeded.at(
        ("loss",), f"the loss has {dim} variables; the limit is {settings.max_dimension}"
    )


def build_schedule(lr: float, spec: ScheduleSpec | None) -> Schedule:
    """The learning-rate schedule starting from ``lr``."""
    match spec:
        case None | ConstantSchedule():
            schedule = schedules.constant(lr)
        case StepSchedule(step_size=step_size, gamma=gamma):
            schedule = schedules.step_decay(lr, step_size, gamma)
        case ExponentialSchedule(gamma=gamma):
            schedule = schedules.exponential_decay(lr, gamma)
        case InverseSqrtSchedule():
            schedule = schedules.inverse_sqrt(lr)
        case CosineSchedule(t_max=t_max, eta_min=eta_min):
            schedule = schedules.cosine_decay(lr, t_max, eta_min)
    if spec is not None and spec.warmup_steps > 0:
        schedule = schedules.linear_warmup(schedule, spec.warmup_steps, spec.warmup_start_factor)
    return schedule


def build_optimizer(spec: OptimizerSpec, schedule: Schedule, loss: Loss) -> GradientTransformation:
    """The optimizer a spec names, stepping with ``schedule``; look-ahead Nesterov and Newton
    evaluate ``loss`` themselves (its gradient, its Hessian)."""
    try:
        match spec:
            case SGDSpec():
                return optimizers.sgd(
                    schedule, spec.momentum, spec.dampening, spec.weight_decay, spec.nesterov
                )
            case MomentumSpec():
                return optimizers.momentum(schedule, spec.momentum, spec.form)
            case NesterovSpec():
                return optimizers.nesterov(
                    schedule, spec.momentum, spec.form, grad_fn=_gradient_of(loss)
                )
            case AdagradSpec():
                return optimizers.adagrad(
                    schedule,
                    spec.lr_decay,
                    spec.weight_decay,
                    spec.initial_accumulator_value,
                    spec.eps,
                )
            case RMSpropSpec():
                return optimizers.rmsprop(
                    schedule, spec.alpha, spec.eps, spec.weight_decay, spec.momentum, spec.centered
                )
            case AdamSpec():
                return optimizers.adam(
                    schedule,
                    spec.beta1,
                    spec.beta2,
                    spec.eps,
                    spec.weight_decay,
                    spec.amsgrad,
                    spec.bias_correction,
                )
            case AdamWSpec():
                return optimizers.adamw(
                    schedule,
                    spec.beta1,
                    spec.beta2,
                    spec.eps,
                    spec.weight_decay,
                    spec.amsgrad,
                    spec.bias_correction,
                )
            case NAdamSpec():
                return optimizers.nadam(
                    schedule,
                    spec.beta1,
                    spec.beta2,
                    spec.eps,
                    spec.weight_decay,
                    spec.momentum_decay,
                    spec.decoupled_weight_decay,
                )
            case RAdamSpec():
                return optimizers.radam(
                    schedule,
                    spec.beta1,
                    spec.beta2,
                    spec.eps,
                    spec.weight_decay,
                    spec.decoupled_weight_decay,
                )
            case AdamaxSpec():
                return optimizers.adamax(
                    schedule, spec.beta1, spec.beta2, spec.eps, spec.weight_decay
                )
            case NewtonSpec():
                return optimizers.newton(
                    schedule, loss.hessian, len(loss.names), damping=spec.damping
                )
    except ValueError as error:
        raise InvalidSpecification.at(("optimizer",), str(error)) from error


def _gradient_of(loss: Loss) -> Callable[[Array], Array]:
    """∇f alone, for optimizers that evaluate the gradient away from the current point."""

    def gradient(theta: Array) -> Array:
        return loss.value_and_grad(theta)[1]

    return gradient


def internals_reader(spec: OptimizerSpec) -> Internals:
    """Names the arrays of this optimizer's state (``core.internals``)."""
    amsgrad = bool(getattr(spec, "amsgrad", False))
    return lambda state: optimizer_internals(state, amsgrad=amsgrad)


def build_stop(
    spec: StopSpec,
    default_max_steps: int,
    settings: Settings,
    steps_per_epoch: int | None = None,
) -> StopRule:
    """The stopping rule, with ``max_steps`` defaulted (or given by ``max_epochs`` of
    ``steps_per_epoch`` steps, for a dataset loss) and checked against the limit."""
    if spec.max_epochs is not None and steps_per_epoch is None:
        raise InvalidSpecification.at(
            ("stop", "max_epochs"), "counts passes over a dataset; this loss has no data"
        )
    max_steps = default_max_steps if spec.max_steps is None else spec.max_steps
    if spec.max_epochs is not None and steps_per_epoch is not None:
        by_epochs = spec.max_epochs * steps_per_epoch
        max_steps = by_epochs if spec.max_steps is None else min(spec.max_steps, by_epochs)
    if max_steps > settings.max_steps:
        if spec.max_epochs is not None and max_steps != spec.max_steps:
            raise LimitExceeded.at(
                ("stop", "max_epochs"),
                f"{spec.max_epochs} epochs are {max_steps} steps; the limit is "
                f"{settings.max_steps}",
            )
        raise LimitExceeded.at(
            ("stop", "max_steps"), f"{max_steps} exceeds the limit of {settings.max_steps}"
        )
    return StopRule(
        max_steps=max_steps,
        grad_tol=spec.grad_tol,
        loss_tol=spec.loss_tol,
        max_abs_param=spec.param_bound,
        max_abs_loss=spec.loss_bound,
    )


def build_start(spec: RunSpec, problem: Problem) -> Array:
    """θ₀ as a batch of one, checked against the loss's dimension and for a finite f and ∇f;
    a dataset loss's model initialisation when the spec gives none."""
    loss = problem.loss
    if spec.start is None:
        assert problem.data is not None, "RunSpec requires a start for losses without data"
        params = problem.data.loss.initial_params(problem.data.batches.seed)[np.newaxis, :]
    else:
        params = check_point(spec.start, loss, ("start",))[np.newaxis, :]
    check_finite_starts(params, loss, lambda _: ("start",))
    return params


def check_finite_starts(
    starts: Array, loss: Loss, loc: Callable[[int], tuple[str | int, ...]]
) -> None:
    """Refuses starts (rows) where f or ‖∇f‖ is not finite (as the run loop judges the points
    it reaches): an answer holding their values would hold NaN or ±Infinity."""
    with np.errstate(all="ignore"):
        value, grad = loss.value_and_grad(starts)
        finite = np.isfinite(value) & np.isfinite(grad_norm(grad))
    if not finite.all():
        raise InvalidSpecification.at(
            loc(int(np.argmin(finite))), "the loss or its gradient is not finite at this point"
        )


def check_hessian_size(loss: Loss, settings: Settings) -> None:
    """Refuses second-order work beyond the limits: more parameters than the Hessian limit,
    or a dataset loss whose Hessian would cost more than the data-work limit."""
    p = len(loss.names)
    if p > settings.max_hessian_params:
        raise LimitExceeded.at(
            ("loss",),
            f"the loss has {p} parameters; Hessians are computed for at most "
            f"{settings.max_hessian_params}",
        )
    work = hessian_work(loss)
    if work > settings.max_dataset_work:
        raise LimitExceeded.at(
            ("loss",),
            f"its Hessian ({p} parameters on the whole dataset) costs about {work} "
            f"operations; the limit is {settings.max_dataset_work}",
        )


def hessian_work(loss: Loss) -> int:
    """About how many multiply-adds a Hessian of ``loss`` costs (0 for formulas): m·p² for the
    exact Hessians of the linear models, twice that for central differences of the gradient."""
    if not isinstance(loss, DatasetLoss):
        return 0
    p = len(loss.names)
    return loss.size * p * p * (2 if loss.hessian_method == "central_differences" else 1)


def check_point(point: Sequence[float], loss: Loss, loc: tuple[str | int, ...]) -> Array:
    """``point`` as an array, refused unless it has one number per variable of ``loss``."""
    if len(point) != len(loss.names):
        raise InvalidSpecification.at(
            loc,
            f"has {len(point)} numbers but the loss has {len(loss.names)} variables "
            f"({', '.join(loss.names)})",
        )
    return np.asarray(point, dtype=np.float64)


def build_problem(
    spec: RunSpec, compiler: LossCompiler, settings: Settings, default_max_steps: int
) -> Problem:
    """Everything needed to step ``spec``."""
    if isinstance(spec.loss, DatasetLossSpec):
        data = build_dataset(spec.loss, settings)
        steps_per_epoch = data.batches.steps_per_epoch
        rule = build_stop(spec.stop, default_max_steps, settings, steps_per_epoch)
        return problem_on(data.loss, spec.optimizer, spec.schedule, rule, data)
    loss = build_loss(spec.loss, compiler, settings)
    return problem_on(
        loss, spec.optimizer, spec.schedule, build_stop(spec.stop, default_max_steps, settings)
    )


def problem_on(
    loss: Loss,
    optimizer: OptimizerSpec,
    schedule: ScheduleSpec | None,
    rule: StopRule,
    data: DatasetSetup | None = None,
) -> Problem:
    """An optimizer with its schedule, set up on a built loss (with its data, if any)."""
    learning_rate = build_schedule(optimizer.lr, schedule)
    if schedule is not None and schedule.unit == "epoch":
        if data is None:
            raise InvalidSpecification.at(
                ("schedule", "unit"), "epoch counts passes over a dataset; this loss has no data"
            )
        learning_rate = per_epoch(learning_rate, data.batches.steps_per_epoch)
    if data is not None and not data.batches.full:
        _check_minibatch_optimizer(optimizer)
    return Problem(loss, learning_rate, build_optimizer(optimizer, learning_rate, loss), rule, data)


def _check_minibatch_optimizer(spec: OptimizerSpec) -> None:
    """Refuses optimizers that evaluate the loss themselves: they would see the whole data
    while the step's gradient comes from one mini-batch."""
    if isinstance(spec, NewtonSpec):
        raise InvalidSpecification.at(
            ("optimizer", "name"),
            "newton uses the full-data Hessian; use it with full batches (batch_size ≥ the "
            "number of examples)",
        )
    if isinstance(spec, NesterovSpec) and spec.form == "lookahead":
        raise InvalidSpecification.at(
            ("optimizer", "form"),
            "the lookahead form evaluates the full-data gradient; with mini-batches use form "
            "torch (the same method up to a change of variable)",
        )
