"""Turns validated specs into core objects, checking what depends on settings or on the loss."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from core import optimizers, schedules
from core.losses import Array, Loss
from core.run import StopRule
from core.schedules import Schedule
from core.transforms import GradientTransformation
from service.errors import InvalidSpecification, LimitExceeded
from service.settings import Settings
from service.specs import (
    AdamSpec,
    ConstantSchedule,
    CosineSchedule,
    ExponentialSchedule,
    InverseSqrtSchedule,
    LossSpec,
    OptimizerSpec,
    RunSpec,
    ScheduleSpec,
    SGDSpec,
    StepSchedule,
    StopSpec,
)


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
    if spec.variables is not None and len(set(spec.variables)) != len(spec.variables):
        raise InvalidSpecification.at(("loss", "variables"), "variable names must be unique")
    loss = compiler.compile(spec.expression, spec.variables)
    if len(loss.names) > settings.max_dimension:
        raise LimitExceeded.at(
            ("loss", "variables"),
            f"the loss has {len(loss.names)} variables; the limit is {settings.max_dimension}",
        )
    return loss


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


def build_optimizer(spec: OptimizerSpec, schedule: Schedule) -> GradientTransformation:
    """The optimizer a spec names, stepping with ``schedule``."""
    try:
        match spec:
            case SGDSpec():
                return optimizers.sgd(
                    schedule, spec.momentum, spec.dampening, spec.weight_decay, spec.nesterov
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
    except ValueError as error:
        raise InvalidSpecification.at(("optimizer",), str(error)) from error


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
    """θ₀ as a batch of one, checked against the loss's dimension."""
    return check_point(spec.start, loss, ("start",))[np.newaxis, :]


def check_point(point: Sequence[float], loss: Loss, loc: tuple[str, ...]) -> Array:
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
    schedule = build_schedule(spec.optimizer.lr, spec.schedule)
    return Problem(
        loss=loss,
        schedule=schedule,
        optimizer=build_optimizer(spec.optimizer, schedule),
        rule=build_stop(spec.stop, default_max_steps, settings),
    )
