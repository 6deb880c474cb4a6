"""µs per optimizer step: the core's run loop, a hand-written NumPy loop, and torch.optim.

Run from the repository root: ``.venv/bin/python -m bench.optimizers`` (the torch column reads
"n/a"), or with an interpreter that has torch, numpy and sympy:
``PYTHONPATH=/work/main /work/torchenv/bin/python -m bench.optimizers``. ``--quick`` is a
smoke run.

For every optimizer on 2-D Rosenbrock and on a 100-D quadratic (condition number 100):

- core: ``core.run.run`` on a batch of one (the single-start path), with its recording of θ,
  f and ‖∇f‖ at every step and its divergence tests;
- hand: the same rule written directly into a plain NumPy loop over (n,) arrays, calling the
  same loss object's ``value_and_grad`` and recording θ, f and ‖∇f‖ into preallocated arrays
  (no stopping tests: that is part of what the core adds). ‖∇f‖ is ``math.sqrt(g.dot(g))``,
  as the core computes it: on a small vector ``g @ g`` costs about 0.5 µs more, a tenth of a
  Rosenbrock step, and the ratio would then credit the core with an idiom, not with less
  overhead;
- torch: torch.optim with autograd in float64, the loss in torch ops, one tensor parameter,
  ``zero_grad``/``backward``/``step`` per step, recording the same three quantities.

Then the batch path: 10,000 starts on 2-D Rosenbrock through ``core.run.run`` against a
vectorised hand loop on (10000, 2) arrays. Each hand loop's final θ must match the core's to
1e-9 relative, or the script stops: a wrong loop would make its timing meaningless.

The hand loops evaluate each formula in the order torch (and so the core) does: the moving
average m = β₁m + (1−β₁)g as m + (1−β₁)(g − m), γ·(g/d) rather than (γg)/d, Adam's √v̂ as
√v/√(1−β₂ᵗ). Written any other way they are just as correct, but several of these runs
(adaptive methods hovering about a minimum) are chaotic: a one-ulp difference grows to 1e-3
within a few thousand steps, and the agreement test could not tell a rounding from a bug.

All figures come from one run on one machine; compare ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from core import optimizers
from core.builtins import make_builtin
from core.losses import Array, Loss
from core.quadratic import QuadraticLoss
from core.run import Reason, RunResult, StopRule, run, start_iterate
from core.schedules import constant
from core.transforms import GradientTransformation

AGREEMENT = 1e-9
"""Largest relative difference allowed between a hand loop's final θ and the core's."""
TARGET = 1.3
"""The overhead the summary tests against: core time within 1.3× of the hand loop's."""

ROSENBROCK_START = np.array([-1.2, 1.0])
QUADRATIC_DIM = 100
SEED = 20240611
BATCH_STARTS = 10_000
TORCH_CHECK_STEPS = 50
"""Steps over which torch's θ is compared with the core's. torch rounds a few operations
differently, and on the chaotic runs (NAdam on the quadratic) a last-bit difference grows to
3e-10 by step 100 and 1e-3 by step 2,000; at 50 steps every optimizer agrees to ~1e-15."""

HandLoop = Callable[[Loss, Array, int, float], Array]
"""``(loss, θ₀ of shape (n,), steps, lr) -> final θ``."""
TorchFactory = Callable[[Any, list[Any], float], Any]
"""``(torch, [parameter], lr) -> torch.optim.Optimizer``."""


# -- losses ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """A loss, its start, and the same loss in torch ops (``torch_loss(torch, p)``)."""

    name: str
    loss: Loss
    start: Array
    torch_loss: Callable[[Any, Any], Any]
    dim: int


def rosenbrock_problem() -> Problem:
    def torch_loss(torch: Any, p: Any) -> Any:
        x, y = p[0], p[1]
        d = y - x * x
        return (1 - x) ** 2 + 100 * d * d

    return Problem(
        "rosenbrock-2d", make_builtin("rosenbrock", 2, {}), ROSENBROCK_START, torch_loss, 2
    )


