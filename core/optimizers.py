"""Named optimizers, each a chain of transformations from ``core.transforms``.

Hyperparameters are checked when an optimizer is built, with torch.optim's messages, so a bad
configuration fails before the first step rather than in the middle of a run.

Where torch.optim has the optimizer, the arithmetic follows its single-tensor CPU code, so a
float64 trajectory agrees with torch's to about 1e-12 relative (not bit for bit: torch fuses
some operations differently). Where an update multiplies by the learning rate inside the rule
(NAdam, RAdam, the velocity forms, decoupled weight decay) the transformation takes the
schedule itself; elsewhere ``scale_by_learning_rate`` ends the chain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from core.schedules import Schedule
from core.transforms import (
    Array,
    GradientTransformation,
    add_decayed_weights,
    add_decoupled_weight_decay,
    chain,
    lookahead_velocity,
    scale_by_adam,
    scale_by_adamax,
    scale_by_learning_rate,
    scale_by_nadam,
    scale_by_newton,
    scale_by_radam,
    scale_by_rms,
    scale_by_rss,
    trace,
    velocity,
)

MomentumForm = Literal["velocity", "accumulator"]
NesterovForm = Literal["torch", "lookahead"]
NEWTON_MAX_DIMENSION = 50
"""Default largest n Newton's method accepts (each step solves an n×n system, O(n³))."""


def _check_unit_interval(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"Invalid {name} value: {value} (must lie in [0, 1))")


def _check_closed_unit_interval(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"Invalid {name} value: {value} (must lie in [0, 1])")


def _check_non_negative(name: str, value: float) -> None:
    if not value >= 0.0:
        raise ValueError(f"Invalid {name} value: {value} (must be non-negative)")


def _check_betas(beta1: float, beta2: float) -> None:
    for index, beta in enumerate((beta1, beta2)):
        if not 0.0 <= beta < 1.0:
            raise ValueError(
                f"Invalid beta parameter at index {index}: {beta} (must lie in [0, 1))"
            )


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"Invalid {name}: {value!r} (must be one of {', '.join(choices)})")


def sgd(
    learning_rate: Schedule,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
) -> GradientTransformation:
    """torch.optim.SGD.

    g ← g + λθ;  b₁ = g₁, b_t = μb_{t−1} + (1−τ)g_t;  d = g + μb_t (Nesterov) or b_t;  θ ← θ − γd.
    With μ = 0 this is plain gradient descent θ ← θ − γg.
    """
    _check_non_negative("momentum", momentum)
    _check_non_negative("weight_decay", weight_decay)
    if not 0.0 <= dampening <= 1.0:
        raise ValueError(f"Invalid dampening value: {dampening} (must lie in [0, 1])")
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("Nesterov momentum requires a momentum and zero dampening")
    return chain(
        add_decayed_weights(weight_decay),
        trace(momentum, dampening, nesterov),
        scale_by_learning_rate(learning_rate),
    )


def momentum(
    learning_rate: Schedule, momentum: float = 0.9, form: MomentumForm = "accumulator"
) -> GradientTransformation:
    """Gradient descent with classical (heavy-ball) momentum (Polyak, 1964), in two forms.

    - ``accumulator`` (torch.optim.SGD with ``momentum``): v_t = ρv_{t−1} + g_t;  θ ← θ − γ_k v_t.
    - ``velocity`` (Sutskever et al., 2013): v_t = ρv_{t−1} − γ_k g_t;  θ ← θ + v_t.

    At a constant γ the trajectories are identical (v_velocity = −γ·v_accumulator). Under a
    schedule they differ: the accumulator form multiplies the whole history by today's γ_k, the
    velocity form scales each gradient by the γ of its own step.
    """
    _check_closed_unit_interval("momentum", momentum)
    _check_choice("form", form, ("velocity", "accumulator"))
    if form == "velocity":
        return velocity(momentum, learning_rate)
    return chain(trace(momentum), scale_by_learning_rate(learning_rate))


def nesterov(
    learning_rate: Schedule,
    momentum: float = 0.9,
    form: NesterovForm = "torch",
    grad_fn: Callable[[Array], Array] | None = None,
) -> GradientTransformation:
    """Nesterov's accelerated gradient (Nesterov, 1983; Sutskever et al., 2013), in two forms.

    - ``torch`` (torch.optim.SGD with ``nesterov=True``): b_t = ρb_{t−1} + g_t;
      θ ← θ − γ_k(g_t + ρb_t), with g_t the gradient at θ.
    - ``lookahead``: g̃ = ∇f(θ + ρv_{t−1});  v_t = ρv_{t−1} − γ_k g̃;  θ ← θ + v_t. The gradient
      is taken at the look-ahead point by ``grad_fn`` (the loss's gradient, one extra
      evaluation per step), which this form requires.

    At a constant γ both give the same points up to the change of variable
    θ_torch = θ_lookahead + ρ·v (the torch form tracks the look-ahead point).
    """
    _check_closed_unit_interval("momentum", momentum)
    _check_choice("form", form, ("torch", "lookahead"))
    if form == "lookahead":
        if grad_fn is None:
            raise ValueError("the lookahead form of Nesterov momentum needs the loss's gradient")
        return lookahead_velocity(momentum, learning_rate, grad_fn)
    return chain(trace(momentum, nesterov=True), scale_by_learning_rate(learning_rate))


