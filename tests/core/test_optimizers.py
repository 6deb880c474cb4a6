"""Every optimizer against an independent plain-NumPy transcription of its update rule."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from core import optimizers
from core.internals import optimizer_internals
from core.schedules import Schedule, constant, exponential_decay
from core.transforms import (
    GradientTransformation,
    add_decayed_weights,
    add_decoupled_weight_decay,
    chain,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_rms,
    trace,
)
from core.tree import tree_leaves, tree_unflatten
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


# ---- Optimizers without a torch.optim equivalent: momentum, Nesterov's look-ahead, Newton ----


def run_with_states(
    optimizer: GradientTransformation, steps: int, start: np.ndarray = START
) -> tuple[np.ndarray, list[object]]:
    """Points (steps + 1, n) of row 0 and the state after every step."""
    params, state = start, optimizer.init(start)
    points, states = [params[0]], []
    for _ in range(steps):
        _, grad = rosenbrock(params)
        updates, state = optimizer.update(grad, state, params)
        params = params + updates
        points.append(params[0])
        states.append(state)
    return np.array(points), states


def momentum_by_hand(form: str, rho: float, schedule: Schedule, steps: int) -> np.ndarray:
    theta, v, points = START[0].copy(), np.zeros(2), [START[0].copy()]
    for k in range(steps):
        _, g = rosenbrock(theta)
        if form == "velocity":
            v = rho * v - schedule(k) * g
            theta = theta + v
        else:
            v = rho * v + g
            theta = theta - schedule(k) * v
        points.append(theta)
    return np.array(points)


@pytest.mark.parametrize("form", ["velocity", "accumulator"])
@pytest.mark.parametrize("schedule", [constant(2e-4), exponential_decay(4e-4, 0.98)])
def test_momentum_matches_its_update_rule(form: str, schedule: Schedule) -> None:
    ours = trajectory(optimizers.momentum(schedule, 0.9, form), 300)  # type: ignore[arg-type]
    np.testing.assert_allclose(ours, momentum_by_hand(form, 0.9, schedule, 300), rtol=1e-13)
    assert np.linalg.norm(ours[-1] - ours[0]) > 0.01


def test_momentum_forms_agree_at_constant_lr_and_differ_under_a_schedule() -> None:
    def both(schedule: Schedule) -> tuple[np.ndarray, np.ndarray]:
        return (
            trajectory(optimizers.momentum(schedule, 0.9, "velocity"), 300),
            trajectory(optimizers.momentum(schedule, 0.9, "accumulator"), 300),
        )

    velocity, accumulator = both(constant(2e-4))
    np.testing.assert_allclose(velocity, accumulator, rtol=1e-11)
    velocity, accumulator = both(exponential_decay(4e-4, 0.98))
    assert np.abs(velocity - accumulator).max() > 1e-2
    # The first step is the same (no history yet); the second already differs.
    np.testing.assert_array_equal(velocity[1], accumulator[1])
    assert np.abs(velocity[2] - accumulator[2]).max() > 1e-9


def rosenbrock_grad(theta: np.ndarray) -> np.ndarray:
    return rosenbrock(theta)[1]


def lookahead_by_hand(rho: float, lr: float, steps: int) -> tuple[np.ndarray, np.ndarray]:
    theta, v = START[0].copy(), np.zeros(2)
    points, velocities = [theta.copy()], [v.copy()]
    for _ in range(steps):
        _, g = rosenbrock(theta + rho * v)
        v = rho * v - lr * g
        theta = theta + v
        points.append(theta)
        velocities.append(v)
    return np.array(points), np.array(velocities)


def test_nesterov_torch_form_is_sgd_with_nesterov() -> None:
    ours = trajectory(optimizers.nesterov(constant(1e-4), 0.8, "torch"), 300)
    np.testing.assert_allclose(ours, sgd_by_hand(1e-4, 0.8, 0.0, 0.0, True, 300), rtol=1e-13)


def test_nesterov_lookahead_matches_its_update_rule() -> None:
    optimizer = optimizers.nesterov(constant(1e-4), 0.8, "lookahead", grad_fn=rosenbrock_grad)
    ours = trajectory(optimizer, 300)
    expected, _ = lookahead_by_hand(0.8, 1e-4, 300)
    np.testing.assert_allclose(ours, expected, rtol=1e-13)
    assert np.linalg.norm(ours[-1] - ours[0]) > 0.01


def test_nesterov_forms_agree_up_to_the_change_of_variable() -> None:
    """θ_torch = θ_lookahead + ρ·v: torch's form tracks the look-ahead point."""
    rho, steps = 0.9, 400
    torch_form = trajectory(optimizers.nesterov(constant(2e-4), rho, "torch"), steps)
    lookahead = optimizers.nesterov(constant(2e-4), rho, "lookahead", grad_fn=rosenbrock_grad)
    points, states = run_with_states(lookahead, steps)
    velocities = np.array([np.zeros(2)] + [optimizer_internals(s)["velocity"][0] for s in states])
    np.testing.assert_allclose(torch_form, points + rho * velocities, rtol=1e-10)
    assert np.abs(torch_form - points).max() > 1e-3  # the variables differ, the paths agree


