"""Every critical point in a box by multi-start Newton."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from core.builtins import make_builtin
from core.critical_points import Search, find_critical_points, grid_starts, random_starts
from core.expression import ExpressionLoss
from core.losses import Loss

Compile = Callable[..., ExpressionLoss]

# Himmelblau's critical points, to the six decimals the literature gives.
HIMMELBLAU = {
    "local_minimum": [
        (3.0, 2.0),
        (-2.805118, 3.131312),
        (-3.779310, -3.283186),
        (3.584428, -1.848126),
    ],
    "local_maximum": [(-0.270845, -0.923039)],
    "saddle_point": [
        (0.086678, 2.884255),
        (3.385154, 0.073852),
        (-3.073026, -0.081353),
        (-0.127961, -1.953715),
    ],
}


def search(
    loss: Loss, low: Sequence[float], high: Sequence[float], cells: int = 20, **options: Any
) -> Search:
    lower, upper = np.array(low, dtype=float), np.array(high, dtype=float)
    starts = grid_starts(lower, upper, [cells] * len(lower))
    return find_critical_points(loss, lower, upper, starts, **options)


def by_class(found: Search) -> dict[str, list[tuple[float, ...]]]:
    classes: dict[str, list[tuple[float, ...]]] = {}
    for point in found.points:
        classes.setdefault(point.analysis.classification.value, []).append(
            tuple(point.analysis.point.tolist())
        )
    return classes


def assert_same_points(
    found: Sequence[tuple[float, ...]], expected: Sequence[tuple[float, ...]], atol: float
) -> None:
    assert len(found) == len(expected)
    for point in expected:
        distances = [max(abs(a - b) for a, b in zip(p, point, strict=True)) for p in found]
        assert min(distances) < atol, (point, found)


def test_himmelblau_has_four_minima_one_maximum_and_four_saddles() -> None:
    found = search(make_builtin("himmelblau", None, {}), [-5, -5], [5, 5])
    assert found.complete
    classes = by_class(found)
    assert sorted(classes) == sorted(HIMMELBLAU)
    for kind, expected in HIMMELBLAU.items():
        assert_same_points(classes[kind], expected, atol=2e-6)
    maximum = next(p for p in found.points if p.analysis.classification == "local_maximum")
    assert maximum.analysis.value == pytest.approx(181.616522, rel=1e-8)
    for point in found.points:
        assert point.analysis.gradient_norm < 1e-10
    assert sum(point.starts for point in found.points) == found.converged


def test_saddle_of_x2_minus_y2() -> None:
    loss = make_builtin("saddle", None, {})  # x² − y²
    found = search(loss, [-1, -1], [1, 1], cells=8)
    assert [p.analysis.classification.value for p in found.points] == ["saddle_point"]
    np.testing.assert_allclose(found.points[0].analysis.point, [0.0, 0.0], atol=1e-12)
    assert found.points[0].starts == 64


def test_expression_saddle(compile_loss: Compile) -> None:
    found = search(compile_loss("x**2 - y**2"), [-3, -2], [1, 5], cells=5)
    assert len(found.points) == 1
    assert found.points[0].analysis.classification == "saddle_point"


def test_sin_sin_lattice(compile_loss: Compile) -> None:
    found = search(compile_loss("sin(x)*sin(y)"), [-4, -4], [4, 4], cells=24)
    classes = by_class(found)
    half = math.pi / 2
    lattice = [(a, b) for a in (-math.pi, 0.0, math.pi) for b in (-math.pi, 0.0, math.pi)]
    assert sorted(classes) == ["local_maximum", "local_minimum", "saddle_point"]
    assert_same_points(classes["saddle_point"], lattice, atol=1e-9)
    assert_same_points(classes["local_maximum"], [(half, half), (-half, -half)], atol=1e-9)
    assert_same_points(classes["local_minimum"], [(half, -half), (-half, half)], atol=1e-9)


@pytest.mark.parametrize("expression", ["x**4 + y**4", "x**3 - 3*x*y**2", "-(x**4) - y**6"])
def test_a_vanishing_hessian_is_one_degenerate_point(
    compile_loss: Compile, expression: str
) -> None:
    found = search(compile_loss(expression), [-1, -1], [1, 1.5], cells=10)
    assert len(found.points) == 1
    point = found.points[0]
    assert point.analysis.classification == "degenerate"
    np.testing.assert_allclose(point.analysis.point, [0.0, 0.0], atol=1e-6)


@pytest.mark.parametrize("half_width", [0.01, 1.0, 100.0])
@pytest.mark.parametrize("expression", ["x**4 + y**4", "x**3 - 3*x*y**2"])
def test_degenerate_points_whatever_the_box(
    compile_loss: Compile, expression: str, half_width: float
) -> None:
    low, high = [-half_width, -0.7 * half_width], [0.8 * half_width, half_width]
    found = search(compile_loss(expression), low, high, cells=9)
    assert [p.analysis.classification.value for p in found.points] == ["degenerate"]


def test_partly_degenerate_point(compile_loss: Compile) -> None:
    found = search(compile_loss("x**2 + y**4"), [-1, -1], [1, 1], cells=6)
    assert [p.analysis.classification.value for p in found.points] == ["degenerate"]
    assert found.points[0].analysis.curvature == "positive_semidefinite"


def test_three_variables(compile_loss: Compile) -> None:
    found = search(compile_loss("x**2 + y**2 + z**2 - x*y*z"), [-3] * 3, [3] * 3, cells=8)
    classes = by_class(found)
    assert_same_points(classes["local_minimum"], [(0.0, 0.0, 0.0)], atol=1e-9)
    expected = [(2.0, 2.0, 2.0), (2.0, -2.0, -2.0), (-2.0, 2.0, -2.0), (-2.0, -2.0, 2.0)]
    assert_same_points(classes["saddle_point"], expected, atol=1e-9)


@pytest.mark.parametrize("expression", ["x + y", "1e-9*(x + 2*y)", "exp(x) + y"])
def test_no_critical_points(compile_loss: Compile, expression: str) -> None:
    found = search(compile_loss(expression), [-1, -1], [1, 1], cells=6)
    assert found.points == []
    assert found.converged == 0


def test_only_points_inside_the_closed_box(compile_loss: Compile) -> None:
    loss = compile_loss("x**2 - y**2")
    assert search(loss, [0.5, 0.5], [2, 2], cells=4).points == []
    corner = search(loss, [0, 0], [1, 1], cells=4).points
    assert len(corner) == 1


def test_points_outside_the_box_are_dropped(compile_loss: Compile) -> None:
    # sin has critical points at ±π/2, ±3π/2, ...; only ±π/2 lie in [-3, 3].
    found = search(compile_loss("sin(x) + y**2"), [-3, -1], [3, 1], cells=12)
    points = sorted(p.analysis.point[0] for p in found.points)
    np.testing.assert_allclose(points, [-math.pi / 2, math.pi / 2], atol=1e-12)


def test_order_is_deterministic() -> None:
    loss = make_builtin("himmelblau", None, {})
    lower, upper = np.array([-5.0, -5.0]), np.array([5.0, 5.0])
    grid = search(loss, [-5, -5], [5, 5], cells=16)
    starts = random_starts(lower, upper, 300, seed=4)
    shuffled = find_critical_points(loss, lower, upper, starts)
    kinds = [p.analysis.classification.value for p in grid.points]
    assert kinds == ["local_minimum"] * 4 + ["local_maximum"] + ["saddle_point"] * 4
    saddles = [p.analysis.value for p in grid.points if p.analysis.classification == "saddle_point"]
    assert saddles == sorted(saddles)
    assert len(shuffled.points) == len(grid.points)
    for a, b in zip(grid.points, shuffled.points, strict=True):
        assert a.analysis.classification == b.analysis.classification
        np.testing.assert_allclose(a.analysis.point, b.analysis.point, atol=1e-9)


def test_random_starts_are_reproducible_and_inside() -> None:
    lower, upper = np.array([-1.0, 2.0, 0.0]), np.array([1.0, 3.0, 10.0])
    first = random_starts(lower, upper, 50, seed=9)
    np.testing.assert_array_equal(first, random_starts(lower, upper, 50, seed=9))
    assert ((first >= lower) & (first <= upper)).all()


def test_grid_starts_are_cell_centres() -> None:
    starts = grid_starts(np.array([0.0, -1.0]), np.array([1.0, 1.0]), [2, 4])
    assert starts.shape == (8, 2)
    assert sorted(set(starts[:, 0].tolist())) == [0.25, 0.75]
    assert sorted(set(starts[:, 1].tolist())) == [-0.75, -0.25, 0.25, 0.75]


def test_the_deadline_stops_the_iterations() -> None:
    loss = make_builtin("himmelblau", None, {})
    found = search(loss, [-5, -5], [5, 5], deadline=1.0, clock=lambda: 2.0)
    assert not found.complete
    assert found.iterations == 0


def test_non_finite_regions_are_skipped(compile_loss: Compile) -> None:
    found = search(compile_loss("x*log(x) + y**2"), [-1, -1], [1, 1], cells=10)
    assert len(found.points) == 1
    np.testing.assert_allclose(found.points[0].analysis.point, [math.exp(-1), 0.0], atol=1e-12)
    assert found.points[0].analysis.classification == "local_minimum"


def test_bad_input_is_refused() -> None:
    loss = make_builtin("himmelblau", None, {})
    with pytest.raises(ValueError, match="below"):
        find_critical_points(loss, np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="shape"):
        find_critical_points(loss, np.zeros(2), np.ones(2), np.zeros((1, 3)))
