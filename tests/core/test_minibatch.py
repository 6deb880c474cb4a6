"""The mini-batch loop: batch order, reproducibility, resumption, stopping and recording."""

from __future__ import annotations

import numpy as np
import pytest

from core import optimizers, schedules
from core.datasets import generate
from core.minibatch import Minibatches, MinibatchRun, per_epoch, run_minibatch
from core.models import DatasetLoss, linear_regression, mlp, softmax_regression
from core.run import Iterate, Reason, StopRule, start_iterate
from core.transforms import GradientTransformation


def _linear() -> DatasetLoss:
    data = generate("linear", n=50, seed=3, features=3)
    return linear_regression(data.X, data.y)


def _train(
    loss: DatasetLoss,
    optimizer: GradientTransformation,
    batches: Minibatches,
    steps: int,
    start: Iterate | None = None,
    stats: tuple[np.ndarray, ...] | None = None,
    rule: StopRule | None = None,
    **options: object,
) -> MinibatchRun:
    theta = np.zeros((1, len(loss.names)))
    first = start or start_iterate(loss, optimizer, theta)
    return run_minibatch(
        loss,
        optimizer,
        first,
        loss.init_stats() if stats is None else stats,
        batches,
        rule or StopRule(max_steps=10_000, grad_tol=0.0),
        steps=steps,
        **options,  # type: ignore[arg-type]
    )


def test_each_epoch_is_a_permutation_cut_into_batches_with_a_remainder() -> None:
    batches = Minibatches(size=10, batch_size=4, shuffle=True, seed=7)
    assert batches.steps_per_epoch == 3
    for epoch in range(3):
        order = batches.order(epoch)
        assert sorted(order.tolist()) == list(range(10))
    assert batches.order(0).tolist() != batches.order(1).tolist()
    assert batches.order(1).tolist() == Minibatches(10, 4, True, 7).order(1).tolist()
    assert Minibatches(10, 4, False, 7).order(5).tolist() == list(range(10))
    # Steps 1..3 see 4, 4 and 2 examples: after them 0.4, 0.8 and 1.0 epochs have passed.
    steps = np.arange(0, 8)
    np.testing.assert_allclose(batches.epochs(steps), [0.0, 0.4, 0.8, 1.0, 1.4, 1.8, 2.0, 2.4])


def test_a_mini_batch_step_uses_the_batch_gradient_of_the_shuffled_order() -> None:
    loss = _linear()
    batches = Minibatches(loss.size, 8, True, 11)
    trained = _train(loss, optimizers.sgd(schedules.constant(0.05)), batches, steps=9)
    theta = np.zeros(len(loss.names))
    for step in range(9):
        epoch, index = divmod(step, batches.steps_per_epoch)
        rows = batches.order(epoch)[index * 8 : (index + 1) * 8]
        _, grad, _ = loss.batch_value_and_grad(theta, rows, ())
        theta = theta - 0.05 * grad
    np.testing.assert_array_equal(trained.result.final.params[0], theta)
    assert trained.result.final.step == 9
    np.testing.assert_allclose(trained.result.final.loss[0], loss.value(theta), rtol=1e-15)


def test_full_batch_gradient_descent_reaches_least_squares() -> None:
    loss = _linear()
    data = generate("linear", n=50, seed=3, features=3)
    design = np.hstack([data.X, np.ones((50, 1))])
    solution = np.linalg.lstsq(design, data.y, rcond=None)[0]
    trained = _train(
        loss,
        optimizers.sgd(schedules.constant(0.2)),
        Minibatches(loss.size, 50, True, 0),
        steps=5_000,
        rule=StopRule(max_steps=5_000, grad_tol=1e-10),
    )
    assert trained.result.reasons == [Reason.GRAD_TOL]
    np.testing.assert_allclose(trained.result.final.params[0], solution, atol=1e-9)


def test_the_same_seed_gives_the_same_trajectory_and_another_seed_another() -> None:
    loss = _linear()
    adam = optimizers.adam(schedules.constant(0.01))
    first = _train(loss, adam, Minibatches(loss.size, 5, True, 1), steps=40)
    again = _train(loss, adam, Minibatches(loss.size, 5, True, 1), steps=40)
    other = _train(loss, adam, Minibatches(loss.size, 5, True, 2), steps=40)
    np.testing.assert_array_equal(first.result.trajectory.params, again.result.trajectory.params)
    np.testing.assert_array_equal(first.batch_loss, again.batch_loss)
    assert not np.array_equal(first.result.trajectory.params, other.result.trajectory.params)


