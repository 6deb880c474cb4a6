"""Per-step internals: the names, shapes and values of each optimizer's state after one step."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from core import optimizers
from core.catalogue import entry
from core.internals import INTERNAL_NAMES, optimizer_internals
from core.schedules import constant
from core.transforms import Array, GradientTransformation

PARAMS = np.array([[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]])
GRAD = np.array([[0.5, -1.5, 2.0], [-0.25, 3.0, 1.0]])
LR = 0.1


def grad_fn(theta: Array) -> Array:
    """The gradient of Σθ², for the look-ahead form."""
    return 2 * theta


def one_step(optimizer: GradientTransformation, amsgrad: bool = False) -> dict[str, Array]:
    _, state = optimizer.update(GRAD, optimizer.init(PARAMS), PARAMS)
    return optimizer_internals(state, amsgrad=amsgrad)


g, g2 = GRAD, GRAD * GRAD

# name → (catalogue name, optimizer, amsgrad, the expected internals after one step)
CASES: dict[str, tuple[str, Callable[[], GradientTransformation], bool, dict[str, Array]]] = {
    "sgd": ("sgd", lambda: optimizers.sgd(constant(LR)), False, {}),
    "sgd_momentum": (
        "sgd",
        lambda: optimizers.sgd(constant(LR), momentum=0.9),
        False,
        {"momentum_buffer": g},
    ),
    "momentum_accumulator": (
        "momentum",
        lambda: optimizers.momentum(constant(LR), 0.9, "accumulator"),
        False,
        {"momentum_buffer": g},
    ),
    "momentum_velocity": (
        "momentum",
        lambda: optimizers.momentum(constant(LR), 0.9, "velocity"),
        False,
        {"velocity": -LR * g},
    ),
    "nesterov_torch": (
        "nesterov",
        lambda: optimizers.nesterov(constant(LR), 0.9, "torch"),
        False,
        {"momentum_buffer": g},
    ),
    "nesterov_lookahead": (
        "nesterov",
        lambda: optimizers.nesterov(constant(LR), 0.9, "lookahead", grad_fn=grad_fn),
        False,
        # v₀ = 0, so the look-ahead point is θ itself: v₁ = −γ·2θ.
        {"velocity": -LR * 2 * PARAMS},
    ),
    "adagrad": (
        "adagrad",
        lambda: optimizers.adagrad(constant(LR), initial_accumulator_value=0.5),
        False,
        {"sum": 0.5 + g2},
    ),
    "rmsprop": (
        "rmsprop",
        lambda: optimizers.rmsprop(constant(LR), alpha=0.9),
        False,
        {"square_avg": 0.1 * g2},
    ),
    "rmsprop_centered_momentum": (
        "rmsprop",
        lambda: optimizers.rmsprop(constant(LR), alpha=0.9, eps=0.0, momentum=0.5, centered=True),
        False,
        # √(0.1g² − (0.1g)²) = √0.09·|g| = 0.3|g|, so b₁ = g/(0.3|g|) = sign(g)/0.3.
        {"square_avg": 0.1 * g2, "grad_avg": 0.1 * g, "momentum_buffer": np.sign(g) / 0.3},
    ),
    "adam": (
        "adam",
        lambda: optimizers.adam(constant(LR), beta1=0.8, beta2=0.9),
        False,
        {"exp_avg": 0.2 * g, "exp_avg_sq": 0.1 * g2},
    ),
    "adam_amsgrad": (
        "adam",
        lambda: optimizers.adam(constant(LR), beta1=0.8, beta2=0.9, amsgrad=True),
        True,
        {"exp_avg": 0.2 * g, "exp_avg_sq": 0.1 * g2, "max_exp_avg_sq": 0.1 * g2},
    ),
    "adamw_amsgrad": (
        "adamw",
        lambda: optimizers.adamw(constant(LR), beta1=0.8, beta2=0.9, amsgrad=True),
        True,
        {"exp_avg": 0.2 * g, "exp_avg_sq": 0.1 * g2, "max_exp_avg_sq": 0.1 * g2},
    ),
    "nadam": (
        "nadam",
        lambda: optimizers.nadam(constant(LR), beta1=0.8, beta2=0.9),
        False,
        {"exp_avg": 0.2 * g, "exp_avg_sq": 0.1 * g2},
    ),
    "radam": (
        "radam",
        lambda: optimizers.radam(constant(LR), beta1=0.8, beta2=0.9),
        False,
        {"exp_avg": 0.2 * g, "exp_avg_sq": 0.1 * g2},
    ),
    "adamax": (
        "adamax",
        lambda: optimizers.adamax(constant(LR), beta1=0.8, eps=1e-3),
        False,
        {"exp_avg": 0.2 * g, "exp_inf": np.abs(g) + 1e-3},
    ),
    "newton": (
        "newton",
        lambda: optimizers.newton(constant(1.0), lambda p: np.zeros((*p.shape, 3)) + np.eye(3), 3),
        False,
        {},
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_internals_after_one_step(case: str) -> None:
    _, build, amsgrad, expected = CASES[case]
    found = one_step(build(), amsgrad)
    assert set(found) == set(expected)
    for name, value in expected.items():
        assert found[name].shape == PARAMS.shape
        np.testing.assert_allclose(found[name], value, rtol=1e-14, err_msg=name)


@pytest.mark.parametrize("case", CASES)
def test_internals_are_listed_in_the_catalogue(case: str) -> None:
    optimizer, build, amsgrad, _ = CASES[case]
    listed = {internal.name for internal in entry(optimizer).internals}
    found = set(one_step(build(), amsgrad))
    assert found <= listed
    assert found <= set(INTERNAL_NAMES)


def test_adam_reports_its_max_only_with_amsgrad() -> None:
    assert "max_exp_avg_sq" not in one_step(optimizers.adam(constant(LR)))


def test_internals_follow_rows_and_steps() -> None:
    optimizer = optimizers.momentum(constant(LR), 0.5, "velocity")
    state = optimizer.init(PARAMS)
    for _ in range(2):
        _, state = optimizer.update(GRAD, state, PARAMS)
    # v₂ = ρv₁ − γg = −γg(1 + ρ)
    np.testing.assert_allclose(optimizer_internals(state)["velocity"], -LR * GRAD * 1.5)


def test_internals_do_not_read_non_states() -> None:
    assert optimizer_internals(()) == {}
    assert optimizer_internals((1, 2.0, np.zeros(3))) == {}