def quadratic_problem() -> Problem:
    """½θᵀAθ + bᵀθ with A = QᵀΛQ, eigenvalues log-spaced over [1, 100], b random (so the
    minimiser −A⁻¹b is away from the origin and a relative comparison of θ is meaningful)."""
    rng = np.random.default_rng(SEED)
    q, _ = np.linalg.qr(rng.standard_normal((QUADRATIC_DIM, QUADRATIC_DIM)))
    eigenvalues = np.logspace(0.0, 2.0, QUADRATIC_DIM)
    loss = QuadraticLoss(q.T @ np.diag(eigenvalues) @ q, rng.standard_normal(QUADRATIC_DIM))
    start = rng.standard_normal(QUADRATIC_DIM)

    tensors: list[Any] = []  # (A, b) as torch tensors, made on first use

    def torch_loss(torch: Any, p: Any) -> Any:
        if not tensors:
            tensors.extend(torch.tensor(np.array(x), dtype=torch.float64) for x in (loss.A, loss.b))
        a, b = tensors
        return 0.5 * (p @ (a @ p)) + b @ p

    return Problem("quadratic-100d", loss, start, torch_loss, QUADRATIC_DIM)


# -- hand-written loops: each rule once, straight from core/optimizers.py's docstrings -------


def _recording(theta: Array, value: Array, grad: Array, steps: int) -> tuple[Array, Array, Array]:
    """Preallocated θ, f and ‖∇f‖ columns for ``steps`` steps, with the start written in."""
    params = np.empty((steps + 1, theta.shape[0]))
    losses = np.empty(steps + 1)
    norms = np.empty(steps + 1)
    params[0], losses[0], norms[0] = theta, value, math.sqrt(grad.dot(grad))
    return params, losses, norms


# Each loop: θ₀, f and ∇f there, the recording, then per step the rule, f and ∇f at the new θ,
# and the record of θ, f, ‖∇f‖. Docstrings give the rule as core/optimizers.py states it.


def hand_sgd(loss: Loss, start: Array, steps: int, lr: float) -> Array:
    """θ ← θ − γg."""
    value_and_grad = loss.value_and_grad
    theta = start.copy()
    value, g = value_and_grad(theta)
    params, losses, norms = _recording(theta, value, g, steps)
    for t in range(1, steps + 1):
        theta = theta - lr * g
        value, g = value_and_grad(theta)
        params[t], losses[t], norms[t] = theta, value, math.sqrt(g.dot(g))
    return theta


def hand_momentum(loss: Loss, start: Array, steps: int, lr: float) -> Array:
    """Accumulator form: v = ρv + g (v₀ = 0);  θ ← θ − γv."""
    rho = 0.9
    value_and_grad = loss.value_and_grad
    theta = start.copy()
    value, g = value_and_grad(theta)
    params, losses, norms = _recording(theta, value, g, steps)
    v = np.zeros_like(theta)
    for t in range(1, steps + 1):
        v = rho * v + g
        theta = theta - lr * v
        value, g = value_and_grad(theta)
        params[t], losses[t], norms[t] = theta, value, math.sqrt(g.dot(g))
    return theta


def hand_momentum_velocity(loss: Loss, start: Array, steps: int, lr: float) -> Array:
    """Velocity form: v = ρv − γg;  θ ← θ + v."""
    rho = 0.9
    value_and_grad = loss.value_and_grad
    theta = start.copy()
    value, g = value_and_grad(theta)
    params, losses, norms = _recording(theta, value, g, steps)
    v = np.zeros_like(theta)
    for t in range(1, steps + 1):
        v = rho * v - lr * g
        theta = theta + v
        value, g = value_and_grad(theta)
        params[t], losses[t], norms[t] = theta, value, math.sqrt(g.dot(g))
    return theta


def hand_nesterov(loss: Loss, start: Array, steps: int, lr: float) -> Array:
    """torch form: b = ρb + g;  θ ← θ − γ(g + ρb)."""
    rho = 0.9
    value_and_grad = loss.value_and_grad
    theta = start.copy()
    value, g = value_and_grad(theta)
    params, losses, norms = _recording(theta, value, g, steps)
    b = np.zeros_like(theta)
    for t in range(1, steps + 1):
        b = rho * b + g
        theta = theta - lr * (g + rho * b)
        value, g = value_and_grad(theta)
        params[t], losses[t], norms[t] = theta, value, math.sqrt(g.dot(g))
    return theta


def hand_nesterov_lookahead(loss: Loss, start: Array, steps: int, lr: float) -> Array:
    """Look-ahead form: g̃ = ∇f(θ + ρv);  v = ρv − γg̃;  θ ← θ + v (two gradients a step)."""
    rho = 0.9
    value_and_grad = loss.value_and_grad
    theta = start.copy()
    value, g = value_and_grad(theta)
    params, losses, norms = _recording(theta, value, g, steps)
    v = np.zeros_like(theta)
    for t in range(1, steps + 1):
        ahead = value_and_grad(theta + rho * v)[1]
        v = rho * v - lr * ahead
        theta = theta + v
        value, g = value_and_grad(theta)
        params[t], losses[t], norms[t] = theta, value, math.sqrt(g.dot(g))
    return theta


