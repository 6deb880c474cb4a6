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


_new = tuple.__new__
"""Builds a state NamedTuple from the tuple of its fields, in order. A NamedTuple's own
constructor is a generated Python function; calling ``tuple.__new__`` directly skips that frame,
and the states are rebuilt on every step."""


class UpdateFn(Protocol):
    """``update(updates, state, params) -> (updates, state)``."""

    def __call__(self, updates: Array, state: Any, params: Array) -> tuple[Array, Any]: ...


class GradientTransformation(NamedTuple):
    """An ``init``/``update`` pair of pure functions."""

    init: Callable[[Array], Any]
    update: UpdateFn
    learning_rate: Schedule | None = None
    """Set by ``scale_by_learning_rate`` only: the schedule it scales by, which lets ``chain``
    fold a closing scaling into its own update."""
    then_scale: Callable[[Schedule], UpdateFn] | None = None
    """Set by ``trace`` only: builds its update followed by ``scale_by_learning_rate``'s as one
    function of the pair of states, for a ``chain`` of those two links."""


class EmptyState(NamedTuple):
    """State of a stateless transformation."""


def _identity_init(params: Array) -> EmptyState:
    return EmptyState()


def _identity_update(updates: Array, state: EmptyState, params: Array) -> tuple[Array, EmptyState]:
    return updates, state


_IDENTITY = GradientTransformation(_identity_init, _identity_update)


def identity() -> GradientTransformation:
    """Leaves updates unchanged."""
    return _IDENTITY


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """Applies ``transforms`` in order; the state is the tuple of their states.

    Identity transformations (a zero weight decay, a zero momentum) are left out: they change
    nothing and hold no state, and the chain runs once per optimizer step. For the same reason
    a closing ``scale_by_learning_rate`` is applied by the chain's own update rather than
    called, and a chain of ``trace`` and that scaling alone is one call (the same arithmetic
    and the same state either way)."""
    active = tuple(t for t in transforms if t is not _IDENTITY)

    def init(params: Array) -> tuple[Any, ...]:
        return tuple(t.init(params) for t in active)

    links = tuple(t.update for t in active)
    rate = active[-1].learning_rate if active else None
    if rate is not None and len(links) == 2 and active[0].then_scale is not None:
        return GradientTransformation(init, active[0].then_scale(rate))
    if rate is not None and len(links) <= 3:
        return GradientTransformation(init, _scaled_update(links[:-1], rate))
    return GradientTransformation(init, _chained_update(links))


# On a small θ a Python call, a loop, a list or a zip costs about as much as one array
# operation of a link, and a chain runs once per step: the updates below write the common
# chains out.


def _chained_update(links: tuple[UpdateFn, ...]) -> UpdateFn:
    """The update of a chain of ``links``; one to three links are written out."""
    if len(links) == 1:
        (only,) = links

        def update_one(
            updates: Array, state: tuple[Any, ...], params: Array
        ) -> tuple[Array, tuple[Any, ...]]:
            updates, one = only(updates, state[0], params)
            return updates, (one,)

        return update_one

    if len(links) == 2:
        first, second = links

        def update_two(
            updates: Array, state: tuple[Any, ...], params: Array
        ) -> tuple[Array, tuple[Any, ...]]:
            updates, one = first(updates, state[0], params)
            updates, two = second(updates, state[1], params)
            return updates, (one, two)

        return update_two

    if len(links) == 3:
        first, second, third = links

        def update_three(
            updates: Array, state: tuple[Any, ...], params: Array
        ) -> tuple[Array, tuple[Any, ...]]:
            updates, one = first(updates, state[0], params)
            updates, two = second(updates, state[1], params)
            updates, three = third(updates, state[2], params)
            return updates, (one, two, three)

        return update_three

    def update(
        updates: Array, state: tuple[Any, ...], params: Array
    ) -> tuple[Array, tuple[Any, ...]]:
        new_state = []
        for link, inner in zip(links, state, strict=True):
            updates, updated = link(updates, inner, params)
            new_state.append(updated)
        return updates, tuple(new_state)

    return update


