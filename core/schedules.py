"""Learning-rate schedules: plain functions from k (steps already taken, 0 for the first) to γ.

Each equals the torch.optim.lr_scheduler of the same name stepped once after every optimizer
step, in closed form. Builders validate their arguments so a schedule never fails mid-run.
"""

from __future__ import annotations

import math
from collections.abc import Callable

Schedule = Callable[[int], float]


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {value}")


def constant(lr: float) -> Schedule:
    """γ_k = γ₀."""
    _positive("lr", lr)
    return lambda k: lr


def step_decay(lr: float, step_size: int, gamma: float) -> Schedule:
    """γ_k = γ₀·gamma^⌊k / step_size⌋ (torch's StepLR)."""
    _positive("lr", lr)
    _positive("step_size", step_size)
    _positive("gamma", gamma)
    return lambda k: lr * gamma ** (k // step_size)


def exponential_decay(lr: float, gamma: float) -> Schedule:
    """γ_k = γ₀·gamma^k (torch's ExponentialLR)."""
    _positive("lr", lr)
    _positive("gamma", gamma)
    return lambda k: lr * gamma**k


def inverse_sqrt(lr: float) -> Schedule:
    """γ_k = γ₀ / √(k+1) (the seeds' η/√(t+1))."""
    _positive("lr", lr)
    return lambda k: lr / math.sqrt(k + 1)


def cosine_decay(lr: float, t_max: int, eta_min: float = 0.0) -> Schedule:
    """γ_k = η_min + (γ₀ − η_min)(1 + cos(πk/T))/2 (torch's CosineAnnealingLR, period 2T)."""
    _positive("lr", lr)
    _positive("t_max", t_max)
    if eta_min < 0:
        raise ValueError(f"eta_min must be non-negative, got {eta_min}")
    return lambda k: eta_min + (lr - eta_min) * (1 + math.cos(math.pi * k / t_max)) / 2


def linear_warmup(schedule: Schedule, warmup_steps: int, start_factor: float) -> Schedule:
    """γ_k rises linearly from start_factor·schedule(0) over ``warmup_steps`` steps, then
    continues as ``schedule(k − warmup_steps)``."""
    _positive("warmup_steps", warmup_steps)
    if not 0 <= start_factor <= 1:
        raise ValueError(f"start_factor must lie in [0, 1], got {start_factor}")

    def warmed(k: int) -> float:
        if k < warmup_steps:
            factor = start_factor + (1 - start_factor) * k / warmup_steps
            return factor * schedule(0)
        return schedule(k - warmup_steps)

    return warmed
