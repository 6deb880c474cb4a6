"""The run loop: statuses, recording, batches and resumption."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest

from core.expression import ExpressionLoss
from core.optimizers import adam, sgd
from core.run import Reason, StopRule, run, start_iterate
from core.schedules import constant

Compile = Callable[..., ExpressionLoss]


def test_gradient_descent_converges_at_the_predicted_step(compile_loss: Compile) -> None:
    loss = compile_loss("1.5*x**2")
    optimizer = sgd(constant(0.1))
    result = run(
        loss, optimizer, start_iterate(loss, optimizer, np.array([[2.0]])),
        StopRule(max_steps=1000, grad_tol=1e-6), steps=1000,
    )  # fmt: skip
    x, expected = 2.0, 0
    while abs(3.0 * x) > 1e-6:
        x, expected = x + -0.1 * (3.0 * x), expected + 1
    assert result.reasons == [Reason.GRAD_TOL]
    assert result.nit[0] == expected == 44
    assert result.row(0).params[0, 0] == x
    steps = result.trajectory.step
    np.testing.assert_array_equal(steps[: expected + 1], np.arange(expected + 1))
    assert result.trajectory.params[expected, 0, 0] == x


def test_divergence_stops_before_the_bound_is_crossed(compile_loss: Compile) -> None:
    loss = compile_loss("x**2")
    optimizer = sgd(constant(1.5))  # x ← −2x
    result = run(
        loss, optimizer, start_iterate(loss, optimizer, np.array([[1.0]])),
        StopRule(max_steps=500, max_abs_param=1e6), steps=500,
    )  # fmt: skip
    assert result.reasons == [Reason.PARAM_BOUND]
    assert result.nit[0] == 19  # 2¹⁹ < 10⁶ < 2²⁰
    assert abs(result.row(0).params[0, 0]) == 2.0**19
    kept = result.trajectory.step <= result.nit[0]
    assert np.isfinite(result.trajectory.params[kept]).all()


def test_non_finite_values_end_the_run_at_the_last_finite_point(compile_loss: Compile) -> None:
    loss = compile_loss("x**2")
    optimizer = sgd(constant(1.5))
    rule = StopRule(max_steps=5000, max_abs_param=np.inf, max_abs_loss=np.inf)
    result = run(
        loss, optimizer, start_iterate(loss, optimizer, np.array([[1.0]])), rule, steps=5000
    )
    assert result.reasons == [Reason.NON_FINITE]
    last = result.row(0)
    assert np.isfinite(last.loss).all()
    # x_k = (−2)^k: at k = 511 the gradient norm √((2x)²) overflows, so 510 is the last point.
    assert last.step == 510
    assert last.loss[0] == 2.0 ** (2 * 510)


def test_loss_change_tolerance(compile_loss: Compile) -> None:
    loss = compile_loss("x**2")
    optimizer = sgd(constant(0.25))  # x ← x/2, Δf = 3x²/4 after the step
    result = run(
        loss, optimizer, start_iterate(loss, optimizer, np.array([[1.0]])),
        StopRule(max_steps=100, loss_tol=1e-6), steps=100,
    )  # fmt: skip
    assert result.reasons == [Reason.LOSS_TOL]
    assert result.nit[0] == 11  # 3·4⁻ᵏ ≤ 10⁻⁶ first at k = 11


def test_time_limit_keeps_the_steps_done(compile_loss: Compile) -> None:
    loss = compile_loss("x**2 + y**2")
    optimizer = adam(constant(0.01))
    ticks = itertools.count()
    result = run(
        loss, optimizer, start_iterate(loss, optimizer, np.array([[1.0, 1.0]])),
        StopRule(max_steps=1000), steps=1000, deadline=7.0, clock=lambda: float(next(ticks)),
    )  # fmt: skip
    assert result.reasons == [Reason.TIME_LIMIT]
    assert result.nit[0] == 8


def test_grad_tol_zero_disables_the_test(compile_loss: Compile) -> None:
    loss = compile_loss("x**2")
    optimizer = sgd(constant(0.1))
    result = run(
        loss, optimizer, start_iterate(loss, optimizer, np.array([[0.0]])),
        StopRule(max_steps=5, grad_tol=0.0), steps=5,
    )  # fmt: skip
    assert result.reasons == [Reason.MAX_STEPS]
    assert result.nit[0] == 5


def test_a_batch_row_equals_the_single_run_from_its_start(compile_loss: Compile) -> None:
    loss = compile_loss("(1 - x)**2 + 100*(y - x**2)**2")
    optimizer = adam(constant(0.05))
    starts = np.array([[-1.2, 1.0], [1.0, 1.0], [0.5, -0.5], [30.0, 30.0]])
    rule = StopRule(max_steps=300, grad_tol=1e-3, max_abs_loss=1e7)
    batch = run(loss, optimizer, start_iterate(loss, optimizer, starts), rule, steps=300)
    assert batch.reasons[1] is Reason.GRAD_TOL
    assert batch.nit[1] == 0
    assert batch.reasons[3] is Reason.LOSS_BOUND
    for row, start in enumerate(starts):
        single = run(
            loss, optimizer, start_iterate(loss, optimizer, start[np.newaxis]), rule, steps=300
        )
        assert single.reasons[0] is batch.reasons[row]
        assert single.nit[0] == batch.nit[row]
        kept = single.trajectory.step <= single.nit[0]
        np.testing.assert_array_equal(
            single.trajectory.params[kept, 0], batch.trajectory.params[kept, row]
        )
        np.testing.assert_array_equal(single.row(0).params, batch.row(row).params)


def test_resuming_from_the_final_iterate_is_bit_for_bit(compile_loss: Compile) -> None:
    loss = compile_loss("(1 - x)**2 + 100*(y - x**2)**2")
    optimizer = adam(constant(0.02), amsgrad=True)
    rule = StopRule(max_steps=100)
    start = start_iterate(loss, optimizer, np.array([[-1.2, 1.0]]))
    whole = run(loss, optimizer, start, rule, steps=100)
    first = run(loss, optimizer, start, rule, steps=40)
    assert first.reasons == [Reason.STEPS_DONE]
    rest = run(loss, optimizer, first.row(0), rule, steps=100, record_start=False)
    assert rest.reasons == [Reason.MAX_STEPS]
    assert rest.trajectory.step[0] == 41
    joined = np.concatenate([first.trajectory.params[:, 0], rest.trajectory.params[:, 0]])
    np.testing.assert_array_equal(joined, whole.trajectory.params[:, 0])


@pytest.mark.parametrize("every", [1, 7, 50])
def test_thinning_records_multiples_of_every(compile_loss: Compile, every: int) -> None:
    loss = compile_loss("x**2 + y**2")
    optimizer = sgd(constant(0.01))
    result = run(
        loss, optimizer, start_iterate(loss, optimizer, np.array([[1.0, 2.0]])),
        StopRule(max_steps=120), steps=120, every=every,
    )  # fmt: skip
    np.testing.assert_array_equal(result.trajectory.step, np.arange(0, 121, every))
    assert result.row(0).step == 120
    np.testing.assert_allclose(result.row(0).params, [[0.98**120, 2 * 0.98**120]], rtol=1e-12)


BATCH_LOSSES = [
    "(1 - x)**2 + 100*(y - x**2)**2",
    "x**3 - 3*x*y**2 + x**4/4 + y**4/4",
    "log(1 + x**2) + (y - 0.5)**4 + x**2.5/(1 + x**2)",
    "sin(x)*exp(y/3) + x**2 + y**2 + sqrt(x**2 + 1)**3 + abs(x)**1.5",
]


@pytest.mark.parametrize("expression", BATCH_LOSSES)
def test_every_batch_row_equals_its_single_run_bit_for_bit(
    compile_loss: Compile, expression: str
) -> None:
    """Single starts take a scalar fast path; the generated code must not round differently."""
    loss = compile_loss(expression)
    optimizer = adam(constant(0.01))
    starts = np.random.default_rng(1).uniform(0.1, 2, size=(40, 2))
    rule = StopRule(max_steps=150)
    batch = run(loss, optimizer, start_iterate(loss, optimizer, starts), rule, steps=150)
    for row, start in enumerate(starts):
        single = run(
            loss, optimizer, start_iterate(loss, optimizer, start[np.newaxis]), rule, steps=150
        )
        np.testing.assert_array_equal(
            single.trajectory.params[:, 0], batch.trajectory.params[:, row]
        )
        np.testing.assert_array_equal(single.trajectory.loss[:, 0], batch.trajectory.loss[:, row])