def _scaled_update(head: tuple[UpdateFn, ...], learning_rate: Schedule) -> UpdateFn:
    """The update of a chain of ``head`` (up to two links) then ``scale_by_learning_rate``,
    whose scaling u ← −γ_k·u is done here, in the chain's own call."""
    if not head:

        def update_scaled(
            updates: Array, state: tuple[Any, ...], params: Array
        ) -> tuple[Array, tuple[Any, ...]]:
            steps = state[0].steps
            scaled = -learning_rate(steps) * updates
            return scaled, (_new(ScaleByScheduleState, (steps + 1,)),)

        return update_scaled

    if len(head) == 1:
        (only,) = head

        def update_one_scaled(
            updates: Array, state: tuple[Any, ...], params: Array
        ) -> tuple[Array, tuple[Any, ...]]:
            updates, one = only(updates, state[0], params)
            steps = state[1].steps
            scaled = -learning_rate(steps) * updates
            return scaled, (one, _new(ScaleByScheduleState, (steps + 1,)))

        return update_one_scaled

    first, second = head

    def update_two_scaled(
        updates: Array, state: tuple[Any, ...], params: Array
    ) -> tuple[Array, tuple[Any, ...]]:
        updates, one = first(updates, state[0], params)
        updates, two = second(updates, state[1], params)
        steps = state[2].steps
        scaled = -learning_rate(steps) * updates
        return scaled, (one, two, _new(ScaleByScheduleState, (steps + 1,)))

    return update_two_scaled


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
        steps = state.steps
        return -learning_rate(steps) * updates, _new(ScaleByScheduleState, (steps + 1,))

    return GradientTransformation(init, update, learning_rate)


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
        steps = state.steps
        if steps == 0:
            buffer = updates.copy()
        elif dampening == 0:
            # (1 − τ)·g is g itself when τ = 0: one array operation less, the same buffer.
            buffer = state.momentum * momentum + updates
        else:
            buffer = state.momentum * momentum + (1 - dampening) * updates
        direction = updates + momentum * buffer if nesterov else buffer
        return direction, _new(TraceState, (steps + 1, buffer))

    def then_scale(learning_rate: Schedule) -> UpdateFn:
        # Momentum SGD's whole step, chain(trace, scale_by_learning_rate), in one call: with
        # two array operations trace is the lightest link, and its own call costs half as much
        # as one of them. The statements are ``update``'s, then the scaling's;
        # tests/core/test_optimizers.py checks that the two paths agree bit for bit.
        def update_then_scale(
            updates: Array, state: tuple[Any, ...], params: Array
        ) -> tuple[Array, tuple[Any, ...]]:
            own, scaling = state
            steps = own.steps
            if steps == 0:
                buffer = updates.copy()
            elif dampening == 0:
                buffer = own.momentum * momentum + updates
            else:
                buffer = own.momentum * momentum + (1 - dampening) * updates
            direction = updates + momentum * buffer if nesterov else buffer
            k = scaling.steps
            return -learning_rate(k) * direction, (
                _new(TraceState, (steps + 1, buffer)),
                _new(ScaleByScheduleState, (k + 1,)),
            )

        return update_then_scale

    return GradientTransformation(init, update, then_scale=then_scale)


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
        return direction, _new(ScaleByAdamState, (steps, mu, nu, nu_max))

    return GradientTransformation(init, update)


class VelocityState(NamedTuple):
    """Steps taken so far and the velocity v (the displacement of the last step)."""

    steps: int
    velocity: Array


def velocity(momentum: float, learning_rate: Schedule) -> GradientTransformation:
    """Classical momentum in velocity form (Polyak, 1964; Sutskever et al., 2013).

    v_t = ρ·v_{t−1} − γ_k·g_t, emitted as the update (θ ← θ + v_t). The learning rate sits
    inside the velocity, so a schedule scales only the newest gradient; the whole update,
    signs included, is emitted and no ``scale_by_learning_rate`` follows.
    """

    def init(params: Array) -> VelocityState:
        return VelocityState(steps=0, velocity=np.zeros_like(params))

    def update(updates: Array, state: VelocityState, params: Array) -> tuple[Array, VelocityState]:
        steps = state.steps
        new = state.velocity * momentum - learning_rate(steps) * updates
        return new, _new(VelocityState, (steps + 1, new))

    return GradientTransformation(init, update)


