"""Synthetic datasets (determinism, shapes, labels, scales) and feature standardisation."""

from __future__ import annotations

import numpy as np
import pytest

from core.datasets import KINDS, Dataset, Kind, generate, standardize
from core.models import linear_regression


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_data_other_seed_other_data(kind: Kind) -> None:
    first = generate(kind, n=50, seed=7)
    again = generate(kind, n=50, seed=7)
    other = generate(kind, n=50, seed=8)
    assert isinstance(first, Dataset)
    np.testing.assert_array_equal(first.X, again.X)
    np.testing.assert_array_equal(first.y, again.y)
    assert not np.array_equal(first.X, other.X)
    assert first.X.dtype == first.y.dtype == np.float64


def test_linear() -> None:
    data = generate("linear", n=400, seed=1, features=5)
    assert data.X.shape == (400, 5)
    assert data.y.shape == (400,)
    np.testing.assert_allclose(data.X.mean(axis=0), 0.0, atol=0.2)
    np.testing.assert_allclose(data.X.std(axis=0), 1.0, atol=0.15)
    # The documented draw order: w* (features), b*, X, then the noise.
    rng = np.random.default_rng(1)
    weights, bias = rng.standard_normal(5), rng.standard_normal()
    rng.standard_normal((400, 5))
    noise = 0.1 * rng.standard_normal(400)
    np.testing.assert_allclose(data.y, data.X @ weights + bias + noise, rtol=1e-13, atol=1e-13)
    # Least squares recovers w*, b* to within the noise.
    augmented = np.column_stack([data.X, np.ones(400)])
    fitted = np.linalg.lstsq(augmented, data.y, rcond=None)[0]
    np.testing.assert_allclose(fitted, [*weights, bias], atol=0.03)
    silent = generate("linear", n=400, seed=1, features=5, noise=0.0)
    np.testing.assert_allclose(silent.y, data.X @ weights + bias, rtol=1e-13, atol=1e-13)


def test_blobs() -> None:
    data = generate("blobs", n=301, seed=2, features=4, classes=5, noise=0.5)
    assert data.X.shape == (301, 4)
    labels = data.y.astype(int)
    np.testing.assert_array_equal(labels, data.y)
    counts = np.bincount(labels)
    assert counts.tolist() == [61, 60, 60, 60, 60]
    assert not np.array_equal(labels[:5], np.arange(5))  # shuffled, not in label order
    for label in range(5):
        cluster = data.X[labels == label]
        assert np.all(np.abs(cluster.mean(axis=0)) <= 10.0 + 0.3)
        np.testing.assert_allclose(cluster.std(axis=0), 0.5, atol=0.15)
    default = generate("blobs", n=600, seed=2)
    assert default.X.shape == (600, 2)
    assert set(default.y.tolist()) == {0.0, 1.0, 2.0}
    spread = [default.X[default.y == label].std(axis=0) for label in range(3)]
    np.testing.assert_allclose(spread, 1.0, atol=0.15)


def test_moons() -> None:
    data = generate("moons", n=201, seed=3, noise=0.0)
    assert data.X.shape == (201, 2)
    assert np.bincount(data.y.astype(int)).tolist() == [101, 100]
    upper, lower = data.X[data.y == 0], data.X[data.y == 1]
    # Upper moon: the unit half circle; lower: centred at (1, ½), radius 1, opening upwards.
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0)
    assert np.all(upper[:, 1] >= 0)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0)
    assert np.all(lower[:, 1] <= 0.5)
    assert not np.array_equal(data.y, np.sort(data.y))  # shuffled
    noisy = generate("moons", n=201, seed=3)
    residual = np.hypot(*noisy.X[noisy.y == 0].T) - 1.0
    assert 0.05 < residual.std() < 0.15


def test_badly_scaled() -> None:
    data = generate("badly_scaled", n=2000, seed=4)
    assert data.X.shape == (2000, 2)
    np.testing.assert_allclose(data.X.std(axis=0), [1.0, 100.0], rtol=0.05)
    # y is linear in the features plus noise 0.1: least squares leaves a residual of ~0.1.
    augmented = np.column_stack([data.X, np.ones(2000)])
    solution, residual, *_ = np.linalg.lstsq(augmented, data.y, rcond=None)
    fitted = np.asarray(solution, dtype=np.float64)
    assert np.sqrt(residual[0] / 2000) == pytest.approx(0.1, rel=0.1)
    # The lesson: raw features make the MSE's curvature ~10⁴ times larger along w₂ than
    # along w₁; standardised ones make it round.
    scaled, _, _ = standardize(data.X)
    eigenvalues = np.linalg.eigvalsh(linear_regression(data.X, data.y).hessian(fitted))
    scaled_eigenvalues = np.linalg.eigvalsh(linear_regression(scaled, data.y).hessian(fitted))
    assert eigenvalues[-1] / eigenvalues[0] > 5e3
    assert scaled_eigenvalues[-1] / scaled_eigenvalues[0] < 1.2


def test_standardize() -> None:
    X = np.column_stack([np.arange(6.0), [0.1] * 6, 1000 + 50 * np.sin(np.arange(6.0)), [-3.0] * 6])
    scaled, mean, scale = standardize(X)
    np.testing.assert_allclose(scaled.mean(axis=0), 0.0, atol=1e-13)
    np.testing.assert_allclose(scaled.std(axis=0)[[0, 2]], 1.0, rtol=1e-14)
    # Constant features: scale 1, mean the value itself, so they become exactly 0.
    np.testing.assert_array_equal(scale[[1, 3]], 1.0)
    np.testing.assert_array_equal(mean[[1, 3]], [0.1, -3.0])
    np.testing.assert_array_equal(scaled[:, [1, 3]], 0.0)
    assert mean[0] == pytest.approx(2.5)
    assert scale[0] == pytest.approx(np.sqrt(35 / 12))  # population std of 0..5
    np.testing.assert_allclose(scaled * scale + mean, X, rtol=1e-14)
    np.testing.assert_array_equal(standardize(X[:1])[0], 0.0)
