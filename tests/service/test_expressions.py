"""The expression compiler: child processes with a time limit, the cache, thread safety."""

from __future__ import annotations

import math
import multiprocessing
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from core.expression import ExpressionLimits, ExpressionLoss
from service.errors import InvalidSpecification, LimitExceeded
from service.expressions import ExpressionCompiler

LIMITS = ExpressionLimits()

# Legal under the default limits (655 characters, 380 syntax nodes), yet its Hessian is a sum
# of ~4,900 products of 93 factors: differentiating it takes tens of seconds before the
# operation budget can refuse it.
PATHOLOGICAL = "*".join(f"(x+{k})" for k in range(1, 96))


@pytest.fixture
def compiler() -> Iterator[ExpressionCompiler]:
    with ExpressionCompiler(LIMITS, timeout_s=10.0) as compiler:
        # Let the background warm-up finish, so that tests see only their own children.
        assert compiler._warming is not None
        compiler._warming.join(10)
        yield compiler


def test_compile_returns_a_working_loss(compiler: ExpressionCompiler) -> None:
    loss = compiler.compile("(1 - x)^2 + 100*(y - x^2)^2", None)
    assert isinstance(loss, ExpressionLoss)
    assert loss.names == ("x", "y")
    value, grad = loss.value_and_grad(np.array([0.5, 0.5]))
    assert float(value) == pytest.approx(0.25 + 100 * 0.0625, rel=1e-15)
    np.testing.assert_allclose(grad, [-1 - 400 * 0.5 * 0.25, 200 * 0.25], rtol=1e-15)
    np.testing.assert_allclose(
        loss.hessian(np.array([1.0, 1.0])), [[802.0, -400.0], [-400.0, 200.0]], rtol=1e-15
    )


def test_variables_are_passed_through(compiler: ExpressionCompiler) -> None:
    loss = compiler.compile("x - 2*y", ["y", "w", "x"])
    assert loss.names == ("y", "w", "x")
    np.testing.assert_array_equal(loss.value_and_grad(np.zeros(3))[1], [-2.0, 0.0, 1.0])


def test_second_request_is_a_cache_hit(compiler: ExpressionCompiler) -> None:
    first = compiler.compile("x**2 + 3*y**2", None)
    assert (compiler.hits, compiler.misses) == (0, 1)
    assert compiler.compile("x**2 + 3*y**2", None) is first
    assert (compiler.hits, compiler.misses) == (1, 1)
    # The variables are part of the key.
    other = compiler.compile("x**2 + 3*y**2", ["y", "x"])
    assert other is not first
    assert other.names == ("y", "x")
    assert (compiler.hits, compiler.misses) == (1, 2)


def test_cache_evicts_the_least_recently_used() -> None:
    with ExpressionCompiler(LIMITS, cache_size=2) as compiler:
        a = compiler.compile("x + 1", None)
        compiler.compile("x + 2", None)
        assert compiler.compile("x + 1", None) is a  # now "x + 2" is the oldest
        compiler.compile("x + 3", None)
        assert compiler.compile("x + 1", None) is a
        assert compiler.misses == 3
        compiler.compile("x + 2", None)
        assert compiler.misses == 4


def test_syntax_errors_are_refused_at_the_expression(compiler: ExpressionCompiler) -> None:
    started = time.perf_counter()
    with pytest.raises(InvalidSpecification) as caught:
        compiler.compile("x + foo(y)", None)
    assert time.perf_counter() - started < 0.1  # answered in process, without a child
    err = caught.value
    assert len(err.errors) == 1
    assert err.errors[0].loc == ("loss", "expression")
    assert err.errors[0].msg.startswith("unknown function 'foo' at column 4 (allowed functions:")
    assert err.detail == f"loss.expression: {err.errors[0].msg}"
    assert compiler.misses == 1
    assert compiler.hits == 0


def test_bad_variables_are_refused_at_the_variables(compiler: ExpressionCompiler) -> None:
    with pytest.raises(InvalidSpecification) as caught:
        compiler.compile("x", ["x", "_y"])
    assert caught.value.errors[0].loc == ("loss", "variables")
    assert "invalid variable name '_y'" in caught.value.errors[0].msg


def test_refusals_found_in_the_child_are_reported_and_cached() -> None:
    limits = ExpressionLimits(max_derivative_ops=50)
    with ExpressionCompiler(limits) as compiler:
        text = "exp(exp(exp(x*y)))"
        for _ in range(2):
            with pytest.raises(InvalidSpecification) as caught:
                compiler.compile(text, None)
            assert caught.value.errors[0].loc == ("loss", "expression")
            assert "too complex" in caught.value.errors[0].msg
        assert (compiler.hits, compiler.misses) == (1, 1)
        # Found by sympy's folding of numbers, in the child, with its column.
        with pytest.raises(InvalidSpecification) as caught:
            compiler.compile("x/(y - y)", None)
        assert caught.value.errors[0].msg == "division by 'y - y', which is zero at column 3"