def hand_adagrad(loss: Loss, start: Array, steps: int, lr: float) -> Array:
    """s = s + g² (s₀ = 0);  θ ← θ − γ g/(√s + ε)."""
    eps = 1e-10
    value_and_grad = loss.value_and_grad
    theta = start.copy()
    value, g = value_and_grad(theta)
    params, losses, norms = _recording(theta, value, g, steps)
    s = np.zeros_like(theta)
    for t in range(1, steps + 1):
        s = s + g * g
        theta = theta - lr * (g / (np.sqrt(s) + eps))
        value, g = value_and_grad(theta)
        params[t], losses[t], norms[t] = theta, value, math.sqrt(g.dot(g))
    return theta


def hand_rmsprop(loss: Loss, start: Array, steps: int, lr: float) -> Array:
    """v = αv + (1−α)g²;  θ ← θ − γ g/(√v + ε)."""
    alpha, eps = 0.99, 1e-8
    one_minus_alpha = 1 - alpha
    value_and_grad = loss.value_and_grad
    theta = start.copy()
    value, g = value_and_grad(theta)
    params, losses, norms = _recording(theta, value, g, steps)
    v = np.zeros_like(theta)
    for t in range(1, steps + 1):
        v = alpha * v + one_minus_alpha * g * g
        theta = theta - lr * (g / (np.sqrt(v) + eps))
        value, g = value_and_grad(theta)
        params[t], losses[t], norms[t] = theta, value, math.sqrt(g.dot(g))
    return theta


def hand_adam(loss: Loss, start: Array, steps: int, lr: float) -> Array:
    """m = β₁m + (1−β₁)g;  v = β₂v + (1−β₂)g²;  θ ← θ − γ m̂/(√v̂ + ε)."""
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    one_minus_beta1, one_minus_beta2 = 1 - beta1, 1 - beta2
    value_and_grad = loss.value_and_grad
    theta = start.copy()
    value, g = value_and_grad(theta)
    params, losses, norms = _recording(theta, value, g, steps)
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    for t in range(1, steps + 1):
        m = m + one_minus_beta1 * (g - m)
        v = beta2 * v + one_minus_beta2 * g * g
        denom = np.sqrt(v) / math.sqrt(1 - beta2**t) + eps
        theta = theta - lr * (m / denom / (1 - beta1**t))
        value, g = value_and_grad(theta)
        params[t], losses[t], norms[t] = theta, value, math.sqrt(g.dot(g))
    return theta


def hand_adamw(loss: Loss, start: Array, steps: int, lr: float) -> Array:
    """θ ← θ(1 − γλ) − γ m̂/(√v̂ + ε), Adam's m and v without λ in the gradient."""
    beta1, beta2, eps, weight_decay = 0.9, 0.999, 1e-8, 1e-2
    one_minus_beta1, one_minus_beta2 = 1 - beta1, 1 - beta2
    shrink = 1 - lr * weight_decay
    value_and_grad = loss.value_and_grad
    theta = start.copy()
    value, g = value_and_grad(theta)
    params, losses, norms = _recording(theta, value, g, steps)
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    for t in range(1, steps + 1):
        m = m + one_minus_beta1 * (g - m)
        v = beta2 * v + one_minus_beta2 * g * g
        denom = np.sqrt(v) / math.sqrt(1 - beta2**t) + eps
        decay = theta * shrink - theta
        theta = theta + (decay - lr * (m / denom / (1 - beta1**t)))
        value, g = value_and_grad(theta)
        params[t], losses[t], norms[t] = theta, value, math.sqrt(g.dot(g))
    return theta


def hand_nadam(loss: Loss, start: Array, steps: int, lr: float) -> Array:
    """μ_t = β₁(1 − ½·0.96^(tψ));  d = √(v/(1−β₂ᵗ)) + ε;
    θ ← θ − γ(1−μ_t)/(1−∏ᵢ≤ₜμᵢ)·g/d − γμ_{t+1}/(1−∏ᵢ≤ₜ₊₁μᵢ)·m/d."""
    beta1, beta2, eps, psi = 0.9, 0.999, 1e-8, 4e-3
    one_minus_beta1, one_minus_beta2 = 1 - beta1, 1 - beta2
    value_and_grad = loss.value_and_grad
    theta = start.copy()
    value, g = value_and_grad(theta)
    params, losses, norms = _recording(theta, value, g, steps)
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    product = 1.0
    for t in range(1, steps + 1):
        mu = beta1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        product *= mu
        m = m + one_minus_beta1 * (g - m)
        v = beta2 * v + one_minus_beta2 * g * g
        d = np.sqrt(v / (1 - beta2**t)) + eps
        theta = theta - (
            lr * (1 - mu) / (1 - product) * g / d + lr * mu_next / (1 - product * mu_next) * m / d
        )
        value, g = value_and_grad(theta)
        params[t], losses[t], norms[t] = theta, value, math.sqrt(g.dot(g))
    return theta


