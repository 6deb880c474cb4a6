"""Expression losses: parsing, refusals, exact derivatives and vectorised evaluation."""

from __future__ import annotations

import math
import pickle
import time
import warnings
import zlib
from collections.abc import Callable

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from core.expression import (
    ExpressionError,
    ExpressionLimits,
    ExpressionLoss,
    check_expression,
    compile_expression,
    derive,
    parse_expression,
)
from core.losses import Loss

Array = NDArray[np.float64]
LIMITS = ExpressionLimits()

# (formula, variables or None, reference f(*coordinates), low, high): the reference is plain
# NumPy, and [low, high] is a box inside the formula's domain, away from any kink.
CASES: list[tuple[str, list[str] | None, Callable[..., Array], float, float]] = [
    ("x**2 + 3*y**2", None, lambda x, y: x**2 + 3 * y**2, -2.0, 2.0),
    (
        "(1 - x)^2 + 100*(y - x^2)^2",
        None,
        lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2,
        -1.5,
        1.5,
    ),
    (
        "sin(x)*cos(y) + tan(x*y/4)",
        None,
        lambda x, y: np.sin(x) * np.cos(y) + np.tan(x * y / 4),
        -1.0,
        1.0,
    ),
    (
        "arcsin(x/2) + arccos(y/3) + arctan(x*y)",
        None,
        lambda x, y: np.arcsin(x / 2) + np.arccos(y / 3) + np.arctan(x * y),
        -1.0,
        1.0,
    ),
    (
        "sinh(x) - cosh(y) + tanh(x*y)",
        None,
        lambda x, y: np.sinh(x) - np.cosh(y) + np.tanh(x * y),
        -1.0,
        1.0,
    ),
    (
        "exp(-x^2 - y^2) + log(1 + x^2 + y^2)",
        None,
        lambda x, y: np.exp(-(x**2) - y**2) + np.log(1 + x**2 + y**2),
        -1.5,
        1.5,
    ),
    (
        "log10(x) + log2(y) + sqrt(x*y)",
        None,
        lambda x, y: np.log10(x) + np.log2(y) + np.sqrt(x * y),
        0.5,
        2.0,
    ),
    (
        "abs(x - 0.3)*y^2 + abs(log(y))",
        None,
        lambda x, y: np.abs(x - 0.3) * y**2 + np.abs(np.log(y)),
        0.5,
        0.9,
    ),
    (
        "-x^3 + -y + pi*x*y - e^(x/2) + +x",
        None,
        lambda x, y: -(x**3) - y + np.pi * x * y - np.exp(x / 2) + x,
        -1.0,
        1.0,
    ),
    ("x**y + y**-2", None, lambda x, y: x**y + y**-2.0, 0.5, 2.0),
    (
        "x*y^2 + sin(x)",
        ["y", "z", "x"],
        lambda y, z, x: x * y**2 + np.sin(x) + 0 * z,
        -1.0,
        1.0,
    ),
    (
        "1/(1 + a^2 + b^2 + c^2) + a*b*c",
        ["c", "a", "b"],
        lambda c, a, b: 1 / (1 + a**2 + b**2 + c**2) + a * b * c,
        -1.0,
        1.0,
    ),
    ("x^(1/3)*y + 0.5*x/y", None, lambda x, y: np.cbrt(x) * y + 0.5 * x / y, 0.5, 2.0),
]


def _value(loss: ExpressionLoss, theta: Array) -> float:
    return float(loss.value(theta))


