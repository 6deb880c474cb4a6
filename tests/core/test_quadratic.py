"""The quadratic loss ½ θᵀAθ + bᵀθ + c: symmetrisation, validation, exact derivatives, minimiser."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from numpy.typing import NDArray

from core.analysis import Classification, analyze
from core.quadratic import QuadraticLoss, coordinate_names

Array = NDArray[np.float64]

# Deliberately not symmetric: the antisymmetric part must drop out of the gradient.
A = np.array([[4.0, 3.0, 0.0], [-1.0, 5.0, 2.0], [0.5, 0.0, 3.0]])
B = np.array([1.0, -2.0, 0.5])
C = 0.75
SYMMETRIC = (A + A.T) / 2


def test_matrix_is_symmetrised() -> None:
    loss = QuadraticLoss(A, B, C)
    np.testing.assert_array_equal(loss.A, SYMMETRIC)
    np.testing.assert_array_equal(loss.A, loss.A.T)
    np.testing.assert_array_equal(loss.b, B)
    assert loss.c == C
    assert loss.dim == 3
    with pytest.raises(ValueError, match="read-only"):
        loss.A[0, 0] = 1.0


def test_entries_near_the_largest_double_are_symmetrised_without_overflow() -> None:
    big = 1.7e308
    loss = QuadraticLoss([[big, big], [0.0, big]])
    np.testing.assert_array_equal(loss.A, [[big, big / 2], [big / 2, big]])
    np.testing.assert_array_equal(
        QuadraticLoss([[8.98846567431158e307]]).A, [[8.98846567431158e307]]
    )


def test_value_gradient_and_hessian_are_exact() -> None:
    loss = QuadraticLoss(A, B, C)
    rng = np.random.default_rng(0)
    for theta in rng.normal(size=(5, 3)):
        # The value uses A as given: θᵀAθ = θᵀ((A + Aᵀ)/2)θ.
        expected_value = 0.5 * theta @ A @ theta + B @ theta + C
        value, grad = loss.value_and_grad(theta)
        assert value.shape == ()
        assert float(value) == pytest.approx(expected_value, rel=1e-14)
        assert float(loss.value(theta)) == pytest.approx(expected_value, rel=1e-14)
        np.testing.assert_allclose(grad, SYMMETRIC @ theta + B, rtol=1e-14, atol=1e-14)
        # Not Aθ + b: that would be the gradient only for a symmetric A.
        assert not np.allclose(grad, A @ theta + B)
        np.testing.assert_array_equal(loss.hessian(theta), SYMMETRIC)


def test_gradient_matches_central_differences() -> None:
    loss = QuadraticLoss(A, B, C)
    theta = np.array([0.3, -1.2, 2.0])
    h = 1e-5
    numeric = [(loss.value(theta + h * e) - loss.value(theta - h * e)) / (2 * h) for e in np.eye(3)]
    np.testing.assert_allclose(loss.value_and_grad(theta)[1], numeric, rtol=1e-8)


@pytest.mark.parametrize("shape", [(4,), (2, 3)])
def test_batches_equal_single_points(shape: tuple[int, ...]) -> None:
    loss = QuadraticLoss(A, B, C)
    points = np.random.default_rng(1).normal(size=(*shape, 3))
    value, grad = loss.value_and_grad(points)
    hessian = loss.hessian(points)
    assert value.shape == shape
    assert grad.shape == (*shape, 3)
    assert hessian.shape == (*shape, 3, 3)
    np.testing.assert_allclose(loss.value(points), value, rtol=1e-15)
    for index in np.ndindex(*shape):
        single_value, single_grad = loss.value_and_grad(points[index])
        np.testing.assert_allclose(value[index], single_value, rtol=1e-14)
        np.testing.assert_allclose(grad[index], single_grad, rtol=1e-14)
        np.testing.assert_array_equal(hessian[index], SYMMETRIC)
    # The batch Hessian is a fresh array, not a view of A.
    hessian[(0,) * len(shape)] = 0.0
    np.testing.assert_array_equal(loss.A, SYMMETRIC)


def test_minimizer_solves_the_linear_system() -> None:
    spd = np.array([[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]])
    loss = QuadraticLoss(spd, B, C)
    minimizer = loss.minimizer()
    assert minimizer is not None
    np.testing.assert_allclose(minimizer, np.linalg.solve(spd, -B), rtol=1e-14)
    np.testing.assert_allclose(loss.value_and_grad(minimizer)[1], 0.0, atol=1e-14)
    assert analyze(loss, minimizer).classification is Classification.LOCAL_MINIMUM


@pytest.mark.parametrize(
    "matrix",
    [
        [[1.0, 0.0], [0.0, -1.0]],  # indefinite: unbounded below
        [[1.0, 0.0], [0.0, 0.0]],  # semidefinite: a line of minimisers, or none
        [[0.0, 0.0], [0.0, 0.0]],
        [[0.0, 1.0], [-1.0, 0.0]],  # antisymmetric: symmetrises to zero
    ],
)
def test_no_minimizer_unless_positive_definite(matrix: list[list[float]]) -> None:
    assert QuadraticLoss(matrix, [1.0, 1.0]).minimizer() is None


def test_defaults_and_names() -> None:
    loss = QuadraticLoss([[2.0, 0.0], [0.0, 6.0]])
    np.testing.assert_array_equal(loss.b, [0.0, 0.0])
    assert loss.c == 0.0
    assert float(loss.value(np.array([1.0, 1.0]))) == 4.0
    assert loss.names == ("x", "y")
    assert QuadraticLoss([[1.0]]).names == ("x1",)
    assert QuadraticLoss(np.eye(3)).names == ("x1", "x2", "x3")
    assert coordinate_names(2) == ("x", "y")
    assert coordinate_names(4) == ("x1", "x2", "x3", "x4")


@pytest.mark.parametrize(
    ("matrix", "vector", "constant", "message"),
    [
        ([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [0.0, 0.0], 0.0, r"A must be a square.*\(2, 3\)"),
        ([1.0, 2.0], [0.0, 0.0], 0.0, r"A must be a square.*\(2,\)"),
        (np.zeros((0, 0)), [], 0.0, "A must be a square"),
        ([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0, 0.0], 0.0, r"b must be a vector of length 2"),
        ([[1.0, 0.0], [0.0, 1.0]], [[0.0, 0.0]], 0.0, r"b must be a vector.*\(1, 2\)"),
        ([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0], [1.0, 2.0], "c must be a single number"),
        ([[1.0, math.nan], [0.0, 1.0]], [0.0, 0.0], 0.0, "A must contain only finite"),
        ([[1.0, 0.0], [0.0, 1.0]], [math.inf, 0.0], 0.0, "b must contain only finite"),
        ([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0], math.nan, "c must be a finite number"),
        ([["a", 0.0], [0.0, 1.0]], [0.0, 0.0], 0.0, "A must be an array of real numbers"),
        ([[1.0, 0.0], [0.0]], [0.0, 0.0], 0.0, "A must be an array of real numbers"),
    ],
)
def test_invalid_inputs_are_refused(
    matrix: object, vector: object, constant: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        QuadraticLoss(matrix, vector, constant)  # type: ignore[arg-type]


def test_theta_of_the_wrong_shape_is_refused() -> None:
    loss = QuadraticLoss(A, B, C)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        loss.value_and_grad(np.zeros(2))


def test_pickles() -> None:
    loss = QuadraticLoss(A, B, C)
    copy = pickle.loads(pickle.dumps(loss))
    theta = np.array([1.0, 2.0, 3.0])
    assert copy.value(theta) == loss.value(theta)
    np.testing.assert_array_equal(copy.A, loss.A)