def hand_radam(loss: Loss, start: Array, steps: int, lr: float) -> Array:
    """m̂ = m/(1−β₁ᵗ);  ρ_t = ρ_∞ − 2tβ₂ᵗ/(1−β₂ᵗ);  if ρ_t > 5:
    θ ← θ − γ m̂ r_t √(1−β₂ᵗ)/(√v + ε), else θ ← θ − γ m̂."""
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    one_minus_beta1, one_minus_beta2 = 1 - beta1, 1 - beta2
    rho_inf = 2 / (1 - beta2) - 1
    value_and_grad = loss.value_and_grad
    theta = start.copy()
    value, g = value_and_grad(theta)
    params, losses, norms = _recording(theta, value, g, steps)
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    for t in range(1, steps + 1):
        m = m + one_minus_beta1 * (g - m)
        v = beta2 * v + one_minus_beta2 * g * g
        m_hat = m / (1 - beta1**t)
        bias2 = 1 - beta2**t
        rho = rho_inf - 2 * t * beta2**t / bias2
        if rho > 5:
            r = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
            theta = theta - m_hat * lr * (1 / (np.sqrt(v) + eps) * math.sqrt(bias2)) * r
        else:
            theta = theta - m_hat * lr
        value, g = value_and_grad(theta)
        params[t], losses[t], norms[t] = theta, value, math.sqrt(g.dot(g))
    return theta


def hand_adamax(loss: Loss, start: Array, steps: int, lr: float) -> Array:
    """m = β₁m + (1−β₁)g;  u = max(β₂u, |g| + ε);  θ ← θ − γ/(1−β₁ᵗ)·m/u."""
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    one_minus_beta1 = 1 - beta1
    value_and_grad = loss.value_and_grad
    theta = start.copy()
    value, g = value_and_grad(theta)
    params, losses, norms = _recording(theta, value, g, steps)
    m = np.zeros_like(theta)
    u = np.zeros_like(theta)
    for t in range(1, steps + 1):
        m = m + one_minus_beta1 * (g - m)
        u = np.maximum(beta2 * u, np.abs(g) + eps)
        theta = theta - lr * (m / u / (1 - beta1**t))
        value, g = value_and_grad(theta)
        params[t], losses[t], norms[t] = theta, value, math.sqrt(g.dot(g))
    return theta


def hand_newton(loss: Loss, start: Array, steps: int, lr: float) -> Array:
    """θ ← θ − γ H(θ)⁻¹g (no damping)."""
    value_and_grad, hessian = loss.value_and_grad, loss.hessian
    theta = start.copy()
    value, g = value_and_grad(theta)
    params, losses, norms = _recording(theta, value, g, steps)
    for t in range(1, steps + 1):
        theta = theta - lr * np.linalg.solve(hessian(theta), g)
        value, g = value_and_grad(theta)
        params[t], losses[t], norms[t] = theta, value, math.sqrt(g.dot(g))
    return theta


# -- the optimizers ----------------------------------------------------------------------------


def _gradient_of(loss: Loss) -> Callable[[Array], Array]:
    def gradient(theta: Array) -> Array:
        return loss.value_and_grad(theta)[1]

    return gradient


@dataclass(frozen=True)
class Case:
    """One optimizer: the core's, the hand loop, torch's, and a learning rate per problem."""

    label: str
    core: Callable[[float, Loss, int], GradientTransformation]
    hand: HandLoop
    torch: TorchFactory | None
    lr: dict[str, float]
    torch_same_points: bool = True
    """Whether torch's optimizer visits the same points (False: another form of the method)."""