def lookahead_velocity(
    momentum: float, learning_rate: Schedule, grad_fn: Callable[[Array], Array]
) -> GradientTransformation:
    """Nesterov's accelerated gradient in look-ahead form (Nesterov, 1983; Sutskever et al.,
    2013, eq. 3–4).

    g̃_t = ∇f(θ + ρ·v_{t−1}) by ``grad_fn``;  v_t = ρ·v_{t−1} − γ_k·g̃_t, emitted as the update
    (θ ← θ + v_t). The incoming updates (the gradient at θ itself) are not used: ``grad_fn``
    costs one extra gradient evaluation per step.
    """

    def init(params: Array) -> VelocityState:
        return VelocityState(steps=0, velocity=np.zeros_like(params))

    def update(updates: Array, state: VelocityState, params: Array) -> tuple[Array, VelocityState]:
        ahead = grad_fn(params + momentum * state.velocity)
        steps = state.steps
        new = state.velocity * momentum - learning_rate(steps) * ahead
        return new, _new(VelocityState, (steps + 1, new))

    return GradientTransformation(init, update)


class ScaleByRssState(NamedTuple):
    """Adagrad's accumulator: the running sum of squared gradients."""

    sum: Array


def scale_by_rss(
    initial_accumulator_value: float = 0.0, eps: float = 1e-10
) -> GradientTransformation:
    """Adagrad's direction (Duchi et al., 2011; torch.optim.Adagrad's arithmetic).

    s_t = s_{t−1} + g²  (s₀ = ``initial_accumulator_value``);  emits g / (√s_t + ε).
    """

    def init(params: Array) -> ScaleByRssState:
        return ScaleByRssState(np.full_like(params, initial_accumulator_value))

    def update(
        updates: Array, state: ScaleByRssState, params: Array
    ) -> tuple[Array, ScaleByRssState]:
        total = state.sum + updates * updates
        return updates / (np.sqrt(total) + eps), _new(ScaleByRssState, (total,))

    return GradientTransformation(init, update)


class ScaleByRmsState(NamedTuple):
    """RMSprop's square average v."""

    square_avg: Array


class ScaleByCenteredRmsState(NamedTuple):
    """Centered RMSprop's square average v and gradient average ḡ."""

    square_avg: Array
    grad_avg: Array


def scale_by_rms(
    alpha: float = 0.99, eps: float = 1e-8, centered: bool = False
) -> GradientTransformation:
    """RMSprop's direction (Tieleman & Hinton, 2012; Graves, 2013 for the centered form;
    torch.optim.RMSprop's arithmetic, no bias correction, buffers start at zero).

    v_t = α·v + (1−α)·g²;  centered: ḡ_t = α·ḡ + (1−α)·g and the denominator uses v_t − ḡ_t²;
    emits g / (√v_t + ε) (or g / (√(v_t − ḡ_t²) + ε)).
    """

    if centered:

        def init_centered(params: Array) -> ScaleByCenteredRmsState:
            zeros = np.zeros_like(params)
            return ScaleByCenteredRmsState(zeros, zeros)

        def update_centered(
            updates: Array, state: ScaleByCenteredRmsState, params: Array
        ) -> tuple[Array, ScaleByCenteredRmsState]:
            square_avg = state.square_avg * alpha + (1 - alpha) * updates * updates
            grad_avg = _lerp(state.grad_avg, updates, 1 - alpha)
            avg = np.sqrt(square_avg - grad_avg * grad_avg) + eps
            return updates / avg, _new(ScaleByCenteredRmsState, (square_avg, grad_avg))

        return GradientTransformation(init_centered, update_centered)

    def init(params: Array) -> ScaleByRmsState:
        return ScaleByRmsState(np.zeros_like(params))

    def update(
        updates: Array, state: ScaleByRmsState, params: Array
    ) -> tuple[Array, ScaleByRmsState]:
        square_avg = state.square_avg * alpha + (1 - alpha) * updates * updates
        return updates / (np.sqrt(square_avg) + eps), _new(ScaleByRmsState, (square_avg,))

    return GradientTransformation(init, update)


