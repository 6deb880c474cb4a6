"""Landscapes on planes: grid orientation, plane slicing, directions and the gradient field."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest

from core.builtins import make_builtin
from core.expression import ExpressionLoss
from core.landscape import (
    DirectionError,
    Plane,
    axis,
    coordinate_plane,
    evaluate_grid,
    gradient_field,
    hessian_directions,
    orthonormalize,
    plane_points,
    random_directions,
)
from core.quadratic import QuadraticLoss

Compile = Callable[..., ExpressionLoss]


def test_rows_follow_y_and_columns_follow_x(compile_loss: Compile) -> None:
    loss = compile_loss("x + 10*y**2")
    x, y = axis(-1.0, 2.0, 4), axis(0.0, 1.0, 3)
    grid = evaluate_grid(loss, coordinate_plane(2), x, y)
    assert grid.z.shape == (3, 4)
    for i in range(3):
        for j in range(4):
            assert grid.z[i, j] == pytest.approx(x[j] + 10 * y[i] ** 2)
    np.testing.assert_array_equal(grid.x, [-1.0, 0.0, 1.0, 2.0])
    np.testing.assert_array_equal(grid.y, [0.0, 0.5, 1.0])


def test_axis_includes_both_ends() -> None:
    values = axis(-2.0, 3.0, 11)
    assert values[0] == -2.0
    assert values[-1] == 3.0
    assert len(values) == 11


def test_plane_slice_equals_direct_evaluation(compile_loss: Compile) -> None:
    loss = compile_loss("x**2 + 2*y**2 + 3*z**2 + x*y*z + sin(z)")
    center = np.array([0.5, -1.0, 2.0])
    directions = orthonormalize(np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]]))
    plane = Plane(center, directions)
    x, y = axis(-1.0, 1.0, 5), axis(-2.0, 2.0, 7)
    grid = evaluate_grid(loss, plane, x, y)
    assert grid.z.shape == (7, 5)
    for i in range(7):
        for j in range(5):
            point = center + x[j] * directions[0] + y[i] * directions[1]
            assert grid.z[i, j] == pytest.approx(float(loss.value(point)), rel=1e-12)
    points = plane_points(plane, x, y)
    np.testing.assert_allclose(points[3, 2], center + x[2] * directions[0] + y[3] * directions[1])


def test_non_finite_values_become_nan(compile_loss: Compile) -> None:
    loss = compile_loss("log(x) + y")
    grid = evaluate_grid(loss, coordinate_plane(2), axis(-1.0, 1.0, 3), axis(0.0, 1.0, 2))
    assert np.isnan(grid.z[:, 0]).all()
    assert np.isnan(grid.z[:, 1]).all()  # log(0) = -inf
    np.testing.assert_allclose(grid.z[:, 2], [0.0, 1.0])


def test_gram_schmidt() -> None:
    vectors = np.array([[2.0, 0.0, 0.0, 0.0], [3.0, 4.0, 0.0, 0.0]])
    directions = orthonormalize(vectors)
    np.testing.assert_allclose(directions, [[1, 0, 0, 0], [0, 1, 0, 0]], atol=1e-15)
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((2, 6))
    directions = orthonormalize(vectors)
    np.testing.assert_allclose(directions @ directions.T, np.eye(2), atol=1e-14)
    np.testing.assert_allclose(directions[0], vectors[0] / np.linalg.norm(vectors[0]))
    # The second direction stays in the span of the two vectors, on the side of the second.
    coefficients, *_ = np.linalg.lstsq(vectors.T, directions[1], rcond=None)
    np.testing.assert_allclose(vectors.T @ coefficients, directions[1], atol=1e-12)
    assert directions[1] @ vectors[1] > 0


def test_huge_directions_do_not_overflow() -> None:
    directions = orthonormalize(np.array([[1e200, 1e200, 0.0], [0.0, 1e300, 1e300]]))
    np.testing.assert_allclose(directions @ directions.T, np.eye(2), atol=1e-14)


@pytest.mark.parametrize(
    ("vectors", "index"),
    [
        ([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]], 0),
        ([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]], 1),
        ([[1.0, 2.0, 3.0], [-2.0, -4.0, -6.0]], 1),
        ([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0 + 1e-14]], 1),
    ],
)
def test_zero_and_parallel_directions_are_refused(vectors: list[list[float]], index: int) -> None:
    with pytest.raises(DirectionError) as raised:
        orthonormalize(np.array(vectors))
    assert raised.value.index == index


def test_random_directions_are_orthonormal_and_reproducible() -> None:
    first = random_directions(10, seed=7)
    np.testing.assert_allclose(first @ first.T, np.eye(2), atol=1e-14)
    np.testing.assert_array_equal(first, random_directions(10, seed=7))
    assert not np.allclose(first, random_directions(10, seed=8))


def test_hessian_directions_are_the_leading_eigenvectors() -> None:
    rotation, _ = np.linalg.qr(np.random.default_rng(3).standard_normal((4, 4)))
    eigenvalues = np.array([1.0, -5.0, 3.0, 0.5])
    loss = QuadraticLoss((rotation * eigenvalues) @ rotation.T, None, 0.0)
    leading = hessian_directions(loss, np.array([0.3, -0.2, 1.0, 2.0]))
    np.testing.assert_allclose(leading.eigenvalues, [-5.0, 3.0])
    for direction, expected in zip(leading.directions, rotation.T[[1, 2]], strict=True):
        # Eigenvectors are unique up to sign; the sign is fixed by the largest component.
        assert abs(direction @ expected) == pytest.approx(1.0)
        assert direction[np.argmax(np.abs(direction))] > 0
    hessian = loss.hessian(np.zeros(4))
    for direction, value in zip(leading.directions, leading.eigenvalues, strict=True):
        np.testing.assert_allclose(hessian @ direction, value * direction, atol=1e-12)


def test_hessian_directions_refuse_a_non_finite_hessian(compile_loss: Compile) -> None:
    with pytest.raises(ArithmeticError):
        hessian_directions(compile_loss("log(x) + y*z"), np.array([0.0, 1.0, 1.0]))


def test_gradient_field_is_the_gradient_of_the_slice(compile_loss: Compile) -> None:
    loss = compile_loss("x**2*y + exp(z) - y*z")
    center = np.array([0.1, 0.2, -0.3])
    directions = random_directions(3, seed=2)
    plane = Plane(center, directions)
    x, y = axis(-1.0, 1.0, 4), axis(-0.5, 0.5, 3)
    field = gradient_field(loss, plane, x, y)
    assert field.gx.shape == field.gy.shape == (3, 4)
    step = 1e-6
    for i in range(3):
        for j in range(4):
            point = center + x[j] * directions[0] + y[i] * directions[1]
            for component, direction in ((field.gx, directions[0]), (field.gy, directions[1])):
                difference = float(
                    loss.value(point + step * direction) - loss.value(point - step * direction)
                )
                assert component[i, j] == pytest.approx(difference / (2 * step), rel=1e-6)


def test_plain_plane_gradient_field_is_the_partial_derivatives(compile_loss: Compile) -> None:
    loss = compile_loss("x**3 + 5*y")
    field = gradient_field(loss, coordinate_plane(2), axis(-1.0, 1.0, 3), axis(0.0, 1.0, 2))
    np.testing.assert_allclose(field.gx, [[3.0, 0.0, 3.0]] * 2)
    np.testing.assert_allclose(field.gy, [[5.0, 5.0, 5.0]] * 2)


def test_coordinate_plane_needs_two_variables() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        coordinate_plane(1)


def test_a_400_by_400_rosenbrock_grid_is_fast() -> None:
    loss = make_builtin("rosenbrock", 2, {})
    x, y = axis(-2.0, 2.0, 400), axis(-1.0, 3.0, 400)
    evaluate_grid(loss, coordinate_plane(2), x, y)
    started = time.perf_counter()
    grid = evaluate_grid(loss, coordinate_plane(2), x, y)
    elapsed = time.perf_counter() - started
    assert grid.z.shape == (400, 400)
    assert grid.z[0, 0] == pytest.approx((1 + 2) ** 2 + 100 * (-1 - 4) ** 2)
    assert elapsed < 0.25