CASES = [
    Case(
        "sgd",
        lambda lr, loss, n: optimizers.sgd(constant(lr)),
        hand_sgd,
        lambda torch, ps, lr: torch.optim.SGD(ps, lr=lr),
        {"rosenbrock-2d": 1e-3, "quadratic-100d": 1e-2},
    ),
    Case(
        "momentum (accumulator)",
        lambda lr, loss, n: optimizers.momentum(constant(lr), 0.9, "accumulator"),
        hand_momentum,
        lambda torch, ps, lr: torch.optim.SGD(ps, lr=lr, momentum=0.9),
        {"rosenbrock-2d": 5e-4, "quadratic-100d": 1e-2},
    ),
    Case(
        "momentum (velocity)",
        lambda lr, loss, n: optimizers.momentum(constant(lr), 0.9, "velocity"),
        hand_momentum_velocity,
        lambda torch, ps, lr: torch.optim.SGD(ps, lr=lr, momentum=0.9),
        {"rosenbrock-2d": 5e-4, "quadratic-100d": 1e-2},
    ),
    Case(
        "nesterov (torch)",
        lambda lr, loss, n: optimizers.nesterov(constant(lr), 0.9, "torch"),
        hand_nesterov,
        lambda torch, ps, lr: torch.optim.SGD(ps, lr=lr, momentum=0.9, nesterov=True),
        {"rosenbrock-2d": 5e-4, "quadratic-100d": 1e-2},
    ),
    Case(
        "nesterov (lookahead)",
        lambda lr, loss, n: optimizers.nesterov(
            constant(lr), 0.9, "lookahead", grad_fn=_gradient_of(loss)
        ),
        hand_nesterov_lookahead,
        lambda torch, ps, lr: torch.optim.SGD(ps, lr=lr, momentum=0.9, nesterov=True),
        {"rosenbrock-2d": 5e-4, "quadratic-100d": 1e-2},
        torch_same_points=False,
    ),
    Case(
        "adagrad",
        lambda lr, loss, n: optimizers.adagrad(constant(lr)),
        hand_adagrad,
        lambda torch, ps, lr: torch.optim.Adagrad(ps, lr=lr),
        {"rosenbrock-2d": 1e-1, "quadratic-100d": 1e-1},
    ),
    Case(
        "rmsprop",
        lambda lr, loss, n: optimizers.rmsprop(constant(lr)),
        hand_rmsprop,
        lambda torch, ps, lr: torch.optim.RMSprop(ps, lr=lr),
        {"rosenbrock-2d": 1e-3, "quadratic-100d": 1e-3},
    ),
    Case(
        "adam",
        lambda lr, loss, n: optimizers.adam(constant(lr)),
        hand_adam,
        lambda torch, ps, lr: torch.optim.Adam(ps, lr=lr),
        {"rosenbrock-2d": 1e-2, "quadratic-100d": 1e-2},
    ),
    Case(
        "adamw",
        lambda lr, loss, n: optimizers.adamw(constant(lr)),
        hand_adamw,
        lambda torch, ps, lr: torch.optim.AdamW(ps, lr=lr),
        {"rosenbrock-2d": 1e-2, "quadratic-100d": 1e-2},
    ),
    Case(
        "nadam",
        lambda lr, loss, n: optimizers.nadam(constant(lr)),
        hand_nadam,
        lambda torch, ps, lr: torch.optim.NAdam(ps, lr=lr),
        {"rosenbrock-2d": 1e-2, "quadratic-100d": 1e-2},
    ),
    Case(
        "radam",
        lambda lr, loss, n: optimizers.radam(constant(lr)),
        hand_radam,
        lambda torch, ps, lr: torch.optim.RAdam(ps, lr=lr),
        {"rosenbrock-2d": 1e-3, "quadratic-100d": 1e-2},
    ),
    Case(
        "adamax",
        lambda lr, loss, n: optimizers.adamax(constant(lr)),
        hand_adamax,
        lambda torch, ps, lr: torch.optim.Adamax(ps, lr=lr),
        {"rosenbrock-2d": 1e-2, "quadratic-100d": 1e-2},
    ),
    Case(
        "newton",
        lambda lr, loss, n: optimizers.newton(constant(lr), loss.hessian, n),
        hand_newton,
        None,
        {"rosenbrock-2d": 1.0, "quadratic-100d": 1.0},
    ),
]


# -- timing ------------------------------------------------------------------------------------


