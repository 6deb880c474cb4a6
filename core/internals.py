"""Per-step optimizer internals for visualisers: named per-row arrays read off a state tree.

``optimizer_internals(state)`` walks an optimizer's state (the tree ``init``/``update`` pass
along) and returns the quantities a visualiser draws, each of shape ``(B, n)`` like the params,
under torch.optim's state names so they read the same as ``optimizer.state[p]`` in torch:

========================  ===================================================================
name                      meaning (and which optimizers have it)
========================  ===================================================================
``momentum_buffer``       b in b ← μb + g (sgd with momentum, momentum ``accumulator``,
                          nesterov ``torch``; rmsprop with momentum: b ← μb + g/(√v + ε))
``velocity``              v in v ← ρv − γg, the last displacement of θ (momentum ``velocity``,
                          nesterov ``lookahead``)
``exp_avg``               first moment m (adam, adamw, nadam, radam, adamax)
``exp_avg_sq``            second moment v (adam, adamw, nadam, radam)
``max_exp_avg_sq``        AMSGrad's running max of v (adam, adamw with ``amsgrad``)
``exp_inf``               Adamax's infinity-norm accumulator u (adamax)
``sum``                   Adagrad's sum of squared gradients (adagrad)
``square_avg``            RMSprop's average of g² (rmsprop)
``grad_avg``              centered RMSprop's average of g (rmsprop with ``centered``)
========================  ===================================================================

An optimizer without per-coordinate state (plain gradient descent, Newton) gives ``{}``. Step
counts and scalars shared by every row (NAdam's μ product) are not per-row and are left out.
The function is pure and cheap (no copies: state arrays are never modified in place), so a run
loop can call it on recorded steps only.
"""

from __future__ import annotations

from typing import Any

from core.transforms import (
    Array,
    ScaleByAdamaxState,
    ScaleByAdamState,
    ScaleByCenteredRmsState,
    ScaleByNAdamState,
    ScaleByRAdamState,
    ScaleByRmsState,
    ScaleByRssState,
    TraceState,
    VelocityState,
)

# State type → (field, public name) pairs. Adam's ``nu_max`` is listed separately: the state
# always carries it, but it means something only with AMSGrad.
_NAMES: dict[type, tuple[tuple[str, str], ...]] = {
    TraceState: (("momentum", "momentum_buffer"),),
    VelocityState: (("velocity", "velocity"),),
    ScaleByAdamState: (("mu", "exp_avg"), ("nu", "exp_avg_sq")),
    ScaleByAdamaxState: (("exp_avg", "exp_avg"), ("exp_inf", "exp_inf")),
    ScaleByNAdamState: (("exp_avg", "exp_avg"), ("exp_avg_sq", "exp_avg_sq")),
    ScaleByRAdamState: (("exp_avg", "exp_avg"), ("exp_avg_sq", "exp_avg_sq")),
    ScaleByRssState: (("sum", "sum"),),
    ScaleByRmsState: (("square_avg", "square_avg"),),
    ScaleByCenteredRmsState: (("square_avg", "square_avg"), ("grad_avg", "grad_avg")),
}

INTERNAL_NAMES = (
    "momentum_buffer",
    "velocity",
    "exp_avg",
    "exp_avg_sq",
    "max_exp_avg_sq",
    "exp_inf",
    "sum",
    "square_avg",
    "grad_avg",
)
"""Every name ``optimizer_internals`` can return."""


def optimizer_internals(state: Any, *, amsgrad: bool = False) -> dict[str, Array]:
    """The named per-row arrays (each shaped like the params, ``(B, n)``) held in ``state``.

    ``amsgrad`` adds ``max_exp_avg_sq`` for Adam and AdamW built with ``amsgrad=True`` (their
    state carries the slot either way; without AMSGrad it is an unused zero array).
    """
    found: dict[str, Array] = {}
    _collect(state, amsgrad, found)
    return found


def _collect(node: Any, amsgrad: bool, found: dict[str, Array]) -> None:
    if not isinstance(node, tuple):
        return
    fields = _NAMES.get(type(node))
    if fields is None:
        for child in node:
            _collect(child, amsgrad, found)
        return
    for field, name in fields:
        if name in found:
            raise ValueError(f"the state holds two arrays named {name!r}")
        found[name] = getattr(node, field)
    if amsgrad and isinstance(node, ScaleByAdamState):
        found["max_exp_avg_sq"] = node.nu_max