def adagrad(
    learning_rate: Schedule,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    initial_accumulator_value: float = 0.0,
    eps: float = 1e-10,
) -> GradientTransformation:
    """torch.optim.Adagrad (Duchi, Hazan & Singer, 2011).

    g ← g + λθ;  s_t = s_{t−1} + g² (s₀ = ``initial_accumulator_value``);
    θ ← θ − γ̃ g/(√s_t + ε) with γ̃ = γ_k / (1 + k·lr_decay), k = t − 1. The accumulator only
    grows, so the steps shrink and Adagrad eventually stalls.
    """
    _check_non_negative("lr_decay", lr_decay)
    _check_non_negative("weight_decay", weight_decay)
    _check_non_negative("initial_accumulator_value", initial_accumulator_value)
    _check_non_negative("epsilon", eps)

    def decayed(k: int) -> float:
        return learning_rate(k) / (1 + k * lr_decay)

    rate = decayed if lr_decay != 0 else learning_rate
    return chain(
        add_decayed_weights(weight_decay),
        scale_by_rss(initial_accumulator_value, eps),
        scale_by_learning_rate(rate),
    )


def rmsprop(
    learning_rate: Schedule,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
) -> GradientTransformation:
    """torch.optim.RMSprop (Tieleman & Hinton, 2012; centered: Graves, 2013).

    g ← g + λθ;  v_t = αv + (1−α)g²;  centered: ḡ_t = αḡ + (1−α)g, d = √(v_t − ḡ_t²) + ε,
    else d = √v_t + ε;  with momentum μ > 0: b_t = μb + g/d, θ ← θ − γ_k b_t;
    else θ ← θ − γ_k g/d. No bias correction: the buffers start at zero.
    """
    _check_unit_interval("alpha", alpha)
    _check_non_negative("epsilon", eps)
    _check_non_negative("weight_decay", weight_decay)
    _check_closed_unit_interval("momentum", momentum)
    return chain(
        add_decayed_weights(weight_decay),
        scale_by_rms(alpha, eps, centered),
        trace(momentum),
        scale_by_learning_rate(learning_rate),
    )


def adam(
    learning_rate: Schedule,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    bias_correction: bool = True,
) -> GradientTransformation:
    """torch.optim.Adam (Kingma & Ba, 2015), with AMSGrad (Reddi et al., 2018) as an option.

    g ← g + λθ;  m = β₁m + (1−β₁)g;  v = β₂v + (1−β₂)g²;  m̂ = m/(1−β₁ᵗ);  v̂ = v/(1−β₂ᵗ);
    θ ← θ − γ m̂/(√v̂ + ε). AMSGrad uses the running max of v; ``bias_correction=False`` uses m and
    v themselves, which makes the first steps tiny (the reason the correction exists).
    """
    _check_betas(beta1, beta2)
    _check_non_negative("epsilon", eps)
    _check_non_negative("weight_decay", weight_decay)
    return chain(
        add_decayed_weights(weight_decay),
        scale_by_adam(beta1, beta2, eps, amsgrad, bias_correction),
        scale_by_learning_rate(learning_rate),
    )


def adamw(
    learning_rate: Schedule,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    amsgrad: bool = False,
    bias_correction: bool = True,
) -> GradientTransformation:
    """torch.optim.AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    θ ← θ(1 − γ_kλ), then Adam's step without λ in the gradient: m = β₁m + (1−β₁)g;
    v = β₂v + (1−β₂)g²;  θ ← θ − γ_k m̂/(√v̂ + ε) (AMSGrad and ``bias_correction`` as in Adam).
    """
    _check_betas(beta1, beta2)
    _check_non_negative("epsilon", eps)
    _check_non_negative("weight_decay", weight_decay)
    return chain(
        scale_by_adam(beta1, beta2, eps, amsgrad, bias_correction),
        scale_by_learning_rate(learning_rate),
        add_decoupled_weight_decay(weight_decay, learning_rate),
    )