def fastest(actions: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Least CPU seconds per call of each action: one warm-up each, then ``repeats`` rounds in
    which every action runs once (interleaved, so drift in the machine's speed hits all).

    CPU time of this process rather than wall time: on a shared machine a wall-clock reading
    also holds the slices other processes ran in. And the least rather than the median: what
    the machine's other work adds (a busy sibling hyperthread, evicted caches) only ever adds,
    lands on one action or another by chance, and at a load of 2 moves single medians by a
    third; the fastest round is the closest to the cost of the code itself."""
    for action in actions.values():
        action()
    times: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(repeats):
        for name, action in actions.items():
            began = time.process_time()
            action()
            times[name].append(time.process_time() - began)
    return {name: min(values) for name, values in times.items()}


def relative_difference(a: Array, b: Array) -> float:
    """max|a − b| / max(max|b|, 1e-300)."""
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-300))


def core_run(loss: Loss, optimizer: GradientTransformation, starts: Array, steps: int) -> RunResult:
    """``core.run.run`` from ``starts`` (B, n) for exactly ``steps`` steps."""
    return run(
        loss,
        optimizer,
        start_iterate(loss, optimizer, starts),
        StopRule(max_steps=steps),
        steps=steps,
    )


def _check_ran_through(result: RunResult, what: str) -> None:
    stopped = {reason for reason in result.reasons if reason is not Reason.MAX_STEPS}
    if stopped:
        raise SystemExit(f"{what}: the core run stopped early ({sorted(stopped)}); pick another lr")


def _load_torch() -> Any | None:
    """torch, with float64 as its default dtype (as ``scripts/make_torch_fixtures.py`` sets
    it): otherwise NAdam keeps its running product of momentum coefficients in a float32
    scalar and its steps differ from float64 arithmetic by about 1e-10 relative."""
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        return None
    torch.set_default_dtype(torch.float64)
    # One thread, like the NumPy loops: on two-element tensors more only add hand-offs, and
    # idle workers spinning would count in the process's CPU time that the timings read.
    torch.set_num_threads(1)
    return torch


def torch_loop(
    torch: Any, problem: Problem, factory: TorchFactory, steps: int, lr: float
) -> Callable[[], Array]:
    """A torch.optim run of ``steps`` steps recording θ, f and ‖∇f‖ at every point."""
    loss_fn = problem.torch_loss

    def action() -> Array:
        p = torch.tensor(problem.start, dtype=torch.float64, requires_grad=True)
        optimizer = factory(torch, [p], lr)
        params = torch.empty((steps + 1, problem.dim), dtype=torch.float64)
        losses = torch.empty(steps + 1, dtype=torch.float64)
        norms = torch.empty(steps + 1, dtype=torch.float64)
        vector_norm = torch.linalg.vector_norm
        for t in range(steps + 1):
            optimizer.zero_grad()
            value = loss_fn(torch, p)
            value.backward()
            params[t] = p.detach()
            losses[t] = value.detach()
            norms[t] = vector_norm(p.grad)
            if t < steps:
                optimizer.step()
        final: Array = p.detach().numpy().copy()
        return final

    return action


@dataclass
class Row:
    case: str
    problem: str
    core: float | None
    hand: float | None
    torch: float | None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.core is None or self.hand is None:
            return None
        return self.core / self.hand


def time_optimizers(
    problems: list[Problem], steps: int, repeats: int, torch: Any | None
) -> tuple[list[Row], float]:
    """The per-step table, and the largest relative difference of torch's θ from the core's
    after ``TORCH_CHECK_STEPS`` steps, over the optimizers where both visit the same points
    (NaN without torch)."""
    rows: list[Row] = []
    torch_worst = math.nan if torch is None else 0.0
    for problem in problems:
        loss = problem.loss
        starts = problem.start[np.newaxis, :]
        for case in CASES:
            lr = case.lr[problem.name]
            try:
                optimizer = case.core(lr, loss, problem.dim)
            except ValueError as error:
                rows.append(Row(case.label, problem.name, None, None, None, f"refused: {error}"))
                continue

            core_action = partial(core_run, loss, optimizer, starts, steps)
            hand_action = partial(case.hand, loss, problem.start, steps, lr)
            actions: dict[str, Callable[[], object]] = {"core": core_action, "hand": hand_action}
            if torch is not None and case.torch is not None:
                actions["torch"] = torch_loop(torch, problem, case.torch, steps, lr)

            # Correctness first: a wrong loop is not worth timing.
            result = core_action()
            what = f"{case.label} on {problem.name}"
            _check_ran_through(result, what)
            core_final = result.row(0).params[0]
            difference = relative_difference(hand_action(), core_final)
            if not difference <= AGREEMENT:
                raise SystemExit(
                    f"{what}: the hand loop's final θ differs from the core's by {difference:.2e} "
                    f"relative (allowed {AGREEMENT:g})"
                )
            note = ""
            if torch is not None and case.torch is not None and case.torch_same_points:
                check = min(steps, TORCH_CHECK_STEPS)
                torch_final = torch_loop(torch, problem, case.torch, check, lr)()
                core_check = core_run(loss, optimizer, starts, check).row(0).params[0]
                torch_worst = max(torch_worst, relative_difference(torch_final, core_check))
            elif "torch" in actions:
                note = "torch: SGD(nesterov=True), the torch form"
            elif torch is not None:
                note = "torch: no torch.optim equivalent"

            seconds = fastest(actions, repeats)
            per_step = {name: value / steps * 1e6 for name, value in seconds.items()}
            rows.append(
                Row(
                    case.label,
                    problem.name,
                    per_step["core"],
                    per_step["hand"],
                    per_step.get("torch"),
                    note,
                )
            )
    return rows, torch_worst


# -- the batch path ----------------------------------------------------------------------------


def batch_hand_adam(loss: Loss, starts: Array, steps: int, lr: float) -> Array:
    """Adam on (B, n) arrays, recording θ (K, B, n), f and ‖∇f‖ (K, B) at every step."""
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    one_minus_beta1, one_minus_beta2 = 1 - beta1, 1 - beta2
    value_and_grad = loss.value_and_grad
    theta = starts.copy()
    value, g = value_and_grad(theta)
    params = np.empty((steps + 1, *theta.shape))
    losses = np.empty((steps + 1, theta.shape[0]))
    norms = np.empty((steps + 1, theta.shape[0]))
    params[0], losses[0], norms[0] = theta, value, np.sqrt(np.einsum("ij,ij->i", g, g))
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    for t in range(1, steps + 1):
        m = m + one_minus_beta1 * (g - m)
        v = beta2 * v + one_minus_beta2 * g * g
        denom = np.sqrt(v) / math.sqrt(1 - beta2**t) + eps
        theta = theta - lr * (m / denom / (1 - beta1**t))
        value, g = value_and_grad(theta)
        params[t], losses[t], norms[t] = theta, value, np.sqrt(np.einsum("ij,ij->i", g, g))
    return theta


def batch_hand_sgd(loss: Loss, starts: Array, steps: int, lr: float) -> Array:
    """Gradient descent on (B, n) arrays, recording as ``batch_hand_adam`` does."""
    value_and_grad = loss.value_and_grad
    theta = starts.copy()
    value, g = value_and_grad(theta)
    params = np.empty((steps + 1, *theta.shape))
    losses = np.empty((steps + 1, theta.shape[0]))
    norms = np.empty((steps + 1, theta.shape[0]))
    params[0], losses[0], norms[0] = theta, value, np.sqrt(np.einsum("ij,ij->i", g, g))
    for t in range(1, steps + 1):
        theta = theta - lr * g
        value, g = value_and_grad(theta)
        params[t], losses[t], norms[t] = theta, value, np.sqrt(np.einsum("ij,ij->i", g, g))
    return theta


@dataclass
class BatchRow:
    """Point-steps per second (starts × steps / seconds) of the core and the hand loop, and
    the core's fixed cost per run (a 0-step run: setting up, and one ``Iterate`` per row)."""

    case: str
    core: float
    hand: float
    core_fixed: float
    """Seconds of a 0-step core run."""
    core_marginal: float | None
    """Point-steps per second of the core with its 0-step cost taken off (None when timing
    noise leaves nothing to divide by)."""

    @property
    def ratio(self) -> float:
        """Core time over hand time."""
        return self.hand / self.core


def time_batch(steps: int, repeats: int) -> list[BatchRow]:
    """Point-steps per second on 10,000 starts of 2-D Rosenbrock, core against hand."""
    loss = make_builtin("rosenbrock", 2, {})
    rng = np.random.default_rng(SEED)
    starts = np.column_stack(
        [rng.uniform(-1.5, 1.5, BATCH_STARTS), rng.uniform(-0.5, 2.0, BATCH_STARTS)]
    )
    batch_cases: list[tuple[str, GradientTransformation, HandLoop, float]] = [
        ("adam", optimizers.adam(constant(1e-2)), batch_hand_adam, 1e-2),
        ("sgd", optimizers.sgd(constant(1e-4)), batch_hand_sgd, 1e-4),
    ]
    rows = []
    for label, optimizer, hand, lr in batch_cases:
        core_action = partial(core_run, loss, optimizer, starts, steps)
        hand_action = partial(hand, loss, starts, steps, lr)

        result = core_action()
        what = f"batch {label}"
        _check_ran_through(result, what)
        core_final = result.final.params
        difference = relative_difference(hand_action(), core_final)
        if not difference <= AGREEMENT:
            raise SystemExit(
                f"{what}: the hand loop's final θ differs from the core's by {difference:.2e} "
                f"relative (allowed {AGREEMENT:g})"
            )
        seconds = fastest(
            {
                "core": core_action,
                "hand": hand_action,
                "core_fixed": partial(core_run, loss, optimizer, starts, 0),
            },
            repeats,
        )
        point_steps = BATCH_STARTS * steps
        marginal = seconds["core"] - seconds["core_fixed"]
        rows.append(
            BatchRow(
                label,
                point_steps / seconds["core"],
                point_steps / seconds["hand"],
                seconds["core_fixed"],
                point_steps / marginal if marginal > 0.1 * seconds["core"] else None,
            )
        )
    return rows


# -- the report --------------------------------------------------------------------------------


def _cell(value: float | None, spec: str, width: int) -> str:
    return f"{'n/a':>{width}}" if value is None else f"{value:>{width}{spec}}"


def report(
    rows: list[Row],
    batch: list[BatchRow],
    steps: int,
    batch_steps: int,
    repeats: int,
    torch: Any | None,
    torch_worst: float,
    load_at_start: float,
) -> None:
    torch_name = "not importable" if torch is None else f"torch {torch.__version__}"
    print(
        f"CPU µs per step, {steps:,} steps, fastest of {repeats} (numpy {np.__version__}, "
        f"{torch_name}; 1-min load average {load_at_start:.2f} at the start, "
        f"{os.getloadavg()[0]:.2f} at the end, {os.cpu_count()} CPUs)"
    )
    header = (
        f"{'optimizer':<23} {'loss':<15} {'core µs':>9} {'hand µs':>9} "
        f"{'core/hand':>9} {'torch µs':>9}  note"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row.case:<23} {row.problem:<15} {_cell(row.core, '.2f', 9)} "
            f"{_cell(row.hand, '.2f', 9)} {_cell(row.ratio, '.2f', 9)} "
            f"{_cell(row.torch, '.2f', 9)}  {row.note}".rstrip()
        )
    if torch is not None:
        print(
            f"(torch's θ after {min(steps, TORCH_CHECK_STEPS)} steps matches the core's to "
            f"{torch_worst:.1e} relative, over the optimizers where both visit the same points)"
        )

    print()
    print(
        f"Batch: {BATCH_STARTS:,} starts × {batch_steps:,} steps on 2-D Rosenbrock, "
        f"fastest of {repeats}, CPU time"
    )
    header = (
        f"{'optimizer':<10} {'core pt-steps/s':>16} {'hand pt-steps/s':>16} {'core/hand':>10}"
        f"   {'core 0-step run ms':>18} {'core pt-steps/s without it':>27}"
    )
    print(header)
    print("-" * len(header))
    for entry in batch:
        print(
            f"{entry.case:<10} {entry.core:>16,.0f} {entry.hand:>16,.0f} {entry.ratio:>10.2f}"
            f"   {entry.core_fixed * 1e3:>18.1f} {_cell(entry.core_marginal, ',.0f', 27)}"
        )
    print("(core/hand: the core's time over the hand loop's; the 0-step run is the core's fixed")
    print(" cost per run, paid whatever the number of steps)")

    print()
    ratios = [(row.ratio, row) for row in rows if row.ratio is not None]
    worst_ratio, worst_row = max(ratios, key=lambda pair: pair[0])
    median_ratio = statistics.median(ratio for ratio, _ in ratios)
    verdict = "met" if worst_ratio <= TARGET else "NOT met"
    print(
        f"core within {TARGET}× of the hand loop: {verdict} — worst {worst_ratio:.2f}× "
        f"({worst_row.case}, {worst_row.problem}), median {median_ratio:.2f}× "
        f"over {len(ratios)} optimizer × loss pairs"
    )
    worst_batch = max(batch, key=lambda entry: entry.ratio)
    verdict = "met" if worst_batch.ratio <= TARGET else "NOT met"
    print(
        f"batch within {TARGET}× of hand vectorised: {verdict} — "
        + ", ".join(f"{entry.case} {entry.ratio:.2f}×" for entry in batch)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few steps and repeats (smoke run)")
    parser.add_argument("--steps", type=int, default=None, help="steps per single-start run")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per figure")
    parser.add_argument(
        "--batch-steps", type=int, default=None, help="steps of the 10,000-start batch runs"
    )
    args = parser.parse_args()
    steps = args.steps or (200 if args.quick else 2_000)
    repeats = args.repeats or (2 if args.quick else 9)
    batch_steps = args.batch_steps or (10 if args.quick else 500)

    load_at_start = os.getloadavg()[0]
    torch = _load_torch()
    rows, torch_worst = time_optimizers(
        [rosenbrock_problem(), quadratic_problem()], steps, repeats, torch
    )
    batch = time_batch(batch_steps, repeats)
    report(rows, batch, steps, batch_steps, repeats, torch, torch_worst, load_at_start)


if __name__ == "__main__":
    main()