class ScaleByAdamaxState(NamedTuple):
    """Steps taken, first moment m and the exponentially weighted infinity norm u."""

    steps: int
    exp_avg: Array
    exp_inf: Array


def scale_by_adamax(
    beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
) -> GradientTransformation:
    """Adamax's direction (Kingma & Ba, 2015, §7.1; torch.optim.Adamax's arithmetic).

    m_t = β₁m + (1−β₁)g;  u_t = max(β₂·u, |g| + ε);  emits (m_t / u_t) / (1 − β₁ᵗ).
    """

    def init(params: Array) -> ScaleByAdamaxState:
        zeros = np.zeros_like(params)
        return ScaleByAdamaxState(0, zeros, zeros)

    def update(
        updates: Array, state: ScaleByAdamaxState, params: Array
    ) -> tuple[Array, ScaleByAdamaxState]:
        steps = state.steps + 1
        exp_avg = _lerp(state.exp_avg, updates, 1 - beta1)
        exp_inf = np.maximum(state.exp_inf * beta2, np.abs(updates) + eps)
        direction = exp_avg / exp_inf / (1 - beta1 ** float(steps))
        return direction, _new(ScaleByAdamaxState, (steps, exp_avg, exp_inf))

    return GradientTransformation(init, update)


class ScaleByNAdamState(NamedTuple):
    """Steps taken, the product of the momentum coefficients μ₁⋯μ_t (shared by every row),
    first moment m and second moment v."""

    steps: int
    mu_product: float
    exp_avg: Array
    exp_avg_sq: Array


def scale_by_nadam(
    learning_rate: Schedule,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    momentum_decay: float = 4e-3,
) -> GradientTransformation:
    """NAdam's step, learning rate included (Dozat, 2016; torch.optim.NAdam's arithmetic).

    μ_t = β₁(1 − ½·0.96^(tψ)), ψ = ``momentum_decay``;  m_t = β₁m + (1−β₁)g;
    v_t = β₂v + (1−β₂)g²;  d = √(v_t / (1−β₂ᵗ)) + ε;
    emits −γ_k(1−μ_t)/(1−∏ᵢ₌₁ᵗμᵢ)·g/d − γ_k·μ_{t+1}/(1−∏ᵢ₌₁ᵗ⁺¹μᵢ)·m_t/d.
    """

    def init(params: Array) -> ScaleByNAdamState:
        zeros = np.zeros_like(params)
        return ScaleByNAdamState(0, 1.0, zeros, zeros)

    def update(
        updates: Array, state: ScaleByNAdamState, params: Array
    ) -> tuple[Array, ScaleByNAdamState]:
        lr = learning_rate(state.steps)
        steps = state.steps + 1
        step = float(steps)
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
        mu_product = state.mu_product * mu
        exp_avg = _lerp(state.exp_avg, updates, 1 - beta1)
        exp_avg_sq = state.exp_avg_sq * beta2 + (1 - beta2) * updates * updates
        denom = np.sqrt(exp_avg_sq / (1 - beta2**step)) + eps
        grad_coef = -lr * (1.0 - mu) / (1.0 - mu_product)
        avg_coef = (-lr * mu_next) / (1.0 - mu_product * mu_next)
        step_ = grad_coef * updates / denom + avg_coef * exp_avg / denom
        return step_, _new(ScaleByNAdamState, (steps, mu_product, exp_avg, exp_avg_sq))

    return GradientTransformation(init, update)


class ScaleByRAdamState(NamedTuple):
    """Steps taken, first moment m and second moment v."""

    steps: int
    exp_avg: Array
    exp_avg_sq: Array