def test_slow_differentiation_is_stopped_without_blocking_others() -> None:
    with ExpressionCompiler(LIMITS, timeout_s=1.0, max_children=2) as compiler:
        compiler.compile("x", None)  # the forkserver is up
        outcome: dict[str, float | BaseException] = {}

        def slow() -> None:
            started = time.perf_counter()
            try:
                compiler.compile(PATHOLOGICAL, None)
            except InvalidSpecification as err:
                outcome["error"] = err
            outcome["slow"] = time.perf_counter() - started

        thread = threading.Thread(target=slow)
        thread.start()
        time.sleep(0.2)  # the pathological child is running
        started = time.perf_counter()
        loss = compiler.compile("x**2 + 3*y**2", None)
        fast = time.perf_counter() - started
        assert "slow" not in outcome
        thread.join(10)

        assert fast < 0.8
        assert float(loss.value(np.array([1.0, 1.0]))) == 4.0
        slow_s = outcome["slow"]
        assert isinstance(slow_s, float)
        assert 1.0 <= slow_s < 3.0
        err = outcome["error"]
        assert isinstance(err, InvalidSpecification)
        assert err.errors[0].loc == ("loss", "expression")
        assert err.errors[0].msg == (
            "the expression took longer than 1 s to differentiate; simplify it"
        )
        # Time-outs are not cached: they depend on the load.
        assert PATHOLOGICAL not in [key[0] for key in compiler._cache]
        assert multiprocessing.active_children() == []


def test_concurrent_compilations_from_many_threads(compiler: ExpressionCompiler) -> None:
    texts = [f"{k}*x^2 + sin(y)*{k + 1}" for k in range(8)]
    results: dict[int, ExpressionLoss] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(texts))

    def work(k: int) -> None:
        try:
            barrier.wait()
            results[k] = compiler.compile(texts[k], None)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    for k, loss in results.items():
        value, grad = loss.value_and_grad(np.array([1.0, 0.5]))
        assert float(value) == pytest.approx(k + np.sin(0.5) * (k + 1), rel=1e-14)
        np.testing.assert_allclose(grad, [2 * k, np.cos(0.5) * (k + 1)], rtol=1e-14)
    assert len(results) == 8
    assert compiler.misses == 8
    assert multiprocessing.active_children() == []


def test_identical_concurrent_requests_share_one_compilation(
    compiler: ExpressionCompiler,
) -> None:
    barrier = threading.Barrier(8)
    results: list[ExpressionLoss] = []

    def work() -> None:
        barrier.wait()
        results.append(compiler.compile("exp(x)*cos(y)", None))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 8
    assert all(loss is results[0] for loss in results)
    assert (compiler.hits, compiler.misses) == (7, 1)


def test_close_ends_compilations_in_flight_and_is_idempotent() -> None:
    compiler = ExpressionCompiler(LIMITS, timeout_s=30.0, warm=False)
    compiler.compile("x", None)
    failures: list[BaseException] = []

    def slow() -> None:
        try:
            compiler.compile(PATHOLOGICAL, None)
        except BaseException as err:
            failures.append(err)

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.3)
    assert len(multiprocessing.active_children()) == 1
    started = time.perf_counter()
    compiler.close()
    assert time.perf_counter() - started < 2.0
    thread.join(5)
    assert not thread.is_alive()
    assert len(failures) == 1
    assert isinstance(failures[0], RuntimeError)
    assert multiprocessing.active_children() == []
    compiler.close()
    with pytest.raises(RuntimeError, match="closed"):
        compiler.compile("x", None)


def test_close_after_use_leaves_no_children() -> None:
    compiler = ExpressionCompiler(LIMITS)
    compiler.compile("x + y", None)
    with pytest.raises(InvalidSpecification):
        compiler.compile("x +", None)
    compiler.close()
    compiler.close()
    assert multiprocessing.active_children() == []


def test_children_beyond_the_limit_wait_then_are_refused() -> None:
    with ExpressionCompiler(LIMITS, timeout_s=0.5, max_children=1, warm=False) as compiler:
        # Take the only slot, as a long compilation would.
        assert compiler._slots.acquire(timeout=1)
        started = time.perf_counter()
        with pytest.raises(LimitExceeded, match=r"at once \(at most 1\)"):
            compiler.compile("y + 1", None)
        assert 0.45 < time.perf_counter() - started < 1.0
        compiler._slots.release()
        assert compiler.compile("y + 1", None).names == ("y",)
        assert multiprocessing.active_children() == []


def test_warming_up_in_the_background_makes_the_first_request_fast() -> None:
    with ExpressionCompiler(LIMITS) as compiler:
        assert compiler._warming is not None
        compiler._warming.join(10)
        started = time.perf_counter()
        compiler.compile("x*y + 1", None)
        assert time.perf_counter() - started < 0.5
        assert (compiler.hits, compiler.misses) == (0, 1)


def test_losses_built_from_the_child_find_every_function_they_call() -> None:
    """The parent builds the code; names such as NumPy's power must be in its namespace."""
    with ExpressionCompiler(ExpressionLimits(), timeout_s=10) as compiler:
        loss = compiler.compile("abs(x)**2.5 + (y - 1)**7 + sqrt(x**2 + 1)", None)
        value, grad = loss.value_and_grad(np.array([-2.0, 3.0]))
    assert value == pytest.approx(2**2.5 + 2**7 + math.sqrt(5))
    np.testing.assert_allclose(grad, [-2.5 * 2**1.5 - 2 / math.sqrt(5), 7 * 2**6])
