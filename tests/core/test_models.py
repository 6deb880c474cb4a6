"""Models on data as losses: backprop and exact Hessians against finite differences, the
mini-batch path, numerical stability, batch normalisation (by hand and against torch), layout."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pytest
from numpy.typing import NDArray

from core import models
from core.models import (
    DatasetLoss,
    linear_regression,
    logistic_regression,
    mlp,
    softmax_regression,
)

Array = NDArray[np.float64]

_RNG = np.random.default_rng(20240611)
X = _RNG.normal(size=(9, 3))
Y_REAL = _RNG.normal(size=9)
Y_BINARY = np.array([0, 1, 1, 0, 1, 0, 0, 1, 1], dtype=np.float64)
Y_CLASS = np.array([0, 2, 1, 1, 0, 2, 2, 1, 0], dtype=np.float64)
K = 3
L2 = 0.3
ROWS = np.array([7, 0, 3, 3, 5])  # a mini-batch out of order, with a repeated example


def _glms() -> dict[str, Callable[[], DatasetLoss]]:
    return {
        "linear": lambda: linear_regression(X, Y_REAL, l2=L2),
        "logistic-ce": lambda: logistic_regression(X, Y_BINARY, l2=L2),
        "logistic-mse": lambda: logistic_regression(X, Y_BINARY, loss="mse", l2=L2),
        "softmax-ce": lambda: softmax_regression(X, Y_CLASS, classes=K, l2=L2),
        "softmax-mse": lambda: softmax_regression(X, Y_CLASS, classes=K, loss="mse", l2=L2),
    }


def _mlp(
    activation: models.Activation, hidden: tuple[int, ...], batch_norm: bool, target: str
) -> Callable[[], DatasetLoss]:
    if target == "regression":
        return lambda: mlp(
            X, Y_REAL, hidden=hidden, activation=activation, batch_norm=batch_norm, l2=L2
        )
    loss: Literal["cross_entropy", "mse"] = "cross_entropy" if target == "ce" else "mse"
    return lambda: mlp(
        X,
        Y_CLASS,
        hidden=hidden,
        activation=activation,
        batch_norm=batch_norm,
        task="classification",
        classes=K,
        loss=loss,
        l2=L2,
    )


def _mlps() -> dict[str, Callable[[], DatasetLoss]]:
    return {
        f"mlp-{act}-{len(hidden)}{'-bn' if bn else ''}-{target}": _mlp(act, hidden, bn, target)
        for act in ("tanh", "relu", "sigmoid")
        for hidden in ((4,), (4, 5))
        for bn in (False, True)
        for target in ("regression", "ce", "mse")
    }


GLMS = _glms()
MLPS = _mlps()
MODELS = {**GLMS, **MLPS}


def _point(loss: DatasetLoss, seed: int = 0) -> Array:
    return np.random.default_rng(seed).normal(scale=0.8, size=len(loss.names))


def _central_gradient(f: Callable[[Array], float], theta: Array, h: float = 1e-6) -> Array:
    return np.array([(f(theta + h * e) - f(theta - h * e)) / (2 * h) for e in np.eye(len(theta))])


def _central_jacobian(g: Callable[[Array], Array], theta: Array, h: float = 1e-6) -> Array:
    return np.array([(g(theta + h * e) - g(theta - h * e)) / (2 * h) for e in np.eye(len(theta))])


# -- gradients, Hessians, vectorisation ------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_gradient_matches_central_differences(name: str) -> None:
    loss = MODELS[name]()
    theta = _point(loss)
    value, grad = loss.value_and_grad(theta)
    assert value.shape == ()
    assert grad.shape == theta.shape
    assert float(loss.value(theta)) == pytest.approx(float(value), rel=1e-14)
    numeric = _central_gradient(lambda t: float(loss.value(t)), theta)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", MODELS)
def test_batch_gradient_matches_central_differences(name: str) -> None:
    loss = MODELS[name]()
    theta = _point(loss, seed=1)
    stats = loss.init_stats()
    value, grad, _ = loss.batch_value_and_grad(theta, ROWS, stats)
    assert isinstance(value, float)
    numeric = _central_gradient(lambda t: loss.batch_value_and_grad(t, ROWS, stats)[0], theta)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)
    # Not the full-data gradient: the batch is a different objective.
    assert not np.allclose(grad, loss.value_and_grad(theta)[1])


@pytest.mark.parametrize("name", MODELS)
def test_full_batch_is_value_and_grad_bit_for_bit(name: str) -> None:
    loss = MODELS[name]()
    theta = _point(loss, seed=2)
    value, grad = loss.value_and_grad(theta)
    batch_value, batch_grad, _ = loss.batch_value_and_grad(theta, None, loss.init_stats())
    assert batch_value == float(value)
    np.testing.assert_array_equal(batch_grad, grad)


@pytest.mark.parametrize("name", GLMS)
def test_exact_hessian_matches_central_differences(name: str) -> None:
    loss = GLMS[name]()
    assert loss.hessian_method == "exact"
    theta = _point(loss, seed=3)
    hessian = loss.hessian(theta)
    assert hessian.shape == (len(theta), len(theta))
    np.testing.assert_allclose(hessian, hessian.T, rtol=1e-13, atol=1e-15)
    numeric = _central_jacobian(lambda t: loss.value_and_grad(t)[1], theta)
    np.testing.assert_allclose(hessian, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    "name", ["mlp-tanh-1-regression", "mlp-sigmoid-2-ce", "mlp-tanh-1-bn-mse", "mlp-relu-2-bn-ce"]
)
def test_mlp_hessian_is_symmetric_and_matches_second_differences_of_values(name: str) -> None:
    loss = MLPS[name]()
    assert loss.hessian_method == "central_differences"
    theta = _point(loss, seed=4)
    p = len(theta)
    hessian = loss.hessian(theta)
    np.testing.assert_array_equal(hessian, hessian.T)
    # ∂²f/∂θᵢ∂θⱼ ≈ [f(+h,+h) − f(+h,−h) − f(−h,+h) + f(−h,−h)]/4h², all 4p² points in one batch.
    h = 1e-4
    steps = h * np.eye(p)
    corners = [
        theta + si * steps[:, None, :] + sj * steps[None, :, :]
        for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1))
    ]
    pp, pm, mp, mm = (loss.value(points) for points in corners)
    numeric = (pp - pm - mp + mm) / (4 * h * h)
    np.testing.assert_allclose(hessian, numeric, rtol=1e-4, atol=1e-5)


def test_mlp_hessian_is_the_same_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    loss = MLPS["mlp-tanh-2-bn-ce"]()
    theta = _point(loss, seed=5)
    whole = loss.hessian(theta)
    # Room for 3 perturbed points per chunk: 68 columns in 23 chunks, the last one short.
    width = X.shape[0] * (4 + 5 + K)
    monkeypatch.setattr(models, "_HESSIAN_BUDGET", 4 * width * 3)
    np.testing.assert_allclose(loss.hessian(theta), whole, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "name", ["linear", "logistic-mse", "softmax-ce", "mlp-relu-2-regression", "mlp-tanh-2-bn-ce"]
)
@pytest.mark.parametrize("shape", [(4,), (2, 3)])
def test_batches_equal_single_points(name: str, shape: tuple[int, ...]) -> None:
    loss = MODELS[name]()
    p = len(loss.names)
    points = np.random.default_rng(6).normal(size=(*shape, p))
    value, grad = loss.value_and_grad(points)
    hessian = loss.hessian(points)
    assert value.shape == shape
    assert grad.shape == (*shape, p)
    assert hessian.shape == (*shape, p, p)
    np.testing.assert_allclose(loss.value(points), value, rtol=1e-14)
    for index in np.ndindex(*shape):
        single_value, single_grad = loss.value_and_grad(points[index])
        np.testing.assert_allclose(value[index], single_value, rtol=1e-13)
        np.testing.assert_allclose(grad[index], single_grad, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(hessian[index], loss.hessian(points[index]), atol=1e-9)


def test_theta_of_the_wrong_length_is_refused() -> None:
    loss = GLMS["linear"]()
    with pytest.raises(ValueError, match=r"theta must have shape \(\.\.\., 4\)"):
        loss.value(np.zeros(3))


# -- the losses' definitions ---------------------------------------------------------------


def _sigmoid(z: Array) -> Array:
    return 1 / (1 + np.exp(-z))


def test_values_follow_the_documented_formulas() -> None:
    theta = np.array([0.4, -1.1, 0.7, 0.25])
    w, b = theta[:3], theta[3]
    z = X @ w + b
    decay = L2 / 2 * (w @ w)
    assert float(linear_regression(X, Y_REAL, l2=L2).value(theta)) == pytest.approx(
        np.mean((z - Y_REAL) ** 2) + decay, rel=1e-14
    )
    p = _sigmoid(z)
    cross_entropy = -np.mean(Y_BINARY * np.log(p) + (1 - Y_BINARY) * np.log(1 - p))
    assert float(logistic_regression(X, Y_BINARY).value(theta)) == pytest.approx(
        cross_entropy, rel=1e-13
    )
    assert float(logistic_regression(X, Y_BINARY, loss="mse").value(theta)) == pytest.approx(
        np.mean((p - Y_BINARY) ** 2), rel=1e-14
    )

    theta = np.linspace(-1.0, 1.0, 12)
    W, bias = theta[:9].reshape(3, 3), theta[9:]
    Z = X @ W + bias
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    labels = Y_CLASS.astype(int)
    onehot = np.eye(K)[labels]
    assert float(softmax_regression(X, Y_CLASS, classes=K).value(theta)) == pytest.approx(
        -np.mean(np.log(P[np.arange(9), labels])), rel=1e-14
    )
    # torch MSELoss(reduction="mean"): over all m·k entries, not summed over classes.
    assert float(
        softmax_regression(X, Y_CLASS, classes=K, loss="mse").value(theta)
    ) == pytest.approx(np.sum((P - onehot) ** 2) / (9 * K), rel=1e-14)


def test_two_class_softmax_is_logistic_regression() -> None:
    # softmax(0, z)₁ = σ(z): W = [0, w], b = [0, c] gives the logistic model with (w, c).
    theta = np.array([0.4, -1.1, 0.7, 0.25])
    softmax_theta = np.zeros(8)
    softmax_theta[1:6:2] = theta[:3]
    softmax_theta[7] = theta[3]
    for loss in ("cross_entropy", "mse"):
        logistic = logistic_regression(X, Y_BINARY, loss=loss)
        softmax = softmax_regression(X, Y_BINARY, classes=2, loss=loss)
        # The softmax mse averages over both probabilities, whose errors are equal.
        assert float(softmax.value(softmax_theta)) == pytest.approx(
            float(logistic.value(theta)), rel=1e-13
        )


@pytest.mark.parametrize("logit", [1000.0, -1000.0])
def test_logistic_cross_entropy_is_stable_for_huge_logits(logit: float) -> None:
    theta = np.array([logit, 0.0])  # z = logit at x = 1
    right, wrong = (1.0, 0.0) if logit > 0 else (0.0, 1.0)
    loss = logistic_regression([[1.0]], [right])
    value, grad = loss.value_and_grad(theta)
    assert float(value) == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(grad, 0.0, atol=1e-12)
    np.testing.assert_allclose(loss.hessian(theta), 0.0, atol=1e-12)

    loss = logistic_regression([[1.0]], [wrong])
    value, grad = loss.value_and_grad(theta)
    assert float(value) == pytest.approx(1000.0, rel=1e-15)
    # ∂/∂z = σ(z) − y: ±1 when confidently wrong, for both w (x = 1) and b.
    np.testing.assert_allclose(grad, [np.sign(logit)] * 2, atol=1e-12)
    assert np.isfinite(loss.hessian(theta)).all()
    batch_value, batch_grad, _ = loss.batch_value_and_grad(theta, np.array([0, 0]), ())
    assert batch_value == pytest.approx(1000.0, rel=1e-15)
    np.testing.assert_array_equal(batch_grad, grad)


@pytest.mark.parametrize(
    ("logits", "label", "expected"),
    [
        ((1000.0, 0.0, 0.0), 0, 0.0),
        ((1000.0, 0.0, 0.0), 2, 1000.0),
        ((-1000.0, 0.0, 0.0), 0, 1000.0 + np.log(2)),
        ((-1000.0, 0.0, 0.0), 1, np.log(2)),
        ((1000.0, -1000.0, 0.0), 1, 2000.0),
    ],
)
def test_softmax_cross_entropy_is_stable_for_huge_logits(
    logits: tuple[float, float, float], label: int, expected: float
) -> None:
    loss = softmax_regression([[1.0]], [label], classes=3)
    theta = np.array([*logits, 0.0, 0.0, 0.0])  # Z = W at x = 1, b = 0
    value, grad = loss.value_and_grad(theta)
    assert float(value) == pytest.approx(expected, rel=1e-15, abs=1e-12)
    probabilities = loss.predict(theta, [[1.0]])[0]
    expected_grad = probabilities - np.eye(3)[label]
    np.testing.assert_allclose(grad, np.tile(expected_grad, 2), atol=1e-12)
    assert np.isfinite(loss.hessian(theta)).all()
    mse = softmax_regression([[1.0]], [label], classes=3, loss="mse")
    assert np.isfinite(mse.value_and_grad(theta)[1]).all()
    assert np.isfinite(mse.hessian(theta)).all()


def test_linear_regression_gradient_vanishes_at_least_squares() -> None:
    loss = linear_regression(X, Y_REAL)
    augmented = np.column_stack([X, np.ones(len(X))])
    solution = np.asarray(np.linalg.lstsq(augmented, Y_REAL, rcond=None)[0], dtype=np.float64)
    value, grad = loss.value_and_grad(solution)
    np.testing.assert_allclose(grad, 0.0, atol=1e-14)
    residual = augmented @ solution - Y_REAL
    assert float(value) == pytest.approx(residual @ residual / len(X), rel=1e-12)
    np.testing.assert_allclose(loss.hessian(solution), 2 / len(X) * augmented.T @ augmented)
    batch_value, batch_grad, stats = loss.batch_value_and_grad(solution, None, ())
    assert batch_value == float(value)
    np.testing.assert_array_equal(batch_grad, grad)
    assert stats == ()


def test_l2_penalises_weight_matrices_only() -> None:
    for plain, decayed, count in (
        (softmax_regression(X, Y_CLASS, classes=K), GLMS["softmax-ce"](), 3 * K),
        (mlp(X, Y_REAL, hidden=[4], batch_norm=True), MLPS["mlp-tanh-1-bn-regression"](), 16),
    ):
        theta = _point(plain, seed=7)
        weights = np.array([name.startswith("W") for name in plain.names])
        assert weights.sum() == count
        value, grad = plain.value_and_grad(theta)
        value_l2, grad_l2 = decayed.value_and_grad(theta)
        expected = float(value) + L2 / 2 * np.sum(theta[weights] ** 2)
        assert float(value_l2) == pytest.approx(expected, rel=1e-14)
        np.testing.assert_allclose(grad_l2 - grad, np.where(weights, L2 * theta, 0.0), atol=1e-15)


# -- layout, initial parameters, prediction --------------------------------------------------


def test_names_follow_the_layout() -> None:
    two = X[:, :2]
    assert linear_regression(two, Y_REAL).names == ("w[0]", "w[1]", "b")
    assert logistic_regression(two, Y_BINARY).names == ("w[0]", "w[1]", "b")
    assert softmax_regression(two, Y_CLASS, classes=3).names == (
        *("W[0,0]", "W[0,1]", "W[0,2]", "W[1,0]", "W[1,1]", "W[1,2]"),
        *("b[0]", "b[1]", "b[2]"),
    )
    assert mlp(two, Y_REAL, hidden=[2]).names == (
        *("W1[0,0]", "W1[0,1]", "W1[1,0]", "W1[1,1]", "b1[0]", "b1[1]"),
        *("Wout[0,0]", "Wout[1,0]", "bout[0]"),
    )
    # With batch norm the hidden layers have no bias: β replaces it.
    names = mlp(
        two, Y_BINARY, hidden=[2, 1], batch_norm=True, task="classification", classes=2
    ).names
    assert names == (
        *("W1[0,0]", "W1[0,1]", "W1[1,0]", "W1[1,1]", "gamma1[0]", "gamma1[1]"),
        *("beta1[0]", "beta1[1]", "W2[0,0]", "W2[1,0]", "gamma2[0]", "beta2[0]"),
        *("Wout[0,0]", "Wout[0,1]", "bout[0]", "bout[1]"),
    )
    assert not any(name.startswith("b1") or name.startswith("b2[") for name in names)


@pytest.mark.parametrize("name", MODELS)
def test_names_are_unique_and_one_per_parameter(name: str) -> None:
    loss = MODELS[name]()
    assert len(set(loss.names)) == len(loss.names)
    assert loss.initial_params(0).shape == (len(loss.names),)
    assert loss.size == 9


def test_initial_params() -> None:
    for build in GLMS.values():
        np.testing.assert_array_equal(build().initial_params(3), 0.0)
    loss = MLPS["mlp-tanh-2-bn-ce"]()
    theta = loss.initial_params(3)
    np.testing.assert_array_equal(theta, loss.initial_params(3))
    assert not np.array_equal(theta, loss.initial_params(4))
    by_name = dict(zip(loss.names, theta, strict=True))
    for prefix, fan_in in (("W1[", 3), ("W2[", 4), ("Wout[", 5), ("bout[", 5)):
        values = np.array([v for n, v in by_name.items() if n.startswith(prefix)])
        assert np.all(np.abs(values) <= 1 / np.sqrt(fan_in))
        assert np.ptp(values) > 0
    np.testing.assert_array_equal([v for n, v in by_name.items() if n.startswith("gamma")], 1.0)
    np.testing.assert_array_equal([v for n, v in by_name.items() if n.startswith("beta")], 0.0)
    plain = MLPS["mlp-relu-1-regression"]().initial_params(0)
    assert np.all(np.abs(plain[12:16]) <= 1 / np.sqrt(3))  # b1
    assert np.ptp(plain[12:16]) > 0


def test_predict() -> None:
    theta = np.array([0.4, -1.1, 0.7, 0.25])
    new = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    expected = new @ theta[:3] + theta[3]
    np.testing.assert_allclose(linear_regression(X, Y_REAL).predict(theta, new), expected)
    np.testing.assert_allclose(
        logistic_regression(X, Y_BINARY).predict(theta, new), _sigmoid(expected)
    )
    probabilities = GLMS["softmax-mse"]().predict(np.linspace(-1, 1, 12), new)
    assert probabilities.shape == (2, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    # Batched θ: one prediction per point.
    assert linear_regression(X, Y_REAL).predict(np.stack([theta, theta]), new).shape == (2, 2)
    with pytest.raises(ValueError, match="X must have 3 features; got 2"):
        linear_regression(X, Y_REAL).predict(theta, new[:, :2])


# -- batch normalisation -------------------------------------------------------------------


def test_batch_norm_uses_batch_statistics_and_updates_running_ones_like_torch() -> None:
    # One input, one hidden unit, W1 = 2, γ = 1, β = 0, identity-free output 1·tanh(u) + 0.
    inputs = np.array([[1.0], [2.0], [3.0], [4.0]])
    loss = mlp(inputs, [0.0, 0.0, 0.0, 0.0], hidden=[1], batch_norm=True)
    assert loss.names == ("W1[0,0]", "gamma1[0]", "beta1[0]", "Wout[0,0]", "bout[0]")
    theta = np.array([2.0, 1.0, 0.0, 1.0, 0.0])
    stats = loss.init_stats()
    np.testing.assert_array_equal(stats, ([0.0], [1.0]))

    # Rows 0, 1, 2: h = (2, 4, 6), batch mean 4, biased variance 8/3, unbiased 4.
    value, _, stats = loss.batch_value_and_grad(theta, np.array([0, 1, 2]), stats)
    u = (np.array([2.0, 4.0, 6.0]) - 4.0) / np.sqrt(8 / 3 + 1e-5)
    assert value == pytest.approx(np.mean(np.tanh(u) ** 2), rel=1e-14)
    np.testing.assert_allclose(stats, ([0.9 * 0 + 0.1 * 4], [0.9 * 1 + 0.1 * 4]), rtol=1e-15)
    assert (stats[0][0], stats[1][0]) == pytest.approx((0.4, 1.3), rel=1e-15)

    # Rows 1, 3: h = (4, 8), mean 6, unbiased variance 8.
    value, _, stats = loss.batch_value_and_grad(theta, np.array([1, 3]), stats)
    assert value == pytest.approx(np.tanh(1 / np.sqrt(1 + 1e-5 / 4)) ** 2, rel=1e-14)
    assert (stats[0][0], stats[1][0]) == pytest.approx(
        (0.9 * 0.4 + 0.6, 0.9 * 1.3 + 0.8), rel=1e-15
    )

    # The full-data objective normalises with all four: mean 5, biased variance 5.
    h = np.array([2.0, 4.0, 6.0, 8.0])
    expected = np.mean(np.tanh((h - 5) / np.sqrt(5 + 1e-5)) ** 2)
    assert float(loss.value(theta)) == pytest.approx(expected, rel=1e-14)
    full_value, _, full_stats = loss.batch_value_and_grad(theta, None, loss.init_stats())
    assert full_value == pytest.approx(expected, rel=1e-14)
    assert (full_stats[0][0], full_stats[1][0]) == pytest.approx((0.5, 0.9 + 0.1 * 20 / 3))

    # Evaluation mode: running statistics (0.96, 1.97) instead of the batch's.
    prediction = loss.predict(theta, np.array([[3.0]]), stats)
    np.testing.assert_allclose(prediction, [np.tanh((6 - 0.96) / np.sqrt(1.97 + 1e-5))])
    # Without running statistics: the training set's, as in the full-data objective.
    np.testing.assert_allclose(
        loss.predict(theta, inputs), np.tanh((h - 5) / np.sqrt(5 + 1e-5)), rtol=1e-14
    )


def test_batch_norm_needs_two_examples_per_batch() -> None:
    loss = MLPS["mlp-tanh-1-bn-regression"]()
    theta = loss.initial_params(0)
    with pytest.raises(ValueError, match="at least 2 examples in a batch"):
        loss.batch_value_and_grad(theta, np.array([4]), loss.init_stats())
    with pytest.raises(ValueError, match="at least 2 examples"):
        mlp(X[:1], Y_REAL[:1], hidden=[3], batch_norm=True)


@pytest.mark.parametrize("name", [n for n in MODELS if "-bn" not in n])
def test_models_without_batch_norm_have_no_statistics(name: str) -> None:
    loss = MODELS[name]()
    assert loss.init_stats() == ()
    stats: tuple[Array, ...] = ()
    assert loss.batch_value_and_grad(_point(loss), ROWS, stats)[2] is stats


def test_running_statistics_are_per_layer_and_not_modified_in_place() -> None:
    loss = MLPS["mlp-sigmoid-2-bn-mse"]()
    stats = loss.init_stats()
    assert [s.tolist() for s in stats] == [[0.0] * 4, [1.0] * 4, [0.0] * 5, [1.0] * 5]
    _, _, updated = loss.batch_value_and_grad(_point(loss), ROWS, stats)
    assert [s.tolist() for s in stats] == [[0.0] * 4, [1.0] * 4, [0.0] * 5, [1.0] * 5]
    assert [s.shape for s in updated] == [(4,), (4,), (5,), (5,)]
    with pytest.raises(ValueError, match="stats must be"):
        loss.predict(_point(loss), X, stats[:2])


# Reference numbers from torch 2.13.0 in float64 (a one-off script, not part of the suite):
# torch.nn.Sequential of Linear(bias=False) → BatchNorm1d(eps=1e-5, momentum=0.1) → activation
# per hidden layer, then Linear, loaded with θ = 0.5·sin(1, 2, …, p) in this module's layout
# (a Linear weight is Wᵀ), in train() mode on TORCH_X[TORCH_ROWS]; loss F.mse_loss(out[:, 0], y)
# or F.cross_entropy(out, y); loss.backward(); gradients flattened in the layout; running
# statistics after that one forward; then eval() mode on all of TORCH_X (softmax for classes).
TORCH_X = np.cos(np.arange(18.0).reshape(6, 3) * 1.3)
TORCH_ROWS = np.array([0, 2, 3, 5])
TORCH_REGRESSION = {
    "loss": 0.5858331611955286,
    "grad": [
        *(9.7076299418698025e-02, -2.8584522110471663e-04, -1.7710033708169953e-02),
        *(5.4652648803656570e-02, 5.6445649091898524e-02, -7.2749631547777867e-04),
        *(1.6544620659561732e-01, 1.7131452084991443e-02, -6.6878009392623158e-02),
        *(-1.0336360333330430e-04, 1.0622336663758804e-01, -4.5487362072909564e-02),
        *(-2.1283978013485944e-02, -1.7770190989837308e-03, -2.0734538194600527e-01),
        *(8.2714507245348665e-02, -3.1226415086017717e-01, 2.5042079342718192e-03),
        *(3.4942167400494417e-01, 3.6049620354446421e-01, 4.4712242543245301e-01),
        *(6.2797574941317746e-01, 1.1819090587211217e-01, -4.0265491175089102e-01),
        -9.8137279828481483e-01,
    ],
    "running": [
        [0.01472650689825277, 0.04639070768716468, 0.03540350577020706, -0.00813351608024696],
        [0.9063486392144767, 0.9056872885748, 0.9070141819929795, 0.9065711676358349],
    ],
    "eval": [
        *(-0.5480146189522983, -0.42480665838942994, -0.45977646528935645),
        *(-0.5327037192898142, -0.392949745301099, -0.5232721885824638),
    ],
}
TORCH_CLASSIFICATION = {
    "loss": 1.1080546246232421,
    "grad": [
        *(4.0471902139582808e-03, -2.7269838136097097e-03, -4.1621585482258527e-04),
        *(-1.2954762320461872e-03, 2.3535982628008385e-03, -6.9457764655603202e-03),
        *(3.8975020900460094e-03, -4.0562555229942772e-04, -2.7880206572540762e-03),
        *(-9.8899032324156755e-04, 2.5013703421209836e-03, 1.0784675118455968e-03),
        *(-3.6749690132544281e-03, -3.6615661924325150e-03, 4.2431427418002194e-03),
        *(-7.4342145351542202e-03, -4.2693973127117674e-04, 5.9251605548259201e-04),
        *(9.6254123975452605e-04, -1.5670130573024535e-04, -7.6448272087156766e-04),
        *(-3.5246722207940562e-03, 1.4727828312359678e-03, 5.7852315431186907e-03),
        *(-3.6343084949698984e-02, -3.4476134834091551e-03, 5.0198963881919051e-03),
        *(-1.8363823322628647e-02, -4.5357905174410879e-03, -9.6929361052988661e-04),
        *(-1.0363986489826393e-03, 1.3115935563035169e-03, -2.0521548976173584e-02),
        *(1.4914553327634987e-02, 2.4961403647572579e-02, -1.0944426595759758e-02),
        *(1.0017466187728237e-02, -1.0134442022740175e-02, 4.2030583373297452e-02),
        *(-1.0751303356767296e-01, 6.5482450194375513e-02, 3.2707210918543103e-02),
        *(-8.4844141767497980e-02, 5.2136930848954884e-02, 5.5390212093339629e-02),
        *(-1.2457447091102972e-01, 6.9184258817690095e-02, 8.9835515184424924e-02),
        *(-1.9353029881199055e-01, 1.0369478362756560e-01),
    ],
    "running": [
        [0.01472650689825277, 0.04639070768716468, 0.03540350577020706, -0.00813351608024696],
        [0.9063486392144767, 0.9056872885748, 0.9070141819929795, 0.9065711676358349],
        [-0.00805044863843827, -0.00822875715857116, -0.00084158429597165],
        [0.9002266856801089, 0.9000355647568052, 0.9000990565743563],
    ],
    "eval": [
        [0.33907569313077424, 0.30626278638131943, 0.35466152048790633],
        [0.3394142367680765, 0.306462130429371, 0.3541236328025525],
        [0.33905643608419167, 0.30626180151210997, 0.3546817624036983],
        [0.33925387332936696, 0.3063627982430988, 0.35438332842753417],
        [0.3393264309915917, 0.3064173577754082, 0.3542562112330001],
        [0.3390085123250714, 0.3062284321908567, 0.354763055484072],
    ],
}


@pytest.mark.parametrize(
    ("loss", "reference"),
    [
        (
            mlp(TORCH_X, np.sin(np.arange(6.0)), hidden=[4], activation="tanh", batch_norm=True),
            TORCH_REGRESSION,
        ),
        (
            mlp(
                TORCH_X,
                [0, 2, 1, 1, 0, 2],
                hidden=[4, 3],
                activation="sigmoid",
                batch_norm=True,
                task="classification",
                classes=3,
            ),
            TORCH_CLASSIFICATION,
        ),
    ],
    ids=["regression-tanh", "classification-sigmoid"],
)
def test_mlp_with_batch_norm_matches_torch(loss: DatasetLoss, reference: dict[str, Any]) -> None:
    theta = 0.5 * np.sin(np.arange(len(loss.names)) + 1.0)
    value, grad, stats = loss.batch_value_and_grad(theta, TORCH_ROWS, loss.init_stats())
    assert value == pytest.approx(reference["loss"], rel=1e-14)
    np.testing.assert_allclose(grad, reference["grad"], rtol=1e-12, atol=1e-16)
    for ours, theirs in zip(stats, reference["running"], strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-14)
    np.testing.assert_allclose(loss.predict(theta, TORCH_X, stats), reference["eval"], rtol=1e-14)


# -- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: linear_regression(X, Y_REAL[:5]), "y must be a vector of 9 targets"),
        (lambda: linear_regression(X[0], Y_REAL), r"X must be a non-empty \(m, d\) matrix"),
        (lambda: linear_regression(np.zeros((0, 2)), []), "non-empty"),
        (lambda: linear_regression(X, [np.nan] * 9), "y must contain only finite numbers"),
        (lambda: linear_regression(X * np.inf, Y_REAL), "X must contain only finite numbers"),
        (lambda: linear_regression(X, Y_REAL, l2=-1.0), "l2 must be a finite number ≥ 0"),
        (lambda: logistic_regression(X, Y_CLASS), r"labels must be integers in 0\.\.1; got 2"),
        (lambda: logistic_regression(X, Y_BINARY, loss="hinge"), "loss must be one of"),  # type: ignore[arg-type]
        (lambda: softmax_regression(X, Y_CLASS, classes=1), "classes must be an integer ≥ 2"),
        (lambda: softmax_regression(X, Y_CLASS + 0.5, classes=3), "labels must be integers"),
        (lambda: softmax_regression(X, -Y_CLASS, classes=3), "got -2 at example 1"),
        (lambda: mlp(X, Y_REAL, hidden=[]), "hidden must be 1 or 2 positive layer widths"),
        (lambda: mlp(X, Y_REAL, hidden=[3, 3, 3]), "hidden must be 1 or 2"),
        (lambda: mlp(X, Y_REAL, hidden=[0]), "hidden must be 1 or 2"),
        (lambda: mlp(X, Y_REAL, hidden=[2], activation="gelu"), "activation must be one of"),  # type: ignore[arg-type]
        (lambda: mlp(X, Y_REAL, hidden=[2], task="ranking"), "task must be one of"),  # type: ignore[arg-type]
        (lambda: mlp(X, Y_REAL, hidden=[2], loss="cross_entropy"), "trained with loss='mse'"),
        (lambda: mlp(X, Y_REAL, hidden=[2], classes=3), "classes applies to"),
        (lambda: mlp(X, Y_CLASS, hidden=[2], task="classification"), "needs classes"),
        (
            lambda: mlp(X, Y_CLASS, hidden=[2], task="classification", classes=2),
            r"labels must be integers in 0\.\.1",
        ),
    ],
)
def test_inconsistent_inputs_are_refused(build: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_data_is_copied_and_read_only() -> None:
    inputs, targets = X.copy(), Y_REAL.copy()
    loss = linear_regression(inputs, targets)
    theta = _point(loss)
    before = float(loss.value(theta))
    inputs[:] = 0.0
    targets[:] = 0.0
    assert float(loss.value(theta)) == before


@pytest.mark.parametrize("name", ["softmax-mse", "mlp-sigmoid-2-bn-ce"])
def test_losses_survive_pickling(name: str) -> None:
    loss = MODELS[name]()
    copy = pickle.loads(pickle.dumps(loss))
    theta = _point(loss)
    assert copy.names == loss.names
    np.testing.assert_array_equal(copy.value_and_grad(theta)[1], loss.value_and_grad(theta)[1])