def _bn_mlp() -> DatasetLoss:
    data = generate("blobs", n=30, seed=4, features=2, classes=3)
    return mlp(
        data.X,
        data.y,
        hidden=[5],
        activation="tanh",
        batch_norm=True,
        task="classification",
        classes=3,
        loss="cross_entropy",
    )


@pytest.mark.parametrize("split", [1, 4, 7, 13])
def test_resuming_mid_epoch_continues_exactly_with_the_running_statistics(split: int) -> None:
    loss = _bn_mlp()
    batches = Minibatches(30, 4, True, 5)  # 8 steps an epoch, the last of 2 examples
    adam = optimizers.adam(schedules.constant(0.01))
    theta = loss.initial_params(0)[np.newaxis]
    start = start_iterate(loss, adam, theta)
    whole = _train(loss, adam, batches, steps=20, start=start)
    head = _train(loss, adam, batches, steps=split, start=start)
    tail = _train(
        loss, adam, batches, steps=20 - split, start=head.result.row(0), stats=head.stats,
        record_start=False,
    )  # fmt: skip
    np.testing.assert_array_equal(tail.result.final.params, whole.result.final.params)
    for resumed, uninterrupted in zip(tail.stats, whole.stats, strict=True):
        np.testing.assert_array_equal(resumed, uninterrupted)
    np.testing.assert_array_equal(
        np.concatenate([head.result.trajectory.params[:, 0], tail.result.trajectory.params[:, 0]]),
        whole.result.trajectory.params[:, 0],
    )


def test_loss_is_evaluated_on_the_full_data_only_at_recorded_points() -> None:
    data = generate("blobs", n=60, seed=2, features=2, classes=3)
    loss = softmax_regression(data.X, data.y, classes=3, loss="cross_entropy")
    trained = _train(
        loss, optimizers.sgd(schedules.constant(0.1)), Minibatches(60, 6, True, 0), steps=25,
        every=10,
    )  # fmt: skip
    trajectory = trained.result.trajectory
    assert trajectory.step.tolist() == [0, 10, 20]
    for slot in range(len(trajectory.step)):
        np.testing.assert_allclose(
            trajectory.loss[slot, 0], loss.value(trajectory.params[slot, 0]), rtol=1e-15
        )
    assert np.isnan(trained.batch_loss[0])
    assert np.isfinite(trained.batch_loss[1:]).all()
    assert trained.result.final.step == 25
    np.testing.assert_allclose(
        trained.result.final.loss[0], loss.value(trained.result.final.params[0]), rtol=1e-15
    )


def test_a_learning_rate_too_large_diverges_and_ends_at_the_last_finite_point() -> None:
    loss = _linear()
    trained = _train(
        loss, optimizers.sgd(schedules.constant(50.0)), Minibatches(loss.size, 10, True, 0),
        steps=500, rule=StopRule(max_steps=500, max_abs_param=1e6),
    )  # fmt: skip
    result = trained.result
    assert result.reasons == [Reason.PARAM_BOUND]
    assert 1 < result.final.step < 500
    assert np.abs(result.final.params).max() <= 1e6
    np.testing.assert_allclose(result.final.loss[0], loss.value(result.final.params[0]))


def test_loss_tol_compares_full_losses_at_evaluated_points() -> None:
    loss = _linear()
    trained = _train(
        loss, optimizers.sgd(schedules.constant(0.1)), Minibatches(loss.size, 50, False, 0),
        steps=5_000, rule=StopRule(max_steps=5_000, loss_tol=1e-9),
    )  # fmt: skip
    assert trained.result.reasons == [Reason.LOSS_TOL]
    losses = trained.result.trajectory.loss[: trained.result.final.step + 1, 0]
    assert abs(losses[-1] - losses[-2]) <= 1e-9 < abs(losses[-2] - losses[-3])


def test_per_epoch_schedules_count_completed_epochs() -> None:
    schedule = per_epoch(schedules.step_decay(1.0, 1, 0.5), steps_per_epoch=3)
    assert [schedule(k) for k in range(7)] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]
