"""Gradient transformations: the small pure pieces optimizers are chained from (optax's model).

A transformation is a pair of pure functions, ``init(params) -> state`` and
``update(updates, state, params) -> (updates, state)``. State is a NamedTuple whose leaves are
ints (step counts) and float64 arrays shaped like ``params``; nothing is modified in place, so a
state can be stored and resumed bit for bit, and a batch of starts is a leading array axis.

The arithmetic follows torch.optim's single-tensor CPU code operation by operation (the order of
floating-point operations decides whether trajectories agree to the last bits).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
Schedule = Callable[[int], float]


class UpdateFn(Protocol):
    """``update(updates, state, params) -> (updates, state)``."""

    def __call__(self, updates: Array, state: Any, params: Array) -> tuple[Array, Any]: ...


class GradientTransformation(NamedTuple):
    """An ``init``/``update`` pair of pure functions."""

    init: Callable[[Array], Any]
    update: UpdateFn


class EmptyState(NamedTuple):
    """State of a stateless transformation."""


def identity() -> GradientTransformation:
    """Leaves updates unchanged."""

    def init(params: Array) -> EmptyState:
        return EmptyState()

    def update(updates: Array, state: EmptyState, params: Array) -> tuple[Array, EmptyState]:
        return updates, state

    return GradientTransformation(init, update)


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Applies ``transforms`` in order; the state is the tuple of their states."""

    def init(params: Array) -> tuple[Any, ...]:
        return tuple(t.init(params) for t in transforms)

    def update(
        updates: Array, state: tuple[Any, ...], params: Array
    ) -> tuple[Array, tuple[Any, ...]]:
        new_state = []
        for transform, inner in zip(transforms, state, strict=True):
            updates, updated = transform.update(updates, inner, params)
            new_state.append(updated)
        return updates, tuple(new_state)

    return GradientTransformation(init, update)


def add_decayed_weights(weight_decay: float) -> GradientTransformation:
    """L2 penalty folded into the gradient: g ← g + λθ (torch's ``weight_decay``)."""
    if weight_decay == 0:
        return identity()

    def update(updates: Array, state: EmptyState, params: Array) -> tuple[Array, EmptyState]:
        return updates + weight_decay * params, state

    return GradientTransformation(lambda params: EmptyState(), update)


class ScaleByScheduleState(NamedTuple):
    """Steps taken so far."""

    steps: int


def scale_by_learning_rate(learning_rate: Schedule) -> GradientTransformation:
    """Descent step: u ← −γ_k·u, with γ_k = ``learning_rate(k)`` and k the steps already taken."""

    def init(params: Array) -> ScaleByScheduleState:
        return ScaleByScheduleState(steps=0)

    def update(
        updates: Array, state: ScaleByScheduleState, params: Array
    ) -> tuple[Array, ScaleByScheduleState]:
        return -learning_rate(state.steps) * updates, ScaleByScheduleState(state.steps + 1)

    return GradientTransformation(init, update)


class TraceState(NamedTuple):
    """Steps taken so far and the momentum buffer b."""

    steps: int
    momentum: Array


def trace(
    momentum: float, dampening: float = 0.0, nesterov: bool = False
) -> GradientTransformation:
    """torch.optim.SGD's momentum buffer.

    b₁ = g₁ (the first step is not dampened); b_t = μ·b_{t−1} + (1−τ)·g_t.
    Emits g + μ·b_t with ``nesterov``, else b_t.
    """
    if momentum == 0:
        return identity()

    def init(params: Array) -> TraceState:
        return TraceState(steps=0, momentum=np.zeros_like(params))

    def update(updates: Array, state: TraceState, params: Array) -> tuple[Array, TraceState]:
        if state.steps == 0:
            buffer = updates.copy()
        else:
            buffer = state.momentum * momentum + (1 - dampening) * updates
        direction = updates + momentum * buffer if nesterov else buffer
        return direction, TraceState(state.steps + 1, buffer)

    return GradientTransformation(init, update)


class ScaleByAdamState(NamedTuple):
    """Steps taken, first moment m, second moment v and (AMSGrad) the running max of v."""

    steps: int
    mu: Array
    nu: Array
    nu_max: Array


def _lerp(start: Array, end: Array, weight: float) -> Array:
    """torch.lerp's two-sided formula, which keeps the result exact at either end."""
    if weight < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - weight)


def scale_by_adam(
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    amsgrad: bool = False,
    bias_correction: bool = True,
) -> GradientTransformation:
    """Adam's direction (Kingma & Ba, 2015; torch.optim.Adam's arithmetic).

    m_t = β₁m + (1−β₁)g;  v_t = β₂v + (1−β₂)g²;  v̄ = max(v̄, v_t) with AMSGrad, else v_t;
    emits (m_t / (√v̄ / √(1−β₂ᵗ) + ε)) / (1−β₁ᵗ), or m_t / (√v̄ + ε) without bias correction.
    """

    def init(params: Array) -> ScaleByAdamState:
        zeros = np.zeros_like(params)
        return ScaleByAdamState(steps=0, mu=zeros, nu=zeros, nu_max=zeros)

    def update(
        updates: Array, state: ScaleByAdamState, params: Array
    ) -> tuple[Array, ScaleByAdamState]:
        steps = state.steps + 1
        mu = _lerp(state.mu, updates, 1 - beta1)
        nu = state.nu * beta2 + (1 - beta2) * updates * updates
        nu_max = np.maximum(state.nu_max, nu) if amsgrad else state.nu_max
        second = nu_max if amsgrad else nu
        if bias_correction:
            step = float(steps)
            denom = np.sqrt(second) / math.sqrt(1 - beta2**step) + eps
            direction = mu / denom / (1 - beta1**step)
        else:
            direction = mu / (np.sqrt(second) + eps)
        return direction, ScaleByAdamState(steps, mu, nu, nu_max)

    return GradientTransformation(init, update)
