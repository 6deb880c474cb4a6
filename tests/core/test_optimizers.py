"""Every optimizer against an independent plain-NumPy transcription of its update rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core import optimizers
from core.schedules import Schedule, constant, exponential_decay
from core.transforms import GradientTransformation
from tests.helpers import rosenbrock

START = np.array([[-1.2, 1.0]])


def trajectory(optimizer: GradientTransformation, steps: int) -> np.ndarray:
    params, state = START, optimizer.init(START)
    points = [params[0]]
    for _ in range(steps):
        _, grad = rosenbrock(params)
        updates, state = optimizer.update(grad, state, params)
        params = params + updates
        points.append(params[0])
    return np.array(points)


def sgd_by_hand(
    lr: float | None,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
    steps: int,
    schedule: Schedule | None = None,
) -> np.ndarray:
    theta, points = START[0].copy(), [START[0].copy()]
    buf: np.ndarray | None = None
    for k in range(steps):
        _, g = rosenbrock(theta)
        g = g + weight_decay * theta
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        rate = schedule(k) if schedule is not None else lr
        assert rate is not None
        theta = theta - rate * g
        points.append(theta)
    return np.array(points)


@pytest.mark.parametrize(
    ("momentum", "dampening", "weight_decay", "nesterov"),
    [(0.0, 0.0, 0.0, False), (0.9, 0.0, 0.0, False), (0.9, 0.3, 0.0, False),
     (0.8, 0.0, 0.0, True), (0.5, 0.1, 0.05, False)],
)  # fmt: skip
def test_sgd_matches_its_update_rule(
    momentum: float, dampening: float, weight_decay: float, nesterov: bool
) -> None:
    optimizer = optimizers.sgd(constant(1e-4), momentum, dampening, weight_decay, nesterov)
    ours = trajectory(optimizer, 300)
    expected = sgd_by_hand(1e-4, momentum, dampening, weight_decay, nesterov, 300)
    np.testing.assert_allclose(ours, expected, rtol=1e-13)
    assert np.linalg.norm(ours[-1] - ours[0]) > 0.01


def test_sgd_uses_the_schedule_of_the_step_count() -> None:
    schedule = exponential_decay(2e-4, 0.99)
    ours = trajectory(optimizers.sgd(schedule, momentum=0.9), 200)
    expected = sgd_by_hand(None, 0.9, 0.0, 0.0, False, 200, schedule=schedule)
    np.testing.assert_allclose(ours, expected, rtol=1e-13)


def adam_by_hand(
    lr: float, b1: float, b2: float, eps: float, amsgrad: bool, bias_correction: bool, steps: int
) -> np.ndarray:
    theta = START[0].copy()
    m, v, vmax, points = np.zeros(2), np.zeros(2), np.zeros(2), [theta.copy()]
    for t in range(1, steps + 1):
        _, g = rosenbrock(theta)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        second = vmax if amsgrad else v
        if bias_correction:
            step = lr / (1 - b1**t) * m / (np.sqrt(second / (1 - b2**t)) + eps)
        else:
            step = lr * m / (np.sqrt(second) + eps)
        theta = theta - step
        points.append(theta)
    return np.array(points)


@pytest.mark.parametrize(
    ("b1", "b2", "eps", "amsgrad", "bias_correction"),
    [(0.9, 0.999, 1e-8, False, True), (0.8, 0.99, 1e-6, True, True),
     (0.9, 0.999, 1e-8, False, False), (0.5, 0.9, 1e-3, True, False)],
)  # fmt: skip
def test_adam_matches_its_update_rule(
    b1: float, b2: float, eps: float, amsgrad: bool, bias_correction: bool
) -> None:
    optimizer = optimizers.adam(constant(0.01), b1, b2, eps, 0.0, amsgrad, bias_correction)
    ours = trajectory(optimizer, 300)
    np.testing.assert_allclose(
        ours, adam_by_hand(0.01, b1, b2, eps, amsgrad, bias_correction, 300), rtol=1e-11
    )


def test_adam_without_bias_correction_takes_tiny_first_steps() -> None:
    corrected = trajectory(optimizers.adam(constant(0.01)), 1)
    uncorrected = trajectory(optimizers.adam(constant(0.01), bias_correction=False), 1)
    first = np.abs(corrected[1] - corrected[0])
    np.testing.assert_allclose(first, [0.01, 0.01], rtol=1e-6)
    # m = 0.1 g and √v = √0.001 |g|: the step is 0.1/√0.001 ≈ 3.16 times lr.
    np.testing.assert_allclose(
        np.abs(uncorrected[1] - uncorrected[0]), [0.01 * 0.1 / math.sqrt(0.001)] * 2, rtol=1e-6
    )


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: optimizers.adam(constant(0.1), beta1=1.0), "beta parameter at index 0"),
        (lambda: optimizers.adam(constant(0.1), beta2=-0.1), "beta parameter at index 1"),
        (lambda: optimizers.sgd(constant(0.1), nesterov=True), "Nesterov"),
        (lambda: optimizers.sgd(constant(0.1), momentum=-1), "momentum"),
    ],
)
def test_bad_hyperparameters_fail_when_built(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


def test_state_is_never_modified_in_place() -> None:
    optimizer = optimizers.adam(constant(0.01), amsgrad=True)
    state = optimizer.init(START)
    _, grad = rosenbrock(START)
    _, after_one = optimizer.update(grad, state, START)
    snapshot = [np.copy(a) for a in after_one[1][1:]]
    optimizer.update(grad, after_one, START)
    for kept, now in zip(snapshot, after_one[1][1:], strict=True):
        np.testing.assert_array_equal(kept, now)
