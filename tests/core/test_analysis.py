"""Critical-point classification and the quantities derived from the Hessian."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from core.analysis import (
    Classification,
    Curvature,
    analyze,
    classify_critical_point,
    curvature_of,
    optimal_momentum,
)
from core.expression import ExpressionLoss
from core.quadratic import QuadraticLoss

Compile = Callable[..., ExpressionLoss]


@pytest.mark.parametrize(
    ("expression", "point", "classification", "curvature"),
    [
        ("x**2 + 3*y**2", [0, 0], "local_minimum", "positive_definite"),
        ("-(x**2) - y**2 + 5", [0, 0], "local_maximum", "negative_definite"),
        ("x**2 - y**2", [0, 0], "saddle_point", "indefinite"),
        ("x**4 + y**4", [0, 0], "degenerate", "positive_semidefinite"),
        ("x**3 - 3*x*y**2", [0, 0], "degenerate", "positive_semidefinite"),
        ("x**2 + y**4", [0, 0], "degenerate", "positive_semidefinite"),
        ("-(x**2) - y**4", [0, 0], "degenerate", "negative_semidefinite"),
        ("x**2 + 3*y**2", [1, 0], "not_critical", "positive_definite"),
        ("(1 - x)**2 + 100*(y - x**2)**2", [1, 1], "local_minimum", "positive_definite"),
        ("sin(x) + cos(y)", [math.pi / 2, 0], "local_maximum", "negative_definite"),
        ("sin(x) + cos(y)", [math.pi / 2, math.pi], "saddle_point", "indefinite"),
        ("x*y*z", [0, 0, 0], "degenerate", "positive_semidefinite"),
    ],
)
def test_classification(
    compile_loss: Compile,
    expression: str,
    point: list[float],
    classification: str,
    curvature: str,
) -> None:
    result = analyze(compile_loss(expression), np.array(point, dtype=float))
    assert result.classification == classification
    assert result.curvature == curvature


def test_saddle_reports_the_escape_direction_and_spectrum(compile_loss: Compile) -> None:
    result = analyze(compile_loss("x**2 - 2*y**2 + x*y"), np.zeros(2))
    np.testing.assert_allclose(result.hessian, [[2, 1], [1, -4]])
    expected = np.linalg.eigvalsh(np.array([[2.0, 1.0], [1.0, -4.0]]))
    np.testing.assert_allclose(result.eigenvalues, expected)
    direction = result.escape_direction
    assert direction is not None
    assert np.linalg.norm(direction) == pytest.approx(1.0)
    np.testing.assert_allclose(
        np.array([[2.0, 1.0], [1.0, -4.0]]) @ direction, expected[0] * direction, atol=1e-12
    )
    assert result.condition_number == pytest.approx(abs(expected[0]) / abs(expected[1]))


def test_minimum_reports_stability_bound_and_optimal_momentum(compile_loss: Compile) -> None:
    result = analyze(compile_loss("0.5*x**2 + 50*y**2"), np.zeros(2))
    assert result.stability_bound == pytest.approx(2 / 100)
    assert result.condition_number == pytest.approx(100)
    assert result.optimal_momentum is not None
    assert result.optimal_momentum.lr == pytest.approx((2 / (1 + 10)) ** 2)
    assert result.optimal_momentum.momentum == pytest.approx((9 / 11) ** 2)
    assert result.escape_direction is None


def test_tolerances_scale_with_the_problem(compile_loss: Compile) -> None:
    # Scaling f by 10⁶ moves the gradient by the same factor as ‖H‖: same verdict.
    near = np.array([1e-7, 0.0])
    small = analyze(compile_loss("x**2 + y**2"), near)
    large = analyze(compile_loss("1000000*(x**2 + y**2)"), near)
    assert small.classification == large.classification == "local_minimum"
    assert large.gradient_tol == pytest.approx(2e6 * 1e-6)
    assert analyze(compile_loss("x**2 + y**2"), np.array([1e-3, 0])).classification == (
        "not_critical"
    )


def test_curvature_and_classification_tables() -> None:
    assert curvature_of(np.array([-1.0, 0.0, 2.0]), 1e-9) is Curvature.INDEFINITE
    assert curvature_of(np.array([-1.0, 1e-12]), 1e-9) is Curvature.NEGATIVE_SEMIDEFINITE
    assert classify_critical_point(True, Curvature.POSITIVE_SEMIDEFINITE) is (
        Classification.DEGENERATE
    )
    assert classify_critical_point(False, Curvature.INDEFINITE) is Classification.NOT_CRITICAL
    settings = optimal_momentum(1.0, 1.0)
    assert settings.lr == 1.0
    assert settings.momentum == 0.0


def test_non_finite_derivatives_are_refused(compile_loss: Compile) -> None:
    with pytest.raises(ArithmeticError):
        analyze(compile_loss("sqrt(x)"), np.array([0.0]))


def test_a_spectrum_beyond_the_float_range_is_refused() -> None:
    huge = QuadraticLoss([[1e308, 1e308], [1e308, 1e308]])  # eigenvalues 0 and 2e308
    with pytest.raises(ArithmeticError):
        analyze(huge, np.zeros(2))


def test_a_condition_number_beyond_the_float_range_is_none() -> None:
    stiff = QuadraticLoss([[1e150, 0.0], [0.0, 1e-160]])  # a ratio of 1e310
    analysis = analyze(stiff, np.zeros(2), eigenvalue_rtol=0.0)
    np.testing.assert_array_equal(analysis.eigenvalues, [1e-160, 1e150])
    assert analysis.curvature is Curvature.POSITIVE_DEFINITE
    assert analysis.condition_number is None
    assert analyze(stiff, np.zeros(2)).curvature is Curvature.POSITIVE_SEMIDEFINITE