def rosenbrock_hessian(theta: np.ndarray) -> np.ndarray:
    x, y = theta[..., 0], theta[..., 1]
    hessian = np.empty((*theta.shape, 2))
    hessian[..., 0, 0] = 2 - 400 * (y - x * x) + 800 * x * x
    hessian[..., 0, 1] = hessian[..., 1, 0] = -400 * x
    hessian[..., 1, 1] = 200.0
    return hessian


def newton_by_hand(lr: float, damping: float, steps: int) -> np.ndarray:
    theta, points = START[0].copy(), [START[0].copy()]
    for _ in range(steps):
        _, g = rosenbrock(theta)
        h = rosenbrock_hessian(theta) + damping * np.eye(2)
        theta = theta - lr * np.linalg.solve(h, g)
        points.append(theta)
    return np.array(points)


@pytest.mark.parametrize(("lr", "damping"), [(1.0, 0.0), (0.5, 1.0), (1.0, 50.0)])
def test_newton_matches_its_update_rule(lr: float, damping: float) -> None:
    optimizer = optimizers.newton(constant(lr), rosenbrock_hessian, 2, damping)
    ours = trajectory(optimizer, 20)
    np.testing.assert_allclose(ours, newton_by_hand(lr, damping, 20), rtol=1e-12, atol=1e-14)


def test_newton_lands_on_a_quadratics_minimizer_in_one_step() -> None:
    a = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, -1.0], [0.5, -1.0, 2.0]])
    b = np.array([1.0, -2.0, 0.5])
    starts = np.array([[3.0, -1.0, 2.0], [-5.0, 0.5, 10.0]])
    optimizer = optimizers.newton(constant(1.0), lambda p: np.broadcast_to(a, (*p.shape, 3)), 3)
    updates, _ = optimizer.update(starts @ a + b, optimizer.init(starts), starts)
    minimizer = np.linalg.solve(a, -b)
    np.testing.assert_allclose(starts + updates, [minimizer, minimizer], rtol=1e-12, atol=1e-14)


