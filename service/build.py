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
from core.quadratic import QuadraticLoss
from core.run import StopRule, grad_norm
from core.schedules import Schedule
from core.transforms import GradientTransformation
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
    """A run spec made executable: loss, schedule, optimizer and stopping rule."""

    loss: Loss
    schedule: Schedule
    optimizer: GradientTransformation
    rule: StopRule


def build_loss(spec: LossSpec, compiler: LossCompiler, settings: Settings) -> Loss:
    """The loss a spec names, within the dimension limit."""
    loss: Loss
    match spec:
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


def build_stop(spec: StopSpec, default_max_steps: int, settings: Settings) -> StopRule:
    """The stopping rule, with ``max_steps`` defaulted and checked against the limit."""
    max_steps = default_max_steps if spec.max_steps is None else spec.max_steps
    if max_steps > settings.max_steps:
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


def build_start(spec: RunSpec, loss: Loss) -> Array:
    """θ₀ as a batch of one, checked against the loss's dimension and for a finite f and ∇f."""
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
    loss = build_loss(spec.loss, compiler, settings)
    return problem_on(
        loss, spec.optimizer, spec.schedule, build_stop(spec.stop, default_max_steps, settings)
    )


def problem_on(
    loss: Loss, optimizer: OptimizerSpec, schedule: ScheduleSpec | None, rule: StopRule
) -> Problem:
    """An optimizer with its schedule, set up on a built loss."""
    learning_rate = build_schedule(optimizer.lr, schedule)
    return Problem(loss, learning_rate, build_optimizer(optimizer, learning_rate, loss), rule)
