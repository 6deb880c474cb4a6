"""The catalogue of test functions: exact derivatives, vectorisation, formulas, minima, refusals."""

from __future__ import annotations

import functools
import json
import math
import pickle
from collections.abc import Callable

import numpy as np
import pytest
from numpy.typing import NDArray

from core.analysis import Classification, analyze
from core.builtins import CATALOGUE, BuiltinLoss, describe_catalogue, make_builtin
from core.expression import ExpressionLimits, ExpressionLoss, compile_expression

Array = NDArray[np.float64]

# (name, dim, params): every entry at its defaults, the n-dimensional ones at 2, 3 and 5,
# and a few non-default parameter sets.
CASES: list[tuple[str, int | None, dict[str, float]]] = []
for _name, _function in CATALOGUE.items():
    for _dim in [None] if _function.dims.fixed else [2, 3, 5]:
        CASES.append((_name, _dim, {}))
CASES += [
    ("rosenbrock", 2, {"a": 2.0, "b": 50.0}),
    ("rosenbrock", 3, {"a": 2.0, "b": 50.0}),
    ("rosenbrock", 5, {"a": 2.0, "b": 50.0}),
    ("rosenbrock", 4, {"a": -0.5, "b": 10.0}),
    ("sphere", 1, {}),
    ("rastrigin", 3, {"A": 3.0}),
    ("ackley", 3, {"a": 10.0, "b": 0.5, "c": 3.0}),
    ("ackley", 1, {}),
    ("styblinski_tang", 1, {}),
    ("elongated_quadratic", None, {"kappa": 10.0}),
    ("rotated_quadratic", None, {"kappa": 20.0, "angle": -30.0}),
]


def _id(case: tuple[str, int | None, dict[str, float]]) -> str:
    name, dim, params = case
    extra = ",".join(f"{k}={v:g}" for k, v in params.items())
    return f"{name}-{dim or 'default'}{'-' + extra if extra else ''}"


IDS = [_id(case) for case in CASES]


@functools.cache
def _compiled(text: str, variables: tuple[str, ...]) -> ExpressionLoss:
    return compile_expression(text, variables, ExpressionLimits())


def _points(loss: BuiltinLoss, k: int, seed: int) -> Array:
    """k points drawn uniformly from the loss's plotting domain."""
    box = np.array(loss.domain())
    rng = np.random.default_rng(seed)
    return rng.uniform(box[:, 0], box[:, 1], size=(k, loss.dim))


def _steps(loss: BuiltinLoss) -> Array:
    box = np.array(loss.domain())
    steps: Array = 1e-4 * (box[:, 1] - box[:, 0])
    return steps


def _central(function: Callable[[Array], Array], points: Array, steps: Array) -> Array:
    """Fourth-order central differences of ``function`` along each coordinate.

    Returns shape ``(k, *out, n)``: the derivative of each output entry along each coordinate.
    """
    columns = []
    for i, h in enumerate(steps):
        e = np.zeros(points.shape[-1])
        e[i] = h
        columns.append(
            (
                -function(points + 2 * e)
                + 8 * function(points + e)
                - 8 * function(points - e)
                + function(points - 2 * e)
            )
            / (12 * h)
        )
    return np.stack(columns, axis=-1)