def _with_weight_decay(
    step: GradientTransformation,
    weight_decay: float,
    decoupled: bool,
    learning_rate: Schedule,
) -> GradientTransformation:
    """``step`` with weight decay: decoupled θ ← θ(1 − γ_kλ) when ``decoupled``, else the L2
    term g ← g + λθ folded into the gradient the step sees."""
    if decoupled:
        return chain(step, add_decoupled_weight_decay(weight_decay, learning_rate))
    return chain(add_decayed_weights(weight_decay), step)


def nadam(
    learning_rate: Schedule,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum_decay: float = 4e-3,
    decoupled_weight_decay: bool = False,
) -> GradientTransformation:
    """torch.optim.NAdam: Adam with Nesterov momentum (Dozat, 2016).

    Weight decay: θ ← θ(1 − γ_kλ) if ``decoupled_weight_decay`` else g ← g + λθ.
    μ_t = β₁(1 − ½·0.96^(tψ)) (ψ = ``momentum_decay``);  m = β₁m + (1−β₁)g;
    v = β₂v + (1−β₂)g²;  d = √(v/(1−β₂ᵗ)) + ε;
    θ ← θ − γ_k(1−μ_t)/(1−∏ᵢ≤ₜμᵢ)·g/d − γ_k μ_{t+1}/(1−∏ᵢ≤ₜ₊₁μᵢ)·m/d.
    """
    _check_betas(beta1, beta2)
    _check_non_negative("epsilon", eps)
    _check_non_negative("weight_decay", weight_decay)
    _check_non_negative("momentum_decay", momentum_decay)
    step = scale_by_nadam(learning_rate, beta1, beta2, eps, momentum_decay)
    return _with_weight_decay(step, weight_decay, decoupled_weight_decay, learning_rate)


def radam(
    learning_rate: Schedule,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
) -> GradientTransformation:
    """torch.optim.RAdam: Adam with a rectified adaptive learning rate (Liu et al., 2020).

    Weight decay as in NAdam. m = β₁m + (1−β₁)g;  v = β₂v + (1−β₂)g²;  m̂ = m/(1−β₁ᵗ);
    ρ_∞ = 2/(1−β₂) − 1;  ρ_t = ρ_∞ − 2tβ₂ᵗ/(1−β₂ᵗ). If ρ_t > 5:
    θ ← θ − γ_k m̂ r_t √(1−β₂ᵗ)/(√v + ε) with r_t = √((ρ_t−4)(ρ_t−2)ρ_∞/((ρ_∞−4)(ρ_∞−2)ρ_t));
    otherwise θ ← θ − γ_k m̂ (the variance of the adaptive rate is not yet tractable).
    """
    _check_betas(beta1, beta2)
    _check_non_negative("epsilon", eps)
    _check_non_negative("weight_decay", weight_decay)
    step = scale_by_radam(learning_rate, beta1, beta2, eps)
    return _with_weight_decay(step, weight_decay, decoupled_weight_decay, learning_rate)


def adamax(
    learning_rate: Schedule,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> GradientTransformation:
    """torch.optim.Adamax: Adam with the infinity norm (Kingma & Ba, 2015, §7.1).

    g ← g + λθ;  m = β₁m + (1−β₁)g;  u = max(β₂u, |g| + ε);  θ ← θ − γ_k/(1−β₁ᵗ)·m/u.
    """
    _check_betas(beta1, beta2)
    _check_non_negative("epsilon", eps)
    _check_non_negative("weight_decay", weight_decay)
    return chain(
        add_decayed_weights(weight_decay),
        scale_by_adamax(beta1, beta2, eps),
        scale_by_learning_rate(learning_rate),
    )


def newton(
    learning_rate: Schedule,
    hessian: Callable[[Array], Array],
    dimension: int,
    damping: float = 0.0,
    max_dimension: int = NEWTON_MAX_DIMENSION,
) -> GradientTransformation:
    """Damped Newton's method (Nocedal & Wright, *Numerical Optimization*, 2006, §3.3–3.4).

    θ ← θ − γ_k (H(θ) + δI)⁻¹ g, with H from ``hessian`` (the loss's exact Hessian) and δ the
    ``damping``. On a quadratic with γ = 1 and δ = 0 one step lands on the stationary point.
    Newton's method looks for a zero of the gradient, not for a minimum: where H is indefinite
    the step is not a descent direction and it is drawn to saddle points (on x² − y² it jumps
    straight to the saddle at the origin); a damping δ larger than −λ_min(H) restores descent.
    Where H + δI is singular the minimum-norm (pseudo-inverse) step is taken. Each step costs
    a Hessian and an O(n³) solve, so n is limited to ``max_dimension``.
    """
    _check_non_negative("damping", damping)
    if dimension > max_dimension:
        raise ValueError(
            f"Newton's method is limited to {max_dimension} parameters (each step solves an "
            f"n×n system); the loss has {dimension}"
        )
    return chain(scale_by_newton(hessian, damping), scale_by_learning_rate(learning_rate))