def saddle(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x² − y²: value, gradient and (constant) Hessian."""
    x, y = theta[..., 0], theta[..., 1]
    hessian = np.broadcast_to(np.diag([2.0, -2.0]), (*theta.shape, 2))
    return x * x - y * y, np.stack([2 * x, -2 * y], axis=-1), hessian


def test_newton_is_drawn_to_the_saddle() -> None:
    start = np.array([[1.0, 1.0]])
    optimizer = optimizers.newton(constant(1.0), lambda p: saddle(p)[2], 2)
    updates, _ = optimizer.update(saddle(start)[1], optimizer.init(start), start)
    np.testing.assert_array_equal(start + updates, [[0.0, 0.0]])  # the saddle, f = 0 = f(start)
    # Gradient descent moves away from it along y (f decreases), and so does Newton with a
    # damping above −λ_min(H) = 2: (H + 3I)⁻¹g = (2/5, −2).
    damped = optimizers.newton(constant(1.0), lambda p: saddle(p)[2], 2, damping=3.0)
    updates, _ = damped.update(saddle(start)[1], damped.init(start), start)
    np.testing.assert_allclose(start + updates, [[0.6, 3.0]], rtol=1e-15)
    assert saddle(start + updates)[0][0] < saddle(start)[0][0]


def test_newton_takes_the_pseudo_inverse_step_where_the_hessian_is_singular() -> None:
    start = np.array([[1.0, 2.0], [3.0, 4.0]])
    # f = x² (y unused): H = diag(2, 0) is singular; the minimum-norm step solves x only.
    optimizer = optimizers.newton(
        constant(1.0), lambda p: np.zeros((*p.shape, 2)) + np.diag([2.0, 0.0]), 2
    )
    grad = np.stack([2 * start[:, 0], np.zeros(2)], axis=-1)
    updates, _ = optimizer.update(grad, optimizer.init(start), start)
    np.testing.assert_allclose(start + updates, [[0.0, 2.0], [0.0, 4.0]], atol=1e-15)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: optimizers.momentum(constant(0.1), momentum=1.5), "Invalid momentum value: 1.5"),
        (lambda: optimizers.momentum(constant(0.1), momentum=-0.1), "Invalid momentum value"),
        (
            lambda: optimizers.momentum(constant(0.1), form="heavy"),  # type: ignore[arg-type]
            "Invalid form: 'heavy'",
        ),
        (lambda: optimizers.nesterov(constant(0.1), form="lookahead"), "needs the loss's gradient"),
        (lambda: optimizers.nesterov(constant(0.1), momentum=2.0), "Invalid momentum value"),
        (lambda: optimizers.adagrad(constant(0.1), lr_decay=-1.0), "Invalid lr_decay value: -1.0"),
        (lambda: optimizers.adagrad(constant(0.1), eps=-1e-10), "Invalid epsilon value"),
        (
            lambda: optimizers.adagrad(constant(0.1), initial_accumulator_value=-1),
            "Invalid initial_accumulator_value value",
        ),
        (lambda: optimizers.adagrad(constant(0.1), weight_decay=-1), "Invalid weight_decay value"),
        (lambda: optimizers.rmsprop(constant(0.1), alpha=1.0), r"Invalid alpha value: 1.0"),
        (lambda: optimizers.rmsprop(constant(0.1), momentum=-0.5), "Invalid momentum value"),
        (lambda: optimizers.rmsprop(constant(0.1), eps=-1.0), "Invalid epsilon value"),
        (
            lambda: optimizers.adamw(constant(0.1), beta1=1.0),
            r"Invalid beta parameter at index 0: 1.0",
        ),
        (lambda: optimizers.adamw(constant(0.1), weight_decay=-0.01), "Invalid weight_decay"),
        (
            lambda: optimizers.nadam(constant(0.1), beta2=1.5),
            r"Invalid beta parameter at index 1: 1.5",
        ),
        (lambda: optimizers.nadam(constant(0.1), momentum_decay=-1.0), "Invalid momentum_decay"),
        (lambda: optimizers.radam(constant(0.1), beta1=-0.1), "beta parameter at index 0"),
        (lambda: optimizers.radam(constant(0.1), eps=-1.0), "Invalid epsilon value"),
        (lambda: optimizers.adamax(constant(0.1), beta2=1.0), "beta parameter at index 1"),
        (lambda: optimizers.adamax(constant(0.1), weight_decay=-1.0), "Invalid weight_decay"),
        (
            lambda: optimizers.newton(constant(1.0), rosenbrock_hessian, 2, damping=-1.0),
            "Invalid damping value",
        ),
        (lambda: optimizers.newton(constant(1.0), rosenbrock_hessian, 51), "limited to 50"),
        (
            lambda: optimizers.newton(constant(1.0), rosenbrock_hessian, 4, max_dimension=3),
            "limited to 3 parameters",
        ),
    ],
)
def test_new_optimizers_refuse_bad_hyperparameters(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


# ---- Properties every optimizer shares ----

EVERY_OPTIMIZER: dict[str, Callable[[], GradientTransformation]] = {
    "sgd": lambda: optimizers.sgd(constant(2e-4), momentum=0.9),
    "momentum_velocity": lambda: optimizers.momentum(constant(2e-4), 0.9, "velocity"),
    "momentum_accumulator": lambda: optimizers.momentum(constant(2e-4), 0.9, "accumulator"),
    "nesterov_torch": lambda: optimizers.nesterov(constant(2e-4), 0.9, "torch"),
    "nesterov_lookahead": lambda: optimizers.nesterov(
        constant(2e-4), 0.9, "lookahead", grad_fn=rosenbrock_grad
    ),
    "adagrad": lambda: optimizers.adagrad(constant(0.1), 0.01, 0.01, 0.1),
    "rmsprop": lambda: optimizers.rmsprop(constant(2e-4), 0.9, momentum=0.5, centered=True),
    "adam": lambda: optimizers.adam(constant(0.01), amsgrad=True),
    "adamw": lambda: optimizers.adamw(constant(0.01), amsgrad=True),
    "nadam": lambda: optimizers.nadam(constant(0.01), weight_decay=0.01),
    "nadam_decoupled": lambda: optimizers.nadam(
        constant(0.01), weight_decay=0.01, decoupled_weight_decay=True
    ),
    "radam": lambda: optimizers.radam(constant(1e-3), weight_decay=0.01),
    "radam_decoupled": lambda: optimizers.radam(
        constant(1e-3), weight_decay=0.01, decoupled_weight_decay=True
    ),
    "adamax": lambda: optimizers.adamax(constant(0.01), weight_decay=0.01),
    "newton": lambda: optimizers.newton(constant(0.5), rosenbrock_hessian, 2, damping=1.0),
}
BATCH = np.array([[-1.2, 1.0], [0.5, -0.5], [2.0, 2.0]])


@pytest.mark.parametrize("name", EVERY_OPTIMIZER)
def test_rows_of_a_batch_step_independently(name: str) -> None:
    optimizer = EVERY_OPTIMIZER[name]()
    together, _ = run_batch(optimizer, BATCH, 50)
    for row in range(len(BATCH)):
        alone, _ = run_batch(optimizer, BATCH[row : row + 1], 50)
        np.testing.assert_allclose(together[:, row], alone[:, 0], rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("name", EVERY_OPTIMIZER)
def test_every_optimizer_descends_rosenbrock(name: str) -> None:
    points, _ = run_batch(EVERY_OPTIMIZER[name](), BATCH, 200)
    before, _ = rosenbrock(points[0])
    after, _ = rosenbrock(points[-1])
    assert np.all(after < before)


@pytest.mark.parametrize("name", EVERY_OPTIMIZER)
def test_every_state_is_pure_and_stores_as_leaves(name: str) -> None:
    optimizer = EVERY_OPTIMIZER[name]()
    _, state = run_batch(optimizer, BATCH, 3)
    leaves = tree_leaves(state)
    assert all(isinstance(leaf, (int, float, np.ndarray)) for leaf in leaves)
    snapshot = [np.copy(leaf) if isinstance(leaf, np.ndarray) else leaf for leaf in leaves]
    _, grad = rosenbrock(BATCH)
    first, _ = optimizer.update(grad, state, BATCH)
    for kept, now in zip(snapshot, tree_leaves(state), strict=True):
        np.testing.assert_array_equal(kept, now)
    # A state rebuilt from JSON-like leaves (how sessions store it) steps identically.
    stored = [leaf.tolist() if isinstance(leaf, np.ndarray) else leaf for leaf in leaves]
    template = optimizer.init(BATCH)
    rebuilt = tree_unflatten(
        template,
        [
            np.asarray(s, dtype=np.float64) if isinstance(t, np.ndarray) else type(t)(s)
            for t, s in zip(tree_leaves(template), stored, strict=True)
        ],
    )
    again, _ = optimizer.update(grad, rebuilt, BATCH)
    np.testing.assert_array_equal(first, again)


def run_batch(
    optimizer: GradientTransformation, start: np.ndarray, steps: int
) -> tuple[np.ndarray, object]:
    params, state = start, optimizer.init(start)
    points = [params]
    for _ in range(steps):
        _, grad = rosenbrock(params)
        updates, state = optimizer.update(grad, state, params)
        params = params + updates
        points.append(params)
    return np.array(points), state


def links_one_by_one(
    links: list[GradientTransformation], start: np.ndarray, steps: int
) -> tuple[np.ndarray, object]:
    """The chain of ``links`` applied link after link: what chain's written-out updates
    (the closing learning-rate scaling folded in, trace fused with it) must reproduce."""
    params, states = start, [link.init(start) for link in links]
    points = [params]
    for _ in range(steps):
        _, updates = rosenbrock(params)
        for index, link in enumerate(links):
            updates, states[index] = link.update(updates, states[index], params)
        params = params + updates
        points.append(params)
    return np.array(points), tuple(states)


@pytest.mark.parametrize(
    "links",
    [
        [scale_by_learning_rate(constant(1e-4))],
        [trace(0.9), scale_by_learning_rate(exponential_decay(2e-4, 0.99))],
        [trace(0.8, nesterov=True), scale_by_learning_rate(constant(1e-4))],
        [trace(0.9, dampening=0.3), scale_by_learning_rate(constant(1e-4))],
        [scale_by_adam(), scale_by_learning_rate(constant(1e-2))],
        [add_decayed_weights(0.05), trace(0.5, 0.1), scale_by_learning_rate(constant(1e-4))],
        [scale_by_adam(), scale_by_learning_rate(constant(1e-2)), add_decoupled_weight_decay(
            0.1, constant(1e-2))],
        [add_decayed_weights(0.05), scale_by_rms(), trace(0.5), scale_by_learning_rate(
            constant(1e-3))],
    ],
)  # fmt: skip
def test_chains_equal_their_links_applied_one_by_one(links: list[GradientTransformation]) -> None:
    starts = np.array([[-1.2, 1.0], [0.5, -0.3]])
    ours, state = run_batch(chain(*links), starts, 60)
    expected, expected_state = links_one_by_one(links, starts, 60)
    np.testing.assert_array_equal(ours, expected)
    for got, want in zip(tree_leaves(state), tree_leaves(expected_state), strict=True):
        np.testing.assert_array_equal(got, want)