@pytest.mark.parametrize(("text", "variables", "reference", "low", "high"), CASES)
def test_value_gradient_and_hessian_match_reference_and_central_differences(
    text: str,
    variables: list[str] | None,
    reference: Callable[..., Array],
    low: float,
    high: float,
) -> None:
    loss = compile_expression(text, variables, LIMITS)
    n = len(loss.names)
    rng = np.random.default_rng(zlib.crc32(text.encode()))
    for theta in rng.uniform(low, high, size=(3, n)):
        value, grad = loss.value_and_grad(theta)
        hess = loss.hessian(theta)
        assert value.shape == ()
        assert grad.shape == (n,)
        assert hess.shape == (n, n)
        np.testing.assert_allclose(value, reference(*theta), rtol=1e-12, atol=1e-12)
        # value() and value_and_grad() share subexpressions differently: equal to rounding.
        np.testing.assert_allclose(loss.value(theta), value, rtol=1e-14, atol=1e-14)

        h = 1e-6
        numeric_grad = np.empty(n)
        numeric_hess = np.empty((n, n))
        for i in range(n):
            step = np.zeros(n)
            step[i] = h
            numeric_grad[i] = (_value(loss, theta + step) - _value(loss, theta - step)) / (2 * h)
            numeric_hess[:, i] = (
                loss.value_and_grad(theta + step)[1] - loss.value_and_grad(theta - step)[1]
            ) / (2 * h)
        scale = max(1.0, float(np.max(np.abs(grad))))
        np.testing.assert_allclose(grad, numeric_grad, rtol=1e-6, atol=1e-6 * scale)
        hscale = max(1.0, float(np.max(np.abs(hess))))
        np.testing.assert_allclose(hess, numeric_hess, rtol=1e-6, atol=1e-6 * hscale)
        np.testing.assert_array_equal(hess, hess.T)


def test_variables_fix_the_order_and_may_include_unused_ones() -> None:
    loss = compile_expression("x*y^2 + sin(x)", ["y", "z", "x"], LIMITS)
    assert loss.names == ("y", "z", "x")
    assert loss.variables == ("y", "z", "x")
    value, grad = loss.value_and_grad(np.array([2.0, 5.0, 0.5]))
    assert float(value) == pytest.approx(0.5 * 4 + math.sin(0.5), rel=1e-15)
    np.testing.assert_allclose(grad, [2 * 0.5 * 2, 0.0, 4 + math.cos(0.5)], rtol=1e-15)
    hess = loss.hessian(np.array([2.0, 5.0, 0.5]))
    np.testing.assert_allclose(
        hess, [[1.0, 0.0, 4.0], [0.0, 0.0, 0.0], [4.0, 0.0, -math.sin(0.5)]], rtol=1e-15
    )


def test_variables_default_to_alphabetical_order() -> None:
    loss = compile_expression("zeta + alpha*b2 + b10", None, LIMITS)
    assert loss.names == ("alpha", "b10", "b2", "zeta")
    assert check_expression("zeta + alpha*b2 + b10", None, LIMITS) == loss.names


def test_loss_satisfies_the_protocol_and_reports_its_formula() -> None:
    loss: Loss = compile_expression("x^2 - y^2 + 0.1*sin(x*y)", None, LIMITS)
    assert isinstance(loss, ExpressionLoss)
    assert loss.expression == "x^2 - y^2 + 0.1*sin(x*y)"
    assert loss.canonical == "x**2 - y**2 + 0.1*sin(x*y)"


@pytest.mark.parametrize(
    "text",
    ["e^x + abs(x - 1) + arcsin(x/2) + arccos(x/3) + arctan(x)", "log10(x)*pi + sqrt(x)/3"],
)
def test_canonical_form_reads_back_as_the_same_expression(text: str) -> None:
    parsed = parse_expression(text, None, LIMITS)
    loss = compile_expression(text, None, LIMITS)
    assert parse_expression(loss.canonical, None, LIMITS).expr == parsed.expr


@pytest.mark.parametrize("batch", [(5,), (2, 3), (1,), (0,)])
def test_batches_have_the_right_shapes_and_match_single_points(batch: tuple[int, ...]) -> None:
    # 3*y has a constant gradient entry and a constant Hessian; both must be broadcast.
    loss = compile_expression("x^2*sin(y) + 3*y + z", None, LIMITS)
    rng = np.random.default_rng(7)
    theta = rng.normal(size=(*batch, 3))
    value, grad = loss.value_and_grad(theta)
    hess = loss.hessian(theta)
    assert loss.value(theta).shape == batch
    assert value.shape == batch
    assert grad.shape == (*batch, 3)
    assert hess.shape == (*batch, 3, 3)
    assert value.dtype == grad.dtype == hess.dtype == np.float64
    for index in np.ndindex(*batch):
        point = theta[index]
        single_value, single_grad = loss.value_and_grad(point)
        assert value[index] == single_value
        np.testing.assert_array_equal(grad[index], single_grad)
        np.testing.assert_array_equal(hess[index], loss.hessian(point))
        assert grad[index][2] == 1.0
        assert hess[index][2, 2] == 0.0