def _assert_close(actual: Array, expected: Array, rtol: float) -> None:
    """Normwise relative comparison, per point: max|a − e| ≤ rtol · max(1, max|e|)."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape
    for a, e in zip(
        actual.reshape(len(actual), -1), expected.reshape(len(actual), -1), strict=True
    ):
        scale = max(1.0, float(np.max(np.abs(e))))
        assert float(np.max(np.abs(a - e))) <= rtol * scale, (a, e)


@pytest.fixture(params=CASES, ids=IDS)
def loss(request: pytest.FixtureRequest) -> BuiltinLoss:
    name, dim, params = request.param
    return make_builtin(name, dim, params)


def test_gradient_matches_finite_differences_of_the_value(loss: BuiltinLoss) -> None:
    points = _points(loss, 6, seed=1)
    _, grad = loss.value_and_grad(points)
    numeric = _central(loss.value, points, _steps(loss))
    _assert_close(grad, numeric, rtol=1e-6)


def test_hessian_matches_finite_differences_of_the_gradient(loss: BuiltinLoss) -> None:
    points = _points(loss, 6, seed=2)
    hessian = loss.hessian(points)
    numeric = _central(lambda t: loss.value_and_grad(t)[1], points, _steps(loss))
    _assert_close(hessian, numeric, rtol=1e-6)
    np.testing.assert_array_equal(hessian, np.swapaxes(hessian, -1, -2))


def test_value_and_grad_agree_with_value(loss: BuiltinLoss) -> None:
    points = _points(loss, 5, seed=3)
    value, _ = loss.value_and_grad(points)
    np.testing.assert_allclose(value, loss.value(points), rtol=1e-14, atol=1e-14)


def test_batches_equal_single_points(loss: BuiltinLoss) -> None:
    n = loss.dim
    points = _points(loss, 6, seed=4)
    singles = [(loss.value(p), *loss.value_and_grad(p), loss.hessian(p)) for p in points]
    for value, value2, grad, hessian in singles:
        assert value.shape == ()
        assert value2.shape == ()
        assert grad.shape == (n,)
        assert hessian.shape == (n, n)
    expected_value = np.array([s[0] for s in singles])
    expected_grad = np.array([s[2] for s in singles])
    expected_hessian = np.array([s[3] for s in singles])

    for shape in [(6,), (2, 3)]:
        batch = points.reshape(*shape, n)
        value = loss.value(batch)
        value2, grad = loss.value_and_grad(batch)
        hessian = loss.hessian(batch)
        assert value.shape == shape
        assert value2.shape == shape
        assert grad.shape == (*shape, n)
        assert hessian.shape == (*shape, n, n)
        np.testing.assert_allclose(value.reshape(6), expected_value, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(value2.reshape(6), expected_value, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(grad.reshape(6, n), expected_grad, rtol=1e-13, atol=1e-12)
        np.testing.assert_allclose(
            hessian.reshape(6, n, n), expected_hessian, rtol=1e-13, atol=1e-12
        )


def test_expression_gives_the_same_function(loss: BuiltinLoss) -> None:
    compiled = _compiled(loss.expression, loss.names)
    assert compiled.names == loss.names
    points = _points(loss, 6, seed=5)
    value, grad = loss.value_and_grad(points)
    expected_value, expected_grad = compiled.value_and_grad(points)
    _assert_close(value[:, None], expected_value[:, None], rtol=1e-10)
    _assert_close(grad, expected_grad, rtol=1e-10)
    _assert_close(loss.hessian(points), compiled.hessian(points), rtol=1e-10)


def test_minima_are_minima(loss: BuiltinLoss) -> None:
    minima = loss.minima()
    if loss.name in ("saddle", "monkey_saddle"):
        assert minima == []
        return
    assert minima
    compiled = _compiled(loss.expression, loss.names)
    box = loss.domain()
    for minimum in minima:
        point = np.array(minimum.point)
        assert point.shape == (loss.dim,)
        assert all(low < c < high for c, (low, high) in zip(point, box, strict=True))
        value, grad = loss.value_and_grad(point)
        assert float(value) == pytest.approx(minimum.value, rel=1e-12, abs=1e-12)
        assert float(compiled.value(point)) == pytest.approx(minimum.value, rel=1e-10, abs=1e-10)
        if loss.name == "ackley":
            continue  # a cone point; see test_ackley_minimum_is_a_cone_point
        assert float(np.linalg.norm(grad)) < 1e-6
        assert float(np.linalg.norm(compiled.value_and_grad(point)[1])) < 1e-6
        assert analyze(loss, point).classification is Classification.LOCAL_MINIMUM
        # Nothing in the plotting box is lower than a global minimum.
        samples = _points(loss, 20000, seed=6)
        assert float(loss.value(samples).min()) >= minimum.value


def test_himmelblau_has_its_four_minima() -> None:
    loss = make_builtin("himmelblau", None, {})
    minima = loss.minima()
    assert len(minima) == 4
    literature = [(3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)]
    for minimum, expected in zip(minima, literature, strict=True):
        np.testing.assert_allclose(minimum.point, expected, atol=1e-6)
        assert minimum.value == 0.0
        # Polished to full precision, not just six decimals.
        assert float(np.linalg.norm(loss.value_and_grad(np.array(minimum.point))[1])) < 1e-12
    assert len({m.point for m in minima}) == 4


def test_six_hump_camel_has_two_mirrored_minima() -> None:
    minima = make_builtin("six_hump_camel", None, {}).minima()
    assert len(minima) == 2
    np.testing.assert_allclose(minima[0].point, (0.0898, -0.7126), atol=1e-4)
    assert minima[1].point == tuple(-c for c in minima[0].point)
    assert minima[0].value == minima[1].value
    assert minima[0].value == pytest.approx(-1.031628453489877, abs=1e-14)


@pytest.mark.parametrize("dim", [1, 2, 5])
def test_styblinski_tang_minimum(dim: int) -> None:
    (minimum,) = make_builtin("styblinski_tang", dim, {}).minima()
    np.testing.assert_allclose(minimum.point, [-2.903534027771178] * dim, rtol=1e-14)
    assert minimum.value == pytest.approx(-39.16616570377142 * dim, rel=1e-14)


def test_closed_form_minima() -> None:
    assert make_builtin("rosenbrock", 2, {"a": 2.0, "b": 50.0}).minima()[0].point == (2.0, 4.0)
    assert make_builtin("rosenbrock", 6, {}).minima()[0].point == (1.0,) * 6
    assert make_builtin("goldstein_price", None, {}).minima()[0].value == 3.0
    assert make_builtin("beale", None, {}).minima()[0].point == (3.0, 0.5)
    assert make_builtin("booth", None, {}).value(np.array([1.0, 3.0])) == 0.0


def test_rosenbrock_numerical_minimum_beats_every_local_search() -> None:
    # No closed form for n ≥ 3 with a ∉ {0, 1}: compare with damped Newton from many starts.
    loss = make_builtin("rosenbrock", 3, {"a": 2.0, "b": 50.0})
    (minimum,) = loss.minima()
    starts = _points(loss, 400, seed=7)
    theta = starts.copy()
    for _ in range(200):  # vectorised damped Newton over all starts at once
        _, grad = loss.value_and_grad(theta)
        hessian = loss.hessian(theta) + 1e-3 * np.eye(3)
        step = np.linalg.solve(hessian, grad[..., None])[..., 0]
        candidate = theta - step
        better = loss.value(candidate) < loss.value(theta)
        theta = np.where(better[:, None], candidate, theta - 1e-4 * grad)
    assert float(loss.value(theta).min()) >= minimum.value - 1e-12
    assert minimum.value == pytest.approx(0.305834897115105, rel=1e-12)


def test_saddles_are_classified() -> None:
    origin = np.zeros(2)
    saddle = analyze(make_builtin("saddle", None, {}), origin)
    assert saddle.classification is Classification.SADDLE_POINT
    np.testing.assert_allclose(saddle.eigenvalues, [-2.0, 2.0])
    monkey = analyze(make_builtin("monkey_saddle", None, {}), origin)
    assert monkey.classification is Classification.DEGENERATE
    np.testing.assert_array_equal(monkey.hessian, np.zeros((2, 2)))


@pytest.mark.parametrize("dim", [1, 2, 5])
def test_ackley_minimum_is_a_cone_point(dim: int) -> None:
    loss = make_builtin("ackley", dim, {})
    origin = np.zeros(dim)
    value, grad = loss.value_and_grad(origin)
    assert float(value) == 0.0
    np.testing.assert_array_equal(grad, np.zeros(dim))
    assert np.isnan(loss.hessian(origin)).all()
    assert np.isnan(loss.hessian(np.zeros((3, dim)))).all()
    with pytest.raises(ArithmeticError):
        analyze(loss, origin)
    # Near the tip the slope is a·b/√n along every ray, whatever the distance.
    direction = np.ones(dim) / math.sqrt(dim)
    for r in (1e-6, 1e-9):
        _, g = loss.value_and_grad(r * direction)
        assert float(np.linalg.norm(g)) == pytest.approx(20 * 0.2 / math.sqrt(dim), rel=1e-4)
    # The Hessian is finite and positive definite just next to it.
    assert np.linalg.eigvalsh(loss.hessian(1e-3 * direction)).min() > 0


def test_rosenbrock_hessian_is_tridiagonal() -> None:
    hessian = make_builtin("rosenbrock", 6, {}).hessian(
        _points(make_builtin("sphere", 6, {}), 3, 8)
    )
    rows, cols = np.indices((6, 6))
    assert (hessian[:, np.abs(rows - cols) > 1] == 0).all()
    assert (hessian[:, np.abs(rows - cols) == 1] != 0).all()


def test_expression_uses_the_naming_convention() -> None:
    rosenbrock = CATALOGUE["rosenbrock"]
    assert rosenbrock.variables() == ("x", "y")
    assert rosenbrock.expression() == "100*(y - x**2)**2 + (1 - x)**2"
    assert rosenbrock.variables(3) == ("x1", "x2", "x3")
    assert rosenbrock.expression(3, {"a": 2.0, "b": 50.0}) == (
        "50*(x2 - x1**2)**2 + (2 - x1)**2 + 50*(x3 - x2**2)**2 + (2 - x2)**2"
    )
    assert CATALOGUE["sphere"].expression(1) == "x1**2"
    assert CATALOGUE["elongated_quadratic"].expression(params={"kappa": 2.5}) == (
        "0.5*(x**2 + 2.5*y**2)"
    )


def test_losses_pickle() -> None:
    loss = make_builtin("rosenbrock", 3, {"a": 2.0})
    copy = pickle.loads(pickle.dumps(loss))
    assert copy.name == "rosenbrock"
    assert copy.dim == 3
    assert dict(copy.params) == {"a": 2.0, "b": 100.0}
    point = np.array([0.3, -0.2, 1.1])
    assert copy.value(point) == loss.value(point)


def test_theta_of_the_wrong_shape_is_refused() -> None:
    loss = make_builtin("beale", None, {})
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        loss.value(np.zeros(3))
    with pytest.raises(ValueError, match="shape"):
        loss.hessian(np.array(1.0))


# -- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "dim", "params", "message"),
    [
        ("rosenbrok", None, {}, "unknown builtin function 'rosenbrok'"),
        ("", None, {}, "unknown builtin function"),
        ("rosenbrock", 1, {}, r"dim of rosenbrock must be ≥ 2; got dim=1"),
        ("sphere", 0, {}, r"dim of sphere must be ≥ 1; got dim=0"),
        ("beale", 3, {}, "beale is 2-dimensional; got dim=3"),
        ("saddle", 1, {}, "saddle is 2-dimensional; got dim=1"),
        ("rastrigin", True, {}, "dim of rastrigin must be an integer"),
        ("rosenbrock", 2.0, {}, "dim of rosenbrock must be an integer"),
        ("rosenbrock", None, {"c": 1.0}, "unknown parameter 'c' for rosenbrock; its parameters"),
        ("beale", None, {"a": 1.0}, "unknown parameter 'a' for beale; it takes no parameters"),
        ("rastrigin", None, {"a": 1.0}, "unknown parameter 'a' for rastrigin"),
        ("rosenbrock", None, {"a": math.nan}, "parameter 'a' of rosenbrock must be finite"),
        ("ackley", None, {"b": math.inf}, "parameter 'b' of ackley must be finite"),
        ("rosenbrock", None, {"b": 0.0}, "parameter 'b' of rosenbrock must be > 0; got 0"),
        ("rastrigin", None, {"A": -1.0}, "parameter 'A' of rastrigin must be ≥ 0; got -1"),
        ("elongated_quadratic", None, {"kappa": -2.0}, "'kappa' .* must be > 0"),
        ("rotated_quadratic", None, {"angle": 1e301}, "'angle' .* too large"),
        ("rosenbrock", None, {"a": "1"}, "parameter 'a' of rosenbrock must be a number"),
        ("rosenbrock", None, {"a": True}, "parameter 'a' of rosenbrock must be a number"),
    ],
)
def test_refusals(name: str, dim: object, params: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_builtin(name, dim, params)  # type: ignore[arg-type]


def test_accepted_parameter_types() -> None:
    params: dict[str, object] = {"a": np.float32(2.0), "b": 7}
    loss = make_builtin("rosenbrock", np.int64(3), params)  # type: ignore[arg-type]
    assert loss.dim == 3
    assert dict(loss.params) == {"a": 2.0, "b": 7.0}
    assert all(type(v) is float for v in loss.params.values())


# -- the catalogue ----------------------------------------------------------------------------


def test_catalogue_has_every_function_in_order() -> None:
    assert list(CATALOGUE) == [
        "sphere",
        "rosenbrock",
        "beale",
        "himmelblau",
        "booth",
        "matyas",
        "three_hump_camel",
        "six_hump_camel",
        "goldstein_price",
        "rastrigin",
        "ackley",
        "styblinski_tang",
        "saddle",
        "monkey_saddle",
        "elongated_quadratic",
        "rotated_quadratic",
    ]


def test_description_is_plain_json() -> None:
    described = describe_catalogue()
    # allow_nan=False fails on NaN or infinity; json fails on anything not plain.
    text = json.dumps(described, allow_nan=False)
    assert json.loads(text) == described
    assert [d["name"] for d in described] == list(CATALOGUE)
    by_name = {d["name"]: d for d in described}

    rosenbrock = by_name["rosenbrock"]
    assert rosenbrock["expression"] == "100*(y - x**2)**2 + (1 - x)**2"
    assert rosenbrock["variables"] == ["x", "y"]
    assert rosenbrock["dims"] == {"min": 2, "max": None, "default": 2}
    assert rosenbrock["params"]["a"]["default"] == 1.0
    assert rosenbrock["params"]["b"]["default"] == 100.0
    assert rosenbrock["params"]["b"]["constraint"] == "> 0"
    assert rosenbrock["minima"] == [{"point": [1.0, 1.0], "value": 0.0}]
    assert rosenbrock["domain"] == [[-2.0, 2.0], [-1.0, 3.0]]
    assert by_name["beale"]["dims"] == {"min": 2, "max": 2, "default": 2}
    assert by_name["beale"]["params"] == {}
    assert len(by_name["himmelblau"]["minima"]) == 4
    assert by_name["saddle"]["minima"] == []
    assert by_name["saddle"]["minima_note"]
    assert by_name["monkey_saddle"]["minima_note"]
    assert by_name["ackley"]["params"]["c"]["default"] == 2 * math.pi
    assert "2*pi" in by_name["ackley"]["expression"]
    for entry in described:
        assert entry["title"]
        assert entry["formula"].startswith("f(")
        assert len(entry["domain"]) == entry["dims"]["default"]
        assert all(low < high for low, high in entry["domain"])
        assert entry["expression"] == CATALOGUE[entry["name"]].expression()


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_a_batch_row_equals_the_single_point_bit_for_bit(name: str) -> None:
    function = CATALOGUE[name]
    dim = function.dims.default if function.dims.fixed else 3
    loss = make_builtin(name, dim, {})
    low, high = np.array(loss.domain()).T
    points = np.random.default_rng(7).uniform(low, high, size=(25, dim))
    values, grads = loss.value_and_grad(points)
    for row, point in enumerate(points):
        value, grad = loss.value_and_grad(point)
        assert value == values[row]
        np.testing.assert_array_equal(grad, grads[row])
