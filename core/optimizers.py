"""Named optimizers, each a chain of transformations from ``core.transforms``.

Hyperparameters are checked when an optimizer is built, with torch.optim's messages, so a bad
configuration fails before the first step rather than in the middle of a run.
"""

from __future__ import annotations

from core.schedules import Schedule
from core.transforms import (
    GradientTransformation,
    add_decayed_weights,
    chain,
    scale_by_adam,
    scale_by_learning_rate,
    trace,
)


def _check_unit_interval(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"Invalid {name} value: {value} (must lie in [0, 1))")


def _check_non_negative(name: str, value: float) -> None:
    if not value >= 0.0:
        raise ValueError(f"Invalid {name} value: {value} (must be non-negative)")


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
    _check_unit_interval("beta parameter at index 0", beta1)
    _check_unit_interval("beta parameter at index 1", beta2)
    _check_non_negative("epsilon", eps)
    _check_non_negative("weight_decay", weight_decay)
    return chain(
        add_decayed_weights(weight_decay),
        scale_by_adam(beta1, beta2, eps, amsgrad, bias_correction),
        scale_by_learning_rate(learning_rate),
    )