def test_constant_derivatives_are_broadcast_over_a_batch() -> None:
    loss = compile_expression("2*x + 3*y", None, LIMITS)
    theta = np.zeros((4, 2))
    value, grad = loss.value_and_grad(theta)
    np.testing.assert_array_equal(value, np.zeros(4))
    np.testing.assert_array_equal(grad, np.tile([2.0, 3.0], (4, 1)))
    np.testing.assert_array_equal(loss.hessian(theta), np.zeros((4, 2, 2)))
    # Writing into a result must not affect later results (no shared broadcast views).
    grad[0, 0] = 99.0
    assert loss.value_and_grad(theta)[1][0, 0] == 2.0


def test_constant_loss_along_listed_variables() -> None:
    loss = compile_expression("7", ["x", "y"], LIMITS)
    value, grad = loss.value_and_grad(np.ones((3, 2)))
    np.testing.assert_array_equal(value, [7.0, 7.0, 7.0])
    np.testing.assert_array_equal(grad, np.zeros((3, 2)))


def test_wrong_last_dimension_is_refused() -> None:
    loss = compile_expression("x + y", None, LIMITS)
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 2\)"):
        loss.value(np.zeros(3))


def test_non_finite_values_come_back_quietly() -> None:
    loss = compile_expression("1/x + log(y) + sqrt(y)", None, LIMITS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, grad = loss.value_and_grad(np.array([0.0, -1.0]))
        hess = loss.hessian(np.array([0.0, -1.0]))
    assert not np.isfinite(value)
    assert np.isinf(grad[0])
    assert np.isnan(grad[1])
    assert not np.all(np.isfinite(hess))


def test_float_literals_keep_every_bit() -> None:
    loss = compile_expression("0.30000000000000004*x + 1e-300*y", None, LIMITS)
    assert float(loss.value(np.array([1.0, 0.0]))) == 0.30000000000000004
    np.testing.assert_array_equal(
        loss.value_and_grad(np.zeros(2))[1], [0.30000000000000004, 1e-300]
    )


def test_abs_has_sign_as_derivative_even_of_non_obviously_real_arguments() -> None:
    loss = compile_expression("abs(log(x)) + abs(sqrt(x) - 1)", None, LIMITS)
    for x, slope in [(0.25, -1 / 0.25 - 0.5 / math.sqrt(0.25)), (4.0, 1 / 4 + 0.5 / 2)]:
        assert float(loss.value_and_grad(np.array([x]))[1][0]) == pytest.approx(slope)


def test_results_pickle() -> None:
    loss = compile_expression("x^2 + sin(y)", None, LIMITS)
    copy = pickle.loads(pickle.dumps(loss))
    theta = np.array([0.3, 0.4])
    np.testing.assert_array_equal(copy.value_and_grad(theta)[1], loss.value_and_grad(theta)[1])
    derived = derive(parse_expression("x^2 + sin(y)", None, LIMITS), LIMITS)
    assert pickle.loads(pickle.dumps(derived)).gradient == derived.gradient
    err = ExpressionError("unknown function 'foo'", 4, "foo", "expression", "try sin")
    back = pickle.loads(pickle.dumps(err))
    assert (back.message, back.column, back.token, back.field, back.hint, str(back)) == (
        "unknown function 'foo'",
        4,
        "foo",
        "expression",
        "try sin",
        "unknown function 'foo' at column 4 (try sin)",
    )


# -- refusals ------------------------------------------------------------------------------

REFUSALS: list[tuple[str, str, int | None, str | None]] = [
    ("__import__('os').system('ls')", "unknown function '__import__'", 0, "__import__"),
    ("x.__class__", "attribute access 'x.__class__' is not allowed", 0, "x.__class__"),
    ("2 + (x).real", "attribute access '(x).real' is not allowed", 4, "(x).real"),
    ("().__class__.__bases__", "tuple '()' is not allowed", 0, "()"),
    ("lambda: 1", "lambda expression 'lambda: 1' is not allowed", 0, "lambda: 1"),
    ("[x for x in y]", "comprehension '[x for x in y]' is not allowed", 0, "[x for x in y]"),
    ("'abc'", "string \"'abc'\" is not allowed", 0, "'abc'"),
    ("x if y else 1", "conditional expression 'if' is not allowed", 2, "if"),
    ("foo(x)", "unknown function 'foo'", 0, "foo"),
    ("(1 +\n x) * sinn(x)", "unknown function 'sinn'", 11, "sinn"),
    ("1 + bar(x)", "unknown function 'bar'", 4, "bar"),
    ("open('/etc/passwd')", "unknown function 'open'", 0, "open"),
    ("sin(x)(y)", "call 'sin(x)(y)' is not allowed", 0, "sin(x)(y)"),
    ("sin(x, y)", "sin() takes exactly one argument (2 given)", 0, "sin(x, y)"),
    ("sin(x=1)", "sin() takes no keyword arguments", 4, "x=1"),
    ("min(x, y)", "min/max are not differentiable everywhere", 0, "min"),
    ("2*max(x, y)", "min/max are not differentiable everywhere", 2, "max"),
    ("x < y", "comparison '<' is not allowed", 2, "<"),
    ("x and y", "'and' is not allowed", 2, "and"),
    ("not x", "operator 'not' is not allowed", 0, "not"),
    ("x % 2", "operator '%' is not allowed", 2, "%"),
    ("x[0]", "subscript 'x[0]' is not allowed", 0, "x[0]"),
    ("(y := 1) * x", "assignment 'y := 1' is not allowed", 1, "y := 1"),
    ("f'{x}'", "string \"f'{x}'\" is not allowed", 0, "f'{x}'"),
    ("1j*x", "complex number '1j' is not allowed", 0, "1j"),
    ("True*x", "'True' is not a number", 0, "True"),
    ("x; import os", "syntax error: invalid syntax near ';'", 1, ";"),
    ("9**9**9", "exponent '9**9' is too large (its magnitude must be at most 64)", 3, "9**9"),
    ("x**1000", "exponent '1000' is too large", 3, "1000"),
    ("x^1000", "exponent '1000' is too large", 2, "1000"),
    ("x**(10**10)", "exponent '10**10' is too large", 4, "10**10"),
    ("2**2**2**2**2", "exponent '2**2**2**2' is too large", 3, "2**2**2**2"),
    ("x^(2^7)", "exponent '2^7' is too large", 3, "2^7"),
    ("exp(1000)*x", "'exp(1000)' gives a constant that is too large", 0, "exp(1000)"),
    ("1e999*x", "number '1e999' is too large (constants must be finite", 0, "1e999"),
    ("x/0", "division by '0', which is zero", 2, "0"),
    ("log(0)*x", "'log(0)' is undefined (log() is not defined at 0)", 0, "log(0)"),
    ("x + sqrt(-1)", "'sqrt(-1)' is undefined", 4, "sqrt(-1)"),
    ("x*(-8)^(1/3)", "power '(-8)^(1/3)' is undefined", 2, "(-8)^(1/3)"),
    ("_x + 1", "invalid variable name '_x'", 0, "_x"),
    ("sin + x", "function 'sin' must be called", 0, "sin"),
    ("x + abcdefghijklmnopq", "at most 16 characters", 4, "abcdefghijklmnopq"),
    ("1a + x", "syntax error: invalid decimal literal near '1'", 0, "1"),
    ("x +* 2", "syntax error: invalid syntax near '*'", 3, "*"),
    ("x ^ ^ 2", "syntax error: invalid syntax near '^'", 4, "^"),
    ("(x + 2", "syntax error: '(' was never closed", 0, "("),
    ("(x +\r\n foo(y))", "unknown function 'foo'", 7, "foo"),
    ("(x +\r foo(y))", "unknown function 'foo'", 6, "foo"),
    ("x # comment", "unexpected character '#'", 2, "#"),
    ("(" * 500 + "x" + ")" * 500, "nested too deeply", 40, "("),
    ("-" * 399 + "x", "nested too deeply", 40, None),
    ("x" * 10_000, "too long (10000 characters; at most 2000)", None, None),
    ("+".join(["x"] * 300), "too large (599 terms and operations; at most 400)", None, None),
    ("", "expression is empty", None, None),
    ("  \t\n", "expression is empty", None, None),
    ("3 + pi", "expression has no variables", None, None),
    ("x + \x00", "unexpected character", 4, "\x00"),
    ("x + \u00e9", "unexpected character", 4, "\u00e9"),
]


@pytest.mark.parametrize(("text", "message", "column", "token"), REFUSALS)
def test_refusals_name_the_problem_and_where_it_is(
    text: str, message: str, column: int | None, token: str | None
) -> None:
    for vet in (check_expression, parse_expression):
        with pytest.raises(ExpressionError) as caught:
            vet(text, None, LIMITS)
        err = caught.value
        assert message in err.message, err.message
        assert err.column == column
        if token is not None:
            assert err.token == token
        assert err.field == "expression"
        expected = err.message if column is None else f"{err.message} at column {column}"
        if err.hint is not None:
            expected += f" ({err.hint})"
        assert str(err) == expected


# Refusals that need sympy's own folding of numbers (1e300*x*1e300 is 1e600*x, y - y is 0,
# tan(pi/2) is complex infinity): check_expression, which tracks constants as floats only,
# lets them through, and parse_expression, which the service runs in its child, finds them.
SYMPY_REFUSALS: list[tuple[str, str, int, str]] = [
    ("(10**6*x)**60", "gives a constant that is too large", 0, "(10**6*x)**60"),
    ("1e300*x*1e300", "gives a constant that is too large", 0, "1e300*x*1e300"),
    ("(1e300*x)*(1e300*y)", "gives a constant that is too large", 0, "(1e300*x)*(1e300*y)"),
    ("x/(y - y)", "division by 'y - y', which is zero", 3, "y - y"),
    ("tan(pi/2)*x", "'tan(pi/2)' is undefined (it divides by zero)", 0, "tan(pi/2)"),
]


@pytest.mark.parametrize(("text", "message", "column", "token"), SYMPY_REFUSALS)
def test_refusals_that_only_sympy_folding_reveals_are_found_by_parse(
    text: str, message: str, column: int, token: str
) -> None:
    assert check_expression(text, None, LIMITS)
    with pytest.raises(ExpressionError) as caught:
        parse_expression(text, None, LIMITS)
    err = caught.value
    assert message in err.message
    assert (err.column, err.token) == (column, token)


def test_line_breaks_and_tabs_are_spaces() -> None:
    parsed = parse_expression("x\n+ y\t* 2\r\n- 1", None, LIMITS)
    assert parsed.expr == parse_expression("x + y * 2 - 1", None, LIMITS).expr


def test_min_max_message_suggests_a_smooth_alternative() -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_expression("max(x, y)", None, LIMITS)
    assert "min/max are not differentiable everywhere; use a smooth form" in str(caught.value)


@pytest.mark.parametrize(
    ("variables", "message", "token"),
    [
        (["_x"], "invalid variable name '_x'", "_x"),
        (["1a"], "invalid variable name '1a'", "1a"),
        (["sin"], "invalid variable name 'sin': it is the name of a function", "sin"),
        (["pi"], "invalid variable name 'pi'", "pi"),
        (["abcdefghijklmnopq"], "at most 16 characters", "abcdefghijklmnopq"),
        (["x", "y", "x"], "variable 'x' is listed twice", "x"),
        ([], "at least one variable is required", None),
        ([f"v{i}" for i in range(33)], "too many variables (33; at most 32)", None),
    ],
)
def test_bad_variable_lists_are_refused(
    variables: list[str], message: str, token: str | None
) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_expression("1", variables, LIMITS)
    assert message in caught.value.message
    assert caught.value.field == "variables"
    assert caught.value.token == token


def test_unknown_variable_is_named_when_variables_are_given() -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_expression("x + y*z", ["x", "y"], LIMITS)
    err = caught.value
    assert err.message == "unknown variable 'z'"
    assert (err.column, err.token, err.field) == (6, "z", "expression")
    assert str(err) == "unknown variable 'z' at column 6 (the variables are: x, y)"


def test_too_many_inferred_variables() -> None:
    text = "+".join(f"v{i}" for i in range(33))
    with pytest.raises(ExpressionError, match="too many variables"):
        parse_expression(text, None, LIMITS)
    assert len(parse_expression(text, None, ExpressionLimits(max_variables=33)).variables) == 33


def test_limits_are_configurable() -> None:
    strict = ExpressionLimits(max_length=10, max_nodes=5, max_depth=3, max_exponent=2)
    with pytest.raises(ExpressionError, match="too long"):
        parse_expression("x + y + z + w", None, strict)
    with pytest.raises(ExpressionError, match="too large"):
        parse_expression("x+y+z+w", None, strict)
    with pytest.raises(ExpressionError, match="nested too deeply"):
        parse_expression("((((x))))", None, strict)
    with pytest.raises(ExpressionError, match="nested too deeply"):
        parse_expression("-(-(-x))", None, strict)
    assert parse_expression("(((x)))", None, strict).variables == ("x",)
    with pytest.raises(ExpressionError, match="at most 2"):
        parse_expression("x**3", None, strict)
    assert parse_expression("x**2", None, strict).variables == ("x",)


def test_derivatives_beyond_the_operation_budget_are_refused() -> None:
    parsed = parse_expression("exp(" * 12 + "sin(x*y)" + ")" * 12, None, LIMITS)
    with pytest.raises(ExpressionError, match="too complex"):
        derive(parsed, ExpressionLimits(max_derivative_ops=500))
    assert derive(parsed, LIMITS).ops > 500


def test_long_sums_and_products_are_not_counted_as_deep_nesting() -> None:
    # 60 terms: as a left-leaning syntax tree that is 60 levels, beyond max_depth = 40.
    text = "-".join(["x", "y"] * 30) + " + " + "*".join(["x", "y/x"] * 30)
    parsed = parse_expression(text, None, LIMITS)
    assert parsed.variables == ("x", "y")
    x, y = sympy.symbols("x y", real=True)
    assert parsed.expr == -28 * x - 30 * y + y**30


# -- numerical corner cases found by fuzzing -------------------------------------------------


def test_large_integer_constants_evaluate_as_floats() -> None:
    loss = compile_expression("log(64**64)*x", None, LIMITS)
    assert float(loss.value(np.array([1.0]))) == pytest.approx(64 * math.log(64), rel=1e-14)


def test_constant_arithmetic_follows_numpy_rules_not_python_float_rules() -> None:
    # As Python floats, (1e300 + e)**-2 and (-2)**(pi - 2) would raise or turn complex.
    loss = compile_expression("cos(x/(1e300 + e)) + y*(x - x - 2)^(pi - 2)", None, LIMITS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, grad = loss.value_and_grad(np.array([1.0, 1.0]))
        batch_value = loss.value(np.ones((3, 2)))
        hess = loss.hessian(np.array([1.0, 1.0]))
    assert np.isnan(value)
    assert np.isnan(grad[1])
    assert np.isnan(batch_value).all()
    assert hess.dtype == np.float64


def test_one_point_equals_its_batch_row_where_a_division_by_zero_gives_infinities() -> None:
    # One point is evaluated on Python floats, which raise on x/0 where NumPy gives ±inf or nan;
    # the evaluation then falls back to NumPy scalars.
    loss = compile_expression("1/x + y/x^2 + x*y", None, LIMITS)
    theta = np.array([[0.0, 1.0], [0.0, -1.0], [-0.0, 2.0], [0.5, 3.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, grad = loss.value_and_grad(theta)
        for row, point in enumerate(theta):
            single_value, single_grad = loss.value_and_grad(point)
            with np.errstate(all="ignore"):
                point_value, point_grad = loss.point_value_and_grad(point)
            assert type(point_value) is float
            np.testing.assert_array_equal([single_value, point_value], [value[row]] * 2)
            np.testing.assert_array_equal(single_grad, grad[row])
            np.testing.assert_array_equal(point_grad, grad[row])
    assert np.isinf(value[0])
    assert np.isnan(value[1:3]).all()
    assert np.isfinite(value[3])


def test_formulas_complex_everywhere_are_refused() -> None:
    with pytest.raises(ExpressionError, match="not real-valued"):
        compile_expression("sqrt(-65^(cosh(1)^x))", None, LIMITS)
    with pytest.raises(ExpressionError, match="not real-valued"):
        compile_expression("sqrt(-exp(x))", None, LIMITS)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="xyz()+-*/^.,e0123456789 sincolgabqrt_[]'<=:", max_size=60))
def test_arbitrary_text_is_either_parsed_or_refused_quickly(text: str) -> None:
    started = time.perf_counter()
    try:
        checked = check_expression(text, None, LIMITS)
    except ExpressionError:
        checked = None
    try:
        parsed = parse_expression(text, None, LIMITS)
    except ExpressionError:
        parsed = None
    assert time.perf_counter() - started < 1.0
    if parsed is not None:
        assert checked == parsed.variables