def scale_by_radam(
    learning_rate: Schedule, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
) -> GradientTransformation:
    """RAdam's step, learning rate included (Liu et al., 2020; torch.optim.RAdam's arithmetic).

    m_t = β₁m + (1−β₁)g;  v_t = β₂v + (1−β₂)g²;  m̂ = m_t/(1−β₁ᵗ);  ρ_∞ = 2/(1−β₂) − 1;
    ρ_t = ρ_∞ − 2tβ₂ᵗ/(1−β₂ᵗ). If ρ_t > 5 (the variance of the adaptive rate is tractable):
    r_t = √((ρ_t−4)(ρ_t−2)ρ_∞ / ((ρ_∞−4)(ρ_∞−2)ρ_t)) and it emits −γ_k·m̂·√(1−β₂ᵗ)/(√v_t + ε)·r_t;
    otherwise −γ_k·m̂ (un-adapted momentum SGD for the first few steps).
    """
    rho_inf = 2 / (1 - beta2) - 1

    def init(params: Array) -> ScaleByRAdamState:
        zeros = np.zeros_like(params)
        return ScaleByRAdamState(0, zeros, zeros)

    def update(
        updates: Array, state: ScaleByRAdamState, params: Array
    ) -> tuple[Array, ScaleByRAdamState]:
        lr = learning_rate(state.steps)
        steps = state.steps + 1
        step = float(steps)
        exp_avg = _lerp(state.exp_avg, updates, 1 - beta1)
        exp_avg_sq = state.exp_avg_sq * beta2 + (1 - beta2) * updates * updates
        bias_correction2 = 1 - beta2**step
        corrected = exp_avg / (1 - beta1**step)
        rho_t = rho_inf - 2 * step * beta2**step / bias_correction2
        if rho_t > 5.0:
            rect = math.sqrt(
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            )
            adaptive = (1 / (np.sqrt(exp_avg_sq) + eps)) * math.sqrt(bias_correction2)
            step_ = -(corrected * lr * adaptive * rect)
        else:
            step_ = -(corrected * lr)
        return step_, _new(ScaleByRAdamState, (steps, exp_avg, exp_avg_sq))

    return GradientTransformation(init, update)


def add_decoupled_weight_decay(
    weight_decay: float, learning_rate: Schedule
) -> GradientTransformation:
    """Decoupled weight decay (Loshchilov & Hutter, 2019; torch's AdamW and
    ``decoupled_weight_decay``): the step also shrinks θ to θ·(1 − γ_kλ).

    Adds θ(1 − γ_kλ) − θ to the (already scaled) updates; put it last in a chain.
    """
    if weight_decay == 0:
        return identity()

    def init(params: Array) -> ScaleByScheduleState:
        return ScaleByScheduleState(steps=0)

    def update(
        updates: Array, state: ScaleByScheduleState, params: Array
    ) -> tuple[Array, ScaleByScheduleState]:
        steps = state.steps
        shrunk = params * (1 - learning_rate(steps) * weight_decay)
        return updates + (shrunk - params), _new(ScaleByScheduleState, (steps + 1,))

    return GradientTransformation(init, update)


def scale_by_newton(
    hessian: Callable[[Array], Array], damping: float = 0.0
) -> GradientTransformation:
    """Newton's direction: emits (H(θ) + δI)⁻¹g, H from ``hessian`` (shape (B, n, n)).

    Solved by LU per row (``np.linalg.solve``); where H + δI is exactly singular the
    minimum-norm least-squares solution (pseudo-inverse) is used instead.
    """

    def update(updates: Array, state: EmptyState, params: Array) -> tuple[Array, EmptyState]:
        matrix = hessian(params)
        if damping:
            matrix = matrix + damping * np.eye(matrix.shape[-1])
        return _solve(matrix, updates[..., np.newaxis])[..., 0], state

    return GradientTransformation(lambda params: EmptyState(), update)


def _solve(matrix: Array, column: Array) -> Array:
    """Solutions x of A x = b for a stack of systems: by LU, or, if some A is exactly
    singular, the minimum-norm least-squares solutions by the pseudo-inverse (NaN where even
    the SVD fails)."""
    try:
        return np.asarray(np.linalg.solve(matrix, column), dtype=np.float64)
    except np.linalg.LinAlgError:
        pass
    try:
        return np.asarray(np.linalg.pinv(matrix) @ column, dtype=np.float64)
    except np.linalg.LinAlgError:
        return np.full_like(column, np.nan)
